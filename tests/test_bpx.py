"""BPX parameter files (fem/bpx.py), text expressions of x, and D(x) tables (issue 16 items 4-5).

The example examples/bpx_chen2020.json was written from Chen et al. 2020's published
parameters; read back it must give the numbers of fem/constitutive/materials.py (typed in from
the paper independently) and PyBaMM's 1C of 1.685 A/m^2, and a particle_discharge run from it
must equal the run with the built-in Chen 2020 material."""
from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
from mpi4py import MPI

from conftest import REPO
from fem import bpx
from fem.constitutive.expression import Expression
from fem.constitutive.materials import GRAPHITE_CHEN2020 as G
from fem.constitutive.materials import NMC811_CHEN2020 as N
from fem.errors import InputError

EXAMPLE = REPO / "examples" / "bpx_chen2020.json"
TINY = dict(geometry="sphere", mesh_size=0.5, fields_every=0, section_plot=False, t_end_s=30.0, c_rate=2.0,
            quiet=True, comm=MPI.COMM_SELF)


def test_expression_numpy_ufl_and_refusals():
    e = Expression("-0.809 * x + 4.4875 - 0.0428 * tanh(18.5138 * (x - 0.5542)) + exp(-x) ** 2 / sqrt(x)")
    x = np.array([0.2, 0.5, 0.9])
    assert np.allclose(e(x), -0.809 * x + 4.4875 - 0.0428 * np.tanh(18.5138 * (x - 0.5542))
                       + np.exp(-x) ** 2 / np.sqrt(x), rtol=1e-15)
    import ufl
    from basix.ufl import element
    mesh = ufl.Mesh(element("Lagrange", "interval", 1, shape=(1,)))
    assert isinstance(e(ufl.SpatialCoordinate(mesh)[0]), ufl.core.expr.Expr)
    for bad in ("__import__('os').system('true')", "y + 1", "x.real", "lambda: 1", "exp(x, 2)", "x[0]", "'a'"):
        with pytest.raises(InputError, match="OCP"):
            Expression(bad, name="OCP")


def test_example_round_trips_to_chen2020(tmp_path):
    """Read -> the paper's numbers (m from BPX's normalised k, OCPs, window, nominal 1C); written
    out again by json and read back: the same particle."""
    for electrode, mat in (("positive", N), ("negative", G)):
        b = bpx.read(EXAMPLE, electrode)
        m = b.material(298.15)
        assert (b.radius_m, b.c_max_mol_m3, b.x_full, b.x_empty) == (mat.radius_m, mat.c_max_mol_m3, mat.x_full,
                                                                    mat.x_empty)
        assert m.rate_constant_A_m2 == pytest.approx(mat.rate_constant_A_m2, rel=1e-14)
        assert b.D_ref_m2_s == mat.diffusivity_m2_s
        x = np.linspace(0.03, 0.97, 50)
        assert np.max(np.abs(m.ocv_V(x) - mat.ocv_V(x))) < 1e-14
        assert b.initial_soc == 1.0 and b.x_of_soc(1.0) == mat.x_full
    pos = bpx.read(EXAMPLE, "positive")
    # PyBaMM's Chen2020 1C: 5 A h over (3 eps_s / R) L A_el of positive particle surface
    assert pos.nominal_capacity_Ah_m2 == pytest.approx(5.0 / (3 * 0.665 / 5.22e-6 * 75.6e-6 * 0.065 * 1.58), rel=1e-3)
    assert "Parameterisation/Negative electrode (section)" in pos.unused
    assert "Parameterisation/Electrolyte/Conductivity [S.m-1]" in pos.unused
    assert not any("Positive electrode/OCP" in u or "Diffusivity [m2.s-1]" in u and "Positive" in u
                   for u in pos.unused)
    data = json.loads(EXAMPLE.read_text())
    (tmp_path / "again.json").write_text(json.dumps(data))
    again = bpx.read(tmp_path / "again.json", "positive")
    assert again.summary() | {"file": None} == pos.summary() | {"file": None}


def test_bad_bpx_files_name_the_entry(tmp_path):
    data = json.loads(EXAMPLE.read_text())
    pos = data["Parameterisation"]["Positive electrode"]
    cases = {"ocp_code": ({**pos, "OCP [V]": "__import__('os').getcwd()"}, "OCP"),
             "no_radius": ({k: v for k, v in pos.items() if k != "Particle radius [m]"}, "Particle radius"),
             "blend": ({"Particle": {"a": pos, "b": pos}, "Thickness [m]": 1e-5}, "blended"),
             "window": ({**pos, "Minimum stoichiometry": 0.95}, "window"),
             "negative_D": ({**pos, "Diffusivity [m2.s-1]": "-1e-15 + 0 * x"}, "Diffusivity")}
    for name, (electrode, match) in cases.items():
        d = json.loads(json.dumps(data))
        d["Parameterisation"]["Positive electrode"] = electrode
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
        with pytest.raises(InputError, match=match):
            bpx.read(tmp_path / f"{name}.json", "positive")
    (tmp_path / "text.json").write_text("not json")
    with pytest.raises(InputError, match="not JSON"):
        bpx.read(tmp_path / "text.json")


def test_every_entry_is_used_or_reported(tmp_path):
    """Each Section/Subsection/key of the file is in ``used`` or named in ``unused`` (itself or its
    section as a whole); entries the reader does not know (planted: an electrode key, a State block, a
    top-level section) are reported, not dropped.  The official BPX examples (FaradayInstitution/BPX)
    are checked the same way, against the ``bpx`` package, by tests/bench/check_bpx_schema.py."""
    data = json.loads(EXAMPLE.read_text())
    data["Parameterisation"]["Positive electrode"]["Planted [1]"] = 1.0
    data["State"]["Planted block"] = {"a": 1}
    data["Planted section"] = {"b": 2}
    (tmp_path / "planted.json").write_text(json.dumps(data))
    for electrode in bpx.ELECTRODES:
        b = bpx.read(tmp_path / "planted.json", electrode)
        assert not set(b.used) & set(b.unused)
        leaves = [f"{sec}/{sub}/{k}" for sec in ("Parameterisation", "State") for sub, body in data[sec].items()
                  for k in body] + ["Planted section"]
        for leaf in leaves:
            parts = leaf.split("/")
            assert leaf in b.used or any(f"{'/'.join(parts[:i])} (section)" in b.unused or
                                         "/".join(parts[:i]) in b.unused for i in range(1, len(parts) + 1)), leaf
    pos = bpx.read(tmp_path / "planted.json", "positive")
    assert "Parameterisation/Positive electrode/Planted [1]" in pos.unused
    assert "State/Planted block (section)" in pos.unused and "Planted section (section)" in pos.unused
    assert "Parameterisation/Positive electrode/OCP [V]" in pos.used and len(pos.used) == 16


def _series(path):
    rows = list(csv.DictReader(open(path / "timeseries.csv")))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def test_bpx_run_equals_builtin_chen2020_and_reports_unused(tmp_path, capfd):
    """particle_discharge from the BPX file (positive, SOC 1 -> x0 = x_full) = with the built-in
    material (constant D 4e-15, x0 'full'): the same time series to 1e-10."""
    from solidion import run
    shutil.copy(EXAMPLE, tmp_path / "cell.json")
    a = run("particle_discharge", out=tmp_path / "bpx", bpx_file=str(tmp_path / "cell.json"), **TINY)
    err = capfd.readouterr().err
    b = run("particle_discharge", out=tmp_path / "mat", diffusivity_model="constant", **TINY)
    assert a["status"] == b["status"] == "ok" and a["steps"] == b["steps"]
    assert "BPX entries not used" in err and "Negative electrode (section)" in err
    assert a["bpx"]["unused"] and a["bpx"]["x_full"] == N.x_full
    ta, tb = _series(tmp_path / "bpx"), _series(tmp_path / "mat")
    for col in ("voltage_V", "c_surface_mean_mol_m3", "x_mean"):
        assert np.max(np.abs(ta[col] - tb[col])) <= 1e-10 * np.max(np.abs(tb[col])), col
    with pytest.raises(InputError, match="'material' .* not used with bpx_file"):
        run("particle_discharge", out=tmp_path / "x", bpx_file=str(tmp_path / "cell.json"), material="lco", **TINY)


def test_table_diffusivity_equal_to_a_constant_reproduces_the_constant_run(tmp_path):
    """diffusivity_model='table' with D(x) = 4e-15 m^2/s everywhere = diffusivity_model='constant' at
    4e-15 (1e-10); a table of the exponential model's D(x) (ln D linear: PCHIP reproduces it)
    gives the exponential model's run (measured 2.5e-11 mol/m^3 = 1e-15 relative; asserted 1e-12)."""
    from solidion import run
    const = tmp_path / "const.csv"
    const.write_text("x, D_m2_s\n0.0, 4e-15\n0.5, 4e-15\n1.0, 4e-15\n")
    a = run("particle_discharge", out=tmp_path / "table", diffusivity_model="table", diffusivity_table=str(const),
            **TINY)
    b = run("particle_discharge", out=tmp_path / "const", diffusivity_model="constant", diffusivity_m2_s=4e-15,
            **TINY)
    ta, tb = _series(tmp_path / "table"), _series(tmp_path / "const")
    assert a["steps"] == b["steps"]
    for col in ("voltage_V", "c_surface_mean_mol_m3", "c_surface_max_mol_m3"):
        assert np.max(np.abs(ta[col] - tb[col])) <= 1e-10 * np.max(np.abs(tb[col])), col
    expo = tmp_path / "expo.csv"
    xs = np.linspace(0, 1, 11)
    expo.write_text("x, D_m2_s\n" + "".join(f"{float(x)!r}, {float(4e-15 * np.exp(-2.0 * (x - 0.5)))!r}\n" for x in xs))
    run("particle_discharge", out=tmp_path / "etab", diffusivity_model="table", diffusivity_table=str(expo), **TINY)
    run("particle_discharge", out=tmp_path / "exp", diffusivity_model="exponential", diffusivity_beta=-2.0,
        diffusivity_m2_s=4e-15, **TINY)
    tc, td = _series(tmp_path / "etab"), _series(tmp_path / "exp")
    worst = np.max(np.abs(np.interp(td["t_s"], tc["t_s"], tc["c_surface_max_mol_m3"]) - td["c_surface_max_mol_m3"]))
    print(f"table vs exponential model: max |c_surface_max| difference {worst:.3e} mol/m^3")
    assert worst <= 1e-12 * np.max(td["c_surface_max_mol_m3"])


@pytest.mark.parametrize("content, match", [("x, D_m2_s\n0.0, 1e-15\n0.5, -1e-15\n", "second column must be > 0"),
                                            ("x, D_m2_s\n0.0, 1e-15\n1.5, 2e-15\n", "x|range"),
                                            ("x, D_m2_s\n0.5, 1e-15\n0.2, 2e-15\n", "increasing")])
def test_bad_diffusivity_tables_are_refused(tmp_path, content, match):
    from problems.particle_discharge import ParticleDischargeParameters
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(InputError, match=rf"'diffusivity_table' .*({match})"):
        ParticleDischargeParameters.from_dict(dict(geometry="sphere", diffusivity_model="table",
                                                   diffusivity_table=str(path)))
