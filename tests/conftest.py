"""Shared test helpers.

Serial tests run with ``pytest -m "not mpi"`` (two xdist workers); tests
marked ``mpi`` run under ``mpirun -n 2 python3 -m pytest -m mpi`` and compare
a run on COMM_WORLD (distributed) with the same run on COMM_SELF (serial, on
every rank).  See ``tests/run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mpi4py import MPI

REPO = Path(__file__).resolve().parents[1]


def solidion(*args, timeout=600, cwd=None, mpi: int | None = None):
    """Run the solidion CLI in a subprocess; returns CompletedProcess (text)."""
    cmd = [sys.executable, "-m", "solidion", *map(str, args)]
    if mpi:
        cmd = ["mpirun", "-n", str(mpi), *cmd]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or REPO, env=env)


@pytest.fixture
def comm_world():
    return MPI.COMM_WORLD


@pytest.fixture
def shared_tmp_path(tmp_path_factory):
    """A temporary directory with the same path on every MPI rank."""
    comm = MPI.COMM_WORLD
    path = str(tmp_path_factory.mktemp("shared")) if comm.rank == 0 else None
    return Path(comm.bcast(path, root=0))


def pytest_collection_modifyitems(config, items):
    # Under mpirun only tests marked mpi are meaningful; a test marked mpi run
    # serially still passes (it compares COMM_WORLD = COMM_SELF runs).
    if MPI.COMM_WORLD.size > 1:
        skip = pytest.mark.skip(reason="serial test (run without mpirun)")
        for item in items:
            if "mpi" not in item.keywords:
                item.add_marker(skip)
