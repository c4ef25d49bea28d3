"""Periodic boundary conditions through multi-point constraints (dolfinx_mpc 0.9).

:func:`periodic_box_constraint` builds a finalized
:class:`dolfinx_mpc.MultiPointConstraint` that makes every (sub)space of a
function space periodic on an axis-aligned box [lo, hi] (any subset of the axes).
A dof on a face x_i = hi_i is a *slave* of the dof at x_i = lo_i; dofs on
several "hi" faces (edges, corners) are tied directly to the all-"lo" image, so
no master is itself a slave.  Mixed spaces: the constraint is built per
sub-space (``W.sub(i)``) and collected in the one MPC (what dolfinx_mpc's
``create_periodic_constraint_geometrical`` supports for sub-spaces).

Unknowns and forms then live on ``mpc.function_space`` (the same element with
the masters added as ghosts).  :class:`MPCSNESSolver` is :class:`fem.solver.SNESSolver`
with dolfinx_mpc's assembly: matrix with the constrained sparsity pattern,
residual and Jacobian of the reduced system (slave rows: identity / zero), and
backsubstitution of the slave values before every assembly and after the
solve, so ``u`` always satisfies the constraint.  Nothing else of
:class:`SNESSolver` changes.
"""

from __future__ import annotations


import numpy as np

import dolfinx.cpp
import dolfinx.la

from fem.solver import SNESSolver


def _import_mpc():
    try:
        import dolfinx_mpc
    except ImportError as e:  # pragma: no cover
        raise ImportError("periodic boundaries need dolfinx_mpc (Debian: python3-dolfinx-mpc)") from e
    return dolfinx_mpc


def periodic_box_constraint(W, lo, hi, axes=None, tol=None):
    """Finalized MPC making every sub-space of ``W`` (or ``W`` itself) periodic on the box
    [lo, hi] along ``axes`` (default: all axes of ``lo``)."""
    dolfinx_mpc = _import_mpc()
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    axes = list(range(len(lo))) if axes is None else list(axes)
    tol = 1e-8 * float(np.max(hi - lo)) if tol is None else tol
    mpc = dolfinx_mpc.MultiPointConstraint(W)
    n_sub = W.num_sub_spaces
    spaces = [W.sub(i) for i in range(n_sub)] if n_sub else [W]
    # every non-empty subset S of the periodic axes: dofs with x_i = hi_i exactly for i in S
    # (and x_j < hi_j for the other periodic axes) map to x_i - (hi_i - lo_i) for i in S
    subsets = [[a for k, a in enumerate(axes) if m >> k & 1] for m in range(1, 2 ** len(axes))]
    for S in subsets:
        others = [a for a in axes if a not in S]

        def indicator(x, S=S, others=others):
            on = np.ones(x.shape[1], dtype=bool)
            for a in S:
                on &= np.isclose(x[a], hi[a], atol=tol)
            for a in others:
                on &= x[a] < hi[a] - tol
            return on

        def relation(x, S=S):
            y = x.copy()
            for a in S:
                y[a] = x[a] - (hi[a] - lo[a])
            return y

        for V in spaces:
            mpc.create_periodic_constraint_geometrical(V, indicator, relation, [])
    mpc.finalize()
    return mpc


class MPCSNESSolver(SNESSolver):
    """:class:`fem.solver.SNESSolver` for unknowns on ``mpc.function_space`` (see the module
    docstring); Dirichlet conditions ``bcs`` as in dolfinx_mpc."""

    def __init__(self, F, u, mpc, bcs=(), J=None, **kw):
        self.mpc = mpc
        if u.function_space is not mpc.function_space:
            raise ValueError("u must live on mpc.function_space")
        super().__init__(F, u, bcs, J, **kw)
        dolfinx_mpc = _import_mpc()
        V = mpc.function_space
        # vectors of the MPC index map (masters ghosted), matrix with the constrained pattern
        for obj in (self.A, self.b, self.x):
            obj.destroy()
        pattern = dolfinx_mpc.create_sparsity_pattern(self.a, mpc)
        pattern.finalize()
        self.A = dolfinx.cpp.la.petsc.create_matrix(V.mesh.comm, pattern)
        self.b = dolfinx.la.create_petsc_vector(V.dofmap.index_map, V.dofmap.index_map_bs)
        self.x = dolfinx.la.create_petsc_vector(V.dofmap.index_map, V.dofmap.index_map_bs)
        self.snes.setFunction(self._F, self.b)
        self.snes.setJacobian(self._J, self.A)
        self._mpc_lib = dolfinx_mpc

    def _assemble_residual(self, F, x):
        self.mpc.backsubstitution(self.u)  # slave values from the masters before assembly
        self._mpc_lib.assemble_vector(self.L, self.mpc, b=F)
        self._mpc_lib.apply_lifting(F, [self.a], [self.bcs], self.mpc, x0=[x], scale=-1.0)

    def _assemble_matrix(self, J):
        self._mpc_lib.assemble_matrix(self.a, self.mpc, bcs=self.bcs, A=J)

    def solve(self, reuse_jacobian: bool = False):
        self.mpc.backsubstitution(self.u)
        stats = super().solve(reuse_jacobian)
        self.mpc.backsubstitution(self.u)
        return stats
