"""Cahn-Hilliard phase separation (optionally chemo-mechanical) as a model of
:class:`fem.simulation.Simulation`.

:class:`CahnHilliard` owns the (c, mu[, u]) function (blocked P1^2, or mixed with u), the step residual
(:mod:`fem.weak_forms.cahn_hilliard`, the elastic coupling of
:mod:`fem.weak_forms.elasticity`), the SNES solver and the observables (total
free energy, mass).  Its ``step`` only solves; what makes a converged step
acceptable is decided by the acceptance checks of this module, handed to
``Simulation(checks=...)`` (:func:`acceptance_checks`):

* :func:`in_unit_interval`  c stays in (0, 1) (free energies with logarithms),
* :func:`max_change`        max |c^{n+1} - c^n| <= dc_max (accuracy control:
  small steps at spinodal onset, large ones during coarsening),
* :func:`energy_decreases`  the discrete free energy does not increase
  (closed systems).

:func:`spinodal_max_dt` is the ``Simulation(max_dt=...)`` limit that lets a
homogeneous state inside the spinodal decompose.

:class:`ReactingCahnHilliard` adds lithium exchange through a surface:
galvanostatic (a given mean flux spread by availability) or potentiostatic
(local Butler-Volmer kinetics, :class:`fem.constitutive.kinetics.ButlerVolmer`).

Solvers: ``lu`` (MUMPS), ``fieldsplit`` = FGMRES preconditioned by a
Schur-complement fieldsplit on (c, mu): A00 = M/dt + N (block Jacobi / ILU(0)), Schur complement
S = M + dt (G + kappa K) M^-1 K_M approximated by the factored
(M + alpha (G + kappa K)) M^-1 (M + beta K_M), alpha beta = dt, and applied
with AMG V-cycles, one on the left and two on the right factor (:class:`fem.solver.FactoredSchurPC`,
PETSc GAMG + SSOR; Krylov iterations per Newton step 9.0 / 9.5 / 11.0 at 92k / 400k / 1.0M unknowns,
dt 0.02 R^2/D, tests/bench/README.md),
or ``auto``: LU up to ``AUTO_LU_MAX_DOFS[tdim]`` unknowns (3D: 5k, 2D: 50k;
:data:`fem.solver.AUTO_LU_MAX_DOFS`, measured crossover), ``fieldsplit`` above.
The earlier 'selfp' Schur preconditioner (AMG on the assembled fourth-order
M + dt (G + kappa K) diag(M)^-1 K_M) remains available through options
(:func:`fieldsplit_options`); with the elastic displacement it is the default.
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import dolfinx.fem
import dolfinx.mesh

from fem import petsc_options
from fem.observables import Integral
from fem.preintegration import CellAverages, coefficient_derivative
from fem.scaling import FARADAY
from fem.solver import AUTO_LU_MAX_DOFS as _AUTO_LU_MAX_DOFS
from fem.solver import SNESSolver, SolveStats, auto_uses_lu, field_index_sets, global_dofs
from fem.time_schemes import BDF
from fem.weak_forms import cahn_hilliard as chw
from fem.weak_forms import elasticity as elw

SOLVERS = ("auto", "lu", "fieldsplit")
#: the help text of a problem's ``solver`` parameter (shown by ``solidion params``)
SOLVER_HELP = ("linear solver: lu (MUMPS), fieldsplit (Schur fieldsplit with the factored AMG Schur "
               "preconditioner), auto = LU up to 5k unknowns in 3D, 50k in 2D, else fieldsplit")
#: ``auto``: LU (MUMPS) up to this many unknowns (by mesh dimension), the block preconditioner above
AUTO_LU_MAX_DOFS = _AUTO_LU_MAX_DOFS


def fieldsplit_options(schur: str = "factored") -> dict:
    """GMRES + Schur-complement fieldsplit on (c, mu).

    A00 = M/dt + N (lumped P1 mass, N the mobility-derivative term M'(c) grad mu . grad q): block
    Jacobi with ILU(0) (point Jacobi is exact for M/dt but fails once N matters: 2D, h = 0.014,
    dt = 0.02 L^2/D, no convergence vs 11 Krylov/Newton with ILU(0); 3D particle 7.3k dofs: 7.5 / 8.5
    / 10 with ILU(0) vs 8 / 8.5 / 10 at dt = 0.002 / 0.02 / 0.2 R^2/D, tests/bench/README.md).

    schur = 'factored' (default): S^-1 ~ (M + beta K_M)^-1 M (M + alpha (G + kappa K))^-1, one and
    two AMG V-cycles (:class:`fem.solver.FactoredSchurPC`, Bosch–Stoll–Benner / Boyanova–Neytcheva; PETSc
    GAMG with SSOR smoothing, :func:`fem.petsc_options.gamg_sor`; ``-pspin_fieldsplit_mu_l_pc_type hypre
    -pspin_fieldsplit_mu_r_pc_type hypre`` restores BoomerAMG);
    'selfp': one BoomerAMG V-cycle on the assembled M + dt (G + kappa K) diag(M)^-1 K_M (the earlier
    default: a fourth-order operator, iterations grow with the mesh).  Every entry can be overridden
    under the solver's prefix, e.g. ``-pspin_pc_fieldsplit_schur_precondition selfp
    -pspin_fieldsplit_mu_pc_type hypre`` or ``-pspin_fieldsplit_mu_l_pc_gamg_threshold 0.02``.
    """
    opts = {"ksp_type": "fgmres", "ksp_rtol": 1e-8, "ksp_atol": 1e-12, "ksp_max_it": 400,
            "ksp_gmres_restart": 100,
            "pc_type": "fieldsplit", "pc_fieldsplit_type": "schur",
            "pc_fieldsplit_schur_fact_type": "full", "pc_fieldsplit_schur_precondition": "selfp",
            "fieldsplit_c_ksp_type": "preonly", "fieldsplit_c_pc_type": "bjacobi",
            "fieldsplit_mu_ksp_type": "preonly", "fieldsplit_mu_pc_type": "hypre",
            "fieldsplit_mu_pc_hypre_type": "boomeramg"}
    if schur == "factored":
        # amg_lag 2: the Schur factors' AMG hierarchies of a step's first Newton iteration serve its
        # second too (same Krylov counts, measured; fem.solver.FactoredSchurPC)
        opts.update({"pc_fieldsplit_schur_precondition": "a11", "fieldsplit_mu_pc_type": "python",
                     "fieldsplit_mu_pc_python_type": "fem.solver.FactoredSchurPC", "fieldsplit_mu_amg_lag": 2})
        del opts["fieldsplit_mu_pc_hypre_type"]
    return opts


class CahnHilliard:
    """One Cahn-Hilliard system on ``mesh`` (see the module docstring).

    free_energy : RegularSolution / DoubleWell (nondimensional g, mu)
    kappa : gradient-energy coefficient (nondimensional)
    mobility : UFL-callable c -> M(c) (scalar or tensor)
    inflow : callable (c, mu, c_old) -> list of (j_in, ds), j_in > 0 inserting
    elastic : None or dict(eps0=, lam=, G=, spring=) for the chemo-mechanical coupling
    preintegrate : the Jacobian's stiffness blocks from M(c)'s cell integrals (P1 with lumped mass on
        affine simplices, scalar mobility, theta = 1, no elasticity or constraint;
        :meth:`_preintegrated_jacobian`) and its pattern without the structural zeros
        (:meth:`fem.solver.SNESSolver.compress_pattern`): the same Jacobian to round-off, assembled
        1.4x faster (tests/bench/README.md); None (default) = with the ``fieldsplit`` solver
    time_order : 1 = backward Euler; 2 = variable-step BDF2 in c (scheme='implicit' only;
        :class:`fem.time_schemes.BDF`, w = dt_n/dt_{n-1}: dc/dt ~ ((1+2w)/(1+w) c^{n+1} - (1+w) c^n
        + w^2/(1+w) c^{n-1}) / dt_n; the first step after ``set_concentration`` is BDF1; the caller
        keeps w below 1 + sqrt(2), e.g. :class:`fem.error_control.TimeErrorControl` caps it at 1.8)
    """

    def __init__(self, mesh, free_energy, *, kappa, mobility, scheme="split", degree=1,
                 inflow=None, elastic=None, solver="lu", prefix="ch_", source_c=None, source_mu=None,
                 theta=1.0, quadrature_degree=None, snes_options=None, lumped=None, constraint=None,
                 time_order=1, preintegrate=None):
        if time_order not in (1, 2):
            raise ValueError(f"time_order {time_order!r}; allowed: 1, 2")
        if time_order == 2 and (scheme != "implicit" or theta != 1.0):
            # the convex-concave split lags g' by O(dt) and theta < 1 mixes mu^n in: both would
            # make the step first order again
            raise ValueError("time_order=2 needs scheme='implicit' and theta=1")
        self.time_order = time_order
        self.mesh = mesh
        self.comm = mesh.comm
        self.fe = free_energy
        self.scheme = scheme
        self.error_control = None  # set by fem.error_control.TimeErrorControl
        self.extrapolate = True  # BDF2: Newton starts from the extrapolated state (False: from w^n)
        cell = mesh.basix_cell()
        P = basix.ufl.element("Lagrange", cell, degree)
        elements = [P, P]
        self.elastic = elastic
        if elastic:
            elements.append(basix.ufl.element("Lagrange", cell, degree, shape=(mesh.geometry.dim,)))
        # (c, mu) on one blocked P_k^2 space (dofs interleaved per node), whose Jacobian
        # SNESSolver.compress_pattern assembles block by block; with a displacement or a
        # multi-point constraint a mixed element
        self.blocked = not elastic and constraint is None
        self.W = dolfinx.fem.functionspace(
            mesh, basix.ufl.element("Lagrange", cell, degree, shape=(2,)) if self.blocked
            else basix.ufl.mixed_element(elements))
        # multi-point constraint (e.g. periodic, :func:`fem.periodic.periodic_box_constraint`):
        # unknowns and forms live on the constrained space
        self.mpc = constraint(self.W) if constraint is not None else None
        if self.mpc is not None:
            self.W = self.mpc.function_space
        self.w = dolfinx.fem.Function(self.W)
        self.w_old = dolfinx.fem.Function(self.W)
        self.V, self.c_dofs = self.W.sub(0).collapse()
        self.c_dofs = np.asarray(self.c_dofs)
        # variable-step BDF1/2 coefficients (Constants: one compiled form); dt is the BDF's
        self.bdf = BDF(mesh, time_order)
        self.dt = self.bdf.dt
        # c^{n-1} (BDF2 history; the whole (c, mu) vector, so it lives on the same (constrained) space)
        self.w_nm1 = dolfinx.fem.Function(self.W) if time_order == 2 else None
        parts = self.split(self.w)
        parts_old = self.split(self.w_old)
        tests = self.tests = self.split(ufl.TestFunction(self.W))
        c, mu = parts[0], parts[1]
        c_old, mu_old = parts_old[0], parts_old[1]
        self.c_expr, self.mu_expr = c, mu
        # P1 with lumped zeroth-order terms: the remaining integrands (M(c) grad mu . grad q,
        # kappa grad c . grad v) are at most quadratic -> degree 2 is exact (lattice mobility)
        self.lumped = (degree == 1) if lumped is None else lumped
        qd = quadrature_degree if quadrature_degree is not None else (2 if (degree == 1 and self.lumped)
                                                                      else 2 * degree + 2)
        dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd})
        self.dx = dx
        # mass lumping (vertex quadrature) of the zeroth-order terms for P1, see
        # fem.weak_forms.cahn_hilliard; the discrete energy uses the same quadrature for g
        dxl = ufl.Measure("dx", domain=mesh, metadata={"quadrature_rule": "vertex",
                                                        "quadrature_degree": 1}) if self.lumped else dx
        self.dx_lumped = dxl
        self.kappa = kappa
        mu_bulk = chw.chemical_potential(free_energy, c, c_old, scheme)
        mu_extra = None
        if elastic:
            u = parts[2]
            eps0, lam, G = elastic["eps0"], elastic["lam"], elastic["G"]
            mu_extra = elw.chemical_potential_elastic(u, c, eps0, lam, G)
        self.inflow = inflow(c, mu, c_old) if inflow is not None else []
        ddt = self.bdf.ddt(c, c_old, self.split(self.w_nm1)[0]) if time_order == 2 else None
        M = mobility(c)

        def residual(stiffness=True):
            return chw.cahn_hilliard_residual(c, mu, tests[0], tests[1], c_old=c_old, dt=self.dt,
                                              mobility=M, kappa=kappa, mu_bulk=mu_bulk, dx=dx,
                                              mu_old=mu_old, theta=theta, inflow=self.inflow,
                                              source_c=source_c, source_mu=source_mu, mu_extra=mu_extra,
                                              dx_lumped=dxl, ddt=ddt, stiffness=stiffness)
        F = residual()
        energy = (free_energy.g(c) * dxl
                  + 0.5 * kappa * ufl.inner(ufl.grad(c), ufl.grad(c)) * dx)
        if elastic:
            F += elw.elasticity_residual(parts[2], tests[2], c, eps0, lam, G, dx,
                                         spring=elastic.get("spring", 0.0))
            energy = energy + elw.elastic_energy_density(parts[2], c, eps0, lam, G) * dx
        self.F = F
        if solver == "auto":  # LU for small problems (CI, 2D), the scalable block solver above
            ndofs = self.W.dofmap.index_map.size_global * self.W.dofmap.index_map_bs
            # the fully implicit Jacobian is indefinite inside the spinodal (g'' < 0), which the
            # factored Schur preconditioner does not handle (diverges even at tiny dt): LU then
            solver = ("lu" if scheme == "implicit" or auto_uses_lu(ndofs, mesh.topology.dim)
                      else "fieldsplit")
        self.linear_solver = solver
        # pre-integrated stiffness blocks of the Jacobian (exact for P1 on affine simplices with the
        # lumped zeroth-order terms): by default with the scalable solver, where assembly is a large
        # share of the step; small LU runs keep the generated Jacobian
        affine = mesh.geometry.cmap.degree == 1 and mesh.topology.cell_type in (
            dolfinx.mesh.CellType.interval, dolfinx.mesh.CellType.triangle, dolfinx.mesh.CellType.tetrahedron)
        can_preintegrate = (degree == 1 and self.lumped and affine and theta == 1.0 and not elastic
                            and self.mpc is None and len(ufl.shape(M)) == 0)
        if preintegrate is None:
            preintegrate = can_preintegrate and solver == "fieldsplit"
        elif preintegrate and not can_preintegrate:
            raise ValueError("preintegrate needs P1 with lumped mass on affine simplices, theta = 1, a "
                             "scalar mobility, no elasticity and no constraint")
        self._mbar = None
        J = self._preintegrated_jacobian(residual(stiffness=False), M, mu, tests, kappa, dx) if preintegrate else None
        # the factored Schur preconditioner needs node-matched (c, mu) blocks: not with the displacement
        opts = (petsc_options.direct_lu() if solver == "lu"
                else fieldsplit_options("selfp" if elastic else "factored"))
        opts.update({"snes_rtol": 1e-9, "snes_atol": 1e-11, "snes_stol": 1e-13, "snes_max_it": 12})
        opts.update(snes_options or {})
        if self.mpc is not None:
            from fem.periodic import MPCSNESSolver
            self.solver = MPCSNESSolver(F, self.w, self.mpc, prefix=prefix, options=opts)
        else:
            self.solver = SNESSolver(F, self.w, J=J, prefix=prefix, options=opts)
            if self._mbar is not None:
                self.solver.before_jacobian = self._averages.update
        # with the pre-integrated Jacobian also its structural pattern: the mu-mu block holds the
        # lumped mass only (its off-diagonal entries, 23 % of the full pattern in 3D, are exact zeros);
        # probed at c, mu in (0.1, 0.9) (g'' finite); (full, kept) nonzero counts or None
        self.pattern_nnz = None
        if preintegrate:
            history = [self.w_old] + ([self.w_nm1] if self.w_nm1 is not None else [])
            self.pattern_nnz = self.solver.compress_pattern([self.w, *history], low=0.1, high=0.9)
        if solver == "fieldsplit":
            self._setup_fieldsplit()
        self.energy_form = Integral(energy)
        self.mass_form = Integral(c * dx)
        self.volume = Integral(dolfinx.fem.Constant(mesh, 1.0) * dx)()
        # free energy of the accepted state (None: not yet computed) and of the attempt
        self._energy_old = None
        self._energy_new = None
        self.last_dc = 0.0  # max |dc| of the last attempt measured by max_change
        self.last_dt = 0.0  # the last accepted step and its solver counts (for recorders)
        self.last_newton = self.last_krylov = 0
        # picklable bookkeeping of the caller that a restart needs (e.g. results of earlier
        # stages of a multi-stage run): carried through checkpoints as is
        self.notes: dict = {}

    def _preintegrated_jacobian(self, F_rest, M, mu, tests, kappa, dx):
        """The Jacobian of F with its two stiffness blocks pre-integrated (P1 on affine simplices).

        The basis gradients are constant on each cell, so the quadrature of
        M(c) grad(dmu) . grad(q) is (sum_k w_k M(c(x_k))) grad(dmu) . grad(q): M's cell integral
        (with F's quadrature, a DG0 field refreshed before each Jacobian,
        :class:`fem.preintegration.CellAverages`) times a one-point term, and kappa grad(dc) . grad(v) is
        one-point already.  Identical to the derivative of F up to round-off (one sum taken before
        a product instead of after).  The rest (lumped terms, surface terms, and
        M'(c) dc grad(mu) . grad(q)) is the derivative of the forms as generated before."""
        mesh = self.mesh
        q, v = tests[0], tests[1]
        dw = ufl.TrialFunction(self.W)
        dc, dmu = self.split(dw)
        dx0 = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 0})
        self._averages = CellAverages(mesh)
        self._mbar = self._averages.add("mobility_cell_average", M * self._averages.test * dx)
        J = (ufl.derivative(F_rest, self.w, dw)
             + self._mbar * ufl.inner(ufl.grad(dmu), ufl.grad(q)) * dx0
             - kappa * ufl.inner(ufl.grad(dc), ufl.grad(v)) * dx0)
        # M'(c) dc grad(mu) . grad(q) (a mobility that depends on c)
        dM = coefficient_derivative(M, mu, q, dx, self.w, dw, self.V)
        return J if dM is None else J + dM

    def split(self, w):
        """The (c, mu[, u]) parts of a Function or Argument on W (blocked: its components)."""
        return [w[0], w[1]] if self.blocked else list(ufl.split(w))

    def _setup_fieldsplit(self):
        pc = self.solver.snes.getKSP().getPC()
        # node-matched c and mu blocks (collapse() order), as FactoredSchurPC needs
        splits = field_index_sets(self.W, [("c", [0]), ("mu", [1])], sort=False)
        if self.elastic:
            # the displacement joins the c block (A00 = [M/dt, coupling; ., elasticity])
            glob = np.sort(global_dofs(self.W, [0, 2]))
            splits[0] = ("c", PETSc.IS().createGeneral(glob, comm=self.comm))
        pc.setType("fieldsplit")
        pc.setFieldSplitIS(*splits)
        self._split_is = splits
        self.solver.snes.getKSP().setFromOptions()

    # -- state -----------------------------------------------------------
    def set_concentration(self, values_or_callable):
        """Set c (numpy array on the collapsed c space or callable x -> c) in both states."""
        cV = dolfinx.fem.Function(self.V)
        if callable(values_or_callable):
            cV.interpolate(values_or_callable)
        else:
            cV.x.array[:] = values_or_callable
        for f in self._states():
            f.x.array[self.c_dofs] = cV.x.array
            f.x.scatter_forward()
            if self.mpc is not None:
                self.mpc.backsubstitution(f)
        self.initialize_mu()
        self._energy_old = self._energy_new = None
        self.bdf.dt_prev = None  # a new start: the first step is BDF1
        if self.error_control is not None and self.time_order == 2:  # nor a BDF2 error estimate
            self.error_control.dt_prev = self.error_control.dt_prev2 = 0.0

    def _states(self):
        """The iterate and the accepted states (w, w^n[, w^{n-1}])."""
        return (self.w, self.w_old) + ((self.w_nm1,) if self.w_nm1 is not None else ())

    def initialize_mu(self):
        """mu^0 = L2 projection of g'(c) - kappa lap c (weakly), for theta < 1 and output."""
        V = self.V
        m, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        c = self.w_old.sub(0)
        a = m * v * self.dx
        L = self.fe.mu(c) * v * self.dx + self.kappa * ufl.inner(ufl.grad(c), ufl.grad(v)) * self.dx
        import dolfinx.fem.petsc as fp
        problem = fp.LinearProblem(a, L, petsc_options={"ksp_type": "cg", "pc_type": "jacobi",
                                                        "ksp_rtol": 1e-12})
        mu0 = problem.solve()
        _, mdofs = self.W.sub(1).collapse()
        for f in self._states():
            f.x.array[np.asarray(mdofs)] = mu0.x.array
            f.x.scatter_forward()
            if self.mpc is not None:
                self.mpc.backsubstitution(f)

    def concentration(self, which="new") -> np.ndarray:
        f = self.w if which == "new" else self.w_old
        return f.x.array[self.c_dofs]

    def energy(self) -> float:
        """Free energy of the current iterate ``w``."""
        return self.energy_form()

    def energy_of(self, w) -> float:
        self.w.x.array[:], saved = w.x.array, self.w.x.array.copy()
        e = self.energy()
        self.w.x.array[:] = saved
        return e

    def energy_attempt(self) -> float:
        """Free energy of the step just attempted (computed once per attempt)."""
        if self._energy_new is None:
            self._energy_new = self.energy()
        return self._energy_new

    def energy_accepted(self) -> float:
        """Free energy of the last accepted state (computed once per state)."""
        if self._energy_old is None:
            self._energy_old = self.energy_of(self.w_old)
        return self._energy_old

    def mass(self) -> float:
        return self.mass_form()

    def global_minmax(self, arr):
        n = self.V.dofmap.index_map.size_local
        a = arr[:n]
        lo = self.comm.allreduce(float(a.min()) if a.size else np.inf, op=MPI.MIN)
        hi = self.comm.allreduce(float(a.max()) if a.size else -np.inf, op=MPI.MAX)
        return lo, hi

    # -- step / reject / accept ------------------------------------------
    def step(self, t, dt) -> SolveStats:
        self.bdf.set_step(dt)
        if self.time_order == 2 and self.extrapolate and self.bdf.dt_prev is not None:
            # Newton's initial guess: the linear extrapolation of (c, mu) from w^{n-1}, w^n
            r = dt / self.bdf.dt_prev
            self.w.x.array[:] = self.w_old.x.array + r * (self.w_old.x.array - self.w_nm1.x.array)
        else:
            self.w.x.array[:] = self.w_old.x.array
        self._energy_new = None
        return self.solver.solve()

    def reject(self):
        self.w.x.array[:] = self.w_old.x.array
        self._energy_new = None

    def accept(self, t_new, dt, stats):
        if self.error_control is not None:
            self.error_control.accepted(dt)
        if self.w_nm1 is not None:
            self.w_nm1.x.array[:] = self.w_old.x.array
        self.bdf.accepted(dt)
        self.w_old.x.array[:] = self.w.x.array
        self._energy_old, self._energy_new = self._energy_new, None
        self.last_dt, self.last_newton, self.last_krylov = dt, stats.newton_iterations, stats.krylov_iterations

    # -- restart ------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        state = {"w": self.w, "w_old": self.w_old, "energy_old": self._energy_old, "last_dc": self.last_dc,
                 "last_dt": self.last_dt, "last_newton": self.last_newton, "last_krylov": self.last_krylov,
                 "notes": self.notes, "bdf_dt_prev": self.bdf.dt_prev}
        if self.w_nm1 is not None:
            state["w_nm1"] = self.w_nm1
        if self.error_control is not None:
            state.update(self.error_control.state())
        return state

    def restore_state(self, state: dict) -> None:
        self._energy_old, self._energy_new = state["energy_old"], None
        self.last_dc, self.last_dt = state["last_dc"], state["last_dt"]
        self.last_newton, self.last_krylov = state["last_newton"], state["last_krylov"]
        self.notes = state["notes"]
        self.bdf.dt_prev = state.get("bdf_dt_prev")
        if self.error_control is not None:
            self.error_control.restore(state)

    def destroy(self):
        self.solver.destroy()


# -- acceptance checks (Simulation(checks=...)) --------------------------------
def in_unit_interval(model: CahnHilliard):
    """Reject a step whose c leaves (0, 1) (free energies with ln c, ln(1 - c))."""
    def check(t, dt, stats):
        lo, hi = model.global_minmax(model.concentration("new"))
        if not (lo > 0.0 and hi < 1.0):
            return f"c left (0, 1): [{lo:.3g}, {hi:.3g}]"
        return None
    return check


def max_change(model: CahnHilliard, dc_max: float):
    """Reject a step with max |c^{n+1} - c^n| > dc_max (the value is kept as ``model.last_dc``)."""
    def check(t, dt, stats):
        dc = model.global_minmax(np.abs(model.concentration("new") - model.concentration("old")))[1]
        model.last_dc = dc
        if dc > dc_max:
            return f"max |dc| = {dc:.3g} > dc_max = {dc_max}"
        return None
    return check


def energy_decreases(model: CahnHilliard, rtol: float = 1e-12):
    """Reject a step that increases the discrete free energy (closed systems)."""
    def check(t, dt, stats):
        e_old = model.energy_accepted()
        e = model.energy_attempt()
        if not np.isfinite(e) or e > e_old + rtol * max(abs(e_old), 1.0):
            return f"free energy increased ({e!r} > {e_old!r})"
        return None
    return check


def acceptance_checks(model: CahnHilliard, dc_max: float, *, log_bounds: bool = True,
                      energy: bool = True) -> list:
    """The usual checks in their usual order: c in (0, 1), max |dc|, energy decrease."""
    checks = [in_unit_interval(model)] if log_bounds else []
    checks.append(max_change(model, dc_max))
    if energy:
        checks.append(energy_decreases(model))
    return checks


def spinodal_max_dt(model: CahnHilliard, mobility_max_value, factor=0.5, homogeneous_spread=0.1):
    """``max_dt`` callable that lets a homogeneous state inside the spinodal decompose.

    Backward Euler with dt > 2/sigma damps a mode that grows at rate sigma, so a
    fully implicit step that is too large keeps an unstable homogeneous state
    homogeneous.  While the composition spread is below ``homogeneous_spread`` and
    the mean composition c lies where g''(c) < 0, the step is limited to
    ``factor / sigma_max`` with sigma_max = M(c) g''(c)^2 / (4 kappa), the fastest
    linear growth rate (k^2 = -g''/(2 kappa)).  No limit (inf) otherwise.
    """
    def max_dt(t):
        c = model.concentration("old")
        lo, hi = model.global_minmax(c)
        if hi - lo > homogeneous_spread:
            return np.inf
        c_mean = model.mass() / model.volume
        d2g = float(model.fe.d2g(c_mean))
        if d2g >= 0:
            return np.inf
        sigma_max = mobility_max_value(c_mean) * d2g**2 / (4 * model.kappa)
        return factor / sigma_max
    return max_dt


def smooth_noise(seed, amplitude, n_modes=24, k_max=12.0):
    """Partition-independent seeded noise: a sum of random Fourier modes in x (nondimensional)."""
    rng = np.random.default_rng(seed)
    k = rng.uniform(-k_max, k_max, size=(n_modes, 3))
    phase = rng.uniform(0, 2 * np.pi, n_modes)
    weight = rng.normal(size=n_modes) / np.sqrt(n_modes)

    def f(X):
        s = np.zeros(X.shape[1])
        for kj, pj, wj in zip(k, phase, weight):
            s += wj * np.cos(kj @ X + pj)
        return amplitude * s
    return f


# -- lithium exchange through a surface ------------------------------------------
class ReactingCahnHilliard(CahnHilliard):
    """A Cahn-Hilliard particle (site fraction c, mu in kT) that exchanges lithium
    through the surface measure ``ds``.

    control = "current": the mean inward flux ``j_in`` (nondimensional, > 0 inserts;
        set ``model.j_in.value``) is spread as j_in w(c^n) / <w(c^n)>_surface with the
        availability w = c (``extract``) or 1 - c: the total is exactly the applied
        current in every step, and no lithium is pulled from a surface point that has none.
    control = "voltage": local Butler-Volmer flux at the held cell voltage
        j_in = -i(c, eta) / F,  eta = V - U_eq(mu) = V - U0 + (kT/e) mu,
        with ``kinetics`` a :class:`fem.constitutive.kinetics.ButlerVolmer` (i0(c) switches
        the reaction off where the surface is empty or full); the inserted amount is
        integrated with the backward-Euler rule of the scheme (``inserted``).

    kT_e : thermal voltage [V]; molar_flux : flux scale [mol/(m^2 s)];
    v_hold_V, u0_V : held voltage and reference potential [V] (control = "voltage").
    Other keywords: :class:`CahnHilliard`.
    """

    def __init__(self, mesh, free_energy, ds, *, control="current", extract=True, kinetics=None,
                 kT_e=1.0, molar_flux=1.0, v_hold_V=0.0, u0_V=0.0, **kw):
        self.control, self.extract, self.ds = control, extract, ds
        self.kinetics, self.kT_e, self.molar_flux = kinetics, kT_e, molar_flux
        self.j_in = dolfinx.fem.Constant(mesh, 0.0)  # nondimensional mean inward flux
        self._w_mean = dolfinx.fem.Constant(mesh, 1.0)
        self.v_hold = dolfinx.fem.Constant(mesh, (v_hold_V - u0_V) / kT_e)  # (V - U0) e/kT
        super().__init__(mesh, free_energy, inflow=self._inflow, **kw)
        self.weight_norm = Integral(self._weight(self.w_old.sub(0)) * ds)
        self.area = Integral(dolfinx.fem.Constant(mesh, 1.0) * ds)()
        self.mu_surface = Integral(self.mu_expr * ds)
        if control == "voltage":
            self.inflow_total = Integral(self.reaction_flux(self.c_expr, self.mu_expr) * ds)
        self.c_mean0 = 0.0
        self.inserted = 0.0  # nondimensional amount inserted since reset (control = "voltage")
        self.inflow_now = 0.0  # total inflow of the last accepted state (control = "voltage")

    def _weight(self, c_old):
        """Reaction availability: c for extraction, 1 - c for insertion (lagged)."""
        return c_old if self.extract else 1 - c_old

    def _inflow(self, c, mu, c_old):
        if self.control == "voltage":
            return [(self.reaction_flux(c, mu), self.ds)]
        return [(self.j_in * self._weight(c_old) / self._w_mean, self.ds)]

    def reaction_flux(self, c, mu):
        """Nondimensional inward Butler-Volmer flux -i(c, eta)/F at the held voltage."""
        eta_V = self.kT_e * (self.v_hold + mu)
        return -self.kinetics.current(c, eta_V) / (FARADAY * self.molar_flux)

    def update_weight(self):
        self._w_mean.value = self.weight_norm() / self.area

    def reset(self, c_init):
        """Start again from c = c_init(x) (callable)."""
        self.set_concentration(c_init)
        self.c_mean0 = self.mass() / self.volume
        self.inserted = self.inflow_now = 0.0
        self.update_weight()

    def surface_mu(self) -> float:
        """Surface mean of mu (kT)."""
        return self.mu_surface() / self.area

    def accept(self, t_new, dt, stats):
        super().accept(t_new, dt, stats)
        if self.control == "current":
            self.update_weight()
        else:
            self.inflow_now = self.inflow_total()
            self.inserted += dt * self.inflow_now

    def checkpoint_state(self) -> dict:
        return {**super().checkpoint_state(), "w_mean": float(self._w_mean.value),
                "j_in": float(self.j_in.value), "c_mean0": self.c_mean0, "inserted": self.inserted,
                "inflow_now": self.inflow_now}

    def restore_state(self, state: dict) -> None:
        super().restore_state(state)
        self._w_mean.value, self.j_in.value = state["w_mean"], state["j_in"]
        self.c_mean0, self.inserted, self.inflow_now = state["c_mean0"], state["inserted"], state["inflow_now"]
