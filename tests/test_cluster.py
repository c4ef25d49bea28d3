"""Cluster-grade behaviour through the CLI (issue 11): restart after kill -9,
signals, output directories, a fault on one MPI rank."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, solidion
from restart_util import assert_same_run, checkpoint_step, kill_and_restart, read_run, wait_for_checkpoint

SMALL = ["mesh_size=0.3", "t_end_s=200.0", "dt_max_s=5.0"]
SETS = [x for s in SMALL for x in ("--set", s)]


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO))


@pytest.mark.parametrize("mpi", [None, 2])
def test_kill9_and_restart_gives_the_uninterrupted_run(tmp_path, mpi):
    A, B = kill_and_restart("sphere_diffusion", tmp_path, SMALL, every=5, kill_after_step=15, mpi=mpi)
    assert_same_run(A, B, rtol=1e-10)
    assert B[0]["restarted_from_step"] >= 15 and B[0]["mpi_size"] == (mpi or 1)


def test_restart_on_another_rank_count(tmp_path):
    # checkpoints are partition independent (adios4dolfinx, input ordering):
    # a 1-rank checkpoint continues on 2 ranks to the same result up to round-off
    A = tmp_path / "A"
    r = solidion("run", "--quiet", "--out", A, *SETS)
    assert r.returncode == 0, r.stderr
    B = tmp_path / "B"
    r = solidion("run", "--quiet", "--out", B, "--checkpoint-every", "10", *SETS, "--set", "t_end_s=100.0")
    assert r.returncode == 0, r.stderr
    r = solidion("restart", B, "--quiet", "--set", "t_end_s=200.0", mpi=2)
    assert r.returncode == 0, r.stderr
    (sa, ta), (sb, tb) = read_run(A), read_run(B)
    assert sb["restarted_from_mpi_size"] == 1 and sb["mpi_size"] == 2
    assert len(ta["t_s"]) == len(tb["t_s"])
    for col in ("t_s", "c_mean_mol_m3", "c_center_mol_m3", "moles_mol"):
        assert max(abs(x - y) for x, y in zip(ta[col], tb[col])) <= 1e-9 * max(abs(v) for v in ta[col]), col


def test_restart_extends_the_end_time(tmp_path):
    out = tmp_path / "r"
    r = solidion("run", "--quiet", "--out", out, "--checkpoint-every", "1", *SETS)
    assert r.returncode == 0, r.stderr
    r = solidion("restart", out, "--quiet", "--set", "t_end_s=300.0")
    assert r.returncode == 0, r.stderr
    s, ts = read_run(out)
    assert s["status"] == "ok" and s["parameters"]["t_end_s"] == 300.0
    assert ts["t_s"][-1] == pytest.approx(300.0) and ts["t_s"].count(200.0) == 1


def test_restart_without_checkpoint_is_refused(tmp_path):
    r = solidion("restart", tmp_path)
    assert r.returncode == 2 and "not a solidion run directory" in r.stderr


def _start_long_run(out, settle_s: float, launcher=()):
    """A long default run started in the background, returned once its main stage has written a
    checkpoint (step 2; sphere_diffusion's unrecorded start-up sub-steps come first) plus settle_s."""
    cmd = [*launcher, sys.executable, "-m", "solidion", "run", "--quiet", "--out", str(out),
           "--set", "mesh_size=0.3", "--set", "t_end_s=1e5", "--set", "dt_max_s=5.0", "--checkpoint-every", "2"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(proc, out, 2, timeout=120)
    time.sleep(settle_s)
    return proc


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGUSR1, 138)])
def test_signal_checkpoints_and_ends_interrupted(tmp_path, sig, status):
    out = tmp_path / "s"
    proc = _start_long_run(out, settle_s=1.0)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and signal.Signals(sig).name in s["reason"]
    assert s["signal"] == signal.Signals(sig).name
    assert checkpoint_step(out) == s["steps"] >= 2
    assert "nan" not in (out / "timeseries.csv").read_text().lower()
    # and the run can be continued from there (shortened end time)
    r = solidion("restart", out, "--quiet", "--set", "t_end_s=400.0")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "ok"


def test_sigterm_to_mpirun_leaves_an_interrupted_restartable_run(tmp_path):
    """`kill -TERM` on mpirun itself (a user's Ctrl-C / a scheduler cancelling the launcher): mpirun
    forwards the signal and then kills the ranks, maybe before the last fields and pictures are
    written; the summary must already say interrupted, with a complete checkpoint to restart from."""
    out = tmp_path / "m"
    proc = _start_long_run(out, settle_s=2.0, launcher=["mpirun", "-n", "2"])
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["signal"] == "SIGTERM", s["status"]
    assert checkpoint_step(out) == s["steps"] >= 2
    r = solidion("restart", out, "--quiet", "--set", "t_end_s=400.0")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "ok"


def test_real_solver_failure_stays_failed(tmp_path):
    out = tmp_path / "f"
    r = solidion("run", "--quiet", "--out", out, *SETS, "--", "-snes_max_it", "0")
    assert r.returncode == 1
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"


def test_output_directory_in_use_or_finished_is_refused(tmp_path):
    out = tmp_path / "o"
    r = solidion("run", "--quiet", "--out", out, *SETS)
    assert r.returncode == 0
    r = solidion("run", "--quiet", "--out", out, *SETS)
    assert r.returncode == 2 and "holds an earlier run (status ok); use --overwrite" in r.stderr
    stale = out / "plots" / "stale_from_another_problem.png"
    stale.write_bytes(b"x")
    r = solidion("run", "--quiet", "--out", out, "--overwrite", *SETS)
    assert r.returncode == 0 and not stale.exists()
    # a live run holds the directory
    cmd = [sys.executable, "-m", "solidion", "run", "--quiet", "--out", str(tmp_path / "live"),
           "--set", "mesh_size=0.3", "--set", "t_end_s=1e5"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (tmp_path / "live" / "summary.json").exists():
            time.sleep(0.1)
        r = solidion("run", "--quiet", "--out", tmp_path / "live", "--overwrite", *SETS)
        assert r.returncode == 2 and "in use by a running solidion job" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    finally:
        proc.kill()
        proc.wait()


def test_unwritable_out_and_bad_petsc_option_exit_2(tmp_path):
    r = solidion("run", "--out", "/proc/x", *SETS)
    assert r.returncode == 2 and "--out /proc/x: not a writable directory" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = solidion("run", "--out", tmp_path / "p", *SETS, "--", "-ksp_type", "nonsense")
    assert r.returncode == 2 and "unknown KSP type 'nonsense'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "p").exists()
    r = solidion("run", "--out", tmp_path / "p", *SETS, "--", "-ksp_rtol", "tiny")
    assert r.returncode == 2 and "'-ksp_rtol' needs a number" in r.stderr


def test_list_into_a_closed_pipe_and_versions_without_nul(tmp_path):
    r = subprocess.run(f"{sys.executable} -m solidion list | head -1", shell=True, cwd=REPO, env=_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 1
    out = tmp_path / "v"
    assert solidion("run", "--quiet", "--out", out, *SETS).returncode == 0
    text = (out / "summary.json").read_text()
    assert "\\u0000" not in text and "\x00" not in text


FAULT = """
import sys
from mpi4py import MPI
import dolfinx.fem, dolfinx.fem.petsc
import fem.output
where = sys.argv[1]
calls = [0]
def after(n, func):
    def patched(*a, **k):
        calls[0] += 1
        if calls[0] > n:
            raise RuntimeError(f"injected fault ({where})")
        return func(*a, **k)
    return patched
if MPI.COMM_WORLD.rank == 1:
    if where == "setup":
        dolfinx.fem.form = after(0, dolfinx.fem.form)
    elif where == "loop":
        dolfinx.fem.petsc.assemble_vector = after(8, dolfinx.fem.petsc.assemble_vector)
    elif where == "output":
        fem.output.ScaledVTX.write = after(2, fem.output.ScaledVTX.write)
from solidion.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("where", ["setup", "loop", "output"])
def test_fault_on_one_rank_ends_the_job_quickly(tmp_path, where):
    script = tmp_path / "fault.py"
    script.write_text(FAULT)
    out = tmp_path / "o"
    cmd = ["mpirun", "-n", "2", sys.executable, str(script), where, "run", "--quiet", "--out", str(out),
           "--set", "mesh_size=0.3", "--set", "t_end_s=1e4", "--set", "fields_every=1"]
    tic = time.time()
    r = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120)
    elapsed = time.time() - tic
    assert r.returncode != 0
    assert f"error on rank 1: RuntimeError: injected fault ({where})" in r.stderr
    assert elapsed < 30, f"job took {elapsed:.1f} s to end"
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "failed" and "on rank 1" in s["reason"]


def test_output_times_are_hit_exactly(tmp_path):
    out = tmp_path / "t"
    r = solidion("run", "--quiet", "--out", out, *SETS, "--set", "output_times_s=[12.345, 100.0, 150.5]")
    assert r.returncode == 0, r.stderr
    s, ts = read_run(out)
    for t in (12.345, 100.0, 150.5, 200.0):
        assert min(abs(x - t) for x in ts["t_s"]) <= 1e-9 * t, t
    marked = [t for t, m in zip(ts["t_s"], ts["at_output_time"]) if m == 1.0]
    assert marked == pytest.approx([12.345, 100.0, 150.5])
    r = solidion("run", "--quiet", "--out", tmp_path / "bad", *SETS, "--set", "output_times_s=[-1.0]")
    assert r.returncode == 2 and "output_times_s" in r.stderr
