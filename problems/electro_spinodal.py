"""PFHub benchmark 6a: spinodal decomposition of a charged species coupled to electrostatics
(square domain).  Specification: https://pages.nist.gov/pfhub/benchmarks/benchmark6-hackathon.ipynb/
(usnistgov/pfhub, benchmarks/benchmark6-hackathon.ipynb, revision 0; the version to which
the published 6a results were uploaded), built on benchmark 1 (Jokisaari et al., Comput.
Mater. Sci. 126 (2017) 139) and Guyer et al., Phys. Rev. E 69 (2004) 021603.

    F      = int kappa/2 |grad c|^2 + f_chem(c) + f_elec(c, Phi) dA          (reported)
    f_chem = rho (c - c_alpha)^2 (c_beta - c)^2,   f_elec = k c Phi / 2
    dc/dt  = div{ M grad( f_chem'(c) - kappa lap c + k Phi ) }
    lap Phi = -k c / eps                                  (solved with c at every time)

rho = 5, c_alpha = 0.3, c_beta = 0.7, kappa = 2, M = 5, k = 0.09, eps = 90 on the square
[0, 100]^2; no flux of c on every side; Phi = 0 at x = 0, Phi = sin(y/7) at x = 100,
dPhi/dn = 0 at y = 0 and y = 100; c(x, y, 0) = c0 + c1 {cos(0.2x) cos(0.11y)
+ [cos(0.13x) cos(0.087y)]^2 + cos(0.025x - 0.15y) cos(0.07x - 0.02y)}, c0 = 0.5, c1 = 0.04;
run to t = 400.

Everything is in the benchmark's nondimensional units: the time columns ``t_s`` (the
driver's name) and ``t`` are benchmark time, not seconds; ``free_energy`` is the benchmark
F; ``output_times_s`` are benchmark times (default: the PFHub times 1, 2, 5, 10, 20, 50,
100, 200, 400).  ``lyapunov`` = F + int k c Phi_0 / 2 (Phi_0 the harmonic field of the
boundary data) is the functional the dynamics dissipate; F itself need not decrease
(:mod:`fem.models.electro_cahn_hilliard`).

Discretization: :class:`fem.models.electro_cahn_hilliard.ElectroCahnHilliard` (P1/Q1 (c, mu)
Cahn-Hilliard, backward Euler, the PNP code's Poisson form, implicit coupling by Picard
iteration), error-controlled steps (``time_tolerance``, :mod:`fem.error_control`) with
``dc_max`` as a limit, steps refused when ``lyapunov`` increases.  ``scheme`` = implicit
(default: f_chem' at the new time) or split (convex-concave, energy stable for any dt but
with a first-order splitting error that the error control must resolve).  Measured on
50 x 50 cells to t = 20 against a split run at time_tolerance 2.5e-4: implicit 69 steps,
largest F deviation 0.34 % (t = 10); split 190 steps, 0.17 %; the Lyapunov check keeps the
implicit scheme's large steps dissipative.

Outputs: ``timeseries.csv`` (t_s, t, free_energy, free_energy_chemical_gradient,
free_energy_electrostatic, lyapunov, mass, mass_rel_change, dt, newton_iterations,
picard_iterations, time_error), ``fields/fields.bp`` (concentration, potential),
``plots/free_energy.png``, ``plots/morphology.png`` (final c and Phi), ``x_cut_plane.csv``
(y, concentration, potential at x = 50) and ``y_cut_plane.csv`` (x, ... at y = 50) of the
final state (the benchmark's requested cuts at t = 400).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dolfinx.fem
import dolfinx.mesh

from fem.constitutive.mobility import mobility
from fem.double_well import DoubleWellSquareParameters
from fem.error_control import TimeErrorControl
from fem.field_plots import gather_dofs
from fem.models.cahn_hilliard import SOLVERS, SOLVER_HELP, acceptance_checks
from fem.models.electro_cahn_hilliard import ElectroCahnHilliard, lyapunov_decreases
from fem.output import RunOutput, mesh_summary, si_fields
from fem.parameters import param
from fem.scaling import Scales
from fem.simulation import Simulation, StepControl

NAME = "electro_spinodal"
DESCRIPTION = "PFHub benchmark 6a: Cahn-Hilliard coupled to electrostatics on a square (free energy vs time)"
#: the output times of the PFHub benchmark-6 submissions (FiPy's synch times plus 1, 2)
PFHUB_TIMES = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 400.0)


@dataclass
class ElectroSpinodalParameters(DoubleWellSquareParameters):
    side_length: float = param(100.0, "side of the square domain (benchmark units)", "-", gt=0)
    element_degree: int = param(1, "Lagrange degree of c, mu and Phi", choices=(1, 2))
    coupling_k: float = param(0.09, "electrostatic coupling k (f_elec = k c Phi / 2)", "-", ge=0)
    permittivity: float = param(90.0, "permittivity eps", "-", gt=0)
    phi_right_length: float = param(7.0, "Phi = sin(y / this) on the right side", "-", gt=0)
    c0: float = param(0.5, "mean initial composition", "-")
    c1: float = param(0.04, "initial perturbation amplitude", "-", ge=0)
    t_end: float = param(400.0, "end time (benchmark units)", "-", gt=0)
    dt: float = param(0.05, "initial (or fixed) time step (benchmark units)", "-", gt=0)
    dt_max: float = param(50.0, "largest time step (benchmark units)", "-", gt=0)
    fixed_dt: bool = param(False, "keep dt fixed (for comparisons at equal steps)")
    dc_max: float = param(0.05, "largest change of c in one step (a limit besides time_tolerance)", "-", gt=0)
    time_tolerance: float = param(1e-3, "relative local time error per step (0: off)", "-", ge=0)
    picard_rtol: float = param(1e-3, "Picard coupling tolerance (of the step's change of Phi)", "-", gt=0)
    scheme: str = param("implicit", "time discretization of f_chem (implicit: no splitting error, steps "
                        "guarded by the Lyapunov check)", choices=("split", "implicit"))
    lyapunov_check: bool = param(True, "refuse a step that raises the Lyapunov functional")
    solver: str = param("lu", "Cahn-Hilliard step's " + SOLVER_HELP, choices=SOLVERS)
    fields_every: int = param(0, "write fields every N steps (0: first, output times and last)", ge=0)

    def check(self):
        self.check_double_well()
        self.require(self.dt <= self.t_end, "dt", f"allowed range (0, t_end = {self.t_end}]")
        self.require(self.dt <= self.dt_max, "dt", f"allowed range (0, dt_max = {self.dt_max}]")


Parameters = ElectroSpinodalParameters


def initial_condition(p: ElectroSpinodalParameters):
    def c_init(X):
        x, y = X[0], X[1]
        return p.c0 + p.c1 * (np.cos(0.2 * x) * np.cos(0.11 * y) + (np.cos(0.13 * x) * np.cos(0.087 * y)) ** 2
                              + np.cos(0.025 * x - 0.15 * y) * np.cos(0.07 * x - 0.02 * y))
    return c_init


def build(p: ElectroSpinodalParameters, comm, mesh=None) -> ElectroCahnHilliard:
    """The benchmark's model with c = c(x, 0) and Phi its Poisson solution (``mesh``: default
    the square of ``side_length`` with ``cells_per_side``)."""
    L = p.side_length
    if mesh is None:
        mesh = p.square_mesh(comm, L)
    tol = 1e-8 * L
    dirichlet = [(lambda x: np.isclose(x[0], 0.0, atol=tol), lambda x: np.zeros(x.shape[1])),
                 (lambda x: np.isclose(x[0], L, atol=tol), lambda x: np.sin(x[1] / p.phi_right_length))]
    mob = lambda c: mobility(c, "constant", p.mobility)  # noqa: E731
    model = ElectroCahnHilliard(mesh, p.free_energy(), coupling_k=p.coupling_k,
                                permittivity=p.permittivity, phi_dirichlet=dirichlet,
                                picard_rtol=p.picard_rtol, kappa=p.kappa, mobility=mob, scheme=p.scheme,
                                degree=p.element_degree, solver=p.solver, prefix="espin_")
    model.set_concentration(initial_condition(p))
    if p.time_tolerance > 0 and not p.fixed_dt:
        TimeErrorControl(model.ch, p.time_tolerance, mob)
    return model


def observables(model: ElectroCahnHilliard):
    """Recorder: F and its parts, L, mass, the last step (benchmark units)."""
    ch = model.ch
    mass0 = ch.mass()

    def record(t) -> dict:
        parts = model.energy_parts()
        F = sum(parts.values())
        mass = ch.mass()
        ec = ch.error_control
        return {"t": t, "free_energy": F, "free_energy_chemical_gradient": parts["chemical_gradient"],
                "free_energy_electrostatic": parts["electrostatic"], "lyapunov": F + model.ext_form(),
                "mass": mass, "mass_rel_change": abs(mass - mass0) / abs(mass0), "dt": ch.last_dt,
                "newton_iterations": ch.last_newton, "picard_iterations": model.last_picard,
                "time_error": ec.last_err if ec is not None else 0.0}
    return record


def cut_planes(out: RunOutput, model: ElectroCahnHilliard, p: ElectroSpinodalParameters) -> None:
    """x_cut_plane.csv (x = L/2) and y_cut_plane.csv (y = L/2) of the current state (the dofs
    on the line; none when the line holds no vertices, e.g. an odd number of cells)."""
    V = model.ch.V
    X, c = gather_dofs(V, model.concentration(), out.comm)
    Xp, phi = gather_dofs(model.Vphi, model.phi.x.array, out.comm)
    if out.comm.rank != 0:
        return
    half, tol = 0.5 * p.side_length, 1e-8 * p.side_length
    for name, axis, along in (("x_cut_plane", 0, "y"), ("y_cut_plane", 1, "x")):
        on, onp = np.isclose(X[:, axis], half, atol=tol), np.isclose(Xp[:, axis], half, atol=tol)
        s, sp = X[on, 1 - axis], Xp[onp, 1 - axis]
        table = np.column_stack([np.sort(s), c[on][np.argsort(s)], phi[onp][np.argsort(sp)]])
        np.savetxt(out.dir / f"{name}.csv", table, delimiter=",", header=f"{along},concentration,potential",
                   comments="")


def plot_morphology(out: RunOutput, model: ElectroCahnHilliard, t: float) -> None:
    """plots/morphology.png: c and Phi side by side (collective; rank 0 draws)."""
    X, c = gather_dofs(model.ch.V, model.concentration(), out.comm)
    Xp, phi = gather_dofs(model.Vphi, model.phi.x.array, out.comm)
    with out.figure("morphology") as (fig, ax):
        if fig is None:
            return
        import matplotlib.tri as mtri
        fig.set_size_inches(11, 4.5)
        ax.remove()
        for i, (XX, v, lab, cmap) in enumerate(((X, c, "c", "RdBu_r"), (Xp, phi, "Phi", "viridis"))):
            a = fig.add_subplot(1, 2, i + 1)
            cs = a.tricontourf(mtri.Triangulation(XX[:, 0], XX[:, 1]), v, levels=32, cmap=cmap)
            fig.colorbar(cs, ax=a, label=lab)
            a.set_aspect("equal")
            a.set_xlabel("x")
            a.set_ylabel("y")
            a.set_title(f"{lab} at t = {t:.4g}")


def solve(p: ElectroSpinodalParameters, out: RunOutput) -> None:
    model = build(p, out.comm)
    ch = model.ch
    units = Scales(length=1.0, time=1.0)  # benchmark units throughout
    c_out = dolfinx.fem.Function(ch.V, name="concentration")

    def fill(f):
        f.x.array[:] = model.concentration()
        f.x.scatter_forward()

    out.update(mesh=mesh_summary(ch.mesh, [ch.W, model.Vphi]), variant="6a (square)",
               units="PFHub benchmark 6 (nondimensional): t_s and t are benchmark time")
    control = StepControl(t_end=p.t_end, dt=p.dt, dt_min=1e-8 * p.dt, dt_max=p.dt_max,
                          grow=1.2, easy_newton=5, fixed=p.fixed_dt)
    checks = acceptance_checks(ch, p.dc_max, log_bounds=False, energy=False)
    if p.lyapunov_check:
        checks.append(lyapunov_decreases(model))
    ec = ch.error_control
    if ec is not None:
        checks.insert(0, ec.check)
    times = list(out.output_times_s) or [t for t in PFHUB_TIMES if t <= p.t_end]
    fields = si_fields(out, "fields", [(c_out, fill), (model.phi, "potential", 1.0)], units, every=p.fields_every)
    sim = Simulation(model, control, comm=out.comm, output=out, recorders=[observables(model)],
                     fields=[fields], checks=checks, max_dt=ec.max_dt if ec is not None else None,
                     output_times=times)
    res = sim.run()
    ts = out.timeseries
    F, lyap = ts.column("free_energy"), ts.column("lyapunov")
    at = {f"{t:g}": float(np.interp(t, ts.column("t"), F)) for t in times if t <= res.t}
    out.update(free_energy_initial=F[0], free_energy_final=F[-1], free_energy_at_output_times=at,
               lyapunov_monotone=bool(np.all(np.diff(lyap) <= 1e-10 * np.abs(lyap[:-1]))),
               mass_rel_change_max=float(ts.column("mass_rel_change").max()))
    if out.comm.rank == 0:
        with out.figure("free_energy") as (fig, ax):
            t = ts.column("t")
            ax.semilogx(t[1:], F[1:], label="F (solidion, 6a)")
            ax.semilogx(t[1:], lyap[1:], "--", label="Lyapunov L = F + int k c Phi_0 / 2")
            ax.set_xlabel("t (benchmark units)")
            ax.set_ylabel("free energy (benchmark units)")
            ax.legend()
    plot_morphology(out, model, res.t)
    cut_planes(out, model, p)
    out.finish(res.status, res.reason, **res.summary(), timings=ch.solver.timings())
    model.destroy()
