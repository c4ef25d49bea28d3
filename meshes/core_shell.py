"""Core-shell (coated) particle with one or more concentric shells.

Geometry: core ball of radius R_c, shell i occupies R_i <= |x| <= R_{i+1}
(R_0 = R_c, R_{i+1} = R_i + t_i).  ``dim=3``: the ball; ``dim=2``: the
axisymmetric section, half-disc {(r, z): r >= 0, r^2 + z^2 <= R^2} with
x = r, y = z (integrate with the weight 2*pi*r for 3D quantities).

Tag convention (one convention for any number of shells)
--------------------------------------------------------
cells  : ``core``; ``shell_i`` (tags.shell(i), 0 = innermost) for every shell, also
         for a single shell; ``shell`` is an alias of all shells (``tm.dx("shell")``).
facets : ``interface_i`` (tags.interface(i)) at radius R_i: interface_0 = core|shell_0,
         interface_1 = shell_0|shell_1, ...; ``interface`` is an alias of all of them;
         ``surface`` = outer surface R_n; ``symmetry`` = the axis r = 0 (2D only).

Sizes ``h``/``h_interface`` are relative to the outer radius; near every interface
the size grades from ``h_interface`` to ``h`` (Gmsh distance field).
Coordinates are in units of ``length_scale`` (default: the outer radius).
"""

from __future__ import annotations

import math

from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import (aliases, bbox, generate, require_choice, require_order, require_positive,
                            require_relative_size, size_field)
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


def core_shell(core_radius_m: float | None, shell_thicknesses_m: list[float], h: float = 0.1,
               h_interface: float | None = None, order: int = 1, dim: int = 3, comm=MPI.COMM_WORLD,
               length_scale: float | None = None, *, particle_radius_m: float | None = None,
               verbose: bool = False) -> TaggedMesh:
    """Coated particle; see the module docstring.

    ``core_radius_m`` [m] may be None when ``particle_radius_m`` (outer radius) is
    given: the core radius is then particle_radius_m - sum(shell_thicknesses_m),
    which must be positive (shells thinner than the particle).
    """
    if not isinstance(shell_thicknesses_m, (list, tuple)) or len(shell_thicknesses_m) < 1:
        raise InputError(f"parameter 'shell_thicknesses_m' = {shell_thicknesses_m!r} must be a list of "
                         ">= 1 positive thicknesses [m]")
    ts = [require_positive(f"shell_thicknesses_m[{i}]", t, "m") for i, t in enumerate(shell_thicknesses_m)]
    if core_radius_m is None:
        if particle_radius_m is None:
            raise InputError("parameter 'core_radius_m' is required (or give 'particle_radius_m')")
        R = require_positive("particle_radius_m", particle_radius_m, "m")
        if sum(ts) >= R:
            raise InputError(f"parameter 'shell_thicknesses_m': total {sum(ts):g} m is not less than "
                             f"particle_radius_m = {R:g} m (shells thicker than the particle)")
        core_radius_m = R - sum(ts)
    rc = require_positive("core_radius_m", core_radius_m, "m")
    require_choice("dim", dim, (2, 3))
    order = require_order(order)
    h = require_relative_size("h", h)
    if h_interface is not None:
        h_interface = require_relative_size("h_interface", h_interface)
    radii_m = [rc]
    for t in ts:
        radii_m.append(radii_m[-1] + t)
    outer_m = radii_m[-1]
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else outer_m
    radii = [r / L for r in radii_m]
    scale = outer_m / L
    n = len(ts)
    cell_names = [T.CORE] + [T.shell(i) for i in range(n)]
    iface_names = [T.interface(i) for i in range(n)]
    al = aliases(cells={T.SHELL: [T.shell(i) for i in range(n)]}, facets={T.INTERFACE: iface_names})
    if dim == 3:
        vol = [4 / 3 * math.pi * r ** 3 for r in radii]
        area = [4 * math.pi * r ** 2 for r in radii]
    else:  # section measures (area of half-discs, length of half-circles)
        vol = [math.pi * r ** 2 / 2 for r in radii]
        area = [math.pi * r for r in radii]
    nominal_volumes = {T.CORE: vol[0], **{T.shell(i): vol[i + 1] - vol[i] for i in range(n)}}
    nominal_areas = {**{iface_names[i]: area[i] for i in range(n)}, T.SURFACE: area[-1]}
    if dim == 2:
        nominal_areas[T.SYMMETRY] = 2 * radii[-1]
    meta = {"kind": "core_shell", "dim": dim, "radii_m": radii_m, "shell_thicknesses_m": ts, "h": h,
            "h_interface": h_interface, "order": order, "axisymmetric": dim == 2,
            "nominal_volumes": nominal_volumes, "nominal_areas": nominal_areas}

    def build():
        import gmsh
        occ = gmsh.model.occ
        ents = []
        for r in radii:
            if dim == 3:
                ents.append((3, occ.addSphere(0, 0, 0, r)))
            else:
                disk = occ.addDisk(0, 0, 0, r, r)
                box = occ.addRectangle(-2 * r, -2 * r, 0, 2 * r, 4 * r)
                cut, _ = occ.cut([(2, disk)], [(2, box)])
                ents.append(cut[0])
        if len(ents) > 1:
            occ.fragment(ents[:1], ents[1:])
        occ.synchronize()
        _tag_radial(dim, radii, cell_names, iface_names)
        near = []
        for nm in iface_names:
            tag = T.facet_id(nm)
            near += [(dim - 1, e) for e in gmsh.model.getEntitiesForPhysicalGroup(dim - 1, tag)]
        hh = h * scale
        hi = None if h_interface is None else h_interface * scale
        size_field(hh, hi, near)
        generate(dim, order)
        return {**meta, "_aliases": al}

    return from_gmsh(build, comm, gdim=dim, length_scale=L, name="core_shell", verbose=verbose)


def _tag_radial(dim: int, radii: list[float], cell_names: list[str], iface_names: list[str]) -> None:
    """Tag concentric regions by their outer radius and facets by their radius (rank 0, Gmsh)."""
    import gmsh
    tol = 1e-6 * radii[-1]

    def outer_radius(d, t):
        b = bbox(d, t)
        return max(abs(b).max(axis=0)[:dim])

    cells: dict[str, list[int]] = {nm: [] for nm in cell_names}
    for _, v in gmsh.model.getEntities(dim):
        ro = outer_radius(dim, v)
        k = min(range(len(radii)), key=lambda i: abs(radii[i] - ro))
        cells[cell_names[k]].append(v)
    facets: dict[str, list[int]] = {nm: [] for nm in iface_names + [T.SURFACE]}
    symmetry = []
    for _, f in gmsh.model.getEntities(dim - 1):
        b = bbox(dim - 1, f)
        if dim == 2 and abs(b[1, 0]) <= tol and abs(b[0, 0]) <= tol:
            symmetry.append(f)
            continue
        ro = outer_radius(dim - 1, f)
        k = min(range(len(radii)), key=lambda i: abs(radii[i] - ro))
        facets[(iface_names + [T.SURFACE])[k]].append(f)
    for nm, ents in cells.items():
        if not ents:
            raise InputError(f"cell group {nm!r} would be empty")
        add_physical(dim, ents, nm, cell=True)
    for nm, ents in facets.items():
        if not ents:
            raise InputError(f"facet group {nm!r} would be empty")
        add_physical(dim - 1, ents, nm, cell=False)
    if dim == 2:
        add_physical(1, symmetry, T.SYMMETRY, cell=False)


def boundary_facets(domain: TaggedMesh, name: str):
    """Coordinates (n, dim, gdim) of the facets of group ``name``, gathered on rank 0 (None elsewhere),
    each facet once (ghost copies removed)."""
    import numpy as np

    from meshes.tagged import entity_coordinates
    mesh = domain.mesh
    xyz = entity_coordinates(mesh, mesh.topology.dim - 1, domain.facets(name))
    parts = mesh.comm.gather(xyz, root=0)
    if mesh.comm.rank != 0:
        return None
    xyz = np.concatenate(parts)
    # one row per facet (ghost copies on several ranks), vertices and facets in a canonical (sorted)
    # order, so that the same boundary gives the same Gmsh input on any number of ranks
    facets = {}
    for f in np.round(xyz, 12):
        k = tuple(sorted(map(tuple, f)))
        facets.setdefault(k, np.array(k))
    return np.array([facets[k] for k in sorted(facets)]).reshape(-1, xyz.shape[1], xyz.shape[2])


def icosphere(level: int):
    """Unit-sphere triangulation: the icosahedron subdivided ``level`` times (nodes (n, 3), triangles (m, 3))."""
    import numpy as np
    t = (1 + 5 ** 0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
         (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6),
         (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10),
         (8, 6, 7), (9, 8, 1)]
    nodes = [np.array(p, float) / np.linalg.norm(p) for p in v]
    for _ in range(level):
        mid, new = {}, []

        def m(a, b):
            k = (min(a, b), max(a, b))
            if k not in mid:
                p = nodes[a] + nodes[b]
                nodes.append(p / np.linalg.norm(p))
                mid[k] = len(nodes) - 1
            return mid[k]
        for a, b, c in f:
            ab, bc, ca = m(a, b), m(b, c), m(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        f = new
    return np.array(nodes), np.array(f)


def star_shaped_resample(tri, h_target: float):
    """A new triangulation of the closed, star-shaped (about the origin) surface given by the triangles
    ``tri`` (n, 3, 3): an icosphere with edges ~``h_target`` at the mean radius, each node moved along
    its direction onto ``tri`` (ray casting, Moller-Trumbore), so every new node lies on the old surface."""
    import numpy as np
    r_mean = float(np.mean(np.linalg.norm(tri.reshape(-1, 3), axis=1)))
    level = max(1, int(np.ceil(np.log2(1.05 * r_mean / h_target))))
    u, faces = icosphere(min(level, 6))
    a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    radius = np.full(len(u), np.nan)
    for i0 in range(0, len(u), 256):
        d = u[i0:i0 + 256]                                   # (k, 3) ray directions from the origin
        pvec = np.cross(d[:, None, :], e2[None])             # (k, m, 3)
        det = np.einsum("kmj,mj->km", pvec, e1)
        inv = 1.0 / np.where(np.abs(det) < 1e-300, 1e-300, det)
        tvec = -a[None]                                      # origin - a
        uu = np.einsum("kmj,mj->km", pvec, -a) * inv
        q = np.cross(tvec, e1[None])                         # (1, m, 3)
        vv = np.einsum("kj,mj->km", d, q[0]) * inv
        tt = np.einsum("mj,mj->m", e2, q[0])[None] * inv
        hit = (uu >= -1e-12) & (vv >= -1e-12) & (uu + vv <= 1 + 1e-12) & (tt > 0)
        tt = np.where(hit, tt, np.inf)
        radius[i0:i0 + 256] = tt.min(axis=1)
    if not np.all(np.isfinite(radius)):
        raise RuntimeError("interface is not star-shaped about the centre: cannot resample it")
    new = (u * radius[:, None])[faces]
    # same enclosed volume as the old surface (sum of the tetrahedra (0, a, b, c); star-shaped), so that
    # the phase volumes, and with them the concentrations after the moles correction, stay as they were
    vol = lambda t: np.sum(np.abs(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])))) / 6  # noqa: E731
    return new * (vol(tri) / vol(new)) ** (1 / 3)


def drop_short_segments(P, fraction: float = 0.2):
    """The polyline P (n, 2) without the interior nodes next to a segment shorter than ``fraction``
    times the median segment (ends kept).  A shrinking interface keeps its nodes, and where they
    crowd (in the last per mil of a core) a remesh would otherwise inherit slivers that the next
    micro-step inverts; dropping a node changes the enclosed area by less than that of a sliver,
    and the remesh transfer restores each phase's moles."""
    import numpy as np
    P = np.asarray(P)
    while len(P) > 3:
        seg = np.linalg.norm(np.diff(P, axis=0), axis=1)
        short = np.flatnonzero(seg < fraction * np.median(seg))
        if short.size == 0:
            break
        k = int(short[np.argmin(seg[short])])  # the shortest segment, between nodes k and k + 1
        drop = k + 1 if k + 1 < len(P) - 1 else k  # never an end node
        if drop == 0:
            break
        P = np.delete(P, drop, axis=0)
    return P


def core_shell_from_boundaries(interface, surface, h: float, comm=MPI.COMM_WORLD, length_scale: float = 1.0,
                               dim: int = 3, verbose: bool = False, h_interface: float | None = None) -> TaggedMesh:
    """Regenerate a two-region (``core`` | ``shell_0``) mesh whose interface and outer surface are
    the given facet lists (coordinates (n, dim, dim), as from :func:`boundary_facets`; used on rank 0):
    the boundary triangulations (3D: discrete Gmsh surfaces) or polylines (2D axisymmetric section:
    one Gmsh line per segment, a single element each) are kept node for node (2D: less the crowded
    interface nodes of :func:`drop_short_segments`; 3D with ``h_interface``: the interface resampled),
    so region volumes are unchanged or nearly so; the interior is meshed anew with sizes from the boundary up to ``h``.
    Tags as :func:`core_shell` with one shell (``core``, ``shell_0``, ``interface_0``, ``surface``,
    and ``symmetry`` in 2D).  Coordinates in units of ``length_scale``."""
    al = aliases(cells={T.SHELL: [T.shell(0)]}, facets={T.INTERFACE: [T.interface(0)]})

    def build():
        import gmsh
        import numpy as np
        opt = gmsh.option.setNumber
        opt("Mesh.MeshSizeMax", h)
        opt("Mesh.MeshSizeFromPoints", 1)
        opt("Mesh.MeshSizeExtendFromBoundary", 1)
        opt("Mesh.MeshSizeFromCurvature", 0)
        if dim == 3:
            if h_interface is not None:  # a fresh interface triangulation (the old one degrades as it shrinks):
                # edges ~ max(h_interface, 0.2 r_c), at most h
                r_c = float(np.mean(np.linalg.norm(interface.reshape(-1, 3), axis=1)))
                interface_ = star_shaped_resample(interface, min(h, max(h_interface, 0.2 * r_c)))
            else:
                interface_ = interface
            ents = []
            offset = 1
            for tag, tri in ((1, interface_), (2, surface)):
                pts, inv = np.unique(tri.reshape(-1, 3), axis=0, return_inverse=True)
                gmsh.model.addDiscreteEntity(2, tag)
                gmsh.model.mesh.addNodes(2, tag, list(range(offset, offset + len(pts))), pts.ravel().tolist())
                gmsh.model.mesh.addElementsByType(tag, 2, [], (inv.ravel() + offset).tolist())
                offset += len(pts)
                ents.append(tag)
            core_loop = gmsh.model.geo.addSurfaceLoop([1])
            shell_loop = gmsh.model.geo.addSurfaceLoop([2])
            core = gmsh.model.geo.addVolume([core_loop])
            shell = gmsh.model.geo.addVolume([shell_loop, core_loop])
            gmsh.model.geo.synchronize()
            opt("Mesh.Algorithm3D", 1)
            add_physical(3, [core], T.CORE, cell=True)
            add_physical(3, [shell], T.shell(0), cell=True)
            add_physical(2, [1], T.interface(0), cell=False)
            add_physical(2, [2], T.SURFACE, cell=False)
            gmsh.model.mesh.generate(3)
        else:
            geo = gmsh.model.geo
            point_ids: dict = {}

            def point(p, size):
                k = (round(float(p[0]), 12), round(float(p[1]), 12))
                if k not in point_ids:
                    point_ids[k] = geo.addPoint(float(p[0]), float(p[1]), 0.0, size)
                return point_ids[k]

            def chain(segs):
                """Segments -> ordered polyline from the lower (y) to the upper end on the axis."""
                pts = {}
                for a, b in segs:
                    ka, kb = tuple(np.round(a, 12)), tuple(np.round(b, 12))
                    pts.setdefault(ka, []).append(kb)
                    pts.setdefault(kb, []).append(ka)
                ends = sorted((k for k, v in pts.items() if len(v) == 1), key=lambda k: k[1])
                if len(ends) != 2:
                    raise RuntimeError(f"polyline with {len(ends)} ends (expected 2)")
                line, prev = [ends[0]], None
                while len(line) < len(pts):
                    nxt = [q for q in pts[line[-1]] if q != prev]
                    prev = line[-1]
                    line.append(nxt[0])
                return np.array(line)

            def polyline(P):
                seg = np.linalg.norm(np.diff(P, axis=0), axis=1)
                size = np.minimum(np.concatenate([[seg[0]], np.minimum(seg[:-1], seg[1:]), [seg[-1]]]), h)
                ids = [point(p, s) for p, s in zip(P, size)]
                lines = []
                for a, b in zip(ids[:-1], ids[1:]):
                    ln = geo.addLine(a, b)
                    geo.mesh.setTransfiniteCurve(ln, 2)
                    lines.append(ln)
                return ids, lines

            I, S = chain(interface), chain(surface)
            I = drop_short_segments(I)
            iid, ilines = polyline(I)
            sid, slines = polyline(S)
            axis_core = geo.addLine(iid[-1], iid[0])       # top -> bottom of the core along r = 0
            axis_top = geo.addLine(sid[-1], iid[-1])      # surface top -> interface top
            axis_bot = geo.addLine(iid[0], sid[0])        # interface bottom -> surface bottom
            core_loop = geo.addCurveLoop(ilines + [axis_core])
            shell_loop = geo.addCurveLoop(slines + [axis_top] + [-ln for ln in reversed(ilines)] + [axis_bot])
            core = geo.addPlaneSurface([core_loop])
            shell = geo.addPlaneSurface([shell_loop])
            geo.synchronize()
            add_physical(2, [core], T.CORE, cell=True)
            add_physical(2, [shell], T.shell(0), cell=True)
            add_physical(1, ilines, T.interface(0), cell=False)
            add_physical(1, slines, T.SURFACE, cell=False)
            add_physical(1, [axis_core, axis_top, axis_bot], T.SYMMETRY, cell=False)
            # interior sizes graded from the interface's own segment length up to h
            h_near = float(np.median(np.linalg.norm(np.diff(I, axis=0), axis=1)))
            size_field(h, min(h_near, h), [(1, ln) for ln in ilines])
            gmsh.model.mesh.generate(2)
        return {"kind": "core_shell_remeshed", "dim": dim, "h": h, "_aliases": al}

    return from_gmsh(build, comm, gdim=dim, length_scale=length_scale, name="core_shell", verbose=verbose)
