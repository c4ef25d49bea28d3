"""Lamellar polycrystal / bicrystal in 2D: ``n_grains`` parallel grains with planar boundaries.

Grain k occupies k w <= x <= (k+1) w, 0 <= y <= depth (w the grain width); the
grain boundaries are the planes x = k w, k = 1 .. n-1, perpendicular to the source
surface y = 0 (Fisher's geometry of grain-boundary diffusion; two grains: a bicrystal).
A structured triangle mesh whose node lines are graded geometrically (factor
``grading_ratio``) from ``h_gb`` at every boundary to ``h`` inside the grains, and from
``h_surface`` at y = 0 to ``h`` in depth; boundaries are lines of facets.

Tags
----
cells  : ``grain_k`` (tags.grain(k)); alias ``particle`` = all grains.
facets : ``grain_boundary`` (interior, x = k w), ``surface`` (y = 0), ``outer`` (y = depth),
         ``symmetry`` (x = 0 and x = n w: zero-flux planes of a periodic stack).

Sizes are relative to ``length_scale`` (default: the depth); coordinates in units of it.
Metadata ``x_nodes``, ``y_nodes``: the node lines (mesh units), e.g. for exact layer averages.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from meshes import tags as T
from meshes._common import graded_nodes, require_int, require_positive, require_relative_size
from meshes.limits import check_cells
from meshes.tagged import TaggedMesh


def lamellar(n_grains: int, grain_width_m: float, depth_m: float, *, h: float = 0.05,
             h_gb: float | None = None, h_surface: float | None = None, grading_ratio: float = 1.15,
             comm=MPI.COMM_WORLD, length_scale: float | None = None) -> TaggedMesh:
    """Stack of ``n_grains`` lamellae of width ``grain_width_m`` [m] and depth ``depth_m`` [m]."""
    import dolfinx.mesh

    n = require_int("n_grains", n_grains, 1, 10000)
    w_m = require_positive("grain_width_m", grain_width_m, "m")
    d_m = require_positive("depth_m", depth_m, "m")
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else d_m
    h = require_relative_size("h", h)
    hg = None if h_gb is None else require_relative_size("h_gb", h_gb)
    hs = None if h_surface is None else require_relative_size("h_surface", h_surface)
    w, d = w_m / L, d_m / L
    # x: each grain graded towards its boundaries (not towards the outer symmetry planes)
    xs = [graded_nodes(k * w, (k + 1) * w, h, hg, refine_left=k > 0, refine_right=k < n - 1,
                       ratio=grading_ratio) for k in range(n)]
    x_nodes = np.concatenate([xs[0]] + [x[1:] for x in xs[1:]])
    y_nodes = graded_nodes(0.0, d, h, hs, refine_left=True, refine_right=False, ratio=grading_ratio)
    nx, ny = len(x_nodes) - 1, len(y_nodes) - 1
    check_cells(2.0 * nx * ny, f"mesh 'lamellar' ({nx} x {ny} node intervals)")
    # integer lattice, then every node moved to its graded position (exact: nodes at integers)
    mesh = dolfinx.mesh.create_rectangle(comm, [np.array([0.0, 0.0]), np.array([float(nx), float(ny)])], [nx, ny],
                                         cell_type=dolfinx.mesh.CellType.triangle,
                                         ghost_mode=dolfinx.mesh.GhostMode.shared_facet)
    X = mesh.geometry.x
    ix, iy = np.rint(X[:, 0]).astype(int), np.rint(X[:, 1]).astype(int)
    X[:, 0], X[:, 1] = x_nodes[ix], y_nodes[iy]
    tdim = 2
    mesh.topology.create_connectivity(tdim - 1, tdim)
    tol = 1e-9 * max(n * w, d)

    # cells by their midpoints
    ncells = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, np.arange(ncells, dtype=np.int32))
    grain_of = np.clip(np.floor(mid[:, 0] / w).astype(int), 0, n - 1)
    names = [T.grain(k) for k in range(n)]
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, np.arange(ncells, dtype=np.int32),
                                      np.array([T.cell_id(nm) for nm in names], dtype=np.int32)[grain_of])

    groups = {T.SURFACE: lambda P: np.abs(P[1]) <= tol,
              T.OUTER: lambda P: np.abs(P[1] - d) <= tol,
              T.SYMMETRY: lambda P: (np.abs(P[0]) <= tol) | (np.abs(P[0] - n * w) <= tol)}
    if n > 1:
        gb_x = w * np.arange(1, n)
        groups[T.GRAIN_BOUNDARY] = lambda P: np.min(np.abs(P[0][:, None] - gb_x[None, :]), axis=1) <= tol
    ents, vals = [], []
    for nm, marker in groups.items():
        f = dolfinx.mesh.locate_entities(mesh, tdim - 1, marker)
        ents.append(f)
        vals.append(np.full(len(f), T.facet_id(nm), dtype=np.int32))
    ents, vals = np.concatenate(ents), np.concatenate(vals)
    order = np.argsort(ents)
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, ents[order].astype(np.int32), vals[order])
    mesh.name = "lamellar"
    cell_tags.name, facet_tags.name = "lamellar_cells", "lamellar_facets"
    meta = {"kind": "lamellar", "n_grains": n, "grain_width_m": w_m, "depth_m": d_m, "h": h, "h_gb": hg,
            "h_surface": hs, "grain_boundaries_x_m": [k * w_m for k in range(1, n)],
            "x_nodes": x_nodes.tolist(), "y_nodes": y_nodes.tolist(), "nominal_volumes": {T.PARTICLE: n * w * d}}
    return TaggedMesh(mesh, cell_tags, facet_tags, {nm: T.cell_id(nm) for nm in names},
                      {nm: T.facet_id(nm) for nm in groups}, L, meta,
                      cell_aliases={T.PARTICLE: tuple(names)})
