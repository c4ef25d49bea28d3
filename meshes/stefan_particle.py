"""Two-phase particles for the sharp-interface (Stefan) model, with the remesher of each geometry.

:func:`stefan_particle` returns the interface-conforming mesh (coordinates in units of the length
scale R: the particle radius, or the largest semi-axis of an ellipsoid) and the geometry arguments
of :class:`fem.models.stefan.TwoPhaseStefan` (phase and interface names, geometric weight, fixed and
slip boundaries, ``remesher``), plus ``solid_angle`` (weighted -> true volumes: 4 pi for the 1D
radius with weight r^2, 2 pi for the axisymmetric section with weight r, 1 otherwise).

Geometries
----------
* ``sphere_1d``: the radius [0, 1] (:func:`meshes.two_phase.radial_core_shell`); remesh: uniform
  cells per phase at the current interface radius.
* ``axisymmetric_2d`` / ``sphere_3d``: the half-disc section / the ball
  (:func:`meshes.core_shell.core_shell`, core radius ``core_fraction``).
* ``ellipsoid_3d``: the ellipsoid x^2/a^2 + y^2/b^2 + z^2/c^2 <= 1 ((a, b, c) = ``semi_axes``,
  largest 1) with the core the same ellipsoid scaled by ``core_fraction`` (so the initial shell is
  (1 - core_fraction) a, b, c thick along x, y, z) (:func:`ellipsoid_core_shell`).
* ``mesh_file``: a user's Gmsh .msh with groups core, shell, interface, surface
  (:mod:`meshes.stefan_user`), remeshed as the 3D ball.
* ``slab_1d/2d/3d``: the planar slab (:func:`meshes.two_phase.two_phase_slab`); no remesher.

The 2D/3D remeshers (:func:`meshes.core_shell.core_shell_from_boundaries`) keep the current outer
surface node for node and take the current interface as it is (2D: its polyline; 3D: resampled onto
a fresh triangulation of the same star-shaped surface at constant enclosed volume), so a core that
has become non-spherical keeps its shape across a remesh.

Remesh sizes (3D)
-----------------
The ALE motion shrinks the interface triangles with the core, but a remesh resamples the interface;
with a fixed target size (the initial shell size h_shell) a small core was left with a few
triangles and the core radius drifted from the 1D radial solution (4.7% of R at r_c = 0.14 R, fixed
surface concentration, tests/bench/bench_sphere_3d_vs_1d.py).  The target is therefore relative to
the current core (opt-in, ``remesh_per_radius`` f > 0): h_interface = min(h_shell, max(floor, f r_c)),
floor 0.02 R (:func:`remesh_interface_size`; :func:`meshes.core_shell.star_shaped_resample` turns
it into an icosphere level: f = 0.2 gives edges about 0.13 r_c, i.e. 1280 interface triangles while
f r_c is above the floor); the core and shell sizes grade from it up to ``h`` (Gmsh's size from the
boundary).  Not the default: it makes the late steps (dt ~ 0.3 h_min / v) and the cells several
times more expensive (the 4C test case did not finish in 600 s under load), and at h = 0.25 R the
shell mesh itself already gives 0.8% of R at r_c = 0.35 R (see the bench).
"""

from __future__ import annotations

import math

from mpi4py import MPI

from meshes import tags as T
from meshes._common import aliases, bbox, generate, size_field
from meshes.tagged import TaggedMesh, add_physical, from_gmsh
from meshes.two_phase import radial_core_shell, two_phase_slab

# 3D remesh (opt-in): interface element size f r_c (r_c the core's volume-equivalent radius), at most the
# initial interface size, at least the floor (all relative to R); module docstring, "Remesh sizes"
REMESH_INTERFACE_PER_RADIUS = 0.2
REMESH_INTERFACE_FLOOR = 0.02

GEOMETRIES = ("sphere_1d", "axisymmetric_2d", "sphere_3d", "ellipsoid_3d", "mesh_file", "slab_1d", "slab_2d", "slab_3d")


def ellipsoid_core_shell(semi_axes, core_fraction: float, h: float, h_interface: float | None = None,
                         comm=MPI.COMM_WORLD, length_scale: float = 1.0, verbose: bool = False) -> TaggedMesh:
    """Ellipsoid with semi-axes ``semi_axes`` (x, y, z; in units of ``length_scale``) and a core that
    is the same ellipsoid scaled by ``core_fraction``: cells ``core`` | ``shell_0``, facets
    ``interface_0`` (the core's surface) and ``surface``; size ``h``, graded down to ``h_interface``
    at the interface (as :func:`meshes.core_shell.core_shell`)."""
    a = [float(s) for s in semi_axes]
    al = aliases(cells={T.SHELL: [T.shell(0)]}, facets={T.INTERFACE: [T.interface(0)]})
    vol = 4 / 3 * math.pi * a[0] * a[1] * a[2]
    meta = {"kind": "ellipsoid_core_shell", "dim": 3, "semi_axes": a, "core_fraction": core_fraction, "h": h,
            "h_interface": h_interface, "nominal_volumes": {T.CORE: vol * core_fraction ** 3,
                                                             T.shell(0): vol * (1 - core_fraction ** 3)}}

    def build():
        import gmsh
        occ = gmsh.model.occ
        ents = []
        for f in (core_fraction, 1.0):
            ball = occ.addSphere(0, 0, 0, 1.0)
            occ.dilate([(3, ball)], 0, 0, 0, f * a[0], f * a[1], f * a[2])
            ents.append((3, ball))
        occ.fragment(ents[:1], ents[1:])
        occ.synchronize()
        # the core is the volume (and the interface the surface) with the smaller bounding box
        size = lambda d, t: float(abs(bbox(d, t)).max())  # noqa: E731
        vols = sorted((t for _, t in gmsh.model.getEntities(3)), key=lambda t: size(3, t))
        surfs = sorted((t for _, t in gmsh.model.getEntities(2)), key=lambda t: size(2, t))
        if len(vols) != 2 or len(surfs) != 2:
            raise RuntimeError(f"ellipsoid core-shell: {len(vols)} volumes, {len(surfs)} surfaces (expected 2, 2)")
        add_physical(3, [vols[0]], T.CORE, cell=True)
        add_physical(3, [vols[1]], T.shell(0), cell=True)
        add_physical(2, [surfs[0]], T.interface(0), cell=False)
        add_physical(2, [surfs[1]], T.SURFACE, cell=False)
        size_field(h, h_interface, [(2, surfs[0])])
        generate(3, 1)
        return {**meta, "_aliases": al}

    return from_gmsh(build, comm, gdim=3, length_scale=length_scale, name="core_shell", verbose=verbose)


def remesh_interface_size(core_radius: float, h_max: float, per_radius: float = REMESH_INTERFACE_PER_RADIUS,
                          floor: float = REMESH_INTERFACE_FLOOR) -> float:
    """Target interface element size at a 3D remesh (relative to R): min(h_max, max(floor, f r_c)),
    f = ``per_radius``: a constant number of interface triangles as the core shrinks (module docstring)."""
    return min(h_max, max(floor, per_radius * core_radius))


def stefan_particle(geometry: str, core_fraction: float, h: float, h_shell: float, comm, length_scale: float,
                    *, h_interface: float | None = None, semi_axes=(1.0, 1.0, 1.0),
                    remesh_per_radius: float = 0.0, mesh_file: str = "", mesh_unit_m: float = 0.0
                    ) -> tuple[TaggedMesh, dict]:
    """Mesh and TwoPhaseStefan geometry arguments (module docstring); sizes relative to the length
    scale: ``h`` the mesh size, ``h_shell`` the size in the initial shell (the shell-resolution rule),
    ``h_interface`` (None: not set) the size at the interface; ``remesh_per_radius`` f > 0: 3D remeshes
    size the interface f r_c (:func:`remesh_interface_size`), 0: the initial interface size.
    ``geometry='mesh_file'``: the user's mesh (:mod:`meshes.stefan_user`; ``length_scale`` ignored, the
    mesh's ``length_scale`` is its volume-equivalent radius; remeshes keep its mean interface edge)."""
    xi0, hi, R = core_fraction, h_interface, length_scale
    if geometry == "mesh_file":
        from meshes.stefan_user import load
        user_dom = load(mesh_file, mesh_unit_m, comm)
        R, h_shell = user_dom.length_scale, user_dom.metadata["interface_edge"]
    if geometry == "sphere_1d":
        def remesher(model):
            r_c = model.interface_radius()
            return radial_core_shell(r_c, min(h, hi or h), comm, R, h_shell=min(h, (1 - r_c) * h_shell / (1 - xi0)))
        dom = radial_core_shell(xi0, min(h, hi or h), comm, R, h_shell=min(h_shell, hi or h_shell))
        geo = dict(alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), weight=lambda x: x[0] ** 2,
                   fixed=[T.SYMMETRY, T.SURFACE], solid_angle=4 * math.pi, remesher=remesher)
    elif geometry in ("axisymmetric_2d", "sphere_3d", "ellipsoid_3d", "mesh_file"):
        from meshes.core_shell import boundary_facets, core_shell, core_shell_from_boundaries
        dim = 2 if geometry == "axisymmetric_2d" else 3

        def remesher(model):
            h_if = None
            if dim == 3:  # the initial interface size, or relative to the current core (module docstring)
                h_if = min(hi or h_shell, h_shell)
                if remesh_per_radius > 0:
                    r_eq = (3 * model.volume["alpha"]() / (4 * math.pi)) ** (1 / 3)  # volume-equivalent core radius
                    h_if = remesh_interface_size(r_eq, h_if, remesh_per_radius)
            return core_shell_from_boundaries(boundary_facets(model.domain, T.interface(0)),
                                              boundary_facets(model.domain, T.SURFACE), h, comm, R, dim=dim,
                                              h_interface=h_if)
        if geometry == "mesh_file":
            dom = user_dom
        elif geometry == "ellipsoid_3d":
            dom = ellipsoid_core_shell(semi_axes, xi0, h, min(hi or h_shell, h_shell), comm, R)
        else:
            dom = core_shell(xi0 * R, [(1 - xi0) * R], h=h, h_interface=min(hi or h_shell, h_shell), dim=dim,
                             comm=comm, length_scale=R)
        geo = dict(alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), fixed=[T.SURFACE],
                   weight=(lambda x: x[0]) if dim == 2 else None, solid_angle=2 * math.pi if dim == 2 else 1.0,
                   slip=[(T.SYMMETRY, 0)] if dim == 2 else [], remesher=remesher)
    elif geometry in ("slab_1d", "slab_2d", "slab_3d"):
        dim = int(geometry[5])
        dom = two_phase_slab(dim, 1.0, xi0, min(h, hi or h), comm, R)
        geo = dict(alpha=T.PHASE_ALPHA, beta=T.PHASE_BETA, interface=T.INTERFACE, weight=None,
                   fixed=[T.CONTACT_LEFT, T.SURFACE], components=(0,) if dim > 1 else None, solid_angle=1.0,
                   remesher=None)
    else:
        raise ValueError(f"unknown geometry {geometry!r} (one of {GEOMETRIES})")
    return dom, geo
