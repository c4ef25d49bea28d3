"""Mesh generators: measures against exact values with observed convergence rates,
non-empty tags, polycrystal partition, seeds, bad input.  Serial (COMM_SELF)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mpi4py import MPI

from fem.errors import InputError
from meshes import tags as T
from meshes._common import facet_measure, measure

SELF = MPI.COMM_SELF


def rate(e_coarse, e_fine, ratio=2.0):
    return math.log(e_coarse / e_fine) / math.log(ratio)


def rel(a, b):
    return abs(a / b - 1)


# --- volumes and areas against exact values, with rates -------------------------------------

@pytest.mark.parametrize("axes", [(1.0, 1.0, 1.0), (1.0, 1.0, 0.6)], ids=["sphere", "spheroid"])
def test_axisymmetric_section_rates(axes):
    """Half-disc / half-ellipse sections: order 1 converges at rate ~2, order 2 at ~4
    (area pi a c / 2 and arc length, exact)."""
    from meshes.particle import ellipsoid
    rates = {}
    for order in (1, 2):
        ev, ea = [], []
        for h in (0.2, 0.1):
            tm = ellipsoid([a * 1e-6 for a in axes], h=h, order=order, dim=2, comm=SELF)
            exact_v = math.pi * axes[0] * axes[2] / 2
            ev.append(rel(measure(tm), exact_v))
            ea.append(rel(facet_measure(tm, T.SURFACE), tm.metadata["nominal_areas"][T.SURFACE]))
            assert facet_measure(tm, T.SYMMETRY) == pytest.approx(2 * axes[2], rel=1e-12)
        rates[order] = (rate(*ev), rate(*ea))
        assert ev[1] < ev[0] and ea[1] < ea[0]
    assert min(rates[1]) > 1.5, rates
    assert min(rates[2]) > 3.0, rates
    assert min(rates[2]) > max(rates[1]) + 1.0, rates


@pytest.mark.parametrize("axes", [(1.0, 1.0, 1.0), (1.0, 0.8, 0.5)], ids=["sphere", "ellipsoid"])
def test_ball_and_ellipsoid_3d_rates(axes):
    """3D ball/ellipsoid volume 4/3 pi abc and (Legendre) surface area."""
    from meshes.particle import ellipsoid, ellipsoid_surface_area
    assert ellipsoid_surface_area(1, 1, 1) == pytest.approx(4 * math.pi)
    # prolate spheroid closed form as an independent check of the area formula
    a, c = 1.0, 2.0
    e = math.sqrt(1 - a * a / (c * c))
    assert ellipsoid_surface_area(a, a, c) == pytest.approx(2 * math.pi * a * a * (1 + c / (a * e) * math.asin(e)))
    errs = {}
    for order in (1, 2):
        ev, ea = [], []
        for h in (0.6, 0.3):
            tm = ellipsoid([x * 2e-6 for x in axes], h=h, order=order, comm=SELF)
            ev.append(rel(measure(tm), 4 / 3 * math.pi * np.prod(axes)))
            ea.append(rel(facet_measure(tm, T.SURFACE), ellipsoid_surface_area(*axes)))
        errs[order] = (ev, ea)
        assert ev[1] < ev[0] and ea[1] < ea[0]
    assert rate(*errs[1][0]) > 1.5 and rate(*errs[1][1]) > 1.5, errs
    assert rate(*errs[2][0]) > 3.0 and rate(*errs[2][1]) > 3.0, errs
    assert errs[2][0][1] < 0.05 * errs[1][0][1]


def test_sphere_generator_converges():
    """The original sphere() generator: volume error shrinks ~h^2 (order 1) and faster for order 2."""
    from meshes.sphere import sphere
    err = {o: [rel(measure(sphere(1e-6, h, order=o, comm=SELF)), 4 / 3 * math.pi) for h in (0.6, 0.3)]
           for o in (1, 2)}
    assert rate(*err[1]) > 1.5 and rate(*err[2]) > 3.0, err


@pytest.mark.parametrize("dim", [2, 3])
def test_core_shell_volumes_and_interfaces(dim):
    from meshes.core_shell import core_shell
    radii = [0.6, 0.8, 1.0]
    errs = []
    for h in ((0.1, 0.05) if dim == 2 else (0.5, 0.25)):
        tm = core_shell(0.6e-6, [0.2e-6, 0.2e-6], h=h, order=2, dim=dim, comm=SELF)
        if dim == 3:
            vol = [4 / 3 * math.pi * r ** 3 for r in radii]
            area = [4 * math.pi * r ** 2 for r in radii]
        else:
            vol = [math.pi * r ** 2 / 2 for r in radii]
            area = [math.pi * r for r in radii]
        e = [rel(measure(tm, T.CORE), vol[0]), rel(measure(tm, T.shell(0)), vol[1] - vol[0]),
             rel(measure(tm, T.shell(1)), vol[2] - vol[1]),
             rel(facet_measure(tm, T.interface(0)), area[0]), rel(facet_measure(tm, T.interface(1)), area[1]),
             rel(facet_measure(tm, T.SURFACE), area[2]),
             rel(measure(tm, T.SHELL), vol[2] - vol[0]), rel(facet_measure(tm, T.INTERFACE), area[0] + area[1])]
        errs.append(max(e))
    assert errs[1] < errs[0] / 4, errs  # order 2: rate > 2
    assert errs[1] < (1e-5 if dim == 2 else 1e-3), errs


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_bilayer_exact_measures(dim):
    from meshes.bilayer import bilayer
    ts = [1e-6, 2e-6, 0.5e-6]
    for layers in (ts[:2], ts):
        tm = bilayer(layers, dim=dim, width_m=2e-6, h=0.2 if dim == 3 else 0.1,
                     h_interface=0.05 if dim == 3 else 0.01, comm=SELF)
        L = tm.length_scale
        width = 2e-6 / L if dim > 1 else 1.0
        names = [T.ELECTRODE, T.ELECTROLYTE] if len(layers) == 2 else [T.layer(i) for i in range(3)]
        for nm, t in zip(names, layers):
            assert measure(tm, nm) == pytest.approx(t / L * width ** (dim - 1), rel=1e-10)
        cross = width ** (dim - 1)
        ifaces = [T.INTERFACE] if len(layers) == 2 else [T.interface(0), T.interface(1)]
        for nm in ifaces + [T.CONTACT_LEFT, T.CONTACT_RIGHT]:
            assert facet_measure(tm, nm) == pytest.approx(cross, rel=1e-10), nm
        assert facet_measure(tm, T.INTERFACE) == pytest.approx(cross * len(ifaces), rel=1e-10)
        assert measure(tm, T.INTERFACE, "ds") == 0.0  # interfaces are interior facets
        if dim > 1:
            total = sum(layers) / L
            lateral = 2 * total if dim == 2 else 4 * total * width
            assert facet_measure(tm, T.LATERAL) == pytest.approx(lateral, rel=1e-10)


def test_bilayer_1d_grading_resolves_debye_length():
    """Element size h_interface at the interface, growing by <= the grading ratio, h far away."""
    from meshes.bilayer import bilayer
    tm = bilayer([1e-6, 1e-6], dim=1, h=0.05, h_interface=1e-4, grading_ratio=1.2, comm=SELF)
    x = np.sort(tm.mesh.geometry.x[:, 0])
    dx = np.diff(x)
    i = np.argmin(np.abs(x - 0.5))
    assert abs(x[i] - 0.5) < 1e-14  # a node on the interface
    assert dx[i - 1] <= 1.1e-4 and dx[i] <= 1.1e-4
    assert np.max(dx[1:] / dx[:-1]) < 1.25 and np.max(1 / (dx[1:] / dx[:-1])) < 1.25
    assert np.max(dx) <= 0.05 + 1e-12 and np.max(dx) > 0.04
    assert len(dx) < 200  # graded, not uniformly fine (uniform would need 10^4)


def test_bilayer_2d_refined_near_interface():
    from meshes.bilayer import bilayer
    import dolfinx.mesh
    tm = bilayer([1e-6, 1e-6], dim=2, h=0.1, h_interface=0.005, comm=SELF)
    tdim = 2
    n = tm.mesh.topology.index_map(tdim).size_local
    hsize = dolfinx.cpp.mesh.h(tm.mesh._cpp_object, tdim, np.arange(n, dtype=np.int32))
    mid = dolfinx.mesh.compute_midpoints(tm.mesh, tdim, np.arange(n, dtype=np.int32))
    d = np.abs(mid[:, 0] - 0.5)
    assert np.max(hsize[d < 0.005]) < 0.02
    assert np.median(hsize[d > 0.3]) > 0.06


# --- tags ------------------------------------------------------------------------------------

def _generators():
    from meshes.agglomerate import agglomerate
    from meshes.bilayer import bilayer
    from meshes.core_shell import core_shell
    from meshes.particle import ellipsoid, platelet, rod
    from meshes.particle_in_matrix import particle_in_matrix
    from meshes.polycrystal import polycrystal
    from meshes.sphere import sphere
    return {
        "sphere": lambda: sphere(1e-6, 0.5, comm=SELF),
        "ellipsoid": lambda: ellipsoid([1e-6, 0.7e-6, 0.5e-6], h=0.4, comm=SELF),
        "ellipsoid2d": lambda: ellipsoid([1e-6, 1e-6, 0.5e-6], h=0.2, dim=2, comm=SELF),
        "platelet": lambda: platelet(1e-6, 0.3e-6, h=0.4, comm=SELF),
        "rod": lambda: rod(0.3e-6, 2e-6, h=0.15, comm=SELF),
        "bilayer1d": lambda: bilayer([1e-6, 1e-6, 1e-6, 1e-6], dim=1, comm=SELF),
        "bilayer3d": lambda: bilayer([1e-6, 1e-6], dim=3, h=0.3, comm=SELF),
        "core_shell3d": lambda: core_shell(0.7e-6, [0.3e-6], h=0.4, comm=SELF),
        "core_shell2d": lambda: core_shell(0.5e-6, [0.2e-6, 0.3e-6], h=0.2, dim=2, comm=SELF),
        "polycrystal": lambda: polycrystal(1e-6, 6, seed=1, h=0.4, comm=SELF),
        "particle_in_matrix": lambda: particle_in_matrix(1e-6, 2e-6, h=0.6, h_interface=0.3, comm=SELF),
        "particle_in_matrix2d": lambda: particle_in_matrix(1e-6, 2e-6, h=0.3, h_interface=0.1, dim=2, comm=SELF),
        "agglomerate": lambda: agglomerate(4, 1e-6, seed=2, h=0.5, comm=SELF),
    }


EXPECTED = {
    "sphere": ({T.PARTICLE}, {T.SURFACE}),
    "ellipsoid": ({T.PARTICLE}, {T.SURFACE}),
    "ellipsoid2d": ({T.PARTICLE}, {T.SURFACE, T.SYMMETRY}),
    "platelet": ({T.PARTICLE}, {T.SURFACE}),
    "rod": ({T.PARTICLE}, {T.SURFACE}),
    "bilayer1d": ({T.layer(i) for i in range(4)},
                  {T.CONTACT_LEFT, T.CONTACT_RIGHT, T.interface(0), T.interface(1), T.interface(2)}),
    "bilayer3d": ({T.ELECTRODE, T.ELECTROLYTE}, {T.CONTACT_LEFT, T.CONTACT_RIGHT, T.INTERFACE, T.LATERAL}),
    "core_shell3d": ({T.CORE, T.shell(0)}, {T.interface(0), T.SURFACE}),
    "core_shell2d": ({T.CORE, T.shell(0), T.shell(1)}, {T.interface(0), T.interface(1), T.SURFACE, T.SYMMETRY}),
    "polycrystal": ({T.grain(i) for i in range(6)}, {T.SURFACE, T.GRAIN_BOUNDARY}),
    "particle_in_matrix": ({T.PARTICLE, T.MATRIX}, {T.INTERFACE, T.OUTER}),
    "particle_in_matrix2d": ({T.PARTICLE, T.MATRIX}, {T.INTERFACE, T.OUTER, T.SYMMETRY}),
    "agglomerate": ({T.primary(i) for i in range(4)}, {T.SURFACE, T.GRAIN_BOUNDARY}),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_declared_tag_is_nonempty(kind):
    tm = _generators()[kind]()
    cells, facets = EXPECTED[kind]
    assert set(tm.cell_names) == cells
    assert set(tm.facet_names) == facets
    for nm in tm.all_cell_names():
        assert len(tm.cells(nm)) > 0 and measure(tm, nm) > 0, nm
    for nm in tm.all_facet_names():
        assert len(tm.facets(nm)) > 0 and facet_measure(tm, nm) > 0, nm
    # cell groups partition the mesh
    total = sum(measure(tm, nm) for nm in tm.cell_names)
    assert total == pytest.approx(measure(tm), rel=1e-12)
    ncells = tm.mesh.topology.index_map(tm.dim).size_local
    assert len(tm.cell_tags.indices) == ncells
    nominal = tm.metadata.get("nominal_volumes", {})
    for nm, v in nominal.items():
        assert measure(tm, nm) == pytest.approx(v, rel=0.15), nm


# --- polycrystal -------------------------------------------------------------------------------

def test_polycrystal_grains_partition_the_particle():
    from meshes.polycrystal import polycrystal
    n = 12
    tm = polycrystal(1e-6, n, seed=4, h=0.3, order=2, comm=SELF)
    grains = [nm for nm in tm.cell_names if nm.startswith("grain_")]
    assert sorted(grains) == sorted(T.grain(i) for i in range(n))
    vols = [measure(tm, T.grain(i)) for i in range(n)]
    assert min(vols) > 0
    assert sum(vols) == pytest.approx(measure(tm), rel=1e-12)
    assert sum(vols) == pytest.approx(4 / 3 * math.pi, rel=2e-3)
    assert facet_measure(tm, T.SURFACE) == pytest.approx(4 * math.pi, rel=2e-3)
    assert measure(tm, T.GRAIN_BOUNDARY, "ds") == 0.0
    # every grain contains its seed point: grain i is the Voronoi cell of seed i
    seeds = np.array(tm.metadata["seeds"])
    import dolfinx.mesh
    for i in range(n):
        cells = tm.cells(T.grain(i))
        mid = dolfinx.mesh.compute_midpoints(tm.mesh, 3, cells)
        d = np.linalg.norm(mid[:, None, :] - seeds[None], axis=2)
        # nearest seed of (almost) every cell midpoint is i (straight faces, midpoints inside)
        assert np.mean(np.argmin(d, axis=1) == i) > 0.97
    R = np.array([tm.metadata["orientations"][T.grain(i)] for i in range(n)])
    assert np.allclose(np.einsum("nij,nkj->nik", R, R), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(R), 1.0)


def test_polycrystal_ellipsoid_and_euler_angles():
    from meshes.polycrystal import polycrystal
    from scipy.spatial.transform import Rotation
    euler = [[0, 0, 0], [90, 0, 0], [30, 45, 60]]
    tm = polycrystal(None, 3, seed=0, h=0.3, order=2, semi_axes_m=[1e-6, 0.8e-6, 0.6e-6],
                     euler_angles_deg=euler, comm=SELF)
    assert measure(tm) == pytest.approx(4 / 3 * math.pi * 0.8 * 0.6, rel=3e-3)
    R = tm.metadata["orientations"]
    assert np.allclose(R[T.grain(0)], np.eye(3))
    assert np.allclose(R[T.grain(1)], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    assert np.allclose(R[T.grain(2)], Rotation.from_euler("ZXZ", euler[2], degrees=True).as_matrix())


def test_random_orientations_are_uniform():
    """Haar-uniform rotations: the mean of R over many grains -> 0, E[trace R] = 0."""
    from meshes.polycrystal import orientations
    R = orientations(4000, seed=5)
    assert np.abs(R.mean(axis=0)).max() < 0.05
    assert abs(np.trace(R, axis1=1, axis2=2).mean()) < 0.06


# --- seeds -------------------------------------------------------------------------------------

def _fingerprint(tm):
    x = tm.mesh.geometry.x
    return (tm.mesh.topology.index_map(tm.dim).size_global, np.sort(np.round(x, 12), axis=0))


@pytest.mark.parametrize("kind", ["polycrystal", "agglomerate"])
def test_same_seed_same_mesh_different_seed_different_mesh(kind):
    from meshes.agglomerate import agglomerate
    from meshes.polycrystal import polycrystal
    make = {"polycrystal": lambda s: polycrystal(1e-6, 5, seed=s, h=0.4, comm=SELF),
            "agglomerate": lambda s: agglomerate(3, 1e-6, seed=s, h=0.6, comm=SELF)}[kind]
    a, b, c = make(11), make(11), make(12)
    na, xa = _fingerprint(a)
    nb, xb = _fingerprint(b)
    nc, xc = _fingerprint(c)
    assert na == nb and np.array_equal(xa, xb)
    assert a.metadata == b.metadata
    assert na != nc or not np.array_equal(xa, xc)
    assert a.metadata != c.metadata


# --- STL -----------------------------------------------------------------------------------------

def test_stl_import_volume(tmp_path):
    import gmsh
    from meshes.stl import from_stl
    path = tmp_path / "ball.stl"
    gmsh.initialize(readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("stl")
        gmsh.model.occ.addSphere(0, 0, 0, 5.0)
        gmsh.model.occ.synchronize()
        gmsh.option.setNumber("Mesh.MeshSizeMax", 1.5)
        gmsh.model.mesh.generate(2)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    tm = from_stl(str(path), 1e-6, h=0.3, comm=SELF)
    assert tm.length_scale == pytest.approx(5e-6, rel=1e-6)
    # the tetrahedralisation fills exactly the STL polyhedron, which approximates the unit ball
    assert measure(tm) == pytest.approx(tm.metadata["nominal_volumes"][T.PARTICLE], rel=1e-10)
    assert measure(tm) == pytest.approx(4 / 3 * math.pi, rel=0.05)
    tm2 = from_stl(str(path), 1e-6, h=0.3, remesh=True, comm=SELF)
    # remeshing the (coarse, faceted) STL surface at size h stays close to the polyhedron
    assert measure(tm2) == pytest.approx(tm.metadata["nominal_volumes"][T.PARTICLE], rel=0.05)
    # an open surface is refused
    from meshes.stl import read_stl
    tris = read_stl(path)[:-2]
    open_path = tmp_path / "open.stl"
    with open(open_path, "w") as f:
        f.write("solid open\n")
        for t in tris:
            f.write("facet normal 0 0 0\nouter loop\n" + "".join(f"vertex {a} {b} {c}\n" for a, b, c in t)
                    + "endloop\nendfacet\n")
        f.write("endsolid open\n")
    with pytest.raises(InputError, match="stl_path.*not closed"):
        from_stl(str(open_path), comm=SELF)


# --- bad input -----------------------------------------------------------------------------------

BAD = [
    ("sphere", dict(radius_m=-1e-6), "radius_m"),
    ("ellipsoid", dict(semi_axes_m=[1e-6, 0, 1e-6]), r"semi_axes_m\[1\]"),
    ("ellipsoid", dict(semi_axes_m=[1e-6, 1e-6, 1e-6], h=0), "'h'"),
    ("polycrystal", dict(radius_m=1e-6, n_grains=0), "n_grains"),
    ("polycrystal", dict(radius_m=1e-6, n_grains=3, euler_angles_deg=[[0, 0, 0]]), "euler_angles_deg"),
    ("core_shell", dict(core_radius_m=None, shell_thicknesses_m=[1e-6], particle_radius_m=0.5e-6),
     "shell_thicknesses_m"),
    ("core_shell", dict(core_radius_m=1e-6, shell_thicknesses_m=[-1e-7]), r"shell_thicknesses_m\[0\]"),
    ("core_shell", dict(core_radius_m=1e-6, shell_thicknesses_m=[1e-7], order=3), "order"),
    ("bilayer", dict(thicknesses_m=[1e-6, 0.0]), r"thicknesses_m\[1\]"),
    ("bilayer", dict(thicknesses_m=[1e-6, 1e-6], h=0.1, h_interface=0.2), "h_interface"),
    ("bilayer", dict(thicknesses_m=[1e-6, 1e-6], dim=4), "dim"),
    ("bilayer", dict(thicknesses_m=[1e-6, 1e-6], layer_names=["a"]), "layer_names"),
    ("particle_in_matrix", dict(radius_m=1e-6, box_half_width_m=0.5e-6), "box_half_width_m"),
    ("agglomerate", dict(n_particles=0, radius_m=1e-6), "n_particles"),
    ("agglomerate", dict(n_particles=3, radius_m=1e-6, overlap=0.0), "overlap"),
    ("stl", dict(stl_path="/nonexistent.stl"), "stl_path"),
]


@pytest.mark.parametrize("kind,kwargs,name", BAD, ids=[f"{k}-{n}" for k, _, n in BAD])
def test_bad_input_names_the_parameter(kind, kwargs, name):
    from meshes.registry import GENERATORS
    with pytest.raises(InputError, match=name):
        GENERATORS[kind](comm=SELF, **kwargs)


def test_platelet_and_rod_measures_and_crystal_axes():
    """Hexagonal prism: V = 3 sqrt(3)/2 R^2 t, A = 3 sqrt(3) R^2 + 6 R t (exact, planar faces);
    crystal b axis along the prism axis; rod volume converges to pi r^2 l."""
    from meshes.particle import platelet, rod
    tm = platelet(1e-6, 0.25e-6, h=0.3, comm=SELF)
    assert measure(tm) == pytest.approx(3 * math.sqrt(3) / 2 * 0.25, rel=1e-12)
    assert facet_measure(tm, T.SURFACE) == pytest.approx(3 * math.sqrt(3) + 6 * 0.25, rel=1e-12)
    R = np.array(tm.metadata["orientation"])
    assert np.allclose(R[:, 1], [0, 0, 1]) and np.isclose(np.linalg.det(R), 1)
    x = tm.mesh.geometry.x
    assert np.ptp(x[:, 2]) == pytest.approx(0.25) and np.max(np.hypot(x[:, 0], x[:, 1])) == pytest.approx(1.0)
    errs = [rel(measure(rod(0.5e-6, 2e-6, h=h, order=2, comm=SELF)), math.pi * 0.25 * 2) for h in (0.3, 0.15)]
    assert errs[1] < errs[0] / 8, errs


def test_agglomerate_two_spheres_against_lens_formula():
    """Two equal overlapping spheres (centre distance d): the union is V1 + V2 - lens,
    lens = pi (4r + d)(2r - d)^2 / 12; primary_0 keeps its whole ball, primary_1 the rest;
    the neck (grain_boundary) is the cap of sphere 0 inside sphere 1, area 2 pi r (r - d/2)."""
    from meshes.agglomerate import agglomerate
    overlap = 0.3
    errs = []
    for h in (0.4, 0.2):
        tm = agglomerate(2, 1e-6, seed=0, h=h, radius_sigma=0.0, overlap=overlap, order=2, comm=SELF)
        c = np.array(tm.metadata["centres"])
        r = 1.0
        d = np.linalg.norm(c[1] - c[0])
        assert d == pytest.approx((1 - overlap) * 2 * r)
        ball = 4 / 3 * math.pi * r ** 3
        lens = math.pi * (4 * r + d) * (2 * r - d) ** 2 / 12
        e = [rel(measure(tm, T.primary(0)), ball), rel(measure(tm, T.primary(1)), ball - lens),
             rel(measure(tm, T.PARTICLE), 2 * ball - lens),
             rel(facet_measure(tm, T.GRAIN_BOUNDARY), 2 * math.pi * r * (r - d / 2))]
        errs.append(max(e))
    assert errs[1] < errs[0] / 4 and errs[1] < 5e-3, errs


def test_bilayer_refine_contacts():
    from meshes.bilayer import bilayer
    for refine in (False, True):
        tm = bilayer([1e-6], dim=1, h=0.05, h_interface=1e-3, refine_contacts=refine, comm=SELF)
        dx = np.diff(np.sort(tm.mesh.geometry.x[:, 0]))
        if refine:
            assert dx[0] <= 1.01e-3 and dx[-1] <= 1.01e-3 and measure(tm, T.layer(0)) == pytest.approx(1.0)
        else:
            assert dx.min() > 0.04  # single layer, no interfaces: uniform
    tm = bilayer([1e-6, 1e-6], dim=2, h=0.1, h_interface=0.005, refine_contacts=True, comm=SELF)
    import dolfinx.mesh
    ent = dolfinx.mesh.locate_entities(tm.mesh, 2, lambda x: x[0] < 0.004)
    assert len(ent) > 0


def test_remesh_polyline_drops_crowded_nodes_keeps_ends():
    """2D remeshes of a shrinking interface drop the interior nodes next to a segment shorter than
    0.2 x the median (slivers the next step would invert); a uniform polyline is unchanged."""
    from meshes.core_shell import drop_short_segments
    th = np.linspace(-np.pi / 2, np.pi / 2, 21)
    P = 0.1 * np.c_[np.cos(th), np.sin(th)]
    assert np.array_equal(drop_short_segments(P), P)
    crowded = np.insert(P, 8, P[7] + 1e-4 * (P[8] - P[7]), axis=0)  # a node 1e-4 of a segment away
    out = drop_short_segments(crowded)
    assert len(out) == len(P) and np.allclose(out[[0, -1]], P[[0, -1]])
    seg = np.linalg.norm(np.diff(out, axis=0), axis=1)
    assert seg.min() > 0.2 * np.median(seg)
