"""Bad input is refused with exit status 2 and one line naming the parameter/file and the range.

Unit bounds (fem.parameters.UNIT_BOUNDS), the cell-count guard before meshing
(meshes.limits, ``max_cells``), unwritable output paths, missing/garbage CSV
tables and invalid PETSc option values (issue 11).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
from conftest import solidion

from fem.errors import InputError
from fem.parameters import UNIT_BOUNDS, Parameters, max_cells, param, require_table, set_max_cells

FAST_S = 90  # an input error must come before any real work


def _one_line_exit_2(r, pattern):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def _run(*args, **kw):
    t0 = time.perf_counter()
    r = solidion(*args, timeout=300, **kw)
    assert time.perf_counter() - t0 < FAST_S, "input error took too long"
    return r


# --- physical upper bounds (CLI) -------------------------------------------------------------

@pytest.mark.parametrize("setting, pattern", [
    ("radius_m=1e300", r"parameter 'radius_m' = 1e\+300 m is out of range; allowed: \(0, 1\] m$"),
    ("diffusivity_m2_s=1.0", r"'diffusivity_m2_s' = 1\.0 m\^2/s .*allowed: \(0, 0\.01\] m\^2/s$"),
    ("t_end_s=1e12", r"'t_end_s' = 1000000000000\.0 s .*allowed: \(0, 1e\+10\] s$"),
    ("c_max_mol_m3=1e9", r"'c_max_mol_m3' .*allowed: \(0, 1e\+06\] mol/m\^3$"),
    ("flux_mol_m2_s=-1e5", r"'flux_mol_m2_s' = -100000\.0 mol/\(m\^2 s\) .*allowed: \[-1000, 1000\]"),
])
def test_upper_bounds(setting, pattern, tmp_path):
    r = _run("run", "sphere_diffusion", "--set", setting, "--out", tmp_path / "o")
    _one_line_exit_2(r, pattern)
    assert not (tmp_path / "o").exists()  # refused before the output directory is made


# --- physical upper bounds (in-process, every unit of the table) ---------------------------

@pytest.mark.parametrize("unit", sorted(UNIT_BOUNDS))
def test_unit_bound(unit):
    B = UNIT_BOUNDS[unit]

    @dataclass
    class P(Parameters):
        positive: float = param(0.5 * B, "a positive quantity", unit, gt=0)
        signed: float = param(0.0, "a signed quantity", unit)
        capped: float = param(2 * B, "declares its own upper bound", unit, gt=0, le=10 * B)
        values: list = param([0.5 * B], "a list of quantities", unit)

    P.from_dict({})
    P.from_dict({"capped": 5 * B, "signed": -B})
    for key, value in (("positive", 2 * B), ("signed", -2 * B), ("signed", 2 * B), ("values", [1.0, 3 * B])):
        with pytest.raises(InputError, match=rf"parameter '{key}' = .* {re.escape(unit)} is out of range; "
                                             r"allowed: [\[(]"):
            P.from_dict({key: value})
    text = P.describe()
    assert re.search(r"positive .*allowed: \(0, ", text) and "inf" not in text.split("\n")[0]


def test_every_problem_default_within_bounds():
    import problems
    for name in problems.REGISTRY:
        module = problems.get(name)
        module.Parameters.from_dict({})  # validates every default against the bounds
        assert "max_cells" in module.Parameters.describe().splitlines()[-1]


# --- cell-count guard ----------------------------------------------------------------------

def test_mesh_size_too_small_refused_before_meshing(tmp_path):
    r = _run("run", "sphere_diffusion", "--set", "mesh_size=1e-4", "--out", tmp_path / "o")
    # sphere_diffusion's surface-graded ball is built by meshes.particle.ellipsoid
    line = _one_line_exit_2(r, r"mesh '(sphere|ellipsoid)'.*about [0-9.e+]+ cells estimated, "
                               r"above the limit max_cells = 2e\+07")
    n = float(re.search(r"about ([0-9.e+]+) cells", line).group(1))
    assert n > 1e12


def test_max_cells_parameter(tmp_path):
    r = _run("run", "sphere_diffusion", "--set", "max_cells=100", "--out", tmp_path / "o")
    _one_line_exit_2(r, r"cells estimated, above the limit max_cells = 100;")
    r = _run("run", "sphere_diffusion", "--set", "max_cells=0", "--out", tmp_path / "p")
    _one_line_exit_2(r, r"parameter 'max_cells' = 0 is out of range; allowed: \[1, inf\)")


def test_mesh_cli_cell_guard(tmp_path):
    r = _run("mesh", "sphere", "--set", "radius_m=1e-6", "--set", "h=1e-3", "--out", tmp_path / "m.xdmf")
    _one_line_exit_2(r, r"mesh 'sphere'.*cells estimated, above the limit max_cells")
    r = _run("mesh", "sphere", "--set", "radius_m=1e-6", "--set", "h=0.3", "--set", "max_cells=10",
             "--out", tmp_path / "m.xdmf")
    _one_line_exit_2(r, r"above the limit max_cells = 10;")
    assert not (tmp_path / "m.xdmf").exists()


def test_cell_estimate_close_to_gmsh(monkeypatch):
    """The estimate is an order-of-magnitude guard: within a factor 3 of Gmsh's count."""
    import meshes.bilayer
    import meshes.limits as limits
    from meshes.bilayer import bilayer
    from meshes.sphere import sphere
    from mpi4py import MPI
    seen = []
    orig = limits.check_cells

    def record(n, what):
        seen.append(n)
        orig(n, what)

    monkeypatch.setattr(limits, "check_cells", record)
    monkeypatch.setattr(meshes.bilayer, "check_cells", record)
    for build in (lambda: sphere(1e-6, 0.25, comm=MPI.COMM_SELF),
                  lambda: sphere(1e-6, 0.4, h_surface=0.1, comm=MPI.COMM_SELF),
                  lambda: sphere(1e-6, 0.1, h_surface=0.02, dim=2, comm=MPI.COMM_SELF),
                  lambda: bilayer([1e-7, 1e-7], dim=2, width_m=2e-8, h=0.05, h_interface=0.005,
                                  comm=MPI.COMM_SELF),
                  lambda: bilayer([1e-7, 1e-7], dim=1, h=0.01, h_interface=5e-4, comm=MPI.COMM_SELF)):
        seen.clear()
        tm = build()
        n = tm.mesh.topology.index_map(tm.dim).size_global
        assert 1 / 3 < seen[-1] / n < 3, (seen, n)


def test_require_cells():
    @dataclass
    class P(Parameters):
        cells_per_side: int = param(100, "cells along each side", ge=2)

        def check(self):
            self.require_cells(2 * self.cells_per_side ** 2, "cells_per_side")

    try:
        P.from_dict({"cells_per_side": 3000})
        with pytest.raises(InputError, match=r"^parameter 'cells_per_side' = 100000: about 2e\+10 cells, "
                                             r"above the limit max_cells = 2e\+07;"):
            P.from_dict({"cells_per_side": 100000})
        with pytest.raises(InputError, match=r"about 2e\+04 cells, above the limit max_cells = 1e\+04"):
            P.from_dict({"max_cells": 10000})
    finally:
        set_max_cells(None)


def test_max_cells_limit_follows_validated_parameters(monkeypatch):
    import problems
    P = problems.get("sphere_diffusion").Parameters
    try:
        P.from_dict({"max_cells": 12345})
        assert max_cells() == 12345
        set_max_cells(None)
        monkeypatch.setenv("SOLIDION_MAX_CELLS", "5e6")
        assert max_cells() == 5_000_000 and P.from_dict({}).max_cells == 5_000_000
        monkeypatch.setenv("SOLIDION_MAX_CELLS", "lots")
        set_max_cells(None)
        with pytest.raises(InputError, match="SOLIDION_MAX_CELLS = 'lots'"):
            max_cells()
    finally:
        set_max_cells(None)


# --- output paths --------------------------------------------------------------------------

def test_unwritable_run_out(tmp_path):
    (tmp_path / "afile").write_text("x")
    for out in ("/proc/x", tmp_path / "afile" / "x"):
        r = _run("run", "sphere_diffusion", "--out", out)
        _one_line_exit_2(r, rf"--out {re.escape(str(out))}")


def test_unwritable_mesh_out(tmp_path):
    (tmp_path / "afile").write_text("x")
    for out in ("/proc/x.xdmf", tmp_path / "afile" / "m.xdmf", tmp_path / "afile" / "m.msh"):
        r = _run("mesh", "sphere", "--set", "radius_m=1e-6", "--out", out)
        _one_line_exit_2(r, rf"--out '{re.escape(str(out))}'")
    (tmp_path / "d.xdmf").mkdir()
    r = _run("mesh", "sphere", "--set", "radius_m=1e-6", "--out", tmp_path / "d.xdmf")
    _one_line_exit_2(r, r"is a directory")


# --- tables --------------------------------------------------------------------------------

GARBAGE = {
    "missing": None,
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe",
    "text": b"hello world\nthis is not a table\n",
    "one_column": b"0.0\n0.5\n1.0\n",
    "one_row": b"x, y\n0.0, 1.0\n",
    "not_monotone": b"0.0, 1.0\n0.5, 2.0\n0.4, 3.0\n",
    "nan": b"0.0, 1.0\n0.5, nan\n1.0, 3.0\n",
}


@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_require_table(case, tmp_path):
    path = tmp_path / f"{case}.csv"
    if GARBAGE[case] is not None:
        path.write_bytes(GARBAGE[case])
    with pytest.raises(InputError, match=rf"^parameter 'ocv_table' = '{re.escape(str(path))}': "):
        require_table(path, "ocv_table")


def test_require_table_good(tmp_path):
    path = tmp_path / "good.csv"
    path.write_text("# x [-], D/D_ref [-]\nx, g\n0.0, 1.0\n0.5, 2.0  # comment\n\n1.0, 4.0\n")
    x, y = require_table(path, "diffusivity_table", positive=True, x_range=(0, 1))
    assert list(x) == [0.0, 0.5, 1.0] and list(y) == [1.0, 2.0, 4.0]
    from fem.constitutive.tabulated import Tabulated
    t = Tabulated.from_csv(path)  # the same file reads the same way
    assert list(t.x) == list(x) and list(t.y) == list(y)
    path.write_text("0.0, 1.0\n0.5, -2.0\n")
    with pytest.raises(InputError, match="second column must be > 0"):
        require_table(path, "diffusivity_table", positive=True)


@pytest.mark.parametrize("setting, case", [
    (["--set", "diffusivity_model=table", "--set", "diffusivity_table={}"], "missing"),
    (["--set", "diffusivity_model=table", "--set", "diffusivity_table={}"], "text"),
    (["--set", "ocv_table={}"], "not_monotone"),
    (["--set", "ocv_table={}"], "binary"),
])
def test_tables_cli(setting, case, tmp_path):
    path = tmp_path / f"{case}.csv"
    if GARBAGE[case] is not None:
        path.write_bytes(GARBAGE[case])
    args = [a.format(path) for a in setting]
    name = args[-1].split("=")[0]
    r = _run("run", "particle_discharge", *args, "--out", tmp_path / "o")
    _one_line_exit_2(r, rf"^solidion: error: parameter '{name}' = '{re.escape(str(path))}': ")
    assert not (tmp_path / "o").exists()  # before the output directory and the mesh


# --- PETSc option values -------------------------------------------------------------------

@pytest.mark.parametrize("opts, pattern", [
    (["-ksp_type", "nonsense"], r"PETSc option '-ksp_type': unknown KSP type 'nonsense'"),
    (["-ksp_rtol", "abc"], r"PETSc option '-ksp_rtol' needs a number, got 'abc'"),
    (["-particle_bordered_solves", "three"], r"PETSc option '-particle_bordered_solves': allowed one, two; got 'three'"),
])
def test_petsc_option_values(opts, pattern, tmp_path):
    r = _run("run", "sphere_diffusion", "--out", tmp_path / "o", "--", *opts)
    _one_line_exit_2(r, pattern)
    assert not (tmp_path / "o").exists()


def test_bounds_shown_by_params():
    r = solidion("params", "sphere_diffusion")
    assert r.returncode == 0
    assert re.search(r"radius_m .*\(allowed: \(0, 1\]\)", r.stdout)
    assert re.search(r"max_cells .*\(allowed: \[1, inf\)\)", r.stdout)
    r = solidion("params", "particle_discharge")
    assert re.search(r"ocv_table .*allowed: path of a CSV table", r.stdout)
