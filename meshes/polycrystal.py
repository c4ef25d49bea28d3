"""Polycrystalline secondary particle: N Voronoi grains clipped to a sphere or ellipsoid.

Grain seeds are drawn uniformly in the particle from ``seed`` (with a minimum
separation, so no grain is a sliver); the Voronoi cells of the seeds (bounded by
mirroring the seeds across a box around the particle) are built as OCC polyhedra
sharing their faces, and fragmented with the ball/ellipsoid; the parts outside
are removed.  Grain i is the convex set {x in particle: |x - p_i| <= |x - p_j| for all j}.

Tags
----
cells  : ``grain_i`` (tags.grain(i)) for i in range(n_grains); alias ``particle`` = all grains.
facets : ``surface`` (particle surface), ``grain_boundary`` (faces shared by two grains).

Cost (measured 2026-12-02, 50 grains, radius 1, rank 0, CPU seconds; the wall time on the shared
2-core host at load 5 was 3.4x larger; tests/bench/profile_particle.py, issue 13 goal 3)
------------------------------------------------------------------------------------------------
===========================================  =======================  ========================
phase                                        h = 0.06 (97k cells)     h = 0.03 (663k cells)
===========================================  =======================  ========================
OCC: Voronoi cells, fragment with the ball    2.3 s (h-independent)    2.3 s (7 %)
Gmsh 1D + 2D (Frontal-Delaunay)               1.0 s                    3.6 s (12 %)
Gmsh 3D (HXT) + optimize                      1.2 s                    10.6 s (35 %)
DOLFINx gmshio.model_to_mesh                  1.3 s                    13.8 s (45 %)
total                                         6.1-6.4 s                30.7 s
===========================================  =======================  ========================

(A second run at h = 0.03: 21.1 s CPU in all, 3D + optimize 7.1 s, model_to_mesh 9.5 s: CPU times on the
loaded host vary by ~30 %.)  model_to_mesh: create_mesh (partition, distribution, reordering) 6.5 s, the cell and facet tags
(distribute_entity_data on every cell and every tagged surface/grain-boundary facet, facet
connectivity) the other ~7 s.  Nothing here is repeated (one fragment, one generate); the 3D mesher
and DOLFINx's distribution scale with the cell count and are most of the time at 500k dofs.  A
cheaper cell-tag path (tags by ``mesh.topology.original_cell_index`` instead of
distribute_entity_data) would belong in :func:`meshes.tagged.from_gmsh`.

Metadata
--------
``orientations``: {grain name: 3x3 rotation matrix R (nested lists), crystal -> lab},
i.e. the columns of R are the crystal axes a, b, c in lab coordinates; random
uniform rotations (Haar measure) from ``seed``, or from user Euler angles
(Bunge, degrees): R = Rz(phi1) Rx(Phi) Rz(phi2).  ``seeds``: grain seed points
(mesh units); ``nominal_volumes``: particle volume (exact), grain volumes are not
known in closed form.
"""

from __future__ import annotations

import math

import numpy as np
from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import (aliases, generate, require_int, require_order, require_positive,
                            require_relative_size, size_field)
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


# (3D algorithm, 2D algorithm, size factor) tried in turn when meshing fails
ATTEMPTS = [(10, 6, 1.0), (10, 1, 1.0), (1, 5, 1.0), (10, 6, 0.9), (10, 1, 0.8), (1, 6, 0.7)]


def grain_seeds(n: int, semi_axes: np.ndarray, seed: int, min_sep: float = 0.6) -> np.ndarray:
    """``n`` points uniform in the ellipsoid x^2/a^2 + y^2/b^2 + z^2/c^2 <= 1, at least
    ``min_sep * (V/n)^(1/3)`` apart (relaxed by 10 % after every 2000 failed draws)."""
    rng = np.random.default_rng(seed)
    a = np.asarray(semi_axes, dtype=float)
    d0 = min_sep * (4 / 3 * math.pi * a.prod() / n) ** (1 / 3)
    pts: list[np.ndarray] = []
    fails = 0
    while len(pts) < n:
        u = rng.uniform(-1, 1, 3)
        if u @ u > 1:
            continue
        p = u * a
        if all(np.linalg.norm(p - q) >= d0 for q in pts):
            pts.append(p)
            fails = 0
        else:
            fails += 1
            if fails > 2000:
                d0 *= 0.9
                fails = 0
    return np.array(pts)


def orientations(n: int, seed: int, euler_angles_deg=None) -> np.ndarray:
    """n rotation matrices crystal -> lab: uniform random from ``seed`` or Bunge Euler angles."""
    from scipy.spatial.transform import Rotation
    if euler_angles_deg is not None:
        e = np.asarray(euler_angles_deg, dtype=float)
        if e.shape != (n, 3):
            raise InputError(f"parameter 'euler_angles_deg' has shape {e.shape}; expected ({n}, 3) "
                             "(phi1, Phi, phi2 in degrees per grain)")
        return Rotation.from_euler("ZXZ", e, degrees=True).as_matrix()
    return Rotation.random(n, random_state=np.random.default_rng([seed, 7])).as_matrix()


def polycrystal(radius_m: float, n_grains: int, seed: int = 0, h: float = 0.15, comm=MPI.COMM_WORLD,
                semi_axes_m=None, euler_angles_deg=None, order: int = 1, length_scale: float | None = None,
                *, h_interface: float | None = None, verbose: bool = False) -> TaggedMesh:
    """Voronoi polycrystal; see the module docstring.

    radius_m : particle radius [m] (ignored for the shape when ``semi_axes_m`` is given).
    n_grains : number of grains N >= 1.
    seed : integer seed of the grain seeds and orientations (same seed, same mesh).
    h, h_interface : element size relative to the largest semi-axis, away from / at the
        grain boundaries and surface.
    semi_axes_m : (a, b, c) [m] for an ellipsoidal particle.
    """
    n = require_int("n_grains", n_grains, 1, 2000)
    seed = require_int("seed", seed, 0)
    h = require_relative_size("h", h)
    if h_interface is not None:
        h_interface = require_relative_size("h_interface", h_interface)
    order = require_order(order)
    if semi_axes_m is None:
        R = require_positive("radius_m", radius_m, "m")
        axes_m = np.array([R, R, R])
    else:
        if len(semi_axes_m) != 3:
            raise InputError(f"parameter 'semi_axes_m' = {semi_axes_m!r} must hold 3 semi-axes [m]")
        axes_m = np.array([require_positive(f"semi_axes_m[{i}]", s, "m") for i, s in enumerate(semi_axes_m)])
    rmax = float(axes_m.max())
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else rmax
    axes = axes_m / L
    rot = orientations(n, seed, euler_angles_deg)
    seeds = grain_seeds(n, axes, seed)
    names = [T.grain(i) for i in range(n)]
    volume = 4 / 3 * math.pi * float(axes.prod())
    meta = {"kind": "polycrystal", "radius_m": float(radius_m) if radius_m else None,
            "semi_axes_m": axes_m.tolist(), "n_grains": n, "seed": seed, "h": h, "order": order,
            "orientations": {nm: rot[i].tolist() for i, nm in enumerate(names)},
            "orientation_convention": "R crystal->lab, columns = crystal axes in lab frame; "
                                      "Euler Bunge ZXZ (phi1, Phi, phi2)",
            "seeds": seeds.tolist(), "nominal_volumes": {T.PARTICLE: volume}}
    al = aliases(cells={T.PARTICLE: names})

    calls = [0]

    def build():
        import gmsh
        occ = gmsh.model.occ
        cells = _voronoi_volumes(seeds, axes * 1.15 + 1e-3 * axes.max())
        ball = occ.addSphere(0, 0, 0, 1.0)
        if not np.allclose(axes, 1.0):
            occ.dilate([(3, ball)], 0, 0, 0, *axes)
        _, out_map = occ.fragment([(3, c) for c in cells], [(3, ball)])
        inside = {t for d, t in out_map[-1] if d == 3}
        grain_vols: list[int] = []
        outside = []
        for i in range(n):
            mine = [t for d, t in out_map[i] if d == 3]
            ins = [t for t in mine if t in inside]
            outside += [t for t in mine if t not in inside]
            if len(ins) != 1:
                raise RuntimeError(f"polycrystal: grain {i} clipped into {len(ins)} parts")
            grain_vols.append(ins[0])
        outside = [(3, t) for t in set(outside) | ({t for d, t in out_map[-1] if d == 3} - inside)]
        occ.remove(outside, recursive=True)
        occ.synchronize()
        # drop anything not belonging to a grain (orphan surfaces from the removed parts)
        for i, v in enumerate(grain_vols):
            add_physical(3, [v], names[i], cell=True)
        surf, gb = [], []
        for _, s in gmsh.model.getEntities(2):
            up, _ = gmsh.model.getAdjacencies(2, s)
            k = len([t for t in up if t in grain_vols])
            if k == 1:
                surf.append(s)
            elif k == 2:
                gb.append(s)
        if not surf:
            raise InputError("facet group 'surface' would be empty")
        add_physical(2, surf, T.SURFACE, cell=False)
        if n > 1:
            add_physical(2, gb, T.GRAIN_BOUNDARY, cell=False)
        hh = h * rmax / L
        hi = None if h_interface is None else h_interface * rmax / L
        # HXT on a Frontal-Delaunay surface mesh first; if a thin Voronoi feature gives a
        # self-intersecting surface mesh: other 2D algorithms, then slightly smaller sizes
        alg3, alg2, f = ATTEMPTS[min(calls[0], len(ATTEMPTS) - 1)]
        calls[0] += 1
        size_field(hh * f, None if hi is None else hi * f, [(2, s) for s in gb + surf], algorithm3d=alg3)
        gmsh.option.setNumber("Mesh.Algorithm", alg2)
        generate(3, order)
        return {**meta, "mesh_attempts": calls[0], "_aliases": al}

    return from_gmsh(build, comm, gdim=3, length_scale=L, name="polycrystal", verbose=verbose, retries=len(ATTEMPTS) - 1)


def _voronoi_volumes(points: np.ndarray, half_box: np.ndarray) -> list[int]:
    """OCC volumes of the Voronoi cells of ``points`` bounded by the box |x_k| <= half_box_k,
    sharing points, edges and faces (rank 0, inside a Gmsh session)."""
    import gmsh
    from scipy.spatial import Voronoi
    occ = gmsh.model.occ
    n = len(points)
    if n == 1:
        b = half_box
        return [occ.addBox(-b[0], -b[1], -b[2], 2 * b[0], 2 * b[1], 2 * b[2])]
    mirrored = [points]
    for k in range(3):
        for sgn in (-1, 1):
            m = points.copy()
            m[:, k] = 2 * sgn * half_box[k] - m[:, k]
            mirrored.append(m)
    allp = np.vstack(mirrored)
    vor = Voronoi(allp)
    pt_tag: dict[int, int] = {}
    line_tag: dict[tuple[int, int], int] = {}
    cell_faces: dict[int, list[int]] = {i: [] for i in range(n)}

    def point(v):
        if v not in pt_tag:
            x = vor.vertices[v]
            pt_tag[v] = occ.addPoint(*x)
        return pt_tag[v]

    def line(a, b):
        key = (min(a, b), max(a, b))
        if key not in line_tag:
            line_tag[key] = occ.addLine(point(key[0]), point(key[1]))
        tag = line_tag[key]
        return tag if a == key[0] else -tag

    for (i, j), verts in zip(vor.ridge_points, vor.ridge_vertices):
        if i >= n and j >= n:
            continue
        if -1 in verts:
            raise RuntimeError("polycrystal: unbounded Voronoi ridge")
        x = vor.vertices[verts]
        c = x.mean(axis=0)
        nrm = allp[j] - allp[i]
        nrm /= np.linalg.norm(nrm)
        e1 = x[0] - c
        e1 -= (e1 @ nrm) * nrm
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(nrm, e1)
        ang = np.arctan2((x - c) @ e2, (x - c) @ e1)
        ordered = [verts[k] for k in np.argsort(ang)]
        # merge (numerically) repeated vertices
        ordered = [v for k, v in enumerate(ordered)
                   if np.linalg.norm(vor.vertices[v] - vor.vertices[ordered[k - 1]]) > 1e-12]
        if len(ordered) < 3:
            continue
        loop = occ.addCurveLoop([line(ordered[k], ordered[(k + 1) % len(ordered)])
                                 for k in range(len(ordered))])
        face = occ.addPlaneSurface([loop])
        for p in (i, j):
            if p < n:
                cell_faces[p].append(face)
    vols = []
    for i in range(n):
        sl = occ.addSurfaceLoop(cell_faces[i])
        vols.append(occ.addVolume([sl]))
    return vols
