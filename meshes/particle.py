"""Single particles of simple shape: ellipsoid (and its 2D axisymmetric section),
hexagonal platelet and rod (LiFePO4-like), each with crystal axes attached.

Tags: cells ``particle``; facets ``surface`` (and ``symmetry`` = axis r = 0 for the
2D axisymmetric section, x = r, y = z, integrate with 2*pi*r).

Crystal axes: ``metadata["orientation"]`` is the 3x3 rotation matrix R (nested
lists), crystal -> lab, whose columns are the crystal axes a, b, c in lab
coordinates.  For the platelet the default puts the crystal b axis ([010], the
fast Li diffusion direction of LiFePO4, through the thin dimension) along the
prism axis z: a = x, b = z, c = -y.  For the rod the default is the identity
(c along the rod axis z).  Pass ``orientation=`` (3x3) to override.

Sizes ``h``, ``h_surface`` are relative to the largest dimension (semi-axis,
circumradius or half-length); near the surface the size grades from
``h_surface`` to ``h``.  Coordinates in units of ``length_scale`` (default: that
largest dimension).
"""

from __future__ import annotations

import math

import numpy as np
from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import (bbox, generate, require_choice, require_order, require_positive,
                            require_relative_size, size_field)
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


def ellipsoid_surface_area(a: float, b: float, c: float) -> float:
    """Exact surface area of the ellipsoid with semi-axes a, b, c (Legendre's formula)."""
    from scipy.special import ellipeinc, ellipkinc
    a, b, c = sorted((a, b, c), reverse=True)
    if math.isclose(a, c):
        return 4 * math.pi * a * a
    phi = math.acos(c / a)
    m = (a * a * (b * b - c * c)) / (b * b * (a * a - c * c)) if b > c else 0.0
    s = math.sin(phi)
    return 2 * math.pi * c * c + 2 * math.pi * a * b / s * (ellipeinc(phi, m) * s * s
                                                            + ellipkinc(phi, m) * math.cos(phi) ** 2)


def _check_orientation(orientation, default):
    if orientation is None:
        return np.asarray(default, dtype=float)
    R = np.asarray(orientation, dtype=float)
    if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-8) or np.linalg.det(R) < 0:
        raise InputError("parameter 'orientation' must be a 3x3 proper rotation matrix (crystal -> lab)")
    return R


def _tag_single(dim: int, axi: bool, tol: float) -> None:
    import gmsh
    vols = [t for _, t in gmsh.model.getEntities(dim)]
    add_physical(dim, vols, T.PARTICLE, cell=True)
    surf, sym = [], []
    for _, f in gmsh.model.getEntities(dim - 1):
        b = bbox(dim - 1, f)
        if axi and abs(b[0, 0]) <= tol and abs(b[1, 0]) <= tol:
            sym.append(f)
        else:
            surf.append(f)
    add_physical(dim - 1, surf, T.SURFACE, cell=False)
    if axi:
        add_physical(dim - 1, sym, T.SYMMETRY, cell=False)


def ellipsoid(semi_axes_m, h: float = 0.15, *, h_surface: float | None = None, order: int = 1,
              dim: int = 3, comm=MPI.COMM_WORLD, length_scale: float | None = None,
              orientation=None, verbose: bool = False) -> TaggedMesh:
    """Ellipsoid x^2/a^2 + y^2/b^2 + z^2/c^2 <= 1 (semi-axes [m]); a sphere if a = b = c.

    ``dim=2``: axisymmetric section (spheroid a = b, symmetry axis z): the half
    ellipse {r >= 0, r^2/a^2 + z^2/c^2 <= 1} (b is then ignored, must equal a).
    """
    if len(semi_axes_m) != 3:
        raise InputError(f"parameter 'semi_axes_m' = {semi_axes_m!r} must hold 3 semi-axes [m]")
    ax_m = np.array([require_positive(f"semi_axes_m[{i}]", s, "m") for i, s in enumerate(semi_axes_m)])
    require_choice("dim", dim, (2, 3))
    if dim == 2 and not math.isclose(ax_m[0], ax_m[1], rel_tol=1e-12):
        raise InputError("parameter 'semi_axes_m': the axisymmetric section (dim=2) needs a spheroid, "
                         f"semi_axes_m[0] == semi_axes_m[1]; got {ax_m.tolist()}")
    order = require_order(order)
    h = require_relative_size("h", h)
    if h_surface is not None:
        h_surface = require_relative_size("h_surface", h_surface)
    big = float(ax_m.max())
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else big
    a, b, c = ax_m / L
    R = _check_orientation(orientation, np.eye(3))
    if dim == 3:
        nv = {T.PARTICLE: 4 / 3 * math.pi * a * b * c}
        na = {T.SURFACE: ellipsoid_surface_area(a, b, c)}
    else:
        nv = {T.PARTICLE: math.pi * a * c / 2}
        from scipy.special import ellipe
        big2, small2 = max(a, c), min(a, c)
        na = {T.SURFACE: 2 * big2 * ellipe(1 - (small2 / big2) ** 2), T.SYMMETRY: 2 * c}
    meta = {"kind": "ellipsoid", "semi_axes_m": ax_m.tolist(), "dim": dim, "h": h, "order": order,
            "axisymmetric": dim == 2, "orientation": R.tolist(), "nominal_volumes": nv, "nominal_areas": na}

    def build():
        import gmsh
        occ = gmsh.model.occ
        if dim == 3:
            s = occ.addSphere(0, 0, 0, 1.0)
            occ.dilate([(3, s)], 0, 0, 0, a, b, c)
        else:
            if a >= c:
                d = occ.addDisk(0, 0, 0, a, c)
            else:
                d = occ.addDisk(0, 0, 0, c, a)
                occ.rotate([(2, d)], 0, 0, 0, 0, 0, 1, math.pi / 2)
            m = max(a, c)
            occ.cut([(2, d)], [(2, occ.addRectangle(-3 * m, -3 * m, 0, 3 * m, 6 * m))])
        occ.synchronize()
        _tag_single(dim, dim == 2, 1e-6 * max(a, b, c))
        scale = big / L
        near = [(dim - 1, t) for _, t in gmsh.model.getEntities(dim - 1)]
        size_field(h * scale, None if h_surface is None else h_surface * scale, near)
        generate(dim, order)
        return meta

    return from_gmsh(build, comm, gdim=dim, length_scale=L, name="ellipsoid", verbose=verbose)


def platelet(circumradius_m: float, thickness_m: float, h: float = 0.15, *, h_surface: float | None = None,
             order: int = 1, comm=MPI.COMM_WORLD, length_scale: float | None = None, orientation=None,
             verbose: bool = False) -> TaggedMesh:
    """Hexagonal prism: regular hexagon of circumradius R in the xy plane (vertices at
    angles k*60 deg), extruded over -t/2 <= z <= t/2.  Volume 3*sqrt(3)/2 R^2 t."""
    Rm = require_positive("circumradius_m", circumradius_m, "m")
    tm_ = require_positive("thickness_m", thickness_m, "m")
    order = require_order(order)
    h = require_relative_size("h", h)
    if h_surface is not None:
        h_surface = require_relative_size("h_surface", h_surface)
    big = max(Rm, tm_ / 2)
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else big
    r, t = Rm / L, tm_ / L
    rot = _check_orientation(orientation, [[1, 0, 0], [0, 0, -1], [0, 1, 0]])
    area_hex = 3 * math.sqrt(3) / 2 * r * r
    meta = {"kind": "platelet", "circumradius_m": Rm, "thickness_m": tm_, "h": h, "order": order,
            "orientation": rot.tolist(), "crystal_axes_lab": {k: rot[:, i].tolist() for i, k in enumerate("abc")},
            "nominal_volumes": {T.PARTICLE: area_hex * t}, "nominal_areas": {T.SURFACE: 2 * area_hex + 6 * r * t}}

    def build():
        import gmsh
        occ = gmsh.model.occ
        pts = [occ.addPoint(r * math.cos(k * math.pi / 3), r * math.sin(k * math.pi / 3), -t / 2)
               for k in range(6)]
        lines = [occ.addLine(pts[k], pts[(k + 1) % 6]) for k in range(6)]
        face = occ.addPlaneSurface([occ.addCurveLoop(lines)])
        occ.extrude([(2, face)], 0, 0, t)
        occ.synchronize()
        _tag_single(3, False, 0)
        scale = big / L
        near = [(2, s) for _, s in gmsh.model.getEntities(2)]
        size_field(h * scale, None if h_surface is None else h_surface * scale, near)
        generate(3, order)
        return meta

    return from_gmsh(build, comm, gdim=3, length_scale=L, name="platelet", verbose=verbose)


def rod(radius_m: float, length_m: float, h: float = 0.15, *, h_surface: float | None = None,
        order: int = 1, comm=MPI.COMM_WORLD, length_scale: float | None = None, orientation=None,
        verbose: bool = False) -> TaggedMesh:
    """Circular cylinder of radius r along z, -l/2 <= z <= l/2.  Volume pi r^2 l."""
    Rm = require_positive("radius_m", radius_m, "m")
    lm = require_positive("length_m", length_m, "m")
    order = require_order(order)
    h = require_relative_size("h", h)
    if h_surface is not None:
        h_surface = require_relative_size("h_surface", h_surface)
    big = max(Rm, lm / 2)
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else big
    r, ll = Rm / L, lm / L
    rot = _check_orientation(orientation, np.eye(3))
    meta = {"kind": "rod", "radius_m": Rm, "length_m": lm, "h": h, "order": order,
            "orientation": rot.tolist(), "crystal_axes_lab": {k: rot[:, i].tolist() for i, k in enumerate("abc")},
            "nominal_volumes": {T.PARTICLE: math.pi * r * r * ll},
            "nominal_areas": {T.SURFACE: 2 * math.pi * r * r + 2 * math.pi * r * ll}}

    def build():
        import gmsh
        occ = gmsh.model.occ
        occ.addCylinder(0, 0, -ll / 2, 0, 0, ll, r)
        occ.synchronize()
        _tag_single(3, False, 0)
        scale = big / L
        near = [(2, s) for _, s in gmsh.model.getEntities(2)]
        size_field(h * scale, None if h_surface is None else h_surface * scale, near)
        generate(3, order)
        return meta

    return from_gmsh(build, comm, gdim=3, length_scale=L, name="rod", verbose=verbose)
