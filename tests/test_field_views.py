"""Pictures of 3D fields (fem/field_views.py) and reading a run's VTX fields back with adios2.

* the planar cut is exact: its triangles tile the section of the polyhedral ball (area =
  the shoelace area of the cut outline to round-off, and pi r^2 to mesh accuracy), and the
  values on it are those of a linear field to round-off (P1 and P2, affine and curved);
* the boundary triangles close the surface (sum of n dA = 0, divergence theorem = volume);
* the PNGs are written and not trivial; the same pictures on 2 ranks as on 1;
* all of that also under ``mpirun -n 2`` (``-m mpi``: faces on partition boundaries dropped);
* ``fields/concentration.bp`` of a sphere_diffusion run read with the adios2 Python module:
  times in s equal the rows' t_s, coordinates in metres (max radius = radius_m), values.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mpi4py import MPI

import dolfinx.fem

from fem import field_views as fv
from meshes.sphere import sphere


def linear(x):
    return 1.0 + 2.0 * x[0] - 3.0 * x[1] + 0.5 * x[2]


def field(comm, order, degree, h=0.25):
    dom = sphere(1.0, h, order=order, comm=comm)
    V = dolfinx.fem.functionspace(dom.mesh, ("Lagrange", degree))
    u = dolfinx.fem.Function(V)
    u.interpolate(linear)
    return dom, u


def areas(x):
    return 0.5 * np.linalg.norm(np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]), axis=1)


def shoelace(seg, a, b):
    p, q = seg[:, 0], seg[:, 1]
    return 0.5 * np.sum(p[:, a] * q[:, b] - q[:, a] * p[:, b])


# measured (h = 0.25): section areas 1.4-1.9 % (affine), 0.35-0.5 % (curved P2) below pi r^2;
# volumes 2.1 % and 0.53 % below 4 pi / 3
@pytest.mark.mpi
@pytest.mark.parametrize("order,degree,area_tol", [(1, 1, 0.05), (2, 2, 0.015)])
def test_section_exact(order, degree, area_tol):
    comm = MPI.COMM_WORLD
    dom, u = field(comm, order, degree)
    surf = fv.boundary_triangles(u, comm)
    for axis, at in (("z", 0.0), ("x", 0.3), ("y", -0.55)):
        sec = fv.section_triangles(u, comm, axis=axis, at=at)
        if comm.rank != 0:
            continue
        x, v = sec["x"], sec["values"]
        k = fv.AXES[axis]
        assert np.all(x[..., k] == pytest.approx(at, abs=1e-14))
        # values of the linear field, linearly interpolated along the cut edges: exact
        assert np.max(np.abs(v - linear(x.reshape(-1, 3).T).reshape(-1, 3))) < 1e-12
        A = areas(x).sum()
        a, b = (k + 1) % 3, (k + 2) % 3  # right-handed about the plane normal
        enclosed = shoelace(fv.section_outline(surf, axis, at), a, b)
        assert A == pytest.approx(enclosed, rel=1e-12)  # no gaps, no overlaps
        exact = math.pi * (1 - at**2)
        assert A == pytest.approx(exact, rel=area_tol)
        assert A < exact  # the polyhedron is inscribed in the ball
    if comm.rank == 0:
        x = surf["x"]
        n = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]) / 2
        assert np.abs(n.sum(axis=0)).max() < 1e-13  # closed surface
        assert np.all(np.einsum("ij,ij->i", n, x.mean(axis=1)) > 0)  # outward
        volume = np.einsum("ij,ij->", n, x.mean(axis=1)) / 3  # divergence theorem (flat facets)
        assert volume == pytest.approx(4 / 3 * math.pi, rel=area_tol)
        assert surf["values"] == pytest.approx(linear(x.reshape(-1, 3).T).reshape(-1, 3), abs=1e-12)
    if order == 1:  # flat cells: the facets bound exactly the mesh volume
        from fem.observables import Integral
        vol = Integral(dolfinx.fem.Constant(dom.mesh, 1.0) * dom.dx())()
        if comm.rank == 0:
            assert volume == pytest.approx(vol, rel=1e-12)


@pytest.mark.mpi
@pytest.mark.parametrize("axis,at,sign", [("z", 0.0, 1.0), ("x", 0.3, -1.0)])
def test_clipped_surface_closed(axis, at, sign):
    """Clipped boundary + cap: a closed, outward surface bounding the kept part of the mesh."""
    comm = MPI.COMM_WORLD
    dom, u = field(comm, 1, 1)
    tri = fv.boundary_triangles(u, comm)
    sec = fv.section_triangles(u, comm, axis=axis, at=at)
    k = fv.AXES[axis]
    if comm.rank == 0:
        x, v, nrm = fv.clipped_surface(tri, sec, axis, at, sign)
        n = np.cross(x[:, 1] - x[:, 0], x[:, 2] - x[:, 0]) / 2
        assert np.abs(n.sum(axis=0)).max() < 1e-13
        volume = np.einsum("ij,ij->", n, x.mean(axis=1)) / 3
        assert np.all(sign * (x[..., k] - at) <= 1e-14)
        assert v == pytest.approx(linear(x.reshape(-1, 3).T).reshape(-1, 3), abs=1e-12)
        cap = n[len(n) - len(sec["x"]):]  # the cap comes last, facing the removed side
        assert np.all(cap[:, k] * sign >= 0)
        assert cap[:, k].sum() * sign == pytest.approx(areas(sec["x"]).sum(), rel=1e-12)
        c = at * sign  # the kept part of the ball, {sign (x_k - at) < 0}: pi (2/3 + c - c^3/3)
        assert volume == pytest.approx(math.pi * (2 / 3 + c - c**3 / 3), rel=0.05)


@pytest.mark.mpi
def test_two_pieces_and_region():
    """Core/shell pieces: the interface is interior to the union, an outline of each piece."""
    comm = MPI.COMM_WORLD
    from meshes.core_shell import core_shell
    dom = core_shell(0.5, [0.5], h=0.25, dim=3, comm=comm, length_scale=1.0)
    V = dolfinx.fem.functionspace(dom.mesh, ("Lagrange", 1))
    a, b = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
    a.x.array[:], b.x.array[:] = 1.0, 2.0
    pieces = [(a, dom.cells("core")), (b, dom.cells("shell_0"))]
    union = fv.boundary_triangles(pieces, comm)
    core = fv.boundary_triangles(pieces, comm, region=dom.cells("core"))
    sec = fv.section_triangles(pieces, comm)
    if comm.rank == 0:
        r_out = np.linalg.norm(union["x"], axis=2)
        assert r_out.min() == pytest.approx(1.0, abs=0.05) and np.all(union["values"] == 2.0)
        assert np.linalg.norm(core["x"], axis=2).max() == pytest.approx(0.5, abs=0.03)
        assert np.all(core["values"] == 1.0)
        inner = sec["piece"] == 0
        A_core, A = areas(sec["x"][inner]).sum(), areas(sec["x"]).sum()
        assert A_core == pytest.approx(shoelace(fv.section_outline(core), 0, 1), rel=1e-12)
        assert A == pytest.approx(shoelace(fv.section_outline(union), 0, 1), rel=1e-12)
        assert A_core == pytest.approx(math.pi * 0.25, rel=0.15)  # coarse: 5 % measured
        assert np.all(sec["values"][inner] == 1.0) and np.all(sec["values"][~inner] == 2.0)


def pixels(path):
    import matplotlib.image
    return matplotlib.image.imread(str(path))[..., :3]


def render(comm, outdir):
    dom, u = field(comm, 2, 2, h=0.3)
    return fv.snapshot(outdir, "u", u, length_scale=2e-6, value_scale=1000.0, label="c [mol/m$^3$]",
                       t_s=12.5, title="linear field")


@pytest.mark.mpi
def test_pictures_serial_and_parallel(shared_tmp_path, monkeypatch):
    """PNGs written, not trivial, and on 2 ranks the same as on 1 (within antialiasing)."""
    monkeypatch.setattr(fv, "PIXELS", 500)  # rendered image size (default 800): time
    comm = MPI.COMM_WORLD
    paths = render(comm, shared_tmp_path / "world")

    def check():  # rank 0; measured: the same pixels (mean difference 2e-7, none > 0.1)
        assert [p.name for p in paths] == ["u_surface.png", "u_section.png", "u_clip.png"]
        for p in paths:
            assert p.stat().st_size > 20_000
            img = pixels(p)
            assert img.shape[0] > 600 and img.shape[1] > 800
            colours = np.unique((img.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
            assert len(colours) > 500, p.name  # a colour map, not a flat picture
            assert img.std() > 0.1, p.name
        assert not list((shared_tmp_path / "world").glob(".*tmp*"))  # temporary files renamed
        if comm.size > 1:
            serial = render(MPI.COMM_SELF, shared_tmp_path / "self")
            for p, q in zip(paths, serial):
                a, b = pixels(p), pixels(q)
                assert a.shape == b.shape, p.name
                diff = np.abs(a - b).max(axis=2)
                assert diff.mean() < 1e-4 and np.mean(diff > 0.1) < 5e-4, (p.name, diff.mean())

    error = None
    if comm.rank == 0:
        try:
            check()
        except AssertionError as e:
            error = f"rank 0: {e!r}"
    error = comm.bcast(error, root=0)  # every rank fails with rank 0 (no rank left waiting)
    assert error is None, error


def test_vtx_fields_read_back(tmp_path):
    """fields/concentration.bp of a run, read with the adios2 Python module."""
    # adios4dolfinx first: it makes ``import adios2`` load the MPI bindings, which checkpointing
    # needs; a plain ``import adios2`` first would load the serial ones for the whole process
    pytest.importorskip("adios4dolfinx")
    adios2 = pytest.importorskip("adios2")
    from solidion import run
    R, c0, cs = 2e-6, 10000.0, 40000.0
    out = tmp_path / "run"
    run("sphere_diffusion", out=out, comm=MPI.COMM_SELF, quiet=True, radius_m=R, mesh_size=0.5,
        c0_mol_m3=c0, c_surface_mol_m3=cs, t_end_s=2.0, dt_s=0.5, dt_max_s=0.5, fields_every=1)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "ok"
    t_rows = np.loadtxt(out / "timeseries.csv", delimiter=",", skiprows=1, usecols=0, ndmin=1)
    times, geo, vals = [], [], []
    with adios2.FileReader(str(out / "fields" / "concentration.bp")) as f:
        steps = f.num_steps()
        for i in range(steps):
            times.append(float(f.read("step", step_selection=[i, 1])[0]))
            geo.append(f.read("geometry", step_selection=[i, 1]).reshape(-1, 3))
            vals.append(f.read("concentration_mol_m3", step_selection=[i, 1]).ravel())
    assert steps == len(t_rows) == 5
    assert np.allclose(times, t_rows, rtol=1e-12, atol=0)  # seconds
    assert times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0], abs=1e-12)
    r = np.linalg.norm(geo[-1], axis=1)
    assert r.max() == pytest.approx(R, rel=1e-9)  # metres, not mesh units
    assert np.allclose(geo[0], geo[-1], rtol=0, atol=0)
    assert np.all(vals[0] == pytest.approx(c0, rel=1e-12))
    on_surface = r > R * (1 - 1e-9)
    assert vals[-1][on_surface] == pytest.approx(cs, rel=1e-10)  # the Dirichlet value [mol/m^3]
    mean_vtx = vals[-1].mean()
    assert c0 < mean_vtx < cs


def test_views_output_schedule(tmp_path, monkeypatch):
    """views_output renders on the trigger (once), at output times and at the end, not at t0;
    a restarted run renders no second trigger picture."""
    from types import SimpleNamespace
    monkeypatch.setattr(fv, "PIXELS", 200)  # only the file names matter here
    dom, u = field(MPI.COMM_WORLD, 1, 1, h=0.4)
    kw = dict(time_scale=2.0, length_scale=1e-6, label="u", views=("section",))
    out = SimpleNamespace(dir=tmp_path / "new", mode="new")
    vo = fv.views_output(out, "u", u, when=("half", lambda t: t >= 2), **kw)
    vo.write(0.0)  # the driver's write at t0
    for t in (1.0, 2.0, 3.0):
        vo.step(t)
    vo.write(4.0)  # an output time
    vo.final(5.0)
    assert sorted(p.name for p in (tmp_path / "new" / "plots").iterdir()) == [
        "u_section.png", "u_section_half.png", "u_section_t8s.png"]
    out = SimpleNamespace(dir=tmp_path / "restart", mode="restart")
    vo = fv.views_output(out, "u", u, when=("half", lambda t: t >= 2), final=False, **kw)
    vo.step(3.0)  # first step after a restart past the trigger: no picture
    vo.step(4.0)
    assert not (tmp_path / "restart" / "plots").exists()
