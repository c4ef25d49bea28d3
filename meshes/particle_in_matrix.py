"""A spherical particle embedded in a matrix (electrode particle in solid electrolyte).

``dim=3``: ball |x| <= R inside the cube |x_k| <= W.
``dim=2`` (default ``axisymmetric=True``): the axisymmetric section, half-disc
{r >= 0, r^2 + z^2 <= R^2} inside the rectangle [0, W] x [-W, W] (x = r, y = z;
integrate with 2*pi*r); ``axisymmetric=False``: a disc in the square [-W, W]^2
(a cylindrical particle, planar 2D).

Tags
----
cells  : ``particle``, ``matrix``
facets : ``interface`` (particle|matrix), ``outer`` (outer boundary of the matrix),
         ``symmetry`` (axis r = 0, axisymmetric 2D only).

Sizes ``h``/``h_interface`` are relative to the particle radius; the size grades
from ``h_interface`` at the interface (e.g. a fraction of the Debye length of the
space-charge layer) to ``h``.  Coordinates in units of ``length_scale`` (default R).
"""

from __future__ import annotations

import math

from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import (bbox, generate, require_choice, require_order, require_positive,
                            require_relative_size, size_field)
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


def particle_in_matrix(radius_m: float, box_half_width_m: float, h: float = 0.2,
                       h_interface: float | None = 0.05, dim: int = 3, comm=MPI.COMM_WORLD,
                       length_scale: float | None = None, *, order: int = 1, axisymmetric: bool = True,
                       verbose: bool = False) -> TaggedMesh:
    """Particle of radius ``radius_m`` [m] in a matrix box of half-width ``box_half_width_m`` [m]."""
    R_m = require_positive("radius_m", radius_m, "m")
    W_m = require_positive("box_half_width_m", box_half_width_m, "m")
    if W_m <= R_m:
        raise InputError(f"parameter 'box_half_width_m' = {W_m:g} m must exceed radius_m = {R_m:g} m")
    require_choice("dim", dim, (2, 3))
    order = require_order(order)
    h = require_relative_size("h", h, hi=W_m / R_m)
    if h_interface is not None:
        h_interface = require_relative_size("h_interface", h_interface, hi=W_m / R_m)
    L = require_positive("length_scale", length_scale, "m") if length_scale is not None else R_m
    r, w = R_m / L, W_m / L
    axi = dim == 2 and axisymmetric
    if dim == 3:
        vp, area = 4 / 3 * math.pi * r ** 3, 4 * math.pi * r ** 2
        vbox, outer = (2 * w) ** 3, 6 * (2 * w) ** 2
    elif axi:
        vp, area = math.pi * r ** 2 / 2, math.pi * r
        vbox, outer = 2 * w * w, 4 * w
    else:
        vp, area = math.pi * r ** 2, 2 * math.pi * r
        vbox, outer = 4 * w * w, 8 * w
    meta = {"kind": "particle_in_matrix", "dim": dim, "axisymmetric": axi, "radius_m": R_m,
            "box_half_width_m": W_m, "h": h, "h_interface": h_interface, "order": order,
            "nominal_volumes": {T.PARTICLE: vp, T.MATRIX: vbox - vp},
            "nominal_areas": {T.INTERFACE: area, T.OUTER: outer}}
    if axi:
        meta["nominal_areas"][T.SYMMETRY] = 2 * w

    def build():
        import gmsh
        occ = gmsh.model.occ
        if dim == 3:
            p = (3, occ.addSphere(0, 0, 0, r))
            box = (3, occ.addBox(-w, -w, -w, 2 * w, 2 * w, 2 * w))
        elif axi:
            disk = occ.addDisk(0, 0, 0, r, r)
            cut, _ = occ.cut([(2, disk)], [(2, occ.addRectangle(-2 * r, -2 * r, 0, 2 * r, 4 * r))])
            p = cut[0]
            box = (2, occ.addRectangle(0, -w, 0, w, 2 * w))
        else:
            p = (2, occ.addDisk(0, 0, 0, r, r))
            box = (2, occ.addRectangle(-w, -w, 0, 2 * w, 2 * w))
        _, out_map = occ.fragment([box], [p])
        occ.synchronize()
        particle = [t for _, t in out_map[1]]
        matrix = [t for _, t in out_map[0] if t not in particle]
        if not matrix:
            raise InputError("cell group 'matrix' would be empty")
        add_physical(dim, particle, T.PARTICLE, cell=True)
        add_physical(dim, matrix, T.MATRIX, cell=True)
        tol = 1e-6 * w
        groups = {T.INTERFACE: [], T.OUTER: [], T.SYMMETRY: []}
        for _, f in gmsh.model.getEntities(dim - 1):
            up, _ = gmsh.model.getAdjacencies(dim - 1, f)
            b = bbox(dim - 1, f)
            if len(up) == 2:
                groups[T.INTERFACE].append(f)
            elif axi and abs(b[0, 0]) <= tol and abs(b[1, 0]) <= tol:
                groups[T.SYMMETRY].append(f)
            else:
                groups[T.OUTER].append(f)
        for nm, ents in groups.items():
            if nm == T.SYMMETRY and not axi:
                continue
            if not ents:
                raise InputError(f"facet group {nm!r} would be empty")
            add_physical(dim - 1, ents, nm, cell=False)
        hi = None if h_interface is None else h_interface * R_m / L
        size_field(h * R_m / L, hi, [(dim - 1, f) for f in groups[T.INTERFACE]])
        generate(dim, order)
        return meta

    return from_gmsh(build, comm, gdim=dim, length_scale=L, name="particle_in_matrix", verbose=verbose)
