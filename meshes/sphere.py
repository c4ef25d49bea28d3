"""Spherical particle (3D), Gmsh OCC kernel."""

from __future__ import annotations

from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes.limits import check_gmsh_model
from meshes.tagged import TaggedMesh, add_physical, from_gmsh


def sphere(radius_m: float, h: float = 0.1, *, order: int = 1, comm=MPI.COMM_WORLD,
           length_scale: float | None = None, verbose: bool = False, dim: int = 3,
           h_surface: float | None = None) -> TaggedMesh:
    """Ball of radius ``radius_m`` [m], cell group ``particle``, facet group ``surface``.

    ``h`` is the target element size relative to the radius; ``order`` 2 gives
    curved (quadratic) geometry.  Coordinates are in units of ``length_scale``
    (default: the radius, so the mesh is the unit ball).  ``dim=2`` gives the
    axisymmetric half-disc section (plus facet group ``symmetry``) and ``h_surface``
    a graded refinement towards the surface; both via :func:`meshes.particle.ellipsoid`.
    """
    if dim != 3 or h_surface is not None:
        from meshes.particle import ellipsoid
        if not radius_m > 0:
            raise InputError(f"parameter 'radius_m' = {radius_m!r} m is out of range; allowed: (0, inf) m")
        return ellipsoid([radius_m] * 3, h, h_surface=h_surface, order=order, dim=dim, comm=comm,
                         length_scale=length_scale, verbose=verbose)
    if not radius_m > 0:
        raise InputError(f"parameter 'radius_m' = {radius_m!r} m is out of range; allowed: (0, inf) m")
    if not 0 < h <= 1:
        raise InputError(f"parameter 'h' = {h!r} (relative element size) is out of range; allowed: (0, 1]")
    if order not in (1, 2):
        raise InputError(f"parameter 'order' = {order!r} is not allowed; allowed: 1, 2")
    L = radius_m if length_scale is None else length_scale
    r = radius_m / L

    def build():
        import gmsh
        ball = gmsh.model.occ.addSphere(0, 0, 0, r)
        gmsh.model.occ.synchronize()
        add_physical(3, [ball], T.PARTICLE, cell=True)
        surf = [s for _, s in gmsh.model.getBoundary([(3, ball)], oriented=False)]
        add_physical(2, surf, T.SURFACE, cell=False)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMin", h * r)
        gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h * r)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT: fast, parallel-ready
        check_gmsh_model(3, "mesh 'sphere'")
        gmsh.model.mesh.generate(3)
        if order == 2:
            gmsh.model.mesh.setOrder(2)
        import math
        return {"kind": "sphere", "radius_m": radius_m, "h": h, "order": order,
                "nominal_volumes": {T.PARTICLE: 4 / 3 * math.pi * r ** 3},
                "nominal_areas": {T.SURFACE: 4 * math.pi * r ** 2}}

    return from_gmsh(build, comm, gdim=3, length_scale=L, name="sphere", verbose=verbose)
