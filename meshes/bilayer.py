"""Planar bilayer / multilayer in 1D (interval), 2D (rectangle) and 3D (box).

x is the stacking direction: layer i occupies x_i <= x <= x_{i+1}, x_0 = 0,
x_{i+1} - x_i = thickness_i.  In 2D/3D the cross-section is a width x width
square (3D) or a width segment (2D) in y (, z).

Tags
----
cells   : ``layer_names`` (default: electrode, electrolyte for 2 layers; layer_i otherwise)
facets  : contact_left (x = 0), contact_right (x = total thickness),
          interface_i between layer i and i+1, lateral (2D/3D side faces);
          ``interface`` is the tag itself for 2 layers and an alias of all
          interface_i (``tm.dS("interface")``) for 3 or more layers.

Sizes ``h``, ``h_interface`` are relative to the total thickness (or give
``h_m``/``h_interface_m`` in metres).  Towards every interface the size is
graded from ``h_interface`` (e.g. a fraction of the Debye length) up to ``h``:
geometrically (factor ``grading_ratio``) in 1D, by Gmsh distance fields in 2D/3D.
"""

from __future__ import annotations

from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import (aliases, bbox, generate, graded_nodes, interval_mesh, require_choice,
                            require_order, require_positive, require_relative_size, size_field)
from meshes.limits import check_cells, estimate_graded_interval
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


def bilayer(thicknesses_m: list[float], dim: int = 1, width_m: float | None = None, h: float = 0.05,
            h_interface: float | None = None, comm=MPI.COMM_WORLD, length_scale: float | None = None,
            layer_names: list[str] | None = None, *, h_m: float | None = None,
            h_interface_m: float | None = None, grading_ratio: float = 1.2, order: int = 1,
            refine_contacts: bool = False, verbose: bool = False) -> TaggedMesh:
    """Stack of ``len(thicknesses_m)`` >= 1 layers [m]; see the module docstring.

    Parameters
    ----------
    thicknesses_m : layer thicknesses [m], left to right.
    dim : 1, 2 or 3.
    width_m : lateral width [m] (2D/3D; default: the total thickness).
    h, h_interface : element size away from / at the interfaces, relative to the
        total thickness (h_interface None: uniform h).
    length_scale : metres per mesh unit (default: the total thickness).
    layer_names : cell group names, one per layer.
    refine_contacts : also grade down to ``h_interface`` at the contacts x = 0 and x = end
        (blocking electrodes with their own space-charge layers).
    order : geometry order of 2D/3D meshes (planar: exact with 1; 2 only for P2-geometry
        consistency with other meshes); 1D meshes are always linear.
    """
    if not isinstance(thicknesses_m, (list, tuple)) or len(thicknesses_m) < 1:
        raise InputError(f"parameter 'thicknesses_m' = {thicknesses_m!r} must be a list of >= 1 "
                         "positive thicknesses [m]")
    ts = [require_positive(f"thicknesses_m[{i}]", t, "m") for i, t in enumerate(thicknesses_m)]
    require_choice("dim", dim, (1, 2, 3))
    order = require_order(order)
    total_m = sum(ts)
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else total_m
    if h_m is not None:
        h = require_positive("h_m", h_m, "m") / total_m
    h = require_relative_size("h", h)
    if h_interface_m is not None:
        h_interface = require_positive("h_interface_m", h_interface_m, "m") / total_m
    if h_interface is not None:
        h_interface = require_relative_size("h_interface", h_interface)
        if h_interface > h:
            raise InputError(f"parameter 'h_interface' = {h_interface!r} must be <= h = {h!r}")
    if not grading_ratio > 1:
        raise InputError(f"parameter 'grading_ratio' = {grading_ratio!r} is out of range; allowed: (1, inf)")
    n = len(ts)
    if layer_names is None:
        layer_names = [T.ELECTRODE, T.ELECTROLYTE] if n == 2 else [T.layer(i) for i in range(n)]
    if len(layer_names) != n or len(set(layer_names)) != n:
        raise InputError(f"parameter 'layer_names' = {layer_names!r} must hold {n} distinct names")
    for nm in layer_names:
        try:
            T.cell_id(nm)
        except (KeyError, ValueError):
            raise InputError(f"parameter 'layer_names': {nm!r} is not a cell group name of meshes.tags") from None
    if dim > 1 and width_m is not None:
        require_positive("width_m", width_m, "m")
    width = (width_m if width_m is not None else total_m) / L

    # positions in mesh units
    xs = [0.0]
    for t in ts:
        xs.append(xs[-1] + t / L)
    scale = total_m / L  # relative size -> mesh units
    hh = h * scale
    hi = None if h_interface is None else h_interface * scale
    iface_names = [T.INTERFACE] if n == 2 else [T.interface(i) for i in range(n - 1)]
    al = aliases(facets={T.INTERFACE: iface_names}) if n > 2 else aliases()
    meta = {"kind": "bilayer", "thicknesses_m": ts, "dim": dim, "width_m": width * L if dim > 1 else None,
            "h": h, "h_interface": h_interface, "layer_names": list(layer_names),
            "interface_names": iface_names, "interfaces_x": xs[1:-1],
            "nominal_volumes": {nm: (xs[i + 1] - xs[i]) * width ** (dim - 1)
                                for i, nm in enumerate(layer_names)},
            "nominal_areas": {**{nm: width ** (dim - 1) for nm in iface_names},
                              T.CONTACT_LEFT: width ** (dim - 1), T.CONTACT_RIGHT: width ** (dim - 1)}}
    if dim > 1:
        meta["nominal_areas"][T.LATERAL] = (2 * xs[-1] if dim == 2 else 4 * xs[-1] * width)

    if dim == 1:
        import numpy as np
        check_cells(sum(estimate_graded_interval(xs[i + 1] - xs[i], hh, hi,
                                                 int(i > 0 or refine_contacts) + int(i < n - 1 or refine_contacts),
                                                 grading_ratio) for i in range(n)),
                    f"mesh 'bilayer' (dim 1, h = {h:g}, h_interface = {h_interface!r})")
        parts = []
        for i in range(n):
            nodes = graded_nodes(xs[i], xs[i + 1], hh, hi, refine_left=i > 0 or refine_contacts,
                                 refine_right=i < n - 1 or refine_contacts, ratio=grading_ratio)
            parts.append(nodes if i == 0 else nodes[1:])
        nodes = np.concatenate(parts)
        facets = [(T.CONTACT_LEFT, xs[0]), (T.CONTACT_RIGHT, xs[-1])]
        facets += [(iface_names[i], xs[i + 1]) for i in range(n - 1)]
        cells = [(layer_names[i], xs[i], xs[i + 1]) for i in range(n)]
        return interval_mesh(nodes, comm, cells, facets, T.cell_id, T.facet_id, L, meta,
                             name="bilayer", aliases_=al)

    def build():
        import gmsh
        occ = gmsh.model.occ
        vols = []
        for i in range(n):
            if dim == 2:
                vols.append((2, occ.addRectangle(xs[i], 0, 0, xs[i + 1] - xs[i], width)))
            else:
                vols.append((3, occ.addBox(xs[i], 0, 0, xs[i + 1] - xs[i], width, width)))
        out, out_map = occ.fragment(vols[:1], vols[1:]) if n > 1 else (vols, [vols])
        occ.synchronize()
        tol = 1e-6 * max(xs[-1], width)
        # each input layer maps to exactly one output entity
        layer_ent = [m[0][1] for m in out_map]
        for i, nm in enumerate(layer_names):
            add_physical(dim, [layer_ent[i]], nm, cell=True)
        groups = {T.CONTACT_LEFT: [], T.CONTACT_RIGHT: [], T.LATERAL: [], **{nm: [] for nm in iface_names}}
        for _, f in gmsh.model.getEntities(dim - 1):
            b = bbox(dim - 1, f)
            if abs(b[1, 0] - b[0, 0]) <= tol:  # plane x = const
                x = b[0, 0]
                if abs(x - xs[0]) <= tol:
                    groups[T.CONTACT_LEFT].append(f)
                elif abs(x - xs[-1]) <= tol:
                    groups[T.CONTACT_RIGHT].append(f)
                else:
                    k = min(range(1, n), key=lambda j: abs(xs[j] - x))
                    groups[iface_names[k - 1]].append(f)
            else:
                groups[T.LATERAL].append(f)
        for nm, ents in groups.items():
            if not ents:
                raise InputError(f"bilayer: facet group {nm!r} would be empty")
            add_physical(dim - 1, ents, nm, cell=False)
        refined = iface_names + ([T.CONTACT_LEFT, T.CONTACT_RIGHT] if refine_contacts else [])
        near = [(dim - 1, f) for nm in refined for f in groups[nm]]
        size_field(hh, hi, near, grading=grading_ratio - 1.0)
        generate(dim, order, optimize=False)
        return {**meta, "_aliases": al}

    return from_gmsh(build, comm, gdim=dim, length_scale=L, name="bilayer", verbose=verbose)
