"""Volume mesh of the body enclosed by a closed STL surface (e.g. a segmented
tomography particle).

The STL (ASCII or binary) is read and checked first: after merging coincident
vertices every edge must be shared by exactly two triangles (closed, manifold),
else InputError naming ``stl_path``.  Then either

* ``remesh=False``: the STL triangles are kept as the boundary mesh and the
  interior is tetrahedralised (the volume is exactly the polyhedron's), or
* ``remesh=True``: Gmsh classifies the triangles into smooth patches (feature
  angle ``feature_angle_deg``), rebuilds a parametrised geometry and remeshes the
  surface at size ``h`` (for noisy / over-fine segmentations).

Tags: cells ``particle``; facets ``surface``.  ``stl_unit_m`` is metres per STL
unit and required (an STL file has no unit: a micrometre STL read as metres
would be a 1e18 times too large particle); ``h`` is relative to the half of the largest bounding-box extent, which is
also the default ``length_scale``.  ``metadata["nominal_volumes"]["particle"]`` is
the enclosed volume of the STL polyhedron (divergence theorem), in mesh units.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import require_order, require_positive, require_relative_size, size_field
from meshes.limits import check_gmsh_model
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


def read_stl(path: str | Path) -> np.ndarray:
    """Triangles of an ASCII or binary STL file, shape (n, 3, 3)."""
    data = Path(path).read_bytes()
    if len(data) >= 84:
        (n,) = struct.unpack("<I", data[80:84])
        if 84 + 50 * n == len(data):
            rec = np.frombuffer(data[84:], dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)),
                                                          ("a", "<u2")]), count=n)
            return rec["v"].astype(np.float64)
    text = data.decode("ascii", errors="replace")
    verts = [list(map(float, line.split()[1:4])) for line in text.splitlines()
             if line.strip().startswith("vertex")]
    if not verts or len(verts) % 3:
        raise InputError(f"parameter 'stl_path' = {str(path)!r} is not a readable STL file")
    return np.array(verts, dtype=np.float64).reshape(-1, 3, 3)


def check_closed(tris: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices closer than ``tol``; return (vertices, triangles) of a closed manifold
    surface, else raise InputError (number of open / non-manifold edges)."""
    pts = tris.reshape(-1, 3)
    key = np.round(pts / tol).astype(np.int64)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    tri = inv.reshape(-1, 3)
    tri = tri[(tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])]
    edges = np.sort(np.concatenate([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    bad = int(np.sum(counts != 2))
    if bad or len(tri) < 4:
        raise InputError(f"parameter 'stl_path': the surface is not closed ({bad} open or "
                         "non-manifold edges); a closed surface is required")
    return pts[first], tri


def enclosed_volume(vertices: np.ndarray, tri: np.ndarray) -> float:
    """|sum over triangles of det(v0, v1, v2)| / 6."""
    v = vertices[tri]
    return float(abs(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum()) / 6)


def from_stl(stl_path: str, stl_unit_m: float | None = None, h: float = 0.15, *, remesh: bool = False,
             feature_angle_deg: float = 40.0, order: int = 1, comm=MPI.COMM_WORLD,
             length_scale: float | None = None, verbose: bool = False) -> TaggedMesh:
    """Volume mesh inside the closed STL surface ``stl_path``; see the module docstring.
    ``stl_unit_m`` is required: an STL file carries no unit."""
    h = require_relative_size("h", h)
    order = require_order(order)
    error = None
    info = None
    if comm.rank == 0:
        try:
            if not Path(stl_path).is_file():
                raise InputError(f"parameter 'stl_path' = {stl_path!r}: no such file")
            tris = read_stl(stl_path)
            ext = tris.reshape(-1, 3).max(axis=0) - tris.reshape(-1, 3).min(axis=0)
            verts, tri = check_closed(tris, 1e-9 * float(ext.max()))
            info = (float(ext.max()) / 2, enclosed_volume(verts, tri))
        except InputError as e:
            error = str(e)
    error, info = comm.bcast((error, info), root=0)
    if error:
        raise InputError(error)
    if stl_unit_m is None:
        raise InputError(f"parameter 'stl_unit_m' is required for {str(stl_path)!r}: an STL file carries no "
                         "unit; give metres per STL unit (e.g. stl_unit_m=1e-6 for micrometres)")
    unit = require_positive("stl_unit_m", stl_unit_m, "m")
    half_extent, vol = info
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else half_extent * unit
    s = unit / L  # STL unit -> mesh unit
    meta = {"kind": "stl", "stl_path": str(stl_path), "stl_unit_m": unit, "h": h, "remesh": remesh,
            "order": order, "nominal_volumes": {T.PARTICLE: vol * s ** 3}}

    def build():
        import gmsh
        gmsh.merge(str(stl_path))
        gmsh.model.mesh.removeDuplicateNodes()
        if s != 1.0:
            gmsh.model.mesh.affineTransform([s, 0, 0, 0, 0, s, 0, 0, 0, 0, s, 0])
        if remesh:
            gmsh.model.mesh.classifySurfaces(feature_angle_deg * math.pi / 180, True, True, math.pi)
            gmsh.model.mesh.createGeometry()
        surfaces = [t for _, t in gmsh.model.getEntities(2)]
        loop = gmsh.model.geo.addSurfaceLoop(surfaces)
        vol_tag = gmsh.model.geo.addVolume([loop])
        gmsh.model.geo.synchronize()
        add_physical(3, [vol_tag], T.PARTICLE, cell=True)
        add_physical(2, surfaces, T.SURFACE, cell=False)
        size_field(h * half_extent * s, algorithm3d=1)
        check_gmsh_model(3, "mesh 'stl'")
        gmsh.model.mesh.generate(3)
        if order == 2:
            gmsh.model.mesh.setOrder(2)
        return meta

    return from_gmsh(build, comm, gdim=3, length_scale=L, name="stl", verbose=verbose)
