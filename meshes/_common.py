"""Shared pieces of the generators: input checks, Gmsh size fields, entity
classification, native (non-Gmsh) 1D meshes, and measures of named groups."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
from mpi4py import MPI

from fem.errors import InputError
from meshes.tagged import TaggedMesh


# --- input checks (before any Gmsh/PETSc work) ---------------------------------------------

def require_positive(name: str, value, unit: str = "") -> float:
    """``value`` > 0 (finite), else InputError naming ``name``."""
    try:
        ok = float(value) > 0 and np.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        u = f" {unit}" if unit else ""
        raise InputError(f"parameter '{name}' = {value!r}{u} is out of range; allowed: (0, inf){u}")
    return float(value)


def require_int(name: str, value, lo: int = 1, hi: int | None = None) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or value < lo or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise InputError(f"parameter '{name}' = {value!r} is out of range; allowed: integers {rng}")
    return int(value)


def require_choice(name: str, value, choices: Sequence) -> Any:
    if value not in choices:
        raise InputError(f"parameter '{name}' = {value!r} is not allowed; allowed: "
                         + ", ".join(map(repr, choices)))
    return value


def require_relative_size(name: str, value, hi: float = 1.0) -> float:
    """A mesh size relative to the geometry's characteristic length: (0, hi]."""
    try:
        ok = 0 < float(value) <= hi
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"parameter '{name}' = {value!r} (relative element size) is out of range; "
                         f"allowed: (0, {hi:g}]")
    return float(value)


def require_order(order) -> int:
    if order not in (1, 2):
        raise InputError(f"parameter 'order' = {order!r} is not allowed; allowed: 1, 2")
    return int(order)


# --- Gmsh helpers (called inside a build() on rank 0) -----------------------------------------

def size_field(h: float, h_min: float | None = None, near: Iterable[tuple[int, int]] = (),
               grading: float = 0.3, dist_max: float | None = None, algorithm3d: int = 10) -> None:
    """Mesh size ``h`` everywhere, graded down to ``h_min`` on the entities ``near``.

    Size(d) = min(h, h_min + grading * (d - h_min)) (h_min for d < h_min), d = distance to ``near`` (Gmsh Distance +
    Threshold fields), i.e. neighbouring elements grow by about a factor 1 + grading.
    """
    import gmsh
    opt = gmsh.option.setNumber
    opt("Mesh.MeshSizeFromPoints", 0)
    opt("Mesh.MeshSizeFromCurvature", 0)
    opt("Mesh.MeshSizeExtendFromBoundary", 0)
    opt("Mesh.Algorithm3D", algorithm3d)
    near = list(near)
    if h_min is not None and h_min < h and near:
        f = gmsh.model.mesh.field
        dist = f.add("Distance")
        by_dim: dict[int, list[int]] = {}
        for d, t in near:
            by_dim.setdefault(d, []).append(t)
        for d, key in ((0, "PointsList"), (1, "CurvesList"), (2, "SurfacesList")):
            if d in by_dim:
                f.setNumbers(dist, key, by_dim[d])
        f.setNumber(dist, "Sampling", 200)
        thr = f.add("Threshold")
        f.setNumber(thr, "InField", dist)
        f.setNumber(thr, "SizeMin", h_min)
        f.setNumber(thr, "SizeMax", h)
        f.setNumber(thr, "DistMin", h_min)
        f.setNumber(thr, "DistMax", dist_max if dist_max is not None else h_min + (h - h_min) / grading)
        f.setAsBackgroundMesh(thr)
        opt("Mesh.MeshSizeMin", h_min)
        opt("Mesh.MeshSizeMax", h)
    else:
        opt("Mesh.MeshSizeMin", h)
        opt("Mesh.MeshSizeMax", h)


def generate(dim: int, order: int = 1, optimize: bool = True) -> None:
    """Mesh the current Gmsh model in ``dim`` after checking its cell estimate against
    ``max_cells`` (:mod:`meshes.limits`; InputError above it)."""
    import gmsh
    from meshes.limits import check_gmsh_model
    check_gmsh_model(dim)
    gmsh.model.mesh.generate(dim)
    if optimize and dim == 3:
        gmsh.model.mesh.optimize("")
    if order == 2:
        gmsh.model.mesh.setOrder(2)


def adjacent_volumes(dim: int, tag: int) -> list[int]:
    """Entities of dimension ``dim + 1`` adjacent to entity (dim, tag)."""
    import gmsh
    up, _ = gmsh.model.getAdjacencies(dim, tag)
    return [int(t) for t in up]


def bbox(dim: int, tag: int) -> np.ndarray:
    import gmsh
    return np.array(gmsh.model.getBoundingBox(dim, tag)).reshape(2, 3)


def com(dim: int, tag: int) -> np.ndarray:
    import gmsh
    return np.array(gmsh.model.occ.getCenterOfMass(dim, tag))


def aliases(cells: dict[str, Sequence[str]] | None = None,
            facets: dict[str, Sequence[str]] | None = None) -> dict:
    """Metadata entry for :class:`TaggedMesh` aliases (return it under ``"_aliases"``)."""
    return {"cells": {k: tuple(v) for k, v in (cells or {}).items()},
            "facets": {k: tuple(v) for k, v in (facets or {}).items()}}


# --- native 1D meshes ---------------------------------------------------------------------

def graded_nodes(a: float, b: float, h: float, h_min: float | None, refine_left: bool,
                 refine_right: bool, ratio: float = 1.2) -> np.ndarray:
    """Nodes on [a, b]: size ``h`` away from refined ends, ``h_min`` at them, growing
    geometrically by about ``ratio`` per element
    (size(d) = min(h, h_min + (ratio-1) max(d - h_min, 0)), d = distance to a refined end)."""
    length = b - a
    if h_min is None or h_min >= h or not (refine_left or refine_right):
        n = max(1, int(np.ceil(length / h - 1e-9)))
        return np.linspace(a, b, n + 1)
    # fine sampling: geometric near both ends + uniform
    s = np.unique(np.concatenate([
        np.linspace(0, length, 4001),
        np.geomspace(h_min * 1e-3, length, 4001),
        length - np.geomspace(h_min * 1e-3, length, 4001), [0.0, length]]))
    s = s[(s >= 0) & (s <= length)]
    d = np.full_like(s, np.inf)
    if refine_left:
        d = np.minimum(d, s)
    if refine_right:
        d = np.minimum(d, length - s)
    size = np.minimum(h, h_min + (ratio - 1.0) * np.maximum(d - h_min, 0.0))  # plateau: 1st cell = h_min
    inv = 1.0 / size
    phi = np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(s))])
    n = max(1, int(np.ceil(phi[-1] - 1e-9)))
    nodes = np.interp(np.linspace(0, phi[-1], n + 1), phi, s)
    nodes[0], nodes[-1] = 0.0, length
    return a + nodes


def interval_mesh(nodes: np.ndarray, comm, cell_groups: list[tuple[str, float, float]],
                  facet_groups: list[tuple[str, float]], cell_id, facet_id,
                  length_scale: float, metadata: dict, name: str = "interval",
                  aliases_: dict | None = None) -> TaggedMesh:
    """Distributed interval mesh on the sorted ``nodes`` with cell groups (name, a, b)
    and facet (vertex) groups (name, x)."""
    import basix.ufl
    import dolfinx.mesh
    import ufl

    if comm.rank == 0:
        x = np.asarray(nodes, dtype=np.float64).reshape(-1, 1)
        n = x.shape[0] - 1
        cells = np.stack([np.arange(n), np.arange(1, n + 1)], axis=1).astype(np.int64)
    else:
        x = np.empty((0, 1), dtype=np.float64)
        cells = np.empty((0, 2), dtype=np.int64)
    domain = ufl.Mesh(basix.ufl.element("Lagrange", "interval", 1, shape=(1,)))
    partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet)
    mesh = dolfinx.mesh.create_mesh(comm, cells, x, domain, partitioner=partitioner)
    tdim = 1
    mesh.topology.create_connectivity(0, 1)
    mesh.topology.create_connectivity(1, 0)
    span = float(np.max(nodes) - np.min(nodes)) if comm.rank == 0 else 0.0
    span = comm.bcast(span, root=0)
    eps = 1e-10 * span
    c_idx, c_val, cell_names = [], [], {}
    for nm, a, b in cell_groups:
        ent = dolfinx.mesh.locate_entities(mesh, tdim, lambda X, a=a, b=b: (X[0] >= a - eps) & (X[0] <= b + eps))
        c_idx.append(ent)
        c_val.append(np.full(len(ent), cell_id(nm), dtype=np.int32))
        cell_names[nm] = cell_id(nm)
    f_idx, f_val, facet_names = [], [], {}
    for nm, xf in facet_groups:
        ent = dolfinx.mesh.locate_entities(mesh, 0, lambda X, xf=xf: np.abs(X[0] - xf) <= eps)
        f_idx.append(ent)
        f_val.append(np.full(len(ent), facet_id(nm), dtype=np.int32))
        facet_names[nm] = facet_id(nm)

    def tags(dim, idx, val):
        idx = np.concatenate(idx) if idx else np.empty(0, np.int32)
        val = np.concatenate(val) if val else np.empty(0, np.int32)
        order = np.argsort(idx, kind="stable")
        idx, first = np.unique(idx[order], return_index=True)
        return dolfinx.mesh.meshtags(mesh, dim, idx.astype(np.int32), val[order][first])

    cell_tags = tags(tdim, c_idx, c_val)
    facet_tags = tags(0, f_idx, f_val)
    mesh.name = name
    cell_tags.name = f"{name}_cells"
    facet_tags.name = f"{name}_facets"
    al = aliases_ or {}
    return TaggedMesh(mesh, cell_tags, facet_tags, cell_names, facet_names, length_scale, metadata,
                      cell_aliases=dict(al.get("cells", {})), facet_aliases=dict(al.get("facets", {})))


# --- measures of named groups -------------------------------------------------------------

def measure(tm: TaggedMesh, name: str | None = None, kind: str = "dx") -> float:
    """Global measure (mesh units) of a named cell group (``dx``), boundary facet group
    (``ds``) or interior facet group (``dS``); ``name=None`` = whole mesh / boundary."""
    import dolfinx.fem
    import ufl
    one = dolfinx.fem.Constant(tm.mesh, np.float64(1.0))
    if kind == "dx":
        m = tm.dx(name)
        form = one * m
    elif kind == "ds":
        form = one * tm.ds(name)
    else:
        form = ufl.avg(one) * tm.dS(name)
    local = dolfinx.fem.assemble_scalar(dolfinx.fem.form(form))
    return float(tm.comm.allreduce(local, op=MPI.SUM))


def facet_measure(tm: TaggedMesh, name: str) -> float:
    """Measure of a facet group, whether exterior, interior or both (ds + dS)."""
    return measure(tm, name, "ds") + measure(tm, name, "dS")
