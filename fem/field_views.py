"""Pictures of 3D fields, headless (matplotlib Agg, no VTK): the particle surface coloured by
a field, an exact planar section, and the particle with the half facing the viewer removed.

A field is a scalar Lagrange P1/P2 :class:`dolfinx.fem.Function` on a tetrahedral mesh (P2:
each cell is split into 8 linear sub-tetrahedra on its 10 nodes; higher degrees: vertex
values), or a piecewise field ``[(function, cells), ...]`` on cell groups (e.g. the core and
shell concentrations of a two-phase particle; ``cells`` local cell indices, None = all).
Coordinates are mesh coordinates times ``length_scale`` [m], values times ``value_scale``.

* :func:`surface_view`  the boundary of the region (the mesh boundary, or the surface of the
  cell group ``surface_cells``, e.g. a particle embedded in an electrolyte), orthographic,
  lightly shaded, colour bar in SI, scale bar, time in s.
* :func:`section_view`  the cut of every tetrahedron by the plane ``axis`` = ``at`` (marching
  tetrahedra: a triangle or a quad per cut cell, values linear along the cut edges, so the
  picture is the exact trace of the piecewise-linear field), in the plane's coordinates, with
  the outlines of the region and of each piece.
* :func:`clip_view`     the region's surface clipped by the same plane, the section as its cap.
* :func:`snapshot`      those three at once (``plots/NAME_surface.png``, ``_section``, ``_clip``);
  :func:`views_output`  a :class:`fem.simulation.FieldOutput` rendering them during a run
  (at the requested output times, on a trigger such as half conversion, and at the end).
* :func:`section_triangles`, :func:`boundary_triangles`, :func:`section_outline`,
  :func:`clipped_surface`: the data.

Drawing: the triangles are rasterized here (numpy z-buffer, 2 x 2 supersampling; values and
normals interpolated per pixel, so the picture is the piecewise-linear field without the
seams and sliver streaks of Agg's Gouraud triangles) into an image placed in a matplotlib
axes in display units (um or nm), so scale bar, colour bar and labels are matplotlib's.

Collective: every rank calls.  Each rank cuts its owned cells and finds the faces of its
owned cells that no other local cell of the region shares; rank 0 gathers those triangles,
drops the faces seen twice (partition boundaries), draws and writes the PNG (temporary file
with the process id + rename).  The field is read, never modified.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import dolfinx.fem
import dolfinx.mesh

_FACES = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])  # face k is opposite vertex k
AXES = {"x": 0, "y": 1, "z": 2}
VIEWS = ("surface", "section", "clip")
PIXELS = 800  # rendered image size (long side; supersampled 2 x 2); raise for posters


# ----------------------------------------------------------------------------- local data
def _pieces(field, cells=None) -> list:
    if isinstance(field, (list, tuple)):
        return [(f, c) for f, c in field]
    return [(field, cells)]


def _subtets(V) -> np.ndarray:
    """Local dof indices (k, 4) of the linear sub-tetrahedra of a cell of the scalar space V."""
    layout = V.dofmap.dof_layout
    vert = [int(layout.entity_dofs(0, i)[0]) for i in range(4)]
    edofs = [layout.entity_dofs(1, e) for e in range(6)]
    if layout.num_dofs != 10 or any(len(e) != 1 for e in edofs):
        return np.array([vert])  # P1 (or a higher degree: its vertex values)
    import basix
    mid = {}
    for e, (i, j) in enumerate(basix.topology(basix.CellType.tetrahedron)[1]):
        mid[i, j] = mid[j, i] = int(edofs[e][0])
    v0, v1, v2, v3 = vert
    m01, m02, m03, m12, m13, m23 = (mid[0, 1], mid[0, 2], mid[0, 3], mid[1, 2], mid[1, 3], mid[2, 3])
    ring = [m01, m12, m23, m03]  # around the octahedron's diagonal m02-m13
    return np.array([[v0, m01, m02, m03], [m01, v1, m12, m13], [m02, m12, v2, m23], [m03, m13, m23, v3]]
                    + [[m02, m13, ring[k], ring[(k + 1) % 4]] for k in range(4)])


def _linear_tets(func, cells=None):
    """(coordinates (n, 4, 3), values (n, 4), global node ids (n, 4)) of the linear
    (sub-)tetrahedra of the owned ``cells`` of a scalar Lagrange field (mesh units)."""
    V = func.function_space
    mesh = V.mesh
    if mesh.topology.cell_type != dolfinx.mesh.CellType.tetrahedron:
        raise ValueError("field_views: a 3D tetrahedral mesh is required")
    if V.dofmap.bs != 1 or len(V.value_shape) != 0:
        raise ValueError("field_views: a scalar field is required")
    n_owned = mesh.topology.index_map(3).size_local
    cells = np.arange(n_owned, dtype=np.int32) if cells is None else np.asarray(cells, dtype=np.int32)
    cells = cells[cells < n_owned]
    dofs = V.dofmap.list[cells][:, _subtets(V)].reshape(-1, 4)
    u = dolfinx.fem.Function(V)  # a copy: the ghost values updated without touching the field
    u.x.array[:] = func.x.array
    u.x.scatter_forward()
    X = V.tabulate_dof_coordinates()
    ids = V.dofmap.index_map.local_to_global(dofs.ravel().astype(np.int32)).reshape(dofs.shape)
    return X[dofs], u.x.array[dofs].real.astype(float), ids.astype(np.int64)


def _region_tets(pieces, region=None):
    """Linear tetrahedra of all pieces (restricted to the cell set ``region``), with piece index."""
    out = []
    for k, (f, cells) in enumerate(pieces):
        c = cells
        if region is not None:
            c = region if c is None else np.intersect1d(np.asarray(c), np.asarray(region))
        X, v, ids = _linear_tets(f, c)
        out.append((X, v, ids, np.full(len(v), k, dtype=np.int32)))
    return tuple(np.concatenate([o[i] for o in out]) for i in range(4))


def _gather(comm, arrays: dict) -> dict | None:
    parts = comm.gather(arrays, root=0)
    if comm.rank != 0:
        return None
    return {k: np.concatenate([p[k] for p in parts]) for k in arrays}


def _once(keys: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``keys`` (sorted node-id triples) that occur exactly once."""
    once = np.ones(len(keys), dtype=bool)
    if len(keys) < 2:
        return once
    order = np.lexsort(keys.T[::-1])
    k = keys[order]
    same = np.all(k[1:] == k[:-1], axis=1)
    once[order[1:][same]] = False
    once[order[:-1][same]] = False
    return once


def boundary_triangles(field, comm, *, cells=None, region=None):
    """Boundary faces of the union of the pieces' cells (within ``region``), on rank 0:
    dict(x (m, 3, 3) mesh units, outward-oriented; values (m, 3); ids (m, 3) global node ids;
    piece (m,)), None on the other ranks.  Faces between two pieces are interior."""
    X, v, ids, piece = _region_tets(_pieces(field, cells), region)
    tri_ids = ids[:, _FACES].reshape(-1, 3)
    keys = np.sort(tri_ids, axis=1)
    once = _once(keys)
    data = {"x": X[:, _FACES].reshape(-1, 3, 3)[once], "values": v[:, _FACES].reshape(-1, 3)[once],
            "ids": tri_ids[once], "keys": keys[once], "opposite": X.reshape(-1, 3)[once],
            "piece": np.repeat(piece, 4)[once]}
    g = _gather(comm, data)
    if g is None:
        return None
    keep = _once(g.pop("keys"))  # partition faces were seen on two ranks
    g = {k: a[keep] for k, a in g.items()}
    x, opp = g["x"], g.pop("opposite")
    n = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    flip = np.einsum("ij,ij->i", n, x[:, 0] - opp) < 0
    for k in ("x", "values", "ids"):
        g[k][flip] = g[k][flip][:, [0, 2, 1]]
    return g


def _plane(axis: str, at: float):
    if axis not in AXES:
        raise ValueError(f"field_views: axis must be one of {tuple(AXES)}, got {axis!r}")
    n = np.zeros(3)
    n[AXES[axis]] = 1.0
    return n, float(at)


def _edge_points(x, v, d, i, j):
    """Points (and values) where the edges i-j (d[i] < 0 <= d[j]) cross d = 0."""
    rows = np.arange(len(d))
    di, dj = d[rows, i], d[rows, j]
    t = (di / (di - dj))[:, None]
    return x[rows, i] + t * (x[rows, j] - x[rows, i]), v[rows, i] + t[:, 0] * (v[rows, j] - v[rows, i])


def _cut_tets(X, v, normal, offset):
    """Marching tetrahedra: triangles (m, 3, 3) and values (m, 3) of the cut d = x.n - offset = 0
    (a vertex with d = 0 counts as d >= 0, so a face in the plane is produced once)."""
    d = X @ normal - offset
    below = d < 0
    nb = below.sum(axis=1)
    order = np.argsort(~below, axis=1, kind="stable")  # the vertices with d < 0 first
    tris, vals = [], []
    for count, lone, others in ((1, 0, (1, 2, 3)), (3, 3, (0, 1, 2))):
        s = nb == count
        if not s.any():
            continue
        o, xs, vs, ds = order[s], X[s], v[s], d[s]
        pts = [(_edge_points(xs, vs, ds, o[:, lone], o[:, k]) if count == 1 else
                _edge_points(xs, vs, ds, o[:, k], o[:, lone])) for k in others]
        tris.append(np.stack([p[0] for p in pts], axis=1))
        vals.append(np.stack([p[1] for p in pts], axis=1))
    s = nb == 2
    if s.any():
        o, xs, vs, ds = order[s], X[s], v[s], d[s]
        a, b, c, e = o[:, 0], o[:, 1], o[:, 2], o[:, 3]
        q = [_edge_points(xs, vs, ds, a, c), _edge_points(xs, vs, ds, a, e),
             _edge_points(xs, vs, ds, b, e), _edge_points(xs, vs, ds, b, c)]
        for t in ((0, 1, 2), (0, 2, 3)):
            tris.append(np.stack([q[k][0] for k in t], axis=1))
            vals.append(np.stack([q[k][1] for k in t], axis=1))
    if not tris:
        return np.zeros((0, 3, 3)), np.zeros((0, 3))
    return np.concatenate(tris), np.concatenate(vals)


def section_triangles(field, comm, *, axis="z", at=0.0, cells=None):
    """The exact cut of the field by the plane ``axis`` = ``at`` (mesh units), on rank 0:
    dict(x (m, 3, 3), values (m, 3), piece (m,)); None on the other ranks."""
    normal, offset = _plane(axis, at)
    parts = {"x": [np.zeros((0, 3, 3))], "values": [np.zeros((0, 3))], "piece": [np.zeros(0, np.int32)]}
    for k, (f, c) in enumerate(_pieces(field, cells)):
        X, v, _ = _linear_tets(f, c)
        tri, val = _cut_tets(X, v, normal, offset)
        parts["x"].append(tri)
        parts["values"].append(val)
        parts["piece"].append(np.full(len(val), k, dtype=np.int32))
    return _gather(comm, {k: np.concatenate(a) for k, a in parts.items()})


def section_outline(tri: dict, axis="z", at=0.0) -> np.ndarray:
    """Segments (s, 2, 3) where the outward-oriented boundary triangles ``tri`` (of
    :func:`boundary_triangles`) cross the plane, oriented counter-clockwise about the plane
    normal around the region (shoelace sum = enclosed area)."""
    normal, offset = _plane(axis, at)
    x = tri["x"]
    d = x @ normal - offset
    below = d < 0
    nb = below.sum(axis=1)
    s = (nb == 1) | (nb == 2)
    x, d, below, nb = x[s], d[s], below[s], nb[s]
    order = np.argsort(~below, axis=1, kind="stable")
    lone = np.where(nb == 1, order[:, 0], order[:, 2])
    o1 = np.where(nb == 1, order[:, 1], order[:, 0])
    o2 = np.where(nb == 1, order[:, 2], order[:, 1])
    z = np.zeros((len(x), 3))
    p = _edge_points(x, z, d, np.where(nb == 1, lone, o1), np.where(nb == 1, o1, lone))[0]
    q = _edge_points(x, z, d, np.where(nb == 1, lone, o2), np.where(nb == 1, o2, lone))[0]
    fn = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    m = fn - np.outer(fn @ normal, normal)  # outward direction within the plane
    swap = np.cross(q - p, m) @ normal > 0  # the outward direction must be on the right
    p[swap], q[swap] = q[swap], p[swap].copy()
    return np.stack([p, q], axis=1)


def _clip_triangles(x, v, nrm, d):
    """Parts with d < 0 of triangles x (m, 3, 3) with values v and vertex normals nrm."""
    below = d < 0
    nb = below.sum(axis=1)
    keep = nb == 3
    xs, vs, ns = [x[keep]], [v[keep]], [nrm[keep]]
    order = np.argsort(~below, axis=1, kind="stable")

    def pt(s, i, j):
        rows = np.arange(s.sum())
        xx, vv, nn, dd = x[s], v[s], nrm[s], d[s]
        if j is None:  # the vertex i itself
            return xx[rows, i], vv[rows, i], nn[rows, i]
        t = (dd[rows, i] / (dd[rows, i] - dd[rows, j]))[:, None]
        return (xx[rows, i] + t * (xx[rows, j] - xx[rows, i]), vv[rows, i] + t[:, 0] * (vv[rows, j] - vv[rows, i]),
                nn[rows, i] + t * (nn[rows, j] - nn[rows, i]))

    s = nb == 1
    if s.any():
        o = order[s]
        a = pt(s, o[:, 0], None)
        b, c = pt(s, o[:, 0], o[:, 1]), pt(s, o[:, 0], o[:, 2])
        for arr, k in ((xs, 0), (vs, 1), (ns, 2)):
            arr.append(np.stack([a[k], b[k], c[k]], axis=1))
    s = nb == 2
    if s.any():
        o = order[s]
        a, b = pt(s, o[:, 0], None), pt(s, o[:, 1], None)
        pa, pb = pt(s, o[:, 0], o[:, 2]), pt(s, o[:, 1], o[:, 2])
        for arr, k in ((xs, 0), (vs, 1), (ns, 2)):
            arr.append(np.stack([a[k], b[k], pb[k]], axis=1))
            arr.append(np.stack([a[k], pb[k], pa[k]], axis=1))
    xs, vs, ns = np.concatenate(xs), np.concatenate(vs), np.concatenate(ns)
    two = np.flatnonzero(nb == 2)
    parent = np.concatenate([np.flatnonzero(keep), np.flatnonzero(nb == 1), two, two])
    fn = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])[parent]  # keep the parents' orientation
    flip = np.einsum("ij,ij->i", np.cross(xs[:, 1] - xs[:, 0], xs[:, 2] - xs[:, 0]), fn) < 0
    for a in (xs, vs, ns):
        a[flip] = a[flip][:, [0, 2, 1]]
    return xs, vs, ns


# ------------------------------------------------------------------------------ drawing
def _length_unit(extent_m: float):
    """(factor m -> unit, label): nm below 1 um of extent, else um."""
    return (1e9, "nm") if extent_m < 1e-6 else (1e6, "µm")


def _nice(x: float) -> float:
    """The largest 1, 2, 5 x 10^k not above x."""
    k = math.floor(math.log10(x))
    for m in (5, 2, 1):
        if m * 10**k <= x:
            return m * 10**k
    return 10**k


def _fmt_len(v: float) -> str:
    return f"{v:g}"


def _vertex_normals(x, ids, crease_deg=40.0):
    """Per-corner normals (m, 3, 3): area-weighted mean over the faces at a node, except where
    it differs from the face's own normal by more than ``crease_deg`` (edges of a box)."""
    fn = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    uniq, inv = np.unique(ids.ravel(), return_inverse=True)
    acc = np.zeros((len(uniq), 3))
    np.add.at(acc, inv, np.repeat(fn, 3, axis=0))
    acc /= np.maximum(np.linalg.norm(acc, axis=1), 1e-300)[:, None]
    own = fn / np.maximum(np.linalg.norm(fn, axis=1), 1e-300)[:, None]
    nv = acc[inv].reshape(-1, 3, 3)
    flat = np.einsum("ijk,ik->ij", nv, own) < math.cos(math.radians(crease_deg))
    nv[flat] = np.repeat(own[:, None, :], 3, axis=1)[flat]
    return nv


def _camera(elev: float, azim: float):
    e, a = math.radians(elev), math.radians(azim)
    d = np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])  # towards the viewer
    right = np.cross([0.0, 0.0, 1.0], d)
    right /= np.linalg.norm(right)
    up = np.cross(d, right)
    return d, right, up


def _new_figure(size=(6.4, 5.0)):
    from matplotlib.figure import Figure
    return Figure(figsize=size, dpi=150, layout="constrained")


def _save(fig, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    fig.savefig(tmp)
    os.replace(tmp, path)
    return path


def _rasterize(P, depth, attrs, width: int, height: int, chunk: int = 1_500_000):
    """Exact z-buffered rasterization of triangles: P (n, 3, 2) pixel coordinates (pixel (i, j)
    has its centre at (i + 1/2, j + 1/2)), depth (n, 3) (larger = nearer), attrs (n, 3, k)
    interpolated linearly (barycentric) at the covered pixel centres.  Returns (attributes
    (height, width, k), covered (height, width)); row 0 is the bottom.  Scanline spans: the
    candidate pixels are those whose centre lies in the triangle (edges included)."""
    k = attrs.shape[2]
    zbuf = np.full(width * height, -np.inf)
    abuf = np.zeros((width * height, k))
    e1, e2 = P[:, 1] - P[:, 0], P[:, 2] - P[:, 0]
    det = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    ok = np.abs(det) > 1e-12
    j0 = np.clip(np.ceil(P[..., 1].min(axis=1) - 0.5), 0, height).astype(np.int64)
    j1 = np.clip(np.floor(P[..., 1].max(axis=1) - 0.5), -1, height - 1).astype(np.int64)
    ny = np.where(ok, np.maximum(j1 - j0 + 1, 0), 0)
    t = np.repeat(np.arange(len(P)), ny)  # one (triangle, row) pair per row of each triangle
    y = (j0[t] + np.arange(len(t)) - np.repeat(np.cumsum(ny) - ny, ny)) + 0.5
    xmin, xmax = np.full(len(t), np.inf), np.full(len(t), -np.inf)
    for a, b in ((0, 1), (1, 2), (2, 0)):
        xa, ya, xb, yb = P[t, a, 0], P[t, a, 1], P[t, b, 0], P[t, b, 1]
        hit = (y - ya) * (y - yb) <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(ya != yb, xa + (y - ya) * (xb - xa) / (yb - ya), xa)
        xmin = np.where(hit, np.minimum(xmin, np.where(ya != yb, x, np.minimum(xa, xb))), xmin)
        xmax = np.where(hit, np.maximum(xmax, np.where(ya != yb, x, np.maximum(xa, xb))), xmax)
    i0 = np.clip(np.ceil(xmin - 0.5), 0, width).astype(np.int64)
    i1 = np.clip(np.floor(xmax - 0.5), -1, width - 1).astype(np.int64)
    count = np.maximum(i1 - i0 + 1, 0)
    ends = np.cumsum(count)
    start = 0
    while start < len(t):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + chunk, side="right")), start + 1)
        r = np.arange(start, stop)
        c = count[r]
        row = np.repeat(r, c)
        start = stop
        if len(row) == 0:
            continue
        tri = t[row]
        px = i0[row] + np.arange(len(row)) - np.repeat(np.cumsum(c) - c, c)
        py = (y[row] - 0.5).astype(np.int64)
        wx, wy = px + 0.5 - P[tri, 0, 0], y[row] - P[tri, 0, 1]
        l1 = np.clip((wx * e2[tri, 1] - e2[tri, 0] * wy) / det[tri], 0.0, 1.0)
        l2 = np.clip((e1[tri, 0] * wy - wx * e1[tri, 1]) / det[tri], 0.0, 1.0 - l1)
        l0 = 1.0 - l1 - l2
        pid = py * width + px
        z = l0 * depth[tri, 0] + l1 * depth[tri, 1] + l2 * depth[tri, 2]
        order = np.argsort(z, kind="stable")  # the nearest last: it is assigned last and stays
        zc = np.full(width * height, -np.inf)
        ic = np.zeros(width * height, dtype=np.int64)
        zc[pid[order]] = z[order]
        ic[pid[order]] = order
        upd = np.flatnonzero(zc > zbuf)
        w = ic[upd]
        zbuf[upd] = zc[upd]
        abuf[upd] = (l0[w, None] * attrs[tri[w], 0] + l1[w, None] * attrs[tri[w], 1]
                     + l2[w, None] * attrs[tri[w], 2])
    return abuf.reshape(height, width, k), np.isfinite(zbuf).reshape(height, width)


def _image(uv, depth, attrs, colour, *, pixels: int | None = None, supersample: int = 2):
    """RGBA image (rows top first) and its extent [x0, x1, y0, y1] of triangles uv (n, 3, 2)
    (display units), supersampled: ``colour(attributes (..., k)) -> RGB (..., 3)``."""
    if len(uv) == 0:
        return np.zeros((2, 2, 4)), [0.0, 1.0, 0.0, 1.0]
    lo, hi = uv.reshape(-1, 2).min(axis=0), uv.reshape(-1, 2).max(axis=0)
    span = float((hi - lo).max()) or 1.0
    lo, hi = lo - 0.005 * span, hi + 0.005 * span
    scale = (pixels or PIXELS) * supersample / span  # pixels per display unit
    # whole pixels; rounded first so that round-off in the bounds (another partition) cannot
    # change the size
    W = int(math.ceil(round((hi[0] - lo[0]) * scale / supersample, 6))) * supersample
    H = int(math.ceil(round((hi[1] - lo[1]) * scale / supersample, 6))) * supersample
    A, covered = _rasterize((uv - lo) * scale, depth, attrs, W, H)
    rgba = np.zeros((H, W, 4), dtype=np.float32)
    rgba[covered, :3] = colour(A[covered])
    rgba[covered, 3] = 1.0
    s = supersample  # average s x s blocks: premultiplied colour, alpha = coverage
    blocks = rgba.reshape(H // s, s, W // s, s, 4)
    alpha = blocks[..., 3].mean(axis=(1, 3))
    rgb = (blocks[..., :3] * blocks[..., 3:]).mean(axis=(1, 3)) / np.maximum(alpha, 1e-12)[..., None]
    img = np.concatenate([np.clip(rgb, 0, 1), alpha[..., None]], axis=-1)[::-1]
    return img, [lo[0], lo[0] + W / scale, lo[1], lo[1] + H / scale]


def _scale_bar(ax, width_units: float, unit: str):
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar
    size = _nice(0.3 * width_units)
    bar = AnchoredSizeBar(ax.transData, size, f"{_fmt_len(size)} {unit}", "lower left", pad=0.4,
                          borderpad=0.3, sep=4, frameon=False, size_vertical=0.012 * width_units,
                          color="black", fontproperties={"size": 10})
    ax.add_artist(bar)


def _norm(vmin, vmax):
    import matplotlib.colors
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        vmin, vmax = 0.0, 1.0
    if vmax <= vmin:  # a uniform field: a small symmetric range around it
        w = max(abs(vmin) * 1e-6, 1e-30)
        vmin, vmax = vmin - w, vmax + w
    return matplotlib.colors.Normalize(vmin, vmax)


def _plane_label(axis: str, at_m: float, extent_m: float, unit_factor: float, unit: str) -> str:
    v = 0.0 if abs(at_m) < 1e-9 * extent_m else at_m * unit_factor
    return f"{axis} = {v:.3g} {unit}"


def _title(title: str, t_s: float | None) -> str:
    if t_s is None:
        return title
    return f"{title}, t = {t_s:.4g} s" if title else f"t = {t_s:.4g} s"


def _render_3d(path, x, v, nrm, *, norm, cmap, label, title, unit_factor, unit, elev, azim, lines=None):
    """Orthographic, z-buffered, back-face-culled, lightly shaded picture: per-pixel values and
    normals interpolated from the corners (``lines``: segments (s, 2, 3) [m] drawn on top,
    e.g. the rim of a cut)."""
    import matplotlib
    d, right, up = _camera(elev, azim)
    fn = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0])
    front = fn @ d > 0
    x, v, nrm = x[front], v[front], nrm[front]
    uv = np.stack([x @ right, x @ up], axis=-1) * unit_factor
    light = d + 0.7 * up - 0.5 * right
    light /= np.linalg.norm(light)
    cm = matplotlib.colormaps[cmap]

    def colour(a):
        n = a[:, 1:4] / np.maximum(np.linalg.norm(a[:, 1:4], axis=1), 1e-300)[:, None]
        shade = 0.7 + 0.3 * np.clip(n @ light, 0.0, 1.0)
        return cm(norm(a[:, 0]))[:, :3] * shade[:, None]

    img, extent = _image(uv, x @ d, np.concatenate([v[..., None], nrm], axis=2), colour)
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.imshow(img, extent=extent, origin="upper", interpolation="antialiased")
    # limits from the data, not from the image (whose size is rounded to whole pixels)
    lo, hi = (uv.reshape(-1, 2).min(axis=0), uv.reshape(-1, 2).max(axis=0)) if len(uv) else (np.zeros(2), np.ones(2))
    w, h = hi - lo
    pad = 0.035 * max(w, h)
    ax.set_xlim(lo[0] - pad, hi[0] + pad)
    ax.set_ylim(lo[1] - 3.5 * pad, hi[1] + pad)  # room for the scale bar
    if lines is not None and len(lines):
        from matplotlib.collections import LineCollection
        ln = np.stack([lines @ right, lines @ up], axis=-1) * unit_factor
        ax.add_collection(LineCollection(ln, colors="0.25", linewidths=0.6, zorder=2), autolim=False)
    ax.set_aspect("equal")
    ax.set_axis_off()
    _scale_bar(ax, w, unit)
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cm), ax=ax, label=label, shrink=0.8)
    if title:
        ax.set_title(title)
    return _save(fig, path)


# --------------------------------------------------------------------------- the views
def _prepare(field, comm, cells, length_scale, value_scale, vmin, vmax):
    """Pieces, global value range (SI) and display length unit from the owned nodes."""
    pieces = _pieces(field, cells)
    lo, hi = np.inf, -np.inf
    xlo, xhi = np.full(3, np.inf), np.full(3, -np.inf)
    for f, c in pieces:
        X, v, _ = _linear_tets(f, c)
        if len(v):
            lo, hi = min(lo, v.min() * value_scale), max(hi, v.max() * value_scale)
            xlo, xhi = np.minimum(xlo, X.reshape(-1, 3).min(axis=0)), np.maximum(xhi, X.reshape(-1, 3).max(axis=0))
    from mpi4py import MPI
    lo, hi = comm.allreduce(float(lo), op=MPI.MIN), comm.allreduce(float(hi), op=MPI.MAX)
    comm.Allreduce(MPI.IN_PLACE, xlo, op=MPI.MIN)
    comm.Allreduce(MPI.IN_PLACE, xhi, op=MPI.MAX)
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    extent_m = float((xhi - xlo).max()) * length_scale
    return pieces, (vmin, vmax), _length_unit(extent_m), 0.5 * (xlo + xhi), extent_m


def _plot_path(out, name: str) -> Path:
    base = Path(out.dir) / "plots" if hasattr(out, "dir") else Path(out)
    return base / f"{name}.png"


def surface_view(out, name: str, field, *, length_scale: float, value_scale: float = 1.0, label: str = "",
                 t_s: float | None = None, title: str = "", cells=None, surface_cells=None, cmap="viridis",
                 vmin=None, vmax=None, elev: float = 22.0, azim: float = -55.0, comm=None):
    """``plots/NAME.png``: the boundary of the pieces' cells (``surface_cells``: of that cell
    group, e.g. the particle inside an electrolyte) coloured by the field (collective).
    Returns the path on rank 0, None elsewhere."""
    comm = comm or _pieces(field, cells)[0][0].function_space.mesh.comm
    pieces, (lo, hi), (uf, unit), _, _ = _prepare(field, comm, cells, length_scale, value_scale, vmin, vmax)
    tri = boundary_triangles(pieces, comm, region=surface_cells)
    if tri is None:
        return None
    x = tri["x"] * length_scale
    nrm = _vertex_normals(x, tri["ids"])
    return _render_3d(_plot_path(out, name), x, tri["values"] * value_scale, nrm, norm=_norm(lo, hi), cmap=cmap,
                      label=label, title=_title(title, t_s), unit_factor=uf, unit=unit, elev=elev, azim=azim)


def _plane_position(at, centre, axis, length_scale):
    return float(centre[AXES[axis]]) if at is None else at / length_scale


def section_view(out, name: str, field, *, length_scale: float, value_scale: float = 1.0, label: str = "",
                 t_s: float | None = None, title: str = "", cells=None, surface_cells=None, axis: str = "z",
                 at: float | None = None, cmap="viridis", vmin=None, vmax=None, comm=None):
    """``plots/NAME.png``: the field on the plane ``axis`` = ``at`` [m] (None: through the
    centre of the bounding box), exact cut, in the plane's coordinates, with the outlines of
    every piece and of ``surface_cells`` (collective).  Returns the path on rank 0."""
    import matplotlib
    from matplotlib.collections import LineCollection
    comm = comm or _pieces(field, cells)[0][0].function_space.mesh.comm
    pieces, (lo, hi), (uf, unit), centre, extent = _prepare(field, comm, cells, length_scale, value_scale, vmin, vmax)
    at_mesh = _plane_position(at, centre, axis, length_scale)
    sec = section_triangles(pieces, comm, axis=axis, at=at_mesh)
    outlines = [boundary_triangles(pieces, comm)]
    if len(pieces) > 1:
        outlines += [boundary_triangles([pc], comm) for pc in pieces]
    if surface_cells is not None:
        outlines.append(boundary_triangles(pieces, comm, region=surface_cells))
    if comm.rank != 0:
        return None
    a, b = [i for i in range(3) if i != AXES[axis]]
    names = "xyz"
    x = sec["x"] * length_scale * uf
    pts = np.stack([x[..., a], x[..., b]], axis=-1).reshape(-1, 2)
    vals = sec["values"].reshape(-1) * value_scale
    fig = _new_figure((6.4, 5.0))
    ax = fig.add_subplot()
    norm = _norm(lo, hi)
    cm = matplotlib.colormaps[cmap]
    if len(pts):
        img, ext = _image(pts.reshape(-1, 3, 2), np.zeros((len(vals) // 3, 3)), vals.reshape(-1, 3, 1),
                          lambda a: cm(norm(a[:, 0]))[:, :3])
        ax.imshow(img, extent=ext, origin="upper", interpolation="antialiased")
    im = matplotlib.cm.ScalarMappable(norm=norm, cmap=cm)
    segs = [section_outline(t, axis, at_mesh) * length_scale * uf for t in outlines]
    segs = np.concatenate(segs) if segs else np.zeros((0, 2, 3))
    ax.add_collection(LineCollection(segs[..., [a, b]], colors="k", linewidths=0.8))
    allp = np.concatenate([pts, segs[..., [a, b]].reshape(-1, 2)]) if len(segs) or len(pts) else np.zeros((1, 2))
    if len(allp):
        lo2, hi2 = allp.min(axis=0), allp.max(axis=0)
        pad = 0.03 * (hi2 - lo2).max()
        ax.set_xlim(lo2[0] - pad, hi2[0] + pad)
        ax.set_ylim(lo2[1] - pad, hi2[1] + pad)
    ax.set_aspect("equal")
    ax.set_xlabel(f"{names[a]} [{unit}]")
    ax.set_ylabel(f"{names[b]} [{unit}]")
    fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    plane = _plane_label(names[AXES[axis]], at_mesh * length_scale, extent, uf, unit)
    ax.set_title(_title(f"{title} on {plane}" if title else plane, t_s))
    return _save(fig, _plot_path(out, name))


def clipped_surface(tri: dict, sec: dict, axis="z", at=0.0, sign: float = 1.0):
    """The closed surface of the part with sign * (x_axis - at) < 0 of the region bounded by
    the outward triangles ``tri`` (:func:`boundary_triangles`): the clipped boundary plus the
    section ``sec`` (:func:`section_triangles`) as the cap, outward-oriented.  Returns
    (x (m, 3, 3), values (m, 3), corner normals (m, 3, 3))."""
    normal, offset = _plane(axis, at)
    x = tri["x"]
    xc, vc, nc = _clip_triangles(x, tri["values"], _vertex_normals(x, tri["ids"]), sign * (x @ normal - offset))
    cap, capv = sec["x"].copy(), sec["values"].copy()
    flip = np.cross(cap[:, 1] - cap[:, 0], cap[:, 2] - cap[:, 0]) @ (sign * normal) < 0
    cap[flip], capv[flip] = cap[flip][:, [0, 2, 1]], capv[flip][:, [0, 2, 1]]  # facing the removed side
    capn = np.broadcast_to(sign * normal, cap.shape)
    return np.concatenate([xc, cap]), np.concatenate([vc, capv]), np.concatenate([nc, capn])


def clip_view(out, name: str, field, *, length_scale: float, value_scale: float = 1.0, label: str = "",
              t_s: float | None = None, title: str = "", cells=None, surface_cells=None, axis: str = "z",
              at: float | None = None, cmap="viridis", vmin=None, vmax=None, elev: float | None = None,
              azim: float = -55.0, comm=None):
    """``plots/NAME.png``: the region's surface (as :func:`surface_view`) with the part beyond
    the plane ``axis`` = ``at`` on the viewer's side removed and the exact section as the cap
    (collective).  Returns the path on rank 0."""
    comm = comm or _pieces(field, cells)[0][0].function_space.mesh.comm
    pieces, (lo, hi), (uf, unit), centre, extent = _prepare(field, comm, cells, length_scale, value_scale, vmin, vmax)
    at_mesh = _plane_position(at, centre, axis, length_scale)
    if elev is None:
        elev = 40.0 if axis == "z" else 22.0
    d_view = _camera(elev, azim)[0]
    sign = 1.0 if d_view @ _plane(axis, at_mesh)[0] >= 0 else -1.0  # remove the half on the viewer's side
    region = surface_cells
    if surface_cells is not None:
        pieces = [(f, surface_cells if c is None else np.intersect1d(c, surface_cells)) for f, c in pieces]
    sec = section_triangles(pieces, comm, axis=axis, at=at_mesh)
    tri = boundary_triangles(pieces, comm, region=region)
    if tri is None:
        return None
    x, v, nrm = clipped_surface(tri, sec, axis, at_mesh, sign)
    x, v = x * length_scale, v * value_scale
    names = "xyz"
    plane = _plane_label(names[AXES[axis]], at_mesh * length_scale, extent, uf, unit)
    rim = section_outline(tri, axis, at_mesh) * length_scale
    return _render_3d(_plot_path(out, name), x, v, nrm, norm=_norm(lo, hi), cmap=cmap, label=label,
                      title=_title(f"{title}, cut at {plane}" if title else f"cut at {plane}", t_s),
                      unit_factor=uf, unit=unit, elev=elev, azim=azim, lines=rim)


def snapshot(out, name: str, field, *, length_scale: float, value_scale: float = 1.0, label: str = "",
             t_s: float | None = None, tag: str = "", title: str = "", views: Sequence[str] = VIEWS,
             axis: str = "z", at: float | None = None, **kw) -> list:
    """Write ``plots/NAME_<view>[_TAG].png`` for each of ``views`` (surface, section, clip) of
    the field (collective); same colour range in all.  ``kw``: cells, surface_cells, cmap,
    vmin, vmax, comm.  Returns the paths on rank 0 ([] elsewhere)."""
    bad = [v for v in views if v not in VIEWS]
    if bad:
        raise ValueError(f"field_views: unknown view(s) {bad}; allowed {VIEWS}")
    if kw.get("vmin") is None or kw.get("vmax") is None:  # one range for all the views
        comm = kw.get("comm") or _pieces(field, kw.get("cells"))[0][0].function_space.mesh.comm
        _, (lo, hi), _, _, _ = _prepare(field, comm, kw.get("cells"), length_scale, value_scale,
                                     kw.get("vmin"), kw.get("vmax"))
        kw = {**kw, "vmin": lo, "vmax": hi}
    common = dict(length_scale=length_scale, value_scale=value_scale, label=label, t_s=t_s, title=title, **kw)
    paths = []
    suffix = f"_{tag}" if tag else ""
    for view in views:
        if view == "surface":
            p = surface_view(out, f"{name}_surface{suffix}", field, **common)
        elif view == "section":
            p = section_view(out, f"{name}_section{suffix}", field, axis=axis, at=at, **common)
        else:
            p = clip_view(out, f"{name}_clip{suffix}", field, axis=axis, at=at, **common)
        if p is not None:
            paths.append(p)
    return paths


def views_output(out, name: str, field, *, time_scale: float, initial: bool = False,
                 when: tuple[str, Callable[[float], bool]] | None = None, final: bool = True,
                 update: Callable[[], None] | None = None, **kw):
    """A :class:`fem.simulation.FieldOutput` for ``Simulation(fields=[...])`` that renders
    :func:`snapshot` of the field (``kw`` as there; ``t_s`` is filled in):

    * at the run's requested output times: ``plots/NAME_<view>_t<t>s.png``;
    * ``initial``: at the start, tag ``initial``;
    * ``when = (tag, predicate(t))``: once, at the first accepted step where the predicate
      (model time t) becomes true, e.g. ``("half", lambda t: core_fraction() < 0.5 * f0)``;
      on a restart the first step only records the predicate (no second picture);
    * ``final``: at the end, without a tag (``plots/NAME_<view>.png``).

    ``update()`` (collective), if given, is called before each rendering, e.g. to fill an
    output Function from the model's state.
    """
    from fem.simulation import FieldOutput

    class ViewOutput(FieldOutput):
        def __init__(self):
            super().__init__(self._render_output_time, every=0)
            # the driver writes at t0 of a new run; a restarted run starts with steps
            self.started, self.previous = getattr(out, "mode", "new") == "restart", None

        def render(self, t, tag):
            if update is not None:
                update()
            snapshot(out, name, field, t_s=t * time_scale, tag=tag, **kw)

        def _render_output_time(self, t):
            if not self.started:  # the driver's write at t0
                self.started = True
                if initial:
                    self.render(t, "initial")
            else:
                self.render(t, f"t{t * time_scale:.6g}s")
            if when is not None:
                self.previous = bool(when[1](t))

        def step(self, t):
            self.started = True
            if when is not None:
                now = bool(when[1](t))
                if self.previous is False and now:
                    self.render(t, when[0])
                self.previous = now

        def final(self, t):
            if final:
                self.render(t, "")

    return ViewOutput()
