"""Global integrals of UFL expressions (compiled once, assembled on demand)."""

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
