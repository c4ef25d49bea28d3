"""Cell-count guard: estimate the number of cells before meshing, refuse above ``max_cells``.

A mesh size that is too small for the machine (``--set mesh_size=1e-4``) would
otherwise make Gmsh mesh until the job is killed.  Before
``gmsh.model.mesh.generate`` (:func:`meshes._common.generate`, and the
generators that call Gmsh directly) :func:`check_gmsh_model` estimates the
number of cells from the Gmsh model and its size settings and raises
:class:`fem.errors.InputError` (exit status 2, one line, with the estimate)
when it exceeds the limit:

* uniform size h (``Mesh.MeshSizeMax`` x ``Mesh.MeshSizeFactor``) over a domain
  of measure V (OCC mass of the entities of the mesh dimension; their bounding
  box for discrete/STL geometry): N = C_d V / h^d with C_3 = 3 sqrt(2) (Gmsh's
  tetrahedra average twice the volume h^3 / (6 sqrt(2)) of the regular one),
  C_2 = 4 / sqrt(3) (equilateral triangles), C_1 = 1;
* graded meshes (a Gmsh ``Threshold`` field on a ``Distance`` field, as made by
  :func:`meshes._common.size_field`): plus C_d times the integral of
  s(d)^-d - h^-d over the refined layer around the refined entities (area x
  sides for surfaces, tubes around curves, balls around points), capped at
  C_d V / h_min^d.

Measured against Gmsh (sphere, graded sphere, 2D section, core-shell, bilayers,
particle in matrix, platelet, polycrystals) the estimate is 0.4-1.5 x the actual
count (polycrystals with many grains: low, their small Voronoi faces refine the
mesh further); it is an order-of-magnitude guard, not a prediction.
Native interval meshes are checked with :func:`estimate_graded_interval`.

The limit is :func:`fem.parameters.max_cells`: the ``max_cells`` parameter of
the last validated problem parameters (``--set max_cells=N``), else the
environment variable ``SOLIDION_MAX_CELLS``, else 2e7 -- about what one node
(~64-128 GB, 32-64 cores) meshes with Gmsh and solves with P1/P2 elements in
reasonable time.  ``solidion mesh KIND --set max_cells=N`` sets it for one mesh.
"""

from __future__ import annotations

import math

import numpy as np

from fem.errors import InputError
from fem.parameters import max_cells

DENSITY = {1: 1.0, 2: 4.0 / math.sqrt(3.0), 3: 3.0 * math.sqrt(2.0)}  # cells per h^d


def check_cells(estimate: float, what: str) -> None:
    """InputError if ``estimate`` exceeds the current limit."""
    limit = max_cells()
    if not estimate <= limit:  # also refuses nan/inf
        raise InputError(f"{what}: about {estimate:.3g} cells estimated, above the limit max_cells = "
                         f"{limit:.3g}; use a larger mesh size, or raise the limit "
                         "(--set max_cells=N or SOLIDION_MAX_CELLS=N)")


def _measure(dim: int, tag: int) -> float:
    import gmsh
    try:
        return float(gmsh.model.occ.getMass(dim, tag))
    except Exception:  # noqa: BLE001 - not an OCC entity (geo / discrete): bounding box
        b = np.array(gmsh.model.getBoundingBox(dim, tag)).reshape(2, 3)
        ext = np.sort(b[1] - b[0])[::-1]
        return float(np.prod(ext[:dim]))


def _layer_integral(D: int, codim: int, sides: float, s_min: float, s_max: float, d_min: float,
                    d_max: float, h_lo: float, h_far: float) -> float:
    """Integral over the distance d of (s(d)^-D - h_far^-D) w(d): extra cells per unit measure
    of a refined entity (divided by C_D)."""
    d_max = max(d_max, d_min)
    d = np.unique(np.concatenate([np.linspace(0.0, d_min, 64), np.linspace(d_min, d_max, 2048),
                                  d_min + np.geomspace(max(1e-12 * max(d_max, 1e-300), 1e-300),
                                                       max(d_max - d_min, 1e-300), 512)]))
    d = d[d <= d_max]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        frac = np.clip((d - d_min) / max(d_max - d_min, 1e-300), 0.0, 1.0)
        s = np.clip(s_min + (s_max - s_min) * frac, h_lo, h_far)
        dens = s ** (-float(D)) - h_far ** (-float(D))
        w = {1: np.full_like(d, sides), 2: math.pi * d, 3: 2 * math.pi * d ** 2}[min(codim, 3)]
        val = float(np.trapezoid(np.maximum(dens, 0.0) * w, d))
    return val if math.isfinite(val) else math.inf


def estimate_gmsh_cells(dim: int) -> tuple[float, float, float]:
    """(estimated cells, measure, smallest size) of the current Gmsh model meshed in ``dim``
    (call on the rank that builds the model, after synchronize, before generate)."""
    import gmsh
    opt = gmsh.option.getNumber
    ents = gmsh.model.getEntities(dim)
    measure = sum(_measure(dim, t) for _, t in ents)
    b = np.array(gmsh.model.getBoundingBox(-1, -1)).reshape(2, 3)
    diag = float(np.linalg.norm(b[1] - b[0])) or 1.0
    factor = opt("Mesh.MeshSizeFactor") or 1.0
    h_hi = min(opt("Mesh.MeshSizeMax"), diag)
    h_lo = min(opt("Mesh.MeshSizeMin"), h_hi)
    h_far = h_hi * factor
    C = DENSITY[dim]
    with np.errstate(over="ignore", divide="ignore"):
        base = C * measure / h_far ** dim if h_far > 0 else math.inf
    extra, s_smallest = 0.0, h_far
    f = gmsh.model.mesh.field
    for t in f.list():
        if f.getType(t) != "Threshold":
            continue
        g = lambda k: f.getNumber(t, k)  # noqa: E731
        s_min, s_max, d_min, d_max = (g(k) * (factor if "Size" in k else 1.0)
                                      for k in ("SizeMin", "SizeMax", "DistMin", "DistMax"))
        s_min = max(s_min, h_lo * factor)
        s_smallest = min(s_smallest, s_min)
        src = int(g("InField"))
        if src not in f.list() or f.getType(src) != "Distance":
            continue
        for k, key in ((0, "PointsList"), (1, "CurvesList"), (2, "SurfacesList")):
            if k >= dim:
                continue
            for tag in f.getNumbers(src, key):
                tag = int(tag)
                m = _measure(k, tag) if k > 0 else 1.0
                sides = 1.0
                if dim - k == 1:
                    up, _ = gmsh.model.getAdjacencies(k, tag)
                    sides = float(min(max(len(up), 1), 2))
                extra += C * m * _layer_integral(dim, dim - k, sides, s_min, s_max, d_min, d_max,
                                                 h_lo * factor, h_far)
    with np.errstate(over="ignore", divide="ignore"):
        cap = C * measure / s_smallest ** dim if s_smallest > 0 else math.inf
    n = min(base + extra, cap)
    return (n if math.isfinite(n) else math.inf), measure, s_smallest


def check_gmsh_model(dim: int, what: str | None = None) -> float:
    """Estimate the cells of the current Gmsh model; InputError above the limit."""
    import gmsh
    n, measure, h = estimate_gmsh_cells(dim)
    what = what or f"mesh '{gmsh.model.getCurrent()}'"
    check_cells(n, f"{what} (smallest element size {h:.3g} mesh units, domain measure {measure:.4g})")
    return n


def estimate_graded_interval(length: float, h: float, h_min: float | None = None,
                             refined_ends: int = 0, ratio: float = 1.2) -> float:
    """Cells of an interval of ``length`` meshed at size ``h`` and graded geometrically
    (factor ``ratio``) down to ``h_min`` at ``refined_ends`` ends (cf.
    :func:`meshes._common.graded_nodes`)."""
    with np.errstate(over="ignore", divide="ignore"):
        n = length / h if h > 0 else math.inf
        if h_min is not None and 0 < h_min < h and refined_ends:
            n += refined_ends * (1.0 + math.log(h / h_min) / (ratio - 1.0) if ratio > 1 else length / h_min)
        elif h_min is not None and h_min <= 0 and refined_ends:
            n = math.inf
    return float(n)
