"""Newton solves through PETSc SNES (the DOLFINx 0.9 pattern).

DOLFINx 0.9 has no SNES-based ``NonlinearProblem``; following
``python/test/unit/nls/test_newton.py`` of DOLFINx 0.9, :class:`SNESSolver`
holds compiled residual and Jacobian forms and assembles them in SNES's F and
J callbacks.  Forms are compiled once; each Newton step only assembles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ufl
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc as fem_petsc

from fem import petsc_options


@dataclass
class SolveStats:
    """Outcome of one nonlinear solve."""

    converged: bool
    newton_iterations: int
    krylov_iterations: int
    reason: str


#: Newton defaults shared by :class:`SNESSolver` and :class:`fem.galvanostatic.BorderedNewton`
NEWTON_RTOL, NEWTON_ATOL, NEWTON_MAX_IT = 1e-10, 1e-12, 25
NON_FINITE = "non-finite iterate"


def all_finite(u: dolfinx.fem.Function) -> bool:
    """True when every value of ``u`` (ghosts included) is finite on every rank (collective)."""
    return bool(u.function_space.mesh.comm.allreduce(bool(np.isfinite(u.x.array).all()), op=_mpi_land()))


def residual_converged(norm: float, norm0: float, rtol: float = NEWTON_RTOL, atol: float = NEWTON_ATOL,
                       floor: float = 0.0) -> bool:
    """The residual test of SNES's default convergence test, ``||F|| <= max(rtol ||F_0||, atol)``,
    with an optional round-off ``floor`` (for Newton loops written outside SNES)."""
    return norm <= max(rtol * norm0, atol, floor)


def checked_stats(u: dolfinx.fem.Function, converged: bool, its: int, kits: int, reason: str) -> SolveStats:
    """SolveStats of a finished Newton solve, failed (reason ``non-finite iterate``) unless
    ``u`` is finite on every rank (collective)."""
    finite = all_finite(u)
    return SolveStats(bool(converged) and finite, its, kits, reason if finite else NON_FINITE)


_SNES_REASONS = {v: k for k, v in vars(PETSc.SNES.ConvergedReason).items() if isinstance(v, int)}


class SNESSolver:
    """Solve F(u; v) = 0 for ``u`` with PETSc SNES.

    Parameters
    ----------
    F : UFL residual form, linear in the test function.
    u : the unknown (any function space, mixed spaces included).
    bcs : Dirichlet conditions.
    J : Jacobian form; default is the Gateaux derivative of F.
    prefix : PETSc options prefix for this solver.
    options : default PETSc options (user options from the CLI override).
    """

    def __init__(self, F, u: dolfinx.fem.Function, bcs=(), J=None, *, prefix="solidion_",
                 options=None, form_compiler_options=None, jit_options=None):
        self.u = u
        self.bcs = list(bcs)
        V = u.function_space
        if J is None:
            J = ufl.derivative(F, u, ufl.TrialFunction(V))
        kw = dict(form_compiler_options=form_compiler_options, jit_options=jit_options)
        self.L = dolfinx.fem.form(F, **kw)
        self.a = dolfinx.fem.form(J, **kw)
        self.b = fem_petsc.create_vector(self.L)
        self.A = fem_petsc.create_matrix(self.a)
        self.x = fem_petsc.create_vector(self.L)

        comm = V.mesh.comm
        self.snes = PETSc.SNES().create(comm)
        self.snes.setOptionsPrefix(prefix)
        petsc_options.register_prefix(prefix)
        defaults = {"snes_type": "newtonls", "snes_linesearch_type": "basic",
                    "snes_rtol": NEWTON_RTOL, "snes_atol": NEWTON_ATOL, "snes_stol": 0.0,
                    "snes_max_it": NEWTON_MAX_IT, "snes_error_if_not_converged": False}
        options = dict(options or {})
        if "pc_type" not in options and "ksp_type" not in options:
            defaults.update(petsc_options.direct_lu())
        defaults.update(options)
        petsc_options.apply(prefix, defaults)
        self.snes.setFunction(self._F, self.b)
        self.snes.setJacobian(self._J, self.A)
        self.snes.setFromOptions()
        self.snes.getKSP().setFromOptions()
        self.total_newton = 0
        self.total_krylov = 0
        self._jacobian_built = False
        self._reuse_jacobian = False
        self._callback_error: BaseException | None = None
        # wall-clock split: residual + Jacobian assembly vs the rest of SNES (linear solves)
        self.time_assembly = 0.0
        self.time_total = 0.0

    # SNES callbacks ------------------------------------------------------
    # An exception raised inside a callback (a bug, or a fault on one rank) is
    # kept and re-raised by :meth:`solve`: PETSc would report it as an error
    # code on this rank only, which must never be taken for a solver failure
    # (the step would be retried while the other ranks wait in a collective).
    def _F(self, snes, x, F):
        try:
            self._assemble_F(x, F)
        except BaseException as e:
            self._callback_error = e
            raise

    def _J(self, snes, x, J, P):
        try:
            self._assemble_J(x, J)
        except BaseException as e:
            self._callback_error = e
            raise

    def _assemble_F(self, x, F):
        tic = time.perf_counter()
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        x.copy(self.u.x.petsc_vec)
        self.u.x.scatter_forward()
        with F.localForm() as f_local:
            f_local.set(0.0)
        self._assemble_residual(F, x)
        F.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(F, self.bcs, x, -1.0)
        self.time_assembly += time.perf_counter() - tic

    def _assemble_J(self, x, J):
        if self._reuse_jacobian:
            return
        self._jacobian_built = True
        tic = time.perf_counter()
        J.zeroEntries()
        self._assemble_matrix(J)
        J.assemble()
        self.time_assembly += time.perf_counter() - tic

    # The two assembly calls; a solver with constraints (fem.periodic) replaces only these.
    def _assemble_residual(self, F, x):
        """F += residual, lifted by the Dirichlet conditions (u already holds x)."""
        fem_petsc.assemble_vector(F, self.L)
        fem_petsc.apply_lifting(F, [self.a], bcs=[self.bcs], x0=[x], alpha=-1.0)

    def _assemble_matrix(self, J):
        fem_petsc.assemble_matrix(J, self.a, bcs=self.bcs)

    # ---------------------------------------------------------------------
    def solve(self, reuse_jacobian: bool = False) -> SolveStats:
        """Newton solve from the current value of ``u``; ``u`` holds the result.

        ``reuse_jacobian=True`` keeps the Jacobian (and its preconditioner, e.g.
        the AMG hierarchy) of the previous solve: right for a linear problem
        whose operator has not changed (same time step); never for a
        nonlinear one.

        On divergence (or a non-finite iterate) ``u`` is left as SNES left it;
        the caller restores the previous state and cuts the step.
        """
        # An untouched matrix keeps its PETSc object state, so KSP also keeps
        # the preconditioner built for it.
        self._reuse_jacobian = bool(reuse_jacobian) and self._jacobian_built
        self.u.x.scatter_forward()
        self.u.x.petsc_vec.copy(self.x)
        tic = time.perf_counter()
        self._callback_error = None
        try:
            self.snes.solve(None, self.x)
        except PETSc.Error as e:  # e.g. a factorization failure
            if self._callback_error is not None:
                raise self._callback_error from None
            return SolveStats(False, self.snes.getIterationNumber(), 0, f"PETSc error {e.ierr}")
        finally:
            self.time_total += time.perf_counter() - tic
        if self._callback_error is not None:
            raise self._callback_error
        reason = self.snes.getConvergedReason()
        its = self.snes.getIterationNumber()
        kits = self.snes.getLinearSolveIterations()
        self.x.copy(self.u.x.petsc_vec)
        self.u.x.scatter_forward()
        self.total_newton += its
        self.total_krylov += kits
        return checked_stats(self.u, reason > 0, its, kits, _SNES_REASONS.get(reason, str(reason)))

    def timings(self) -> dict[str, float]:
        """Seconds spent in SNES: assembly (F and J) and the rest (linear solves, line search)."""
        return {"snes_s": self.time_total, "assembly_s": self.time_assembly,
                "linear_solve_s": self.time_total - self.time_assembly}

    def destroy(self):
        for obj in (self.snes, self.A, self.b, self.x):
            obj.destroy()


def _mpi_land():
    from mpi4py import MPI
    return MPI.LAND
