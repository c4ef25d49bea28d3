"""CLI and input-validation contract: exit status 2 with a one-line message naming the parameter."""

from __future__ import annotations

import json
import re

import pytest
from conftest import solidion


@pytest.mark.parametrize("args, pattern", [
    (["--set", "radius_m=-1e-6"], r"radius_m.*-1e-06.*allowed: \(0, 1\] m"),
    (["--set", "diffusivity_m2_s=-1"], r"diffusivity_m2_s.*allowed: \(0, 0\.01\]"),
    (["--set", "c0_mol_m3=60000"], r"c0_mol_m3.*\[0, c_max_mol_m3 = 51765.0\]"),
    (["--set", "c0_mol_m3=-5"], r"c0_mol_m3.*allowed: \[0, 1e\+06\]"),
    (["--set", "dt_s=0"], r"dt_s.*allowed: \(0, 1e\+10\] s"),
    (["--set", "dt_s=-1"], r"dt_s.*allowed: \(0, 1e\+10\] s"),
    (["--set", "no_such_key=1"], r"unknown parameter 'no_such_key'; valid parameters: .*radius_m"),
    (["--set", "surface_condition=robin"], r"surface_condition.*allowed: one of 'concentration', 'flux'"),
    (["--set", "radius_m=big"], r"radius_m.*must be a number"),
    (["--set", "element_degree=3"], r"element_degree.*allowed: one of 1, 2"),
    (["--set", "surface_condition=flux", "--set", "flux_mol_m2_s=1"], r"flux_mol_m2_s.*allowed range"),
    (["--config", "does_not_exist.toml"], r"config file 'does_not_exist.toml' not found"),
])
def test_bad_input_exits_2_with_message(args, pattern, tmp_path):
    r = solidion("run", "sphere_diffusion", "--out", tmp_path / "o", *args, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr  # one line, no traceback
    assert re.search(pattern, lines[0]), lines[0]
    # nothing was run: no output directory
    assert not (tmp_path / "o").exists()


def test_debug_shows_traceback(tmp_path):
    r = solidion("run", "--debug", "--set", "radius_m=-1", "--out", tmp_path / "o")
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_unknown_problem():
    r = solidion("run", "no_such_problem")
    assert r.returncode == 2 and "unknown problem 'no_such_problem'; available:" in r.stderr


def test_list_info_help():
    r = solidion("list")
    assert r.returncode == 0 and "sphere_diffusion" in r.stdout and "(default)" in r.stdout
    r = solidion("info")
    assert r.returncode == 0
    for key in ("solidion", "dolfinx", "petsc", "mpi_size"):
        assert key in r.stdout
    assert "0.9" in r.stdout
    for cmd in (["--help"], ["run", "--help"], ["list", "--help"], ["info", "--help"]):
        r = solidion(*cmd)
        assert r.returncode == 0 and "usage: solidion" in r.stdout
    r = solidion("params", "sphere_diffusion")
    assert r.returncode == 0 and "radius_m" in r.stdout and "[m]" in r.stdout


def test_config_file_set_override_and_petsc_options(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[parameters]\nradius_m = 2e-6\nt_end_s = 20.0\nmesh_size = 0.3\n'
                   'dt_s = 1.0\ndt_max_s = 5.0\n')
    out = tmp_path / "out"
    r = solidion("run", "sphere_diffusion", "--config", cfg, "--set", "t_end_s=10.0", "--out", out,
                 "--", "-snes_monitor", "-ksp_type", "gmres")
    assert r.returncode == 0, r.stderr
    assert "SNES Function norm" in r.stdout  # -snes_monitor reached the solver
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "ok"
    assert s["parameters"]["radius_m"] == 2e-6 and s["parameters"]["t_end_s"] == 10.0
    assert s["steps"] > 0 and s["newton_iterations"] >= s["steps"] and s["krylov_iterations"] > 0
    for key in ("versions", "mesh", "wall_time_s", "mpi_size"):
        assert key in s
    header = (out / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "t_s"
    assert all(re.search(r"_(mol_m3|mol_s|mol|s|rel_error)$", h) for h in header), header


def test_progress_line_and_quiet(tmp_path):
    r = solidion("run", "--set", "t_end_s=10.0", "--set", "mesh_size=0.3", "--out", tmp_path / "a")
    assert r.returncode == 0 and re.search(r"step\s+\d+\s+t = .* s\s+dt = .*ETA", r.stdout)
    r = solidion("run", "--quiet", "--set", "t_end_s=10.0", "--set", "mesh_size=0.3", "--out", tmp_path / "b")
    assert r.returncode == 0 and r.stdout.strip() == ""


def test_newton_failure_is_reported(tmp_path):
    # Forcing SNES to zero iterations makes every step fail: the run must stop
    # cleanly with status failed, a reason, exit 1, and no NaN in its outputs.
    out = tmp_path / "f"
    r = solidion("run", "--quiet", "--set", "t_end_s=10.0", "--set", "mesh_size=0.3", "--out", out,
                 "--", "-snes_max_it", "0", "-snes_error_if_not_converged", "0")
    assert r.returncode == 1, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and "did not converge" in s["reason"]
    assert "nan" not in (out / "timeseries.csv").read_text().lower()


def test_exception_on_one_rank_ends_the_job(tmp_path):
    # From the serial suite: mpirun -n 2 where rank 1 raises while rank 0
    # waits in a collective.  The job must end (not hang) with a nonzero status.
    import subprocess
    import sys
    script = tmp_path / "boom.py"
    script.write_text(
        "from mpi4py import MPI\n"
        "from fem.mpi import abort_on_exception\n"
        "comm = MPI.COMM_WORLD\n"
        "try:\n"
        "    if comm.rank == 1:\n"
        "        raise RuntimeError('boom on rank 1')\n"
        "    comm.barrier()\n"
        "except Exception as e:\n"
        "    abort_on_exception(comm, e)\n")
    r = subprocess.run(["mpirun", "-n", "2", sys.executable, str(script)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "boom on rank 1" in r.stderr


def test_mesh_describe_and_quiet(tmp_path):
    r = solidion("mesh", "sphere", "--describe")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("sphere(radius_m") and "comm" not in first and "object at 0x" not in first, first
    r = solidion("mesh", "sphere", "--quiet", "--set", "radius_m=1e-6", "--set", "h=0.5", "--out", tmp_path / "s.xdmf")
    assert r.returncode == 0 and r.stdout == "", (r.stdout, r.stderr)
    assert (tmp_path / "s.xdmf").is_file()


def test_params_file_and_electrode_flags(tmp_path):
    """``--params-file FILE --electrode E`` = ``--set bpx_file=FILE --set bpx_electrode=E``;
    ``--electrode`` alone is refused (exit 2, one line)."""
    from pathlib import Path
    example = Path(__file__).resolve().parents[1] / "examples" / "bpx_chen2020.json"
    fast = ["--set", "geometry='sphere'", "--set", "mesh_size=0.5", "--set", "fields_every=0",
            "--set", "section_plot=false", "--set", "t_end_s=10.0", "--set", "cutoff_voltage_V=0.01", "--quiet"]
    r = solidion("run", "particle_discharge", "--params-file", example, "--electrode", "negative",
                 "--out", tmp_path / "o", *fast, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["status"] == "ok"
    assert s["parameters"]["bpx_file"] == str(example) and s["parameters"]["bpx_electrode"] == "negative"
    r = solidion("run", "particle_discharge", "--electrode", "negative", "--out", tmp_path / "x", timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == (
        "solidion: error: --electrode needs --params-file FILE.json (the BPX file it selects from)")
    assert not (tmp_path / "x").exists()
