"""Global integrals of UFL expressions (compiled once, assembled on demand) and global reductions."""

from __future__ import annotations

from mpi4py import MPI

import dolfinx.fem


class Integral:
    """Compiled scalar form; calling it assembles and sums over ranks."""

    def __init__(self, expr_measure, comm=None):
        self.form = dolfinx.fem.form(expr_measure)
        self.comm = comm or self.form.mesh.comm

    def __call__(self) -> float:
        return float(self.comm.allreduce(dolfinx.fem.assemble_scalar(self.form), op=MPI.SUM))


def integrate(expr_measure) -> float:
    """One-off global integral."""
    return Integral(expr_measure)()


def allreduce_array(comm, values, op=MPI.SUM):
    """Element-wise reduction of a float array over the ranks (one collective)."""
    import numpy as np
    a = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty_like(a)
    comm.Allreduce(a, out, op=op)
    return out
