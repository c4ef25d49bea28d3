"""Kill-and-restart checks shared by the physics tests.

:func:`kill_and_restart` runs a problem twice through the CLI: once
uninterrupted (A), once killed with SIGKILL right after its checkpoint at
step ``kill_after_step`` and then continued with ``solidion restart`` (B); it
returns both summaries and time series so a test can assert that B ends with
the same observables (to ~1e-10) and the same step count as A.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO


def _cmd(args, mpi):
    cmd = [sys.executable, "-m", "solidion", *map(str, args)]
    return ["mpirun", "-n", str(mpi), *cmd] if mpi else cmd


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO))


def read_run(path: Path) -> tuple[dict, dict]:
    summary = json.loads((path / "summary.json").read_text())
    with open(path / "timeseries.csv") as f:
        rows = list(csv.reader(f))
    series = {c: [float(r[i]) for r in rows[1:]] for i, c in enumerate(rows[0])}
    return summary, series


def checkpoint_step(run_dir: Path) -> int:
    try:
        return int(json.loads((run_dir / "checkpoint" / "meta.json").read_text())["step"])
    except (OSError, ValueError, KeyError):
        return -1


def wait_for_checkpoint(proc, run_dir: Path, step: int, timeout: float) -> None:
    end = time.time() + timeout
    while checkpoint_step(run_dir) < step:
        if proc.poll() is not None:
            raise AssertionError(f"run ended (status {proc.returncode}) before checkpoint step {step}")
        if time.time() > end:
            raise AssertionError(f"no checkpoint at step {step} within {timeout} s")
        time.sleep(0.02)


def kill_tree(proc) -> None:
    """kill -9 a job: the launcher (mpirun) and every process below it (the ranks)."""
    import psutil
    try:
        procs = [psutil.Process(proc.pid)]
        procs += procs[0].children(recursive=True)
    except psutil.NoSuchProcess:
        procs = []
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=30)
    proc.wait()


def run_job(cmd, timeout: float) -> subprocess.CompletedProcess:
    """Run ``cmd`` (possibly mpirun); on timeout kill the whole process tree, ranks included."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=_env(), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def kill_and_restart(problem: str, tmp: Path, sets: list[str], every: int, kill_after_step: int,
                     mpi: int | None = None, timeout: float = 300):
    """Returns ((summary_A, series_A), (summary_B, series_B))."""
    sets = [x for s in sets for x in ("--set", s)]
    a, b = tmp / "uninterrupted", tmp / "restarted"
    r = run_job(_cmd(["run", problem, "--quiet", "--out", a, "--checkpoint-every", every, *sets], mpi), timeout)
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen(_cmd(["run", problem, "--quiet", "--out", b, "--checkpoint-every", every, *sets], mpi),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=_env(),
                            start_new_session=True)
    try:
        wait_for_checkpoint(proc, b, kill_after_step, timeout)
    finally:
        kill_tree(proc)
    assert checkpoint_step(b) >= kill_after_step
    r = run_job(_cmd(["restart", b, "--quiet"], mpi), timeout)
    assert r.returncode == 0, r.stderr
    return read_run(a), read_run(b)


def assert_same_run(A, B, rtol: float = 1e-10) -> None:
    (sa, ta), (sb, tb) = A, B
    assert sa["status"] == sb["status"] == "ok", (sa["reason"], sb["reason"])
    assert sb.get("restarts", 0) >= 1
    assert sa["steps"] == sb["steps"] and sa["rejected_steps"] == sb["rejected_steps"]
    assert list(ta) == list(tb)
    for col in ta:
        assert len(ta[col]) == len(tb[col]), col
        # error columns are round-off sized numbers themselves: compared absolutely
        scale = 1.0 if ("error" in col or "rel_change" in col) else max(max(abs(v) for v in ta[col]), 1e-300)
        worst = max(abs(x - y) for x, y in zip(ta[col], tb[col])) / scale
        assert worst <= rtol, f"{col}: max relative difference {worst:.3e}"


def restart_from_copy(problem: str, root: Path, comm, every: int, remove=("timeseries.csv",), **params):
    """In-process (so also under mpirun): run A with checkpoints every ``every`` steps; B = a
    copy of A's directory as a run killed after its last checkpoint would have left it
    (``remove``d files gone), continued with :func:`solidion.restart`.  Returns (A, B, step)
    summaries and the checkpoint step."""
    import shutil

    from solidion import restart, run
    a = run(problem, out=root / "A", comm=comm, quiet=True, checkpoint_every=every, **params)
    assert a["status"] == "ok", a["reason"]
    if comm.rank == 0:
        shutil.copytree(root / "A", root / "B")
        for name in remove:
            (root / "B" / name).unlink()
    comm.barrier()
    step = checkpoint_step(root / "B")
    assert 0 < step < a["steps"]
    b = restart(root / "B", comm=comm, quiet=True)
    assert b["status"] == "ok" and b["restarted_from_step"] == step
    return a, b, step
