"""PFHub benchmark 1: spinodal decomposition (Jokisaari et al., Comput. Mater. Sci. 126 (2017) 139).

    dc/dt = div(M grad mu),   mu = f'(c) - kappa lap c,
    f(c)  = rho_s (c - c_alpha)^2 (c_beta - c)^2,
    F(t)  = int f(c) + kappa/2 |grad c|^2 dA                   (the reported free energy)

rho_s = 5, c_alpha = 0.3, c_beta = 0.7, kappa = 2, M = 5 on the square
[0, 200]^2, c(x, y, 0) = c0 + eps [cos(0.105x) cos(0.11y) + (cos(0.13x) cos(0.087y))^2
+ cos(0.025x - 0.15y) cos(0.07x - 0.02y)], c0 = 0.5, eps = 0.01.

Everything is in the benchmark's (nondimensional) units: ``t_benchmark`` is the
benchmark time, ``free_energy`` the benchmark free energy; the driver's SI time
column ``t_s`` (and ``dt_s``) is t_benchmark * ``time_unit_s``, the number of
seconds one benchmark time unit stands for (1 by default: then t_s and
t_benchmark coincide numerically).  ``boundary`` selects variant 1b (no-flux
square, default) or 1a (periodic, :mod:`fem.periodic`).

Discretization: P1 (or P2) Lagrange for (c, mu) on triangles or
quadrilaterals, fully implicit variable-step BDF2 (default, ``time_order=2``; step ratio <= 1.8) or
backward Euler (``time_order=1``), or backward Euler with the
convex-concave split of :mod:`fem.constitutive.polynomial` (unconditionally energy
stable, but it under-grows the fastest modes: ``scheme``), adaptive steps controlled
by the local time error (``time_tolerance``, :class:`fem.error_control.TimeErrorControl`)
and limited by max |dc| per step (``dc_max``), or a fixed step (``fixed_dt``), Newton (SNES) with MUMPS
(``lu_refactor_every`` N > 1: GMRES preconditioned by an LU refreshed every N Newton iterations) or
GMRES + Schur fieldsplit/AMG (:class:`fem.models.cahn_hilliard.CahnHilliard`;
steps accepted when max |dc| <= dc_max and, with ``energy_check``, the free energy does not increase).

Outputs: ``timeseries.csv`` (t_s, t_benchmark, free_energy, mass, mass_rel_change, dt_s,
newton_iterations, krylov_iterations, time_error), ``fields/concentration.bp``, ``plots/free_energy.png``,
``plots/morphology.png`` (final c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dolfinx.fem
import dolfinx.mesh

from fem.constitutive.mobility import mobility
from fem.double_well import DoubleWellSquareParameters
from fem.field_plots import plot_section
from fem.models.cahn_hilliard import SOLVERS, SOLVER_HELP, CahnHilliard, acceptance_checks
from fem.error_control import TimeErrorControl
from fem.output import RunOutput, mesh_summary, si_fields
from fem.parameters import param
from fem.periodic import periodic_box_constraint
from fem.scaling import Scales
from fem.simulation import Simulation, StepControl

NAME = "spinodal"
DESCRIPTION = "PFHub benchmark 1b: spinodal decomposition on a no-flux square (free energy vs time)"


@dataclass
class SpinodalParameters(DoubleWellSquareParameters):
    side_length: float = param(200.0, "side of the square domain (benchmark units)", "-", gt=0)
    element_degree: int = param(1, "Lagrange degree of c and mu", choices=(1, 2))
    c0: float = param(0.5, "mean initial composition", "-")
    epsilon: float = param(0.01, "initial perturbation amplitude", "-", ge=0)
    t_end_s: float = param(1.0e4, "end time (benchmark units)", "-", gt=0)
    dt_s: float = param(0.1, "initial (or fixed) time step", "-", gt=0)
    dt_max_s: float = param(200.0, "largest time step", "-", gt=0)
    fixed_dt: bool = param(False, "keep dt fixed (for comparisons at equal steps)")
    # 0.1 (was 0.02): with BDF2 at tol 1e-4, 0.02 rejected 33 of 35 refused steps (PFHub 1a set-up on a
    # 100^2 square, 50^2 cells, to t = 100: 243 steps, 35 rejected, 710 Newton); 0.1 lets the time error
    # decide: 195 steps, 4 rejected, 511 Newton, F within 0.056 % of a tol 1e-6 run at every time with
    # either (results/h14/probe_reject.py)
    dc_max: float = param(0.1, "largest change of c in one step (a limit besides time_tolerance)", "-", gt=0)
    # default 1e-3 with BDF2 (time_order=2): PFHub 1a, 100^2 Q1, against a BDF2 tol 1e-5 run, largest
    # |dF/F| between the output times to t = 1000: 0.23 % (211 steps; tol 1e-4: 0.094 % to t = 1650,
    # 465 steps to t = 1000; backward Euler tol 1e-4, the earlier default: 0.52 %, 1058 steps); to
    # t = 10000 against BDF2 tol 1e-4: 0.36 % (674 vs 1606 steps); 25^2 cells on a 100^2 square,
    # t = 10 / 15: -0.13 % / -0.37 % (backward Euler 1e-4: -0.19 % / -0.60 %, 1e-3: -0.64 % / -1.90 %;
    # tests/test_cahn_hilliard_problems.py, tests/bench/bench_pfhub1a.py)
    time_tolerance: float = param(1e-3, "relative local time error per step (0: off, steps by dc_max only)",
                                  "-", ge=0)
    boundary: str = param("no_flux", "no_flux (benchmark 1b) or periodic (benchmark 1a)",
                          choices=("no_flux", "periodic"))
    # implicit by default: at equal time_tolerance it is more accurate and takes fewer steps than the
    # convex-concave split (PFHub 1a, 40^2, tol 1e-3 to t = 30: 106 vs 188 steps, F(20) -3.1 % vs +4.0 %
    # of the tol 1e-5 run); the energy check refuses any step that would raise F
    scheme: str = param("implicit", "time discretization", choices=("split", "implicit"))
    # BDF2 by default: PFHub 1a (50^2 cells on a 100^2 square, to t = 100), at tol 1e-4 against a BDF2
    # tol 1e-6 run: BDF2 243 steps, max |dF/F| 0.056 % between the output times; backward Euler 537
    # steps, 0.43 %
    time_order: int = param(2, "1: backward Euler; 2: variable-step BDF2 (step ratio <= 1.8); scheme=split "
                            "always steps with backward Euler (its lagged g' is first order)", choices=(1, 2))
    energy_check: bool = param(True, "refuse a step that raises the free energy (False: the decay is "
                               "observed, not enforced)")
    solver: str = param("lu", SOLVER_HELP, choices=SOLVERS)
    # the LU factorization is ~90 % of a step on PFHub 1a 100^2 (1.59 of 1.74 s per step, serial,
    # loaded machine): refactorizing only every N Newton iterations (the stale factors then
    # precondition GMRES, so Newton still converges to the same tolerance) halved the linear-solve
    # time per Newton iteration (30 fixed steps dt 0.1: 20.8 s vs 42.9 s at N = 10, same F to 1e-13)
    lu_refactor_every: int = param(1, "solver=lu: refactorize the Jacobian every N Newton iterations "
                                   "(kept across steps; GMRES preconditioned by the last factors in "
                                   "between); 1: a fresh factorization every iteration", ge=1)
    fields_every: int = param(0, "write fields every N steps (0: first and last only)", ge=0)
    time_unit_s: float = param(1.0, "seconds per benchmark time unit (SI columns t_s = t_benchmark * "
                               "time_unit_s, dt_s; PFHub 1 itself is nondimensional)", "s", gt=0)

    def check(self):
        self.check_double_well()
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}]")
        self.require(self.dt_s <= self.dt_max_s, "dt_s", f"allowed range (0, dt_max_s = {self.dt_max_s}]")
        # the factored Schur preconditioner assumes the convex part of the split scheme: with the fully
        # implicit Jacobian (g'' < 0 inside the spinodal) the linear solve diverges (DIVERGED_LINEAR_SOLVE
        # even at dt = 1e-8 on PFHub 1b, 24^2 triangles), so the combination is refused, not attempted
        self.require(not (self.scheme == "implicit" and self.solver == "fieldsplit"), "solver",
                     "fieldsplit needs scheme=split (use solver=lu with scheme=implicit)")


Parameters = SpinodalParameters


def initial_condition(p: SpinodalParameters):
    def c_init(X):
        x, y = X[0], X[1]
        return p.c0 + p.epsilon * (np.cos(0.105 * x) * np.cos(0.11 * y)
                                   + (np.cos(0.13 * x) * np.cos(0.087 * y)) ** 2
                                   + np.cos(0.025 * x - 0.15 * y) * np.cos(0.07 * x - 0.02 * y))
    return c_init


def time_order_used(p: SpinodalParameters) -> int:
    """BDF order of the run: ``time_order`` with the fully implicit scheme, 1 with the split."""
    return p.time_order if p.scheme == "implicit" else 1


def build(p: SpinodalParameters, comm) -> CahnHilliard:
    mesh = p.square_mesh(comm, p.side_length)
    fe = p.free_energy()
    constraint = None
    if p.boundary == "periodic":
        L = p.side_length
        constraint = lambda W: periodic_box_constraint(W, [0.0, 0.0], [L, L])  # noqa: E731
    mob = lambda c: mobility(c, "constant", p.mobility)  # noqa: E731
    snes_options = None
    if p.lu_refactor_every > 1 and p.solver == "lu":
        # exact Jacobian in the Krylov products, lagged LU as preconditioner: the Newton iterates
        # converge to the same residual tolerance as with a fresh LU (ksp_rtol far below snes_rtol)
        snes_options = {"ksp_type": "gmres", "ksp_rtol": 1e-11, "ksp_atol": 1e-14, "ksp_max_it": 200,
                        "snes_lag_preconditioner": p.lu_refactor_every,
                        "snes_lag_preconditioner_persists": "true"}
    model = CahnHilliard(mesh, fe, kappa=p.kappa, mobility=mob, scheme=p.scheme, degree=p.element_degree,
                         solver=p.solver, prefix="spinodal_", constraint=constraint,
                         snes_options=snes_options, time_order=time_order_used(p))
    model.set_concentration(initial_condition(p))
    if p.time_tolerance > 0 and not p.fixed_dt:
        TimeErrorControl(model, p.time_tolerance, mob)
    return model


def observables(model: CahnHilliard, time_unit_s: float = 1.0):
    """Recorder: benchmark time, free energy, mass (benchmark units) and the last step [s]."""
    mass0 = model.mass()

    def record(t) -> dict:
        mass = model.mass()
        return {"t_benchmark": t, "free_energy": model.energy(), "mass": mass,
                "mass_rel_change": abs(mass - mass0) / abs(mass0), "dt_s": model.last_dt * time_unit_s, "newton_iterations": model.last_newton,
                "krylov_iterations": model.last_krylov,
                "time_error": model.error_control.last_err if model.error_control is not None else 0.0}
    return record


def solve(p: SpinodalParameters, out: RunOutput) -> None:
    model = build(p, out.comm)
    units = Scales(length=1.0, time=p.time_unit_s)  # benchmark units; field times in s
    c_out = dolfinx.fem.Function(model.V, name="concentration")

    def fill(f):
        f.x.array[:] = model.concentration()
        f.x.scatter_forward()

    variant = "1a (periodic square)" if p.boundary == "periodic" else "1b (no-flux square)"
    out.update(mesh=mesh_summary(model.mesh, [model.W]), variant=variant,
               units="PFHub benchmark 1 (nondimensional)", time_unit_s=p.time_unit_s,
               time_order_used=model.time_order)
    control = StepControl(t_end=p.t_end_s, dt=p.dt_s, dt_min=1e-8 * p.dt_s, dt_max=p.dt_max_s,
                          grow=1.2, easy_newton=5, fixed=p.fixed_dt)
    checks = acceptance_checks(model, p.dc_max, log_bounds=False, energy=p.energy_check)
    ec = model.error_control
    if ec is not None:
        checks.insert(0, ec.check)
    sim = Simulation(model, control, comm=out.comm, time_scale=p.time_unit_s, output=out,
                     recorders=[observables(model, p.time_unit_s)],
                     fields=[si_fields(out, "concentration", [(c_out, fill)], units, every=p.fields_every)],
                     checks=checks, max_dt=ec.max_dt if ec is not None else None)
    res = sim.run()
    ts = out.timeseries
    energy = ts.column("free_energy")
    out.update(free_energy_final=energy[-1], free_energy_initial=energy[0],
               energy_monotone=bool(np.all(np.diff(energy) <= 1e-12 * np.abs(energy[:-1]))),
               mass_rel_change_max=float(ts.column("mass_rel_change").max()))
    if out.comm.rank == 0:
        with out.figure("free_energy") as (fig, ax):
            t = ts.column("t_benchmark")
            ax.loglog(t[1:], energy[1:], label=f"solidion ({variant})")
            ax.set_xlabel("t (benchmark units)")
            ax.set_ylabel("free energy F")
            ax.legend()
    plot_section(out, "morphology", model.V, model.concentration(), out.comm,
                 title=f"c at t = {res.t:.4g}", label="c")
    out.finish(res.status, res.reason, **res.summary(p.time_unit_s), timings=model.solver.timings())
    model.destroy()
