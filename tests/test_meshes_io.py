"""Mesh files: write once, read back (serial and in parallel) with the same measures;
the ``solidion mesh`` command and its FILE.json."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from mpi4py import MPI

from conftest import solidion
from meshes import tags as T
from meshes._common import facet_measure, measure
from meshes.io import generate, read, sidecar, statistics

SELF = MPI.COMM_SELF


def _measures(tm):
    return ({nm: measure(tm, nm) for nm in tm.all_cell_names()},
            {nm: facet_measure(tm, nm) for nm in tm.all_facet_names()})


@pytest.mark.parametrize("suffix", [".xdmf", ".msh"])
@pytest.mark.parametrize("kind,params", [
    ("polycrystal", dict(radius_m=1e-6, n_grains=4, seed=3, h=0.4)),
    ("core_shell", dict(core_radius_m=1e-6, shell_thicknesses_m=[2e-7, 1e-7], dim=2, h=0.2, order=2)),
], ids=["polycrystal", "core_shell2d_p2"])
def test_write_read_roundtrip(tmp_path, kind, params, suffix):
    path = tmp_path / f"mesh{suffix}"
    tm = generate(kind, path, comm=SELF, **params)
    back = read(path, comm=SELF)
    assert back.cell_names == tm.cell_names and back.facet_names == tm.facet_names
    assert back.length_scale == pytest.approx(tm.length_scale)
    assert back.mesh.topology.index_map(tm.dim).size_global == tm.mesh.topology.index_map(tm.dim).size_global
    assert back.mesh.geometry.cmap.degree == tm.mesh.geometry.cmap.degree
    c0, f0 = _measures(tm)
    c1, f1 = _measures(back)
    for nm in c0:
        assert c1[nm] == pytest.approx(c0[nm], rel=1e-12), nm
    for nm in f0:
        assert f1[nm] == pytest.approx(f0[nm], rel=1e-12), nm
    if kind == "polycrystal":
        assert back.metadata["orientations"] == tm.metadata["orientations"]


def test_bilayer_1d_xdmf_roundtrip(tmp_path):
    path = tmp_path / "bl.xdmf"
    tm = generate("bilayer", path, comm=SELF, thicknesses_m=[1e-6, 1e-6, 2e-6], h_interface=0.01)
    back = read(path, comm=SELF)
    assert facet_measure(back, T.INTERFACE) == pytest.approx(2.0)
    assert measure(back, T.layer(2)) == pytest.approx(measure(tm, T.layer(2)), rel=1e-14)


def test_statistics_quality_of_equilateral_cells():
    """Element quality is 1 for a structured-by-construction equilateral element set and the
    mean lies in (0, 1] for generated meshes."""
    from meshes.particle import ellipsoid
    from meshes.io import cell_quality
    tm = ellipsoid([1e-6] * 3, h=0.4, comm=SELF)
    q = cell_quality(tm)
    assert 0 < q.min() <= q.mean() <= 1
    st = statistics(tm)
    assert st["volume"] == pytest.approx(4 / 3 * math.pi, rel=0.1)
    assert st["volume_si"] == pytest.approx(4 / 3 * math.pi * 1e-18, rel=0.1)
    assert 0 < st["h_min"] <= st["h_max"]
    # regular tetrahedron and equilateral triangle have quality exactly 1
    import dolfinx.mesh
    import basix.ufl
    import ufl
    from meshes.tagged import TaggedMesh
    for cell, x in (("tetrahedron", [[0, 0, 0], [1, 0, 0], [0.5, math.sqrt(3) / 2, 0],
                                     [0.5, math.sqrt(3) / 6, math.sqrt(2 / 3)]]),
                    ("triangle", [[0, 0], [1, 0], [0.5, math.sqrt(3) / 2]])):
        gdim = len(x[0])
        m = dolfinx.mesh.create_mesh(SELF, np.array([list(range(gdim + 1))], dtype=np.int64),
                                     np.array(x, dtype=float),
                                     ufl.Mesh(basix.ufl.element("Lagrange", cell, 1, shape=(gdim,))))
        t = TaggedMesh(m, None, None, {}, {})
        assert cell_quality(t) == pytest.approx([1.0], rel=1e-12)


def test_cli_mesh_writes_mesh_and_json(shared_tmp_path):
    out = shared_tmp_path / "cs.xdmf"
    r = solidion("mesh", "core_shell", "--set", "core_radius_m=1e-6", "--set", "shell_thicknesses_m=[5e-7]",
                 "--set", "h=0.5", "--set", "order=2", "--out", out)
    assert r.returncode == 0, r.stderr
    info = json.loads(sidecar(out).read_text())
    st = info["statistics"]
    assert st["cells"] > 0 and st["vertices"] > 0 and 0 < st["quality_min"] <= st["quality_mean"] <= 1
    assert st["volume_si"] == pytest.approx(4 / 3 * math.pi * 1.5e-6 ** 3, rel=1e-3)
    g = st["groups"]
    # the 1 um core under 0.75 um cells (h=0.5 of the 1.5 um radius): measured 5.4e-3 (core volume)
    # and 3.4e-3 (its area)
    assert g[T.CORE]["measure_si"] == pytest.approx(4 / 3 * math.pi * 1e-18, rel=1.5e-2)
    assert g[T.interface(0)]["measure_si"] == pytest.approx(4 * math.pi * 1e-12, rel=1e-2)
    assert g[T.SURFACE]["measure_si"] == pytest.approx(4 * math.pi * 2.25e-12, rel=1e-3)
    assert set(g) >= {T.CORE, T.shell(0), T.SHELL, T.interface(0), T.INTERFACE, T.SURFACE}
    # bad input: exit status 2 with the parameter named, no traceback
    r = solidion("mesh", "polycrystal", "--set", "radius_m=1e-6", "--set", "n_grains=0", "--out", out)
    assert r.returncode == 2 and "n_grains" in r.stderr and "Traceback" not in r.stderr
    r = solidion("mesh", "sphere", "--set", "radius=1", "--out", out)
    assert r.returncode == 2 and "radius" in r.stderr
