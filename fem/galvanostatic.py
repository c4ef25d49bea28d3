"""A field plus one global unknown tied by one scalar constraint (e.g. galvanostatic control).

    F(u, phi) = 0      the FEM residual of the field u (e.g. concentration), which
                       depends on the global unknown phi (e.g. the particle potential)
    G(u, phi) = 0      one scalar constraint (e.g. int_S i dS - I_app = 0)

Each Newton step solves the bordered (n+1) system

    [ J   b ] [du  ]   [F]        J = dF/du (FEM Jacobian), b = dF/dphi (vector),
    [ g^T h ] [dphi] = [G]        g = dG/du (vector), h = dG/dphi (scalar)

with ONE Krylov solve per Newton iteration (``-<prefix>bordered_solves one``, the default):
GMRES on the whole bordered (n+1) operator (a shell matrix: J u + b phi, g.u + h phi),
preconditioned by the same block elimination with the field preconditioner M ~ J^-1 (one
BoomerAMG V-cycle, or an exact LU) in place of J^-1,

    z = M b (once per Newton iteration),  s = h - g.z,
    P^-1 (r, rho):  y = M r,  dphi = (rho - g.y) / s,  du = y - z dphi,

i.e. Keller's bordering algorithm (H. B. Keller, "Numerical solution of bifurcation and
nonlinear eigenvalue problems", in Applications of Bifurcation Theory, Academic Press 1977;
W. Govaerts, Numerical Methods for Bifurcations of Dynamical Equilibria, SIAM 2000, ch. 3)
with J^-1 replaced by M, used as a preconditioner.  The preconditioned bordered operator is
diag(J M, 1) plus a rank-two term, so GMRES converges about as fast as on the field system
alone (in exact arithmetic a rank-k change adds at most k iterations to termination); each
iteration costs one product with J, one application of M and two inner products.  With an
exact M (LU) and ``ksp_type preonly`` this is the exact block elimination.  Measured
(tests/bench/bench_particle_amg.py, 50-grain particle, 1C, 5 fixed steps of 60 s, BoomerAMG
defaults): Krylov iterations per Newton iteration 10.8 / 13.9 / 18.9 with one solve against
23.4 / 29.2 / 38.6 with two, at 18k / 116k / 533k dofs (the last on 2 ranks), with the same
Newton iterations and final voltages equal to 1e-12 V; the Krylov time per step (wall) falls
by 43-62 %, the CPU time per step by 9-29 % (assembly of F and J is most of the rest).

``-<prefix>bordered_pc_lag N`` rebuilds M (the AMG hierarchy) at the first Newton iteration of
each solve and then every N iterations only (N = 1, the default :data:`PC_LAG_DEFAULT`: every
Newton iteration; N = 0: once per solve, i.e. per time step); the Krylov solve
still uses the exact current J (the shell operator), so the Newton iterates are unchanged up to
``ksp_rtol`` (tested: same Newton iterations, |dV| < 1e-12 V) and only the Krylov counts change.

``-<prefix>bordered_solves two`` keeps the earlier scheme (measured against it in
tests/bench/bench_particle_amg.py): block elimination with two Krylov solves on J (the
second reuses the preconditioner): J x1 = F, J x2 = b, dphi = (G - g.x1)/(h - g.x2),
du = x1 - x2 dphi.  Both are Newton with the exact Jacobian of (F, G); they differ only
in how the linear system is solved (to the same ``ksp_rtol``).  Converged when ||F|| <= max(rtol ||F_0||, atol, floor) (the
residual test of :class:`fem.solver.SNESSolver`, via
:func:`fem.solver.residual_converged`, plus a round-off floor from a
``scale_form``) and |G| <= constraint_tol (1 + |target|); a non-finite iterate fails the
solve (:func:`fem.solver.checked_stats`, shared with SNESSolver).  The test is
residual-based only: an update-based test would stop early when dt is small and
spoil the discrete mass balance.

Why not scifem's real function space with SNES (``scifem.create_real_functionspace``
+ a blocked system): the global unknown then becomes one more row and column of
the matrix, dense over the surface dofs and owned by one rank.  BoomerAMG on that
whole matrix loses its mesh-independent convergence (the dense row couples every
surface dof), so it would need a PCFIELDSPLIT Schur complement whose scalar
Schur complement h - g^T J^{-1} b again costs one inner solve with J per
application -- the block elimination here, but nested and with more Krylov
iterations.  The bordered form keeps plain GMRES + AMG on the scalar diffusion
operator (what makes the 50-grain particle scale) and reproduces the existing
results bitwise.

Pieces: :class:`GlobalUnknown` (a dolfinx Constant with its accepted history
and linear predictor), :class:`BorderedNewton` (the solver),
:func:`max_change_check` (an acceptance check for :class:`fem.simulation.Simulation`
that rejects a step moving the global unknown by more than a limit) and :func:`max_change_step`
(the step limit that predicts it),
:func:`constant_current` (the applied current of a particle from a C-rate or a
current density, with the 1C definition stated) and :class:`CurrentParameters`
(its parameters, a mixin of a problem's Parameters).

C-rates (``capacity_basis``)
----------------------------
* ``window``: 1C passes the particle's stoichiometry window x_full..x_empty in one
  hour, I_1C = F c_max |x_empty - x_full| V / 3600 s (V the particle volume);
* ``nominal``: 1C is a nominal capacity per m^2 of particle surface in one hour,
  i_1C = Q_A / 1 h, Q_A [A h/m^2].  This is PyBaMM's convention (1C = the cell's
  nominal capacity) seen from one particle: Q_A = Q_cell / (a L A_el), with a =
  3 eps_s / R the specific surface, L the electrode thickness and A_el its area
  (Chen 2020 LG M50 positive: 5 A h / (3 * 0.665 / 5.22 um * 75.6 um * 0.1027 m^2)
  = 1.685 A h/m^2, so 1C = 1.685 A/m^2).
A current density i [A/m^2] is the current per particle surface area, I = i A.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc as fem_petsc
import dolfinx.la

from fem import petsc_options
from fem.parameters import Parameters, param
from fem.solver import (NEWTON_ATOL, NEWTON_MAX_IT, NEWTON_RTOL, CSRMatrixAssembler, SolveStats, checked_stats,
                        residual_converged)


class GlobalUnknown:
    """A scalar unknown (``constant``, a dolfinx Constant usable in forms) with its
    last two accepted values (``old``, ``older``; ``older`` is None until two are known)."""

    def __init__(self, mesh, value: float = 0.0):
        self.constant = dolfinx.fem.Constant(mesh, float(value))
        self.old = float(value)
        self.older: float | None = None

    @property
    def value(self) -> float:
        return float(self.constant.value)

    @value.setter
    def value(self, v: float) -> None:
        self.constant.value = v

    def set_accepted(self, v: float) -> None:
        """Set the current and the last accepted value (e.g. the initial state)."""
        self.value = v
        self.old = float(self.constant.value)

    def predict(self, w: float) -> None:
        """Linear extrapolation old + w (old - older), w = dt / dt_prev (when two values are known)."""
        if self.older is not None:
            self.value = self.old + w * (self.old - self.older)

    def reject(self) -> None:
        self.value = self.old

    def accept(self) -> None:
        self.older, self.old = self.old, self.value

    def checkpoint_state(self, prefix: str) -> dict:
        return {prefix: self.value, f"{prefix}_old": self.old, f"{prefix}_older": self.older}

    def restore_state(self, prefix: str, state: dict) -> None:
        self.value = state[prefix]
        self.old, self.older = state[f"{prefix}_old"], state[f"{prefix}_older"]


def max_change_check(unknown: GlobalUnknown, limit: float, scale: float = 1.0, *, what: str = "voltage",
                     unit: str = "V", parameter: str = "max_voltage_step_V"):
    """Acceptance check ``(t, dt, stats) -> reason | None``: reject a step that moves
    ``scale * unknown`` by more than ``limit`` from its last accepted value."""

    def check(t, dt, stats) -> str | None:
        change = abs(unknown.value - unknown.old) * scale
        if change > limit:
            return f"{what} changed by {change:.3g} {unit} > {parameter}"
        return None

    return check


def max_change_step(unknown: GlobalUnknown, limit: float, scale: float, last_dt, *, safety: float = 0.8):
    """Step limit ``t -> largest dt`` (:class:`fem.simulation.Simulation` ``max_dt``) that keeps the
    predicted change of ``scale * unknown`` at ``safety * limit``: the rate of the last accepted step,
    |old - older| scale / dt_prev, extrapolated.  The companion of :func:`max_change_check`, which
    still rejects a step whose actual change exceeds ``limit``; without it the step grows into the
    limit, is rejected, halved and grows again.  ``last_dt()``: the last accepted step (None: none
    since the start or a restart of the history, then no limit)."""

    def max_dt(t) -> float:
        dt_prev = last_dt()
        if unknown.older is None or not dt_prev:
            return np.inf
        rate = abs(unknown.old - unknown.older) * scale / dt_prev
        return safety * limit / rate if rate > 0 else np.inf

    return max_dt


@dataclass(frozen=True)
class SurfaceFlux:
    """A constraint that is the total of a surface flux which also enters the field's residual
    (the galvanostatic particle: q the Butler–Volmer current density)::

        F = F_bulk + int_S q(u, phi) v dS,   G = int_S q dS,
        b = int_S dq/dphi v dS,   g = int_S dq/du v dS,   h = int_S dq/dphi dS = sum_i b_i.

    Given as :class:`BorderedNewton`'s ``border`` (its ``F`` is then F_bulk), the surface terms of
    F, b and g come from ONE assembly over S of a 3-vector Lagrange space (q, dq/du, dq/dphi
    against the same test function; the flux and its derivatives share their evaluation), and G
    and h are the sums of the first and last component, exact because Lagrange basis functions
    sum to one (same quadrature: equal to the separate integrals to round-off).  Measured on the
    50-grain particle at 18k unknowns: 10 ms against 33 ms for the five separate surface
    assemblies per Newton iteration.

    flux : UFL q of u and of ``phi``; phi : the ``ufl.variable`` of the global unknown's
    constant in q (for dq/dphi); ds : the measure of S (with its quadrature metadata)."""

    flux: object
    phi: object
    ds: object

    def forms(self, u, v) -> dict:
        """The four border forms, assembled apart (and the residual's surface term ``F``)."""
        dq_dphi = ufl.diff(self.flux, self.phi)
        return dict(F=self.flux * v * self.ds, b=dq_dphi * v * self.ds, g=ufl.derivative(self.flux * self.ds, u, v),
                    G=self.flux * self.ds, h=dq_dphi * self.ds)


BORDERED_SOLVES = ("one", "two")
#: BorderedNewton's default ``pc_lag``: M rebuilt at every Newton iteration (a direct solver
#: (``ksp_type preonly``) must keep it: an older factorization would be a chord step, not a
#: preconditioner).  Measured on the
#: 50-grain particle (tests/bench/bench_particle_amg.py, 4 x 60 s at 1C, same process, load 5-6):
#: once per solve (0) gives Krylov per Newton 10.8 -> 14.4 (18k dofs), 13.8 -> 16.1 (116k),
#: 18.8 -> 20.8 (533k, 2 ranks) with the same Newton iterates (1e-15 V); see
#: :class:`fem.models.intercalation.IntercalationParticle` for the particle's choice
PC_LAG_DEFAULT = 1
#: reason of a Newton solve stopped because the constraint no longer depends on the global unknown
#: (e.g. every surface node saturated: the exchange current and its derivatives vanish); the
#: step fails like any other Newton failure (cut and retried, or the run's stop condition)
SINGULAR = "singular bordered system: the constraint does not depend on the global unknown (h - g.J^-1 b = 0)"

#: relative tolerance of the bordered GMRES solve with the default AMG field preconditioner: an
#: inexact Newton method (Dembo, Eisenstat & Steihaug 1982); Newton's convergence stays quadratic
#: while its residual falls by less than ~1e-6 per iteration.  Measured (bench_particle_discharge.py,
#: 50 grains, 18k unknowns, 1C to saturation): 4.8 instead of 7.3 GMRES iterations per Newton step,
#: the same 89 steps, Newton iterations 293 -> 294, final voltage equal to 2e-14 V (1e-10: the
#: earlier value, ``-particle_ksp_rtol 1e-10``)
NEWTON_KSP_RTOL = 1e-6


class BorderedNewton:
    """Newton for (u, phi): residual ``F`` of the field ``u`` plus one constraint (module docstring).

    F : UFL residual (linear in the test function v), depending on ``unknown.constant``.
    border : UFL forms ``b`` (dF/dphi, linear in v), ``g`` (dG/du, linear in v),
        ``G`` (the constraint integral, scalar) and ``h`` (dG/dphi, scalar);
        the constraint is G - target = 0.  Or a :class:`SurfaceFlux` (then ``F`` is the residual
        without its surface term, which the SurfaceFlux adds).
    scale_form : vector form of the largest residual term (e.g. u/dt v dx) whose
        round-off, 1e3 eps ||scale||, bounds the attainable residual.
    max_dphi : bound of the global update per iteration (damping of far starts).
    J : the field Jacobian form (default dF/du), e.g. an inexact one at a cheaper quadrature
        (:func:`fem.solver.with_quadrature_degree`): Newton still converges to the root of F.
    cells : (cell terms, F_rest, J_rest): the cell terms of F and J assembled apart (e.g.
        :class:`fem.p1_cells.P1DiffusionCells`: ``add_residual``, ``set_csr``, ``add_jacobian``) plus
        the forms of the rest (F_rest None: nothing else), with a :class:`SurfaceFlux` border; ``J``
        then gives only the sparsity.  J is assembled through DOLFINx's CSR matrix
        (:class:`fem.solver.CSRMatrixAssembler`) either way.
    """

    def __init__(self, F, u: dolfinx.fem.Function, unknown: GlobalUnknown, border: dict, target: float, *,
                 options, prefix="bordered_", rtol=NEWTON_RTOL, atol=NEWTON_ATOL, max_it=NEWTON_MAX_IT,
                 constraint_tol=NEWTON_ATOL,
                 max_dphi=20.0, scale_form=None, pc_lag=PC_LAG_DEFAULT, pc_build_cost=0.0, J=None,
                 cells=None):
        self.scale_form = None if scale_form is None else dolfinx.fem.form(scale_form)
        self.u, self.unknown, self.target = u, unknown, target
        self.max_dphi = max_dphi
        V = u.function_space
        self.surface = None  # the 3-vector surface assembly of a SurfaceFlux border (None: four forms)
        bulk = F
        if isinstance(border, SurfaceFlux):
            forms = border.forms(u, ufl.TestFunction(V))
            F = bulk + forms["F"]
            self.surface = _SurfaceAssembly(border, u)
            if not self.surface.ok:  # another layout of the blocked space: assemble apart
                self.surface, border = None, forms
        self.jacobian = ufl.derivative(F, u, ufl.TrialFunction(V)) if J is None else J  # (UFL)
        self.a = dolfinx.fem.form(self.jacobian)
        self.cells = None  # cell terms assembled in numpy (fem.p1_cells), with the forms of the rest
        a_assembled = self.a
        if cells is not None:
            self.cells, (bulk, J_rest) = cells[0], cells[1:]
            a_assembled = dolfinx.fem.form(J_rest)
        if self.surface is None and self.cells is not None:
            raise ValueError("BorderedNewton: cell terms apart need a SurfaceFlux border")
        self.L = dolfinx.fem.form(F if self.surface is None else bulk) if bulk is not None else None
        if self.surface is None:
            self.b_form = dolfinx.fem.form(border["b"])
            self.g_form = dolfinx.fem.form(border["g"])
            self.G_form = dolfinx.fem.form(border["G"])
            self.h_form = dolfinx.fem.form(border["h"])
        self.A = fem_petsc.create_matrix(self.a)
        if self.cells is None:
            self.jacobian_assembler = CSRMatrixAssembler(self.a, self.A)
        else:
            self.jacobian_assembler = CSRMatrixAssembler(a_assembled, self.A, pattern=self.a,
                                                         add_values=self.cells.add_jacobian)
            self.cells.set_csr(self.jacobian_assembler.csr)
        index_map, bs = V.dofmap.index_map, V.dofmap.index_map_bs
        self.F, self.bvec, self.gvec = (dolfinx.la.create_petsc_vector(index_map, bs) for _ in range(3))
        self.h = 0.0
        self.x1 = self.F.duplicate()
        self.x2 = self.F.duplicate()
        self.comm = V.mesh.comm
        self.prefix = prefix
        # the KSP on J (the two-solve elimination; its PC is M of the one-solve preconditioner)
        self.ksp_field = PETSc.KSP().create(self.comm)
        self.ksp_field.setOptionsPrefix(prefix)
        petsc_options.register_prefix(prefix)
        petsc_options.apply(prefix, options)
        opts = PETSc.Options()  # Newton's tests, SNES's names (fem.solver.residual_converged)
        self.rtol = opts.getReal(prefix + "snes_rtol", rtol)
        self.atol = opts.getReal(prefix + "snes_atol", atol)
        self.max_it = opts.getInt(prefix + "snes_max_it", max_it)
        self.constraint_tol = opts.getReal(prefix + "bordered_constraint_tol", constraint_tol)
        self.ksp_field.setOperators(self.A)
        self.ksp_field.setFromOptions()
        #: ``one`` (GMRES on the bordered system, one Krylov solve per Newton iteration) or ``two``
        #: (block elimination, two solves on J); module docstring; may be changed between solves
        self.solves = PETSc.Options().getString(prefix + "bordered_solves", "one")
        if self.solves not in BORDERED_SOLVES:
            raise ValueError(f"-{prefix}bordered_solves must be one of {BORDERED_SOLVES}, got {self.solves!r}")
        #: rebuild the field preconditioner M (the AMG hierarchy) at the first Newton iteration of
        #: each solve and then every ``pc_lag`` iterations (1: every iteration; 0: only the first);
        #: in between M is the hierarchy of an earlier Jacobian of the same solve while GMRES still
        #: solves with the exact (current) Jacobian to ksp_rtol: the Newton iterates are unchanged
        #: up to that tolerance
        self.pc_lag = PETSc.Options().getInt(prefix + "bordered_pc_lag", pc_lag)
        if self.pc_lag < 0:
            raise ValueError(f"-{prefix}bordered_pc_lag must be >= 0, got {self.pc_lag}")
        #: Jacobian lag (opt-in): J re-assembled at the first Newton iteration of each solve, then every
        #: ``jacobian_lag`` iterations (1: every iteration, exact Newton, the default; 0: only the
        #: first, or when the residual fell by less than JACOBIAN_REBUILD_RATIO in the last iteration)
        self.jacobian_lag = PETSc.Options().getInt(prefix + "bordered_jacobian_lag", 1)
        if self.jacobian_lag < 0:
            raise ValueError(f"-{prefix}bordered_jacobian_lag must be >= 0, got {self.jacobian_lag}")
        #: keep M across Newton solves (time steps) with ``pc_lag`` 0: the cost of building M, in Krylov
        #: iterations; M is rebuilt at a solve's first iteration once the Krylov iterations spent beyond
        #: those of its first solve (per Newton iteration) since it was built exceed this cost, or after a
        #: failed solve (the ski-rental rule; 0: rebuilt at every solve, the default; module docstring)
        self.pc_build_cost = PETSc.Options().getReal(prefix + "bordered_pc_build_cost", pc_build_cost)
        if not self.pc_build_cost >= 0:
            raise ValueError(f"-{prefix}bordered_pc_build_cost must be >= 0, got {self.pc_build_cost}")
        self._pc_base = None  # Krylov per Newton of the first solve with the current M (None: rebuild next)
        self._pc_excess = 0.0  # Krylov iterations beyond _pc_base since M was built
        self._pc_fresh = False  # the current solve built M at its first iteration
        self.total_pc_builds = 0
        self.total_jacobians = 0
        self.ksp_ext = None  # the KSP on the bordered system, built on first use
        self.total_newton = self.total_krylov = self.total_linear_solves = 0
        self.time_assembly = self.time_total = 0.0

    @property
    def ksp(self) -> PETSc.KSP:
        """The outer KSP of the current scheme (the bordered one for ``solves == 'one'``)."""
        return self._extended() if self.solves == "one" else self.ksp_field

    def _extended(self) -> PETSc.KSP:
        if self.ksp_ext is None:
            n = self.F.getLocalSize() + (1 if self.comm.rank == 0 else 0)  # phi: last entry of rank 0
            self._border = _Bordered(self)
            self.A_ext = PETSc.Mat().createPython(((n, None), (n, None)), self._border, comm=self.comm)
            self.A_ext.setUp()
            self.F_ext, self.dx_ext = self.A_ext.createVecs()
            ksp = self.ksp_ext = PETSc.KSP().create(self.comm)
            ksp.setOptionsPrefix(self.prefix)
            ksp.setOperators(self.A_ext)
            ksp.setFromOptions()  # ksp_type, tolerances; the pc_* options configure M (ksp_field's PC)
            pc = ksp.getPC()
            pc.setType(PETSc.PC.Type.PYTHON)
            pc.setPythonContext(self._border)
        return self.ksp_ext

    def _vec(self, vec, form):
        with vec.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(vec, form)
        vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)

    def _residual(self) -> None:
        """F: the forms' terms plus the cell terms assembled apart (the surface term comes later)."""
        if self.cells is None:
            self._vec(self.F, self.L)
            return
        with self.F.localForm() as loc:
            loc.set(0.0)
            self.cells.add_residual(loc.array)
        if self.L is not None:
            fem_petsc.assemble_vector(self.F, self.L)
        self.F.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)

    def _scalar(self, form):
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def solve(self) -> SolveStats:
        """Newton from the current (u, phi); both hold the result."""
        tic = time.perf_counter()
        try:
            return self._solve()
        finally:
            self.time_total += time.perf_counter() - tic

    def _solve(self) -> SolveStats:
        u, phi = self.u, self.unknown
        kits = 0
        r0 = r_prev = None
        for it in range(self.max_it + 1):
            tic = time.perf_counter()
            u.x.scatter_forward()
            self._residual()
            if self.surface is None:
                G = self._scalar(self.G_form) - self.target
            else:  # F's surface term, G, b, g and h in one assembly
                G, self.h = self.surface.assemble(self.F, self.bvec, self.gvec)
                G -= self.target
            self.time_assembly += time.perf_counter() - tic
            rn = self.F.norm()
            if not (np.isfinite(rn) and np.isfinite(G)):
                return self._done(False, it, kits, "non-finite residual")
            if r0 is None:
                r0 = rn
                floor = 0.0
                if self.scale_form is not None:  # round-off floor of the residual
                    self._vec(self.x2, self.scale_form)
                    floor = 1e3 * np.finfo(float).eps * self.x2.norm()
            if (it > 0 and residual_converged(rn, r0, self.rtol, self.atol, floor)
                    and abs(G) <= self.constraint_tol * (1 + abs(self.target))):
                return self._done(True, it, kits, "converged (residual)")
            if it == self.max_it:
                break
            lag = self.jacobian_lag
            new_J = (it == 0 or lag == 1 or (lag > 1 and it % lag == 0)
                     or rn > JACOBIAN_REBUILD_RATIO * r_prev)  # a lagged J that no longer contracts
            r_prev = rn
            tic = time.perf_counter()
            if new_J:
                self.jacobian_assembler.assemble()
                self.total_jacobians += 1
            if self.surface is None:
                self._vec(self.bvec, self.b_form)
                self._vec(self.gvec, self.g_form)
                self.h = self._scalar(self.h_form)
            h = self.h
            self.time_assembly += time.perf_counter() - tic
            self.ksp_field.setOperators(self.A)
            # PCSetUp rebuilds M only when not told to reuse it (PCSetReusePreconditioner)
            rebuild = (self._pc_base is None if it == 0
                       else new_J and self.pc_lag > 0 and it % self.pc_lag == 0)
            if it == 0:
                self._pc_fresh = rebuild
            self.total_pc_builds += rebuild
            self.ksp_field.getPC().setReusePreconditioner(not rebuild)
            if self.solves == "one":
                ok, n_its, dphi = self._solve_bordered(G, h)
                kits += n_its
                if ok is None:
                    return self._done(False, it, kits, SINGULAR)
                if not ok:
                    return self._done(False, it, kits, f"KSP diverged ({self.ksp_ext.getConvergedReason()})")
                dphi_c = float(np.clip(dphi, -self.max_dphi, self.max_dphi))
                if dphi_c != dphi:  # damped phi update: du = x1 - x2 dphi_c = du + x2 (dphi - dphi_c)
                    ok, n_its = self._solve_field(self.bvec, self.x2)
                    kits += n_its
                    if not ok:
                        return self._done(False, it, kits, f"KSP diverged ({self.ksp_field.getConvergedReason()})")
                    self.x1.axpy(dphi - dphi_c, self.x2)
                dphi = dphi_c
            else:
                ok1, n1 = self._solve_field(self.F, self.x1)
                ok2, n2 = self._solve_field(self.bvec, self.x2)
                kits += n1 + n2
                if not (ok1 and ok2):
                    return self._done(False, it, kits, f"KSP diverged ({self.ksp_field.getConvergedReason()})")
                denom = h - self.gvec.dot(self.x2)
                if denom == 0.0 or not np.isfinite(denom):
                    return self._done(False, it, kits, SINGULAR)
                dphi = (G - self.gvec.dot(self.x1)) / denom
                dphi = float(np.clip(dphi, -self.max_dphi, self.max_dphi))
                self.x1.axpy(-dphi, self.x2)  # du = x1 - x2 dphi
            u.x.petsc_vec.axpy(-1.0, self.x1)
            u.x.scatter_forward()
            phi.value = phi.value - dphi
        return self._done(False, self.max_it, kits, "max Newton iterations")

    def _next_pc_base(self, ok, its, kits) -> float | None:
        """The reference Krylov count of M for the next solve (None: rebuild M at its first iteration)."""
        if not (ok and self.pc_build_cost and self.pc_lag == 0 and its):
            return None
        if self._pc_fresh:
            self._pc_excess = 0.0
            return kits / its
        self._pc_excess += kits - self._pc_base * its
        return None if self._pc_excess > self.pc_build_cost else self._pc_base

    def _solve_field(self, rhs, x) -> tuple[bool, int]:
        self.ksp_field.solve(rhs, x)
        self.total_linear_solves += 1
        return self.ksp_field.getConvergedReason() > 0, self.ksp_field.getIterationNumber()

    def _solve_bordered(self, G: float, h: float) -> tuple[bool, int, float]:
        """One Krylov solve of the bordered system for (du, dphi): du in x1, returns (ok, its, dphi);
        ok None: the bordered system is singular (s = h - g.M b = 0, nothing solved)."""
        ksp = self._extended()
        self._border.setup(h)
        if self._border.s == 0.0 or not np.isfinite(self._border.s):
            return None, 0, 0.0
        nloc = self.F.getLocalSize()
        fa = self.F_ext.getArray()
        fa[:nloc] = self.F.getArray(readonly=True)
        if self.comm.rank == 0:
            fa[nloc] = G
        ksp.solve(self.F_ext, self.dx_ext)
        self.total_linear_solves += 1
        xa = self.dx_ext.getArray(readonly=True)
        self.x1.getArray()[:] = xa[:nloc]
        dphi = self.comm.bcast(float(xa[nloc]) if self.comm.rank == 0 else None, root=0)
        return ksp.getConvergedReason() > 0, ksp.getIterationNumber(), dphi

    def _done(self, ok, its, kits, reason):
        self.total_newton += its
        self.total_krylov += kits
        self._pc_base = self._next_pc_base(ok, its, kits)
        return checked_stats(self.u, ok, its, kits, reason)

    def timings(self) -> dict[str, float]:
        """Seconds in the solver: assembly (F, J, border) and the rest (linear solves)."""
        return {"snes_s": self.time_total, "assembly_s": self.time_assembly,
                "linear_solve_s": self.time_total - self.time_assembly}

    def destroy(self):
        for o in (self.ksp_field, self.A, self.F, self.bvec, self.gvec, self.x1, self.x2):
            o.destroy()
        if self.surface is not None:
            self.surface.destroy()
        if self.ksp_ext is not None:
            for o in (self.ksp_ext, self.A_ext, self.F_ext, self.dx_ext):
                o.destroy()
            self._border.destroy()


class _SurfaceAssembly:
    """The surface terms of a :class:`SurfaceFlux` border in one assembly: (q, dq/du, dq/dphi) against
    the components of a 3-vector test function of the Lagrange element of u, whose dofs are
    u's (``ok``: the blocked space has u's dofmap, checked, so component k of node i is entry
    3 i + k)."""

    def __init__(self, border: SurfaceFlux, u: dolfinx.fem.Function):
        import basix.ufl
        V = u.function_space
        mesh = V.mesh
        el = V.ufl_element()
        W = dolfinx.fem.functionspace(mesh, basix.ufl.element(el.family_name, mesh.basix_cell(), el.degree,
                                                              shape=(3,)))
        imV, imW = V.dofmap.index_map, W.dofmap.index_map
        self.ok = (V.dofmap.index_map_bs == 1 and W.dofmap.index_map_bs == 3
                   and imV.size_local == imW.size_local and imV.num_ghosts == imW.num_ghosts
                   and np.array_equal(V.dofmap.list, W.dofmap.list)
                   and np.array_equal(imV.ghosts, imW.ghosts))
        self.ok = V.mesh.comm.allreduce(self.ok, op=MPI.LAND)
        if not self.ok:
            return
        w = ufl.TestFunction(W)
        q, ds = border.flux, border.ds
        self.form = dolfinx.fem.form((q * w[0] + ufl.diff(q, border.phi) * w[2]) * ds
                                     + ufl.derivative(q * ds, u, w[1]))
        self.vec = fem_petsc.create_vector(self.form)
        self.comm = mesh.comm
        self._sums = np.zeros(2)

    def assemble(self, F, b, g) -> tuple[float, float]:
        """F += int q v dS; b, g set; returns (G, h) (collective)."""
        with self.vec.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(self.vec, self.form)
        self.vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        parts = self.vec.getArray(readonly=True).reshape(-1, 3)  # owned nodes
        with np.errstate(invalid="ignore"):  # a non-finite iterate: the Newton solve fails on it
            F.getArray()[:] += parts[:, 0]
            g.getArray()[:] = parts[:, 1]
            b.getArray()[:] = parts[:, 2]
            self._sums[:] = parts[:, 0].sum(), parts[:, 2].sum()
        out = np.empty(2)
        self.comm.Allreduce(self._sums, out)
        return float(out[0]), float(out[1])

    def destroy(self):
        self.vec.destroy()


#: with a Jacobian lag: J is re-assembled when ||F_k|| > this ||F_(k-1)||
JACOBIAN_REBUILD_RATIO = 0.1


class _Bordered:
    """Shell matrix (``mult``) and preconditioner (``setUp``/``apply``) of the bordered system
    [[J, b], [g^T, h]] of a :class:`BorderedNewton` (module docstring).  Vectors of the bordered
    system hold the field's owned entries on every rank and phi as the last entry of rank 0."""

    def __init__(self, newton: BorderedNewton):
        self.nw = newton
        self.nloc = newton.F.getLocalSize()
        self.root = newton.comm.rank == 0
        self.u, self.y = newton.A.createVecRight(), newton.A.createVecLeft()
        self.z = newton.A.createVecLeft()
        self.h = self.s = 0.0
        self._buf = np.zeros(2)

    def _split(self, x) -> tuple[float, float]:
        """Field part of x into self.u; returns (g.u, phi) (one allreduce)."""
        xa = x.getArray(readonly=True)
        ua = self.u.getArray()
        ua[:] = xa[:self.nloc]
        self._buf[0] = np.dot(self.nw.gvec.getArray(readonly=True), ua)
        self._buf[1] = xa[self.nloc] if self.root else 0.0
        out = np.empty(2)
        self.nw.comm.Allreduce(self._buf, out)
        return float(out[0]), float(out[1])

    def _join(self, y, field, scalar: float) -> None:
        ya = y.getArray()
        ya[:self.nloc] = field.getArray(readonly=True)
        if self.root:
            ya[self.nloc] = scalar

    def setup(self, h: float) -> None:
        """Once per Newton iteration, after J, b, g are assembled: set up M on J, z = M b, s = h - g.z."""
        pc = self.nw.ksp_field.getPC()
        pc.setOperators(self.nw.A)
        self.nw.ksp_field.setUp()
        pc.apply(self.nw.bvec, self.z)
        self.h = h
        self.s = h - self.nw.gvec.dot(self.z)

    def mult(self, mat, x, y) -> None:
        gu, phi = self._split(x)
        self.nw.A.mult(self.u, self.y)
        self.y.axpy(phi, self.nw.bvec)
        self._join(y, self.y, gu + self.h * phi)

    def apply(self, pc, x, y) -> None:
        _, rho = self._split(x)
        self.nw.ksp_field.getPC().apply(self.u, self.y)   # y = M r
        dphi = (rho - self.nw.gvec.dot(self.y)) / self.s
        self.y.axpy(-dphi, self.z)                        # du = y - z dphi
        self._join(y, self.y, dphi)

    def destroy(self, obj=None) -> None:
        """Free the work vectors (also called by PETSc for the shell Mat and the PC: idempotent)."""
        for o in (self.u, self.y, self.z):
            o.destroy()


# --- the applied current of a particle ---------------------------------------------------------

CAPACITY_BASES = ("window", "nominal")


@dataclass(frozen=True)
class AppliedCurrent:
    """A constant current given as a battery modeller gives it (module docstring)."""

    current_A: float  # anodic positive: a discharge (lithiation) of a cathode particle is < 0
    density_A_m2: float  # |current| per particle surface area
    c_rate: float  # |current| / I_1C
    one_c_A_m2: float  # current density of 1C on the basis
    basis: str
    definition: str  # the 1C definition in words
    window_time_s: float  # time the current takes to pass the stoichiometry window

    def summary(self) -> dict:
        return {"applied_current_A": self.current_A, "current_density_A_m2": self.density_A_m2,
                "c_rate": self.c_rate, "capacity_basis": self.basis,
                "one_c_current_density_A_m2": self.one_c_A_m2, "one_c_definition": self.definition}


@dataclass
class CurrentParameters(Parameters):
    """Parameters of a constant current (a mixin of a problem's Parameters); ``uses_current()``
    says whether the problem's configuration needs one (then :meth:`check_current` requires
    exactly one of c_rate, current_density_A_m2 > 0)."""

    c_rate: float = param(1.0, "C-rate |I|/I_1C, 1C as capacity_basis says; 0: current_density_A_m2 "
                          "gives the current (exactly one of the two is > 0)", "1/h", ge=0)
    current_density_A_m2: float = param(0.0, "applied current per particle surface area, instead of c_rate "
                                        "(then set c_rate=0); 0: c_rate gives the current", "A/m^2", ge=0)
    capacity_basis: str = param("window", "1C of c_rate: 'window' = the particle's stoichiometry window "
                                "x_full..x_empty in 1 h; 'nominal' = nominal_capacity_Ah_m2 in 1 h (PyBaMM: "
                                "the cell's nominal capacity)", choices=CAPACITY_BASES)
    nominal_capacity_Ah_m2: float = param(0.0, "nominal capacity per m^2 of particle surface (capacity_basis="
                                          "'nominal'; a cell: Q_nom / (3 eps_s L A_el / R)); 1C = this in A/m^2",
                                          "A h/m^2", ge=0, le=1e6)

    def uses_current(self) -> bool:
        return True

    def check_current(self) -> None:
        if not self.uses_current():
            return
        both = self.c_rate > 0 and self.current_density_A_m2 > 0
        self.require((self.c_rate > 0) != (self.current_density_A_m2 > 0), "current_density_A_m2" if both else "c_rate",
                     "give exactly one of c_rate and current_density_A_m2 (> 0)"
                     + ("; set c_rate=0 to give a current density" if both else ""))
        if self.c_rate > 0 and self.capacity_basis == "nominal":
            self.require(self.nominal_capacity_Ah_m2 > 0, "nominal_capacity_Ah_m2", "capacity_basis='nominal' "
                         "needs the nominal capacity per m^2 of particle surface; allowed: (0, 1e6] A h/m^2")

    def applied_current(self, area_m2: float, volume_m3: float, window_mol_m3: float,
                        lithiation: bool = True) -> AppliedCurrent:
        return constant_current(area_m2=area_m2, volume_m3=volume_m3, window_mol_m3=window_mol_m3,
                                c_rate=self.c_rate, current_density_A_m2=self.current_density_A_m2,
                                basis=self.capacity_basis, nominal_capacity_Ah_m2=self.nominal_capacity_Ah_m2,
                                lithiation=lithiation)


def constant_current(*, area_m2: float, volume_m3: float, window_mol_m3: float, c_rate: float = 0.0,
                     current_density_A_m2: float = 0.0, basis: str = "window",
                     nominal_capacity_Ah_m2: float = 0.0, lithiation: bool = True) -> AppliedCurrent:
    """The current of ``c_rate`` (1C on ``basis``) or of ``current_density_A_m2`` (exactly one
    > 0) on a particle of surface ``area_m2`` and volume ``volume_m3`` whose stoichiometry
    window holds ``window_mol_m3``; ``lithiation``: Li enters the particle (current < 0)."""
    if (c_rate > 0) == (current_density_A_m2 > 0):
        raise ValueError("give exactly one of c_rate and current_density_A_m2 (> 0)")
    if basis not in CAPACITY_BASES:
        raise ValueError(f"capacity basis must be one of {CAPACITY_BASES}, got {basis!r}")
    from fem.scaling import FARADAY
    window_C = FARADAY * window_mol_m3 * volume_m3
    if basis == "window":
        one_c = window_C / 3600.0 / area_m2
        definition = (f"window: 1C passes the particle's stoichiometry window ({window_C / 3.6:.6g} mAh) "
                      f"in 1 h = {one_c:.6g} A/m^2 of particle surface")
    else:
        if not nominal_capacity_Ah_m2 > 0:
            raise ValueError("capacity basis 'nominal' needs nominal_capacity_Ah_m2 > 0")
        one_c = nominal_capacity_Ah_m2
        definition = (f"nominal: 1C = {nominal_capacity_Ah_m2:.6g} A h per m^2 of particle surface in 1 h "
                      f"= {one_c:.6g} A/m^2")
    if c_rate > 0:
        magnitude = c_rate * window_C / 3600.0 if basis == "window" else c_rate * one_c * area_m2
        window_time = 3600.0 / c_rate if basis == "window" else window_C / magnitude
    else:
        magnitude = current_density_A_m2 * area_m2
        window_time = window_C / magnitude
        c_rate = current_density_A_m2 / one_c
    current = -magnitude if lithiation else magnitude
    return AppliedCurrent(current, magnitude / area_m2, c_rate, one_c, basis, definition, window_time)
