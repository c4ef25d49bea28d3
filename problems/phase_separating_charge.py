"""Galvanostatic charge/discharge of a phase-separating (LiFePO4-like) particle.

Cahn-Hilliard with the regular-solution free energy per site (units of kT):

    dc/dt = div( D~ c(1-c) A grad mu ),   mu = ln(c/(1-c)) + a (1 - 2c) + 2 k c - kappa~ lap c
    a = (Omega - T s1)/kT,  k = K/kT,  kappa~ = a (lambda / L)^2  (lambda: interface length)

on a 2D section  [0, Lx] x [0, Ly] of a platelet particle; lithium enters or
leaves through the faces y = 0 and y = Ly (the fast b-axis facets of LiFePO4)
with a uniform flux fixed by the C-rate (constant current):

    D c(1-c) A grad mu . n = j_in = +-(C_rate / 3600 s) c_max Ly / 2     [mol/(m^2 s)]

and no flux through x = 0, Lx.  A = diag(anisotropy_x, 1) scales the mobility.
The cell voltage is the surface-averaged equilibrium potential minus a
symmetric Butler-Volmer overpotential:

    V = U0 - (kT/e) <mu>_surface + eta_BV(i),   i = -j_in F

At low rate the particle separates into Li-rich and Li-poor phases and V
sits on the plateau U0 - (kT/e) mu_plateau (common tangent; = U0 for a
symmetric regular solution); at high rate the concentration gradients tilt it.
eta_BV: :class:`fem.constitutive.kinetics.ButlerVolmer`, i0(c) = i0 2 sqrt(c(1-c)).
``control = "voltage"`` holds V; the same kinetics sets the local flux.  ``control =
"reaction"`` (reaction-limited, :mod:`fem.models.reaction_limited`): galvanostatic with that
local flux j_in(x) = -i(c, V - U0 + (kT/e) mu(x))/F, V a global unknown fixed by the C-rate
(int_S j_in dS = the applied current).  One :class:`fem.simulation.Simulation` per C-rate
(stages ``rate_<i>``).  Depth-averaged platelets (fast transport through the thickness,
intercalation waves, suppressed phase separation): problem ``platelet_intercalation``.
Scales: L = Ly, T = Ly^2 / D, c_max; mu in kT.

Outputs: ``timeseries.csv`` (t_s, c_rate, capacity_fraction, c_mean, c_min, c_max,
voltage_V, ocv_surface_V, overpotential_V, mass_balance_rel_error, dt_s),
``plots/voltage.png`` (voltage vs capacity per rate),
``plots/morphology_<rate>C.png`` (c at half charge), ``fields/concentration_<i>.bp``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl

import dolfinx.fem
import dolfinx.mesh

from fem.constitutive.kinetics import ButlerVolmer
from fem.constitutive.mobility import mobility
from fem.errors import SolverError
from fem.field_plots import plot_section
from fem.models.cahn_hilliard import (SOLVER_HELP, SOLVERS, ReactingCahnHilliard, acceptance_checks,
                                      smooth_noise, spinodal_max_dt)
from fem.models.reaction_limited import ReactionLimitedCahnHilliard
from fem.output import RunOutput, mesh_summary
from fem.parameters import param
from fem.regular_solution import ElectrodeRegularSolutionParameters
from fem.scaling import ELEMENTARY_CHARGE, FARADAY, Scales
from fem.simulation import Simulation, StepControl
from fem.staged_runs import close_rate_sweep, first_stage

NAME = "phase_separating_charge"
DESCRIPTION = "Phase-separating (LiFePO4-like) particle at low and high C-rate: voltage plateau, morphology"


@dataclass
class ChargeParameters(ElectrodeRegularSolutionParameters):
    """The regular-solution block (omega_eV ... u0_V): :mod:`fem.regular_solution`."""

    length_x_m: float = param(100e-9, "particle length along x (no-flux faces at x = 0, Lx)", "m", gt=0)
    length_y_m: float = param(50e-9, "particle thickness along y (insertion faces y = 0, Ly)", "m", gt=0)
    cells_x: int = param(50, "cells along x", "-", ge=2)
    cells_y: int = param(25, "cells along y", "-", ge=2)
    diffusivity_m2_s: float = param(1e-16, "tracer diffusivity D (mobility D c(1-c)/kT)", "m^2/s", gt=0)
    anisotropy_x: float = param(1.0, "mobility ratio along x relative to y", "-", gt=0)
    exchange_current_A_m2: float = param(0.5, "exchange current density i0 (Butler-Volmer)", "A/m^2", gt=0)
    control: str = param("current", "current: galvanostatic at c_rates (uniform flux); voltage: potentiostatic "
                         "hold at hold_voltage_V with a local Butler-Volmer surface reaction; reaction: galvanostatic "
                         "with that local reaction", choices=("current", "voltage", "reaction"))
    c_rates: list[float] = param([0.05, 5.0], "C-rates to run one after the other", "1/h")
    hold_voltage_V: float = param(3.472, "cell voltage held (control = 'voltage')", "V")
    hold_time_s: float = param(2000.0, "duration of the potentiostatic hold (control = 'voltage')", "s", gt=0)
    direction: str = param("charge", "charge: extract Li (c from c_full down); discharge: insert",
                           choices=("charge", "discharge"))
    c_full: float = param(0.97, "initial site fraction of a charge (discharge starts at 1 - c_full)", "-",
                          gt=0.5, lt=1)
    capacity_end: float = param(0.9, "stop at this capacity fraction of the c_full -> 1-c_full range", "-",
                                gt=0, le=1)
    voltage_cutoff_V: float = param(0.3, "stop when |V - U0| exceeds this (cut-off voltages)", "V", gt=0)
    dc_max: float = param(0.03, "largest change of c in one step", "-", gt=0)
    scheme: str = param("implicit", "time discretization of g' (split: convex-concave, first-order lag "
                        "error 2 a dc in mu; implicit: fully implicit backward Euler)",
                        choices=("split", "implicit"))
    solver: str = param("lu", SOLVER_HELP, choices=SOLVERS)
    seed: int = param(7, "seed of the small initial noise (breaks the symmetry)", "-", ge=0)
    noise: float = param(1e-3, "amplitude of the initial noise", "-", ge=0)

    def check(self):
        self.require(len(self.c_rates) > 0 and all(r > 0 for r in self.c_rates), "c_rates",
                     "needs at least one C-rate, each in (0, inf) 1/h")
        self.free_energy()  # validates the energy parameters
        self.require(self.interface_length_m * min(self.cells_x / self.length_x_m,
                                                    self.cells_y / self.length_y_m) >= 0.5,
                     "interface_length_m", "must be at least half a cell (refine cells_x, cells_y)")


Parameters = ChargeParameters


def kinetics(p: ChargeParameters) -> ButlerVolmer:
    """Symmetric Butler-Volmer with i0(c) = i0 2 sqrt(c (1 - c)), i0 = exchange_current_A_m2 at c = 1/2
    (unregularized: the log free energy keeps c in (0, 1))."""
    unit = ButlerVolmer(1.0, p.c_max_mol_m3, temperature_K=p.temperature_K, x_regularization=0.0)
    return ButlerVolmer(p.exchange_current_A_m2 / unit.exchange_current(0.5), p.c_max_mol_m3,
                        temperature_K=p.temperature_K, x_regularization=0.0)


def build(p: ChargeParameters, comm) -> tuple[ReactingCahnHilliard, Scales]:
    """The section [0, Lx/Ly] x [0, 1] (x^ = x/Ly), insertion through y = 0 and y = 1."""
    fe = p.free_energy()
    s = Scales.diffusive(p.length_y_m, p.diffusivity_m2_s, p.c_max_mol_m3, p.temperature_K)
    mesh = dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [p.length_x_m / p.length_y_m, 1.0]],
                                         [p.cells_x, p.cells_y], cell_type=dolfinx.mesh.CellType.triangle)
    fdim = mesh.topology.dim - 1
    facets = dolfinx.mesh.locate_entities_boundary(
        mesh, fdim, lambda X: np.isclose(X[1], 0.0) | np.isclose(X[1], 1.0))
    tags = dolfinx.mesh.meshtags(mesh, fdim, np.sort(facets), np.full(len(facets), 1, dtype=np.int32))
    # fixed quadrature: the inflow in the residual (tested with q, sum_i q_i = 1) and its
    # integral for the mass balance use the same rule -> exact discrete balance
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tags, subdomain_id=1, metadata={"quadrature_degree": 4})
    A = ufl.as_matrix([[p.anisotropy_x, 0.0], [0.0, 1.0]])
    model = (ReactionLimitedCahnHilliard if p.control == "reaction" else ReactingCahnHilliard)(
        mesh, fe, ds, control=p.control, extract=p.direction == "charge", kinetics=kinetics(p),
        kT_e=fe.kT / ELEMENTARY_CHARGE, molar_flux=s.molar_flux, v_hold_V=p.hold_voltage_V, u0_V=p.u0_V,
        kappa=p.gradient_coefficient(p.length_y_m),
        mobility=lambda c: mobility(c, "lattice", 1.0, A), scheme=p.scheme, solver=p.solver, prefix="psc_",
        # the potentiostatic inflow depends on the unknowns: converge the residual (whose
        # sum is the discrete lithium balance) to round-off
        snes_options={"snes_atol": 1e-14} if p.control == "voltage" else None)
    return model, s


def solve(p: ChargeParameters, out: RunOutput) -> None:
    model, s = build(p, out.comm)
    fe, kT_e = model.fe, model.kT_e
    c_start = p.c_full if p.direction == "charge" else 1.0 - p.c_full
    noise = smooth_noise(p.seed, p.noise)
    if p.control == "voltage":
        return solve_potentiostatic(p, out, model, s, lambda X: c_start + noise(X))
    out.update(mesh=mesh_summary(model.mesh, [model.W]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               binodal=fe.binodal(), spinodal=fe.spinodal(),
               plateau_voltage_V=(fe.u0_V - kT_e * fe.plateau_mu()) if fe.binodal() else None,
               kappa_nondimensional=model.kappa)
    sign = -1.0 if p.direction == "charge" else 1.0
    c_range = 2 * p.c_full - 1
    c_out = dolfinx.fem.Function(model.V, name="concentration")
    done = []  # per stage: its summary entries and counters
    first = first_stage(out)
    for irate, rate in enumerate(p.c_rates):
        if irate < first:
            continue
        model.reset(lambda X: c_start + noise(X))
        # dc_mean/dt = rate/3600 s (c in units of c_max) -> nondimensional flux over the two faces
        j_nd = sign * rate / 3600.0 * s.time * model.volume / model.area
        model.j_in.value = j_nd
        if p.control == "reaction":  # the total inflow over both faces
            model.set_total_inflow(j_nd * model.area)
        j_si = j_nd * s.molar_flux  # mol/(m^2 s), > 0 inserting
        eta = float(model.kinetics.overpotential(-j_si * FARADAY, 0.5))
        t_end = p.capacity_end * c_range / (rate / 3600.0 * s.time)
        vtx = out.vtx(f"concentration_{irate}", c_out, s.length)
        model.notes.update(stages_done=done, half=False)  # checkpointed with the model
        last = {}

        def record(t, rate=rate, eta=eta, vtx=vtx, last=last):
            c_mean = model.mass() / model.volume
            q = abs(c_mean - c_start) / c_range
            expected = abs(j_nd) * t * model.area / model.volume  # exact: the applied current
            mb = abs(abs(c_mean - model.c_mean0) - expected) / max(expected, 1e-300) if t > 0 else 0.0
            ocv = fe.u0_V - kT_e * model.surface_mu()
            # reaction control: V is an unknown (at t = 0, before a step: the uniform-flux estimate)
            last["V"] = ocv + eta if p.control == "current" or t == 0 else model.cell_voltage_V(p.u0_V)
            lo, hi = model.global_minmax(model.concentration())  # the two phases' compositions
            if not model.notes["half"] and q >= 0.5:
                model.notes["half"] = True
                c_out.x.array[:] = model.concentration()
                c_out.x.scatter_forward()
                vtx.write(t * s.time)
                plot_section(out, f"morphology_{rate:g}C", model.V, model.concentration(), out.comm,
                             length_scale=s.length * 1e9, unit="[nm]", vmin=0, vmax=1,
                             title=f"{p.direction} at {rate:g}C, half capacity")
            return {"c_rate": rate, "capacity_fraction": q, "c_mean": c_mean, "voltage_V": last["V"],
                    "c_min": lo, "c_max": hi, "ocv_surface_V": ocv, "overpotential_V": last["V"] - ocv,
                    "mass_balance_rel_error": mb, "dt_s": model.last_dt * s.time if t > 0 else 0.0,
                    "current_A_m2": -j_si * FARADAY}

        def cutoff(t, last=last):
            V = last["V"]
            return f"cut-off voltage reached: V = {V:.4f} V" if abs(V - p.u0_V) > p.voltage_cutoff_V else None

        control = StepControl(t_end=t_end, dt=1e-4 * t_end, dt_min=1e-12 * t_end, dt_max=0.01 * t_end,
                              grow=1.3, easy_newton=5)
        sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out, recorders=[record],
                         stops=[cutoff], checks=acceptance_checks(model, p.dc_max, energy=False),
                         max_dt=spinodal_max_dt(model, lambda c: max(p.anisotropy_x, 1.0) * c * (1 - c)),
                         name=f"rate_{irate}")
        res = sim.run()
        vtx.close()
        done = model.notes["stages_done"]  # restored from the checkpoint on a restart
        ts = out.timeseries
        sel = ts.column("c_rate") == rate
        Q, V = ts.column("capacity_fraction")[sel], ts.column("voltage_V")[sel]
        done.append(dict(rate=f"{rate:g}C", status=res.status, reason=res.reason, counts=res.summary(s.time),
                         entries=dict(
            steps=res.steps, rejected=res.rejected, end=res.reason or "capacity_end reached",
            voltage_at_half_V=float(np.interp(0.5, Q, V)) if Q.max() >= 0.5 else None,
            voltage_mean_0p3_0p7_V=float(V[(Q >= 0.3) & (Q <= 0.7)].mean()) if Q.max() >= 0.7 else None,
            overpotential_V=eta, capacity_reached=float(Q.max()), half_charge_morphology=model.notes["half"])))
        if res.status == "interrupted":
            break
    close_rate_sweep(out, model, done, p.c_rates, p.free_energy(), p.direction)


def solve_potentiostatic(p: ChargeParameters, out: RunOutput, model, s, c_init) -> None:
    """Hold the cell voltage; the local Butler-Volmer flux drives the particle to the
    equilibrium composition mu(c) = -(V - U0) e/kT (single phase if V is off the plateau)."""
    fe, kT_e = model.fe, model.kT_e
    model.reset(c_init)
    out.update(mesh=mesh_summary(model.mesh, [model.W]), control="voltage", hold_voltage_V=p.hold_voltage_V,
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration})

    def record(t):
        total = model.inflow_now if t > 0 else 0.0
        c_mean = model.mass() / model.volume
        stored = (c_mean - model.c_mean0) * model.volume
        mb = abs(stored - model.inserted) / max(abs(stored), 1e-300) if t > 0 else 0.0
        ocv = fe.u0_V - kT_e * model.surface_mu()
        return {"c_rate": -total / model.volume / s.time * 3600.0, "capacity_fraction": abs(c_mean - model.c_mean0),
                "c_mean": c_mean, "voltage_V": p.hold_voltage_V, "ocv_surface_V": ocv,
                "overpotential_V": p.hold_voltage_V - ocv, "mass_balance_rel_error": mb,
                "dt_s": model.last_dt * s.time if t > 0 else 0.0,
                "current_A_m2": -total / model.area * s.molar_flux * FARADAY}  # > 0 for extraction

    t_end = p.hold_time_s / s.time
    control = StepControl(t_end=t_end, dt=1e-6 * t_end, dt_min=1e-14 * t_end, dt_max=0.05 * t_end,
                          grow=1.3, easy_newton=5)
    sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out, recorders=[record],
                     checks=acceptance_checks(model, p.dc_max, energy=False),
                     max_dt=spinodal_max_dt(model, lambda c: max(p.anisotropy_x, 1.0) * c * (1 - c)),
                     name="hold")
    res = sim.run()
    ts = out.timeseries
    # equilibrium composition at the held voltage: mu(c) = -(V - U0) e / kT on the stable branch
    out.update(c_equilibrium=fe.stable_composition(-(p.hold_voltage_V - p.u0_V) / kT_e),
               c_mean_final=float(ts.column("c_mean")[-1]),
               mass_balance_rel_error_max=float(ts.column("mass_balance_rel_error").max()))
    if out.comm.rank == 0:
        with out.figure("current") as (fig, ax):
            ax.semilogx(ts.column("t_s")[1:], ts.column("current_A_m2")[1:])
            ax.set_xlabel("t [s]")
            ax.set_ylabel("current density [A/m$^2$]")
    out.finish(res.status, res.reason, **res.summary(s.time), timings=model.solver.timings())
    model.destroy()
    if res.status == "failed":
        raise SolverError(res.reason)

