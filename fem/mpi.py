"""MPI helpers: rank-0 printing and ending the whole job on an exception."""

from __future__ import annotations

import sys
import traceback

from mpi4py import MPI


def rank0_print(comm, *args, **kwargs):
    if comm.rank == 0:
        print(*args, **kwargs, flush=True)


def abort_on_exception(comm, exc: BaseException, debug: bool = False) -> None:
    """Report ``exc`` from this rank and end every rank (no hang under mpirun)."""
    msg = f"solidion: error on rank {comm.rank}: {type(exc).__name__}: {exc}"
    print(msg, file=sys.stderr, flush=True)
    if debug:
        traceback.print_exc()
    if comm.size > 1:
        comm.Abort(1)
    sys.exit(1)


def all_ok(comm, ok: bool) -> bool:
    """True on every rank iff ``ok`` on every rank (collective)."""
    return bool(comm.allreduce(bool(ok), op=MPI.LAND))


def install_excepthook() -> None:
    """Under MPI, an uncaught exception on any rank aborts the whole job.

    Python scripts that drive solidion directly (not through the CLI) would
    otherwise leave the other ranks waiting in a collective forever.
    """
    if MPI.COMM_WORLD.size == 1 or getattr(sys.excepthook, "_solidion", False):
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        print(f"solidion: uncaught {kind.__name__} on rank {MPI.COMM_WORLD.rank}: aborting the MPI job",
              file=sys.stderr, flush=True)
        MPI.COMM_WORLD.Abort(1)

    hook._solidion = True
    sys.excepthook = hook
