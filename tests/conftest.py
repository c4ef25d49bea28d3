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

# pytest.approx(x, rel=r) also accepts |error| <= 1e-12 (its default abs), which makes every
# relative check of an SI quantity below ~1e-10 (volumes in m^3, areas in m^2, D in m^2/s)
# vacuous. In this suite a relative tolerance means relative: abs defaults to 0 when rel is
# given. pytest.approx(x) without rel keeps pytest's defaults (rel 1e-6, abs 1e-12).
_pytest_approx = pytest.approx


def _approx(expected, rel=None, abs=None, nan_ok=False):  # noqa: A002 (pytest's names)
    if rel is not None and abs is None:
        abs = 0.0  # noqa: A001
    return _pytest_approx(expected, rel=rel, abs=abs, nan_ok=nan_ok)


pytest.approx = _approx


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
