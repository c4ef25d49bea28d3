"""docker/slurm-example.sh: the wall-time signal makes a checkpoint and a requeue; the
requeued job continues with `solidion restart`.  Slurm is stubbed (srun runs the
command, scontrol records the requeue)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

SCRIPT = REPO / "docker" / "slurm-example.sh"


def _stubs(tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "srun").write_text('#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n')
    (bin_ / "scontrol").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/scontrol.log\n')
    for f in bin_.iterdir():
        f.chmod(0o755)
    return bin_


def _env(tmp_path, bin_, restart_count):
    cfg = tmp_path / "run.toml"
    cfg.write_text("[parameters]\nmesh_size = 0.4\nt_end_s = 30.0\ndt_max_s = 0.1\n")
    return dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}", PYTHONPATH=str(REPO),
                SLURM_JOB_ID="4242", SLURM_RESTART_COUNT=str(restart_count),
                OUT=str(tmp_path / "out"), CONFIG=str(cfg), CHECKPOINT_EVERY="20",
                SOLIDION=f"{sys.executable} -m solidion")


@pytest.mark.skipif(sys.platform != "linux", reason="bash job script")
def test_wall_time_signal_checkpoints_requeues_and_restarts(tmp_path):
    bin_ = _stubs(tmp_path)
    out = tmp_path / "out"
    job = subprocess.Popen(["bash", str(SCRIPT)], env=_env(tmp_path, bin_, 0), cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while not (out / "checkpoint" / "meta.json").exists():  # the time loop is running
        assert job.poll() is None, job.communicate()[0]
        assert time.time() < deadline, "no periodic checkpoint"
        time.sleep(0.2)
    job.send_signal(signal.SIGUSR1)  # what --signal=B:USR1@300 does
    log, _ = job.communicate(timeout=240)
    assert job.returncode == 0, log
    assert "requeueing job 4242" in log, log
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and s["signal"] == "SIGUSR1", s
    assert s["t_final_s"] < 30.0

    # the requeued job: same job id and output directory, continues from the checkpoint
    r = subprocess.run(["bash", str(SCRIPT)], env=_env(tmp_path, bin_, 1), cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "solidion restart" in r.stdout and "finished" in r.stdout, r.stdout
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "ok" and s["restarts"] == 1 and s["t_final_s"] == pytest.approx(30.0), s
    assert (tmp_path / "scontrol.log").read_text().split() == ["requeue", "4242"]  # no second requeue
