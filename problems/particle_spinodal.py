"""Spinodal decomposition of a spherical particle quenched into the miscibility gap.

Cahn-Hilliard with the regular-solution free energy per site (units of kT),
no flux through the particle surface:

    dc/dt = div( D~ c(1-c) grad mu ),   mu = ln(c/(1-c)) + a (1 - 2c) + 2 k c - kappa~ lap c
    a = (Omega - T s1)/kT,  k = K/kT (homogeneous coherency),  kappa~ = a (lambda/R)^2
    c(x, 0) = c0 + seeded smooth noise          (partition-independent: random Fourier modes)

Scales: R (particle radius), T = R^2/D, energy kT per site; the total free
energy is reported in J: F = kT c_max N_A R^3 int g + kappa~/2 |grad c|^2 dx^.

Time stepping: backward Euler with the convex-concave split (discrete free
energy never increases; with ``energy_check`` a step that would increase it is
refused by an acceptance check), steps adapted to max |dc| per step
(:class:`fem.models.cahn_hilliard.CahnHilliard` + :class:`fem.simulation.Simulation`).  Solver: Newton with GMRES preconditioned by
a Schur-complement fieldsplit (A00 = M/dt: Jacobi; Schur 'selfp': hypre
BoomerAMG), or MUMPS LU.

Outputs: ``timeseries.csv`` (t_s, free_energy_J, c_mean, c_min, c_max,
c_std, dt_s, newton_iterations, krylov_iterations), ``fields/concentration.bp``,
``plots/free_energy.png``, ``plots/section.png`` (final c on the plane z = 0),
``plots/concentration_{surface,section,clip}.png`` (3D views of the final c, also at
``output_times_s``: ``..._t<t>s.png``; :mod:`fem.field_views`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dolfinx.fem

from fem import field_views
from fem.constitutive.mobility import mobility
from fem.field_plots import plot_section
from fem.models.cahn_hilliard import SOLVERS, SOLVER_HELP, CahnHilliard, acceptance_checks, smooth_noise
from fem.observables import Integral
from fem.output import RunOutput, mesh_summary, si_fields
from fem.parameters import param
from fem.regular_solution import RegularSolutionParameters
from fem.scaling import AVOGADRO, Scales
from fem.simulation import Simulation, StepControl
from meshes.sphere import sphere

NAME = "particle_spinodal"
DESCRIPTION = "3D particle quenched into the spinodal region (Cahn-Hilliard, regular solution)"


@dataclass
class ParticleSpinodalParameters(RegularSolutionParameters):
    """The regular-solution block (omega_eV ... c_max_mol_m3): :mod:`fem.regular_solution`; a wider
    interface than the platelets' (resolvable on a 3D mesh)."""

    radius_m: float = param(50e-9, "particle radius R", "m", gt=0)
    mesh_size: float = param(0.08, "element size relative to the radius", "-", gt=0, le=1)
    interface_length_m: float = param(5e-9, "interface length lambda = sqrt(kappa / Omega_eff)", "m", gt=0)
    diffusivity_m2_s: float = param(1e-16, "tracer diffusivity D (mobility D c(1-c)/kT)", "m^2/s", gt=0)
    c0: float = param(0.5, "mean site fraction after the quench", "-", gt=0, lt=1)
    noise: float = param(0.01, "amplitude of the initial noise", "-", ge=0)
    seed: int = param(1, "seed of the initial noise", "-", ge=0)
    t_end_s: float = param(100.0, "end time", "s", gt=0)
    dt_s: float = param(0.01, "initial time step", "s", gt=0)
    dt_max_s: float = param(5.0, "largest time step", "s", gt=0)
    dc_max: float = param(0.05, "largest change of c in one step", "-", gt=0)
    scheme: str = param("split", "time discretization", choices=("split", "implicit"))
    energy_check: bool = param(True, "refuse a step that raises the free energy (False: the decay is "
                               "observed, not enforced)")
    solver: str = param("fieldsplit", SOLVER_HELP, choices=SOLVERS)
    fields_every: int = param(0, "write fields every N steps (0: first and last only)", ge=0)
    max_steps: int = param(100000, "stop after this many steps", "-", ge=1)

    def check(self):
        self.require(self.c0 - 3 * self.noise > 0 and self.c0 + 3 * self.noise < 1, "noise",
                     f"c0 +- 3 noise must stay in (0, 1); allowed range [0, {min(self.c0, 1 - self.c0) / 3:.3g}]")
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}] s")
        self.require(self.interface_length_m / self.radius_m >= 0.5 * self.mesh_size, "interface_length_m",
                     f"must be at least half an element ({0.5 * self.mesh_size * self.radius_m:.3g} m); "
                     "refine mesh_size")


Parameters = ParticleSpinodalParameters


def build(p: ParticleSpinodalParameters, comm):
    fe = p.free_energy()
    domain = sphere(p.radius_m, p.mesh_size, order=1, comm=comm)
    kappa = p.gradient_coefficient(p.radius_m)
    model = CahnHilliard(domain.mesh, fe, kappa=kappa, mobility=lambda c: mobility(c, "lattice"),
                         scheme=p.scheme, solver=p.solver, prefix="pspin_")
    noise = smooth_noise(p.seed, p.noise, n_modes=48, k_max=2.0 / (p.interface_length_m / p.radius_m))
    model.set_concentration(lambda X: p.c0 + noise(X))
    return domain, fe, model


def observables(model: CahnHilliard, s: Scales, energy_J: float):
    """Recorder: free energy [J], composition statistics and the last step."""
    c2 = Integral(model.c_expr * model.c_expr * model.dx)

    def record(t) -> dict:
        mean = model.mass() / model.volume
        lo, hi = model.global_minmax(model.concentration())
        std = np.sqrt(max(c2() / model.volume - mean**2, 0.0))
        return {"free_energy_J": model.energy() * energy_J, "c_mean": mean, "c_min": lo, "c_max": hi,
                "c_std": std, "dt_s": model.last_dt * s.time, "newton_iterations": model.last_newton,
                "krylov_iterations": model.last_krylov}
    return record


def solve(p: ParticleSpinodalParameters, out: RunOutput) -> None:
    domain, fe, model = build(p, out.comm)
    s = Scales.diffusive(p.radius_m, p.diffusivity_m2_s, p.c_max_mol_m3, p.temperature_K)
    energy_J = fe.kT * p.c_max_mol_m3 * AVOGADRO * s.length**3
    c_out = dolfinx.fem.Function(model.V, name="concentration")

    def fill(f):
        f.x.array[:] = model.concentration()
        f.x.scatter_forward()

    sp = fe.spinodal()
    out.update(mesh=mesh_summary(model.mesh, [model.W]),
               scales={"length_m": s.length, "time_s": s.time, "energy_J": energy_J},
               spinodal=sp, binodal=fe.binodal(), kappa_nondimensional=model.kappa,
               inside_spinodal=bool(sp and sp[0] < p.c0 < sp[1]))
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.25, easy_newton=5, max_steps=p.max_steps)
    # 3D pictures (plots/concentration_{surface,section,clip}.png) at the end and at output_times_s
    views = field_views.views_output(out, "concentration", c_out, time_scale=s.time, length_scale=s.length,
                                     value_scale=p.c_max_mol_m3, vmin=0.0, vmax=p.c_max_mol_m3,
                                     label="c [mol/m$^3$]", title="Li concentration", update=lambda: fill(c_out))
    sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out,
                     recorders=[observables(model, s, energy_J)],
                     fields=[si_fields(out, "concentration", [(c_out, fill)], s, every=p.fields_every), views],
                     checks=acceptance_checks(model, p.dc_max, energy=p.energy_check))
    res = sim.run()
    ts = out.timeseries
    F = ts.column("free_energy_J")
    steps = max(res.steps, 1)
    out.update(energy_monotone=bool(np.all(np.diff(F) <= 1e-12 * np.abs(F[:-1]))),
               mass_rel_change=float(abs(ts.column("c_mean")[-1] - ts.column("c_mean")[0]) / ts.column("c_mean")[0]),
               newton_per_step=res.newton / steps, krylov_per_newton=res.krylov / max(res.newton, 1),
               wall_per_step_s=res.wall_s / steps)
    if out.comm.rank == 0:
        with out.figure("free_energy") as (fig, ax):
            t = ts.column("t_s")
            ax.semilogx(t[1:], F[1:])
            ax.set_xlabel("t [s]")
            ax.set_ylabel("free energy [J]")
    plot_section(out, "section", model.V, model.concentration(), out.comm, length_scale=s.length * 1e9,
                 unit="[nm]", section_axis="z", vmin=0, vmax=1, title=f"c on z = 0, t = {res.t * s.time:.3g} s")
    out.finish(res.status, res.reason, **res.summary(s.time), timings=model.solver.timings())
    model.destroy()
