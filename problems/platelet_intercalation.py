"""Reaction-limited intercalation in a LiFePO4-like platelet (depth-averaged Cahn-Hilliard-reaction).

The platelet (length L_x, width L_y, thickness h << L_x) reacts through its n_f large faces
and transports lithium fast through its thickness, so the site fraction c is depth-averaged
over the face (Bai, Cogswell & Bazant, Nano Lett. 11 (2011) 4890; Singh, Ceder & Bazant,
Electrochim. Acta 53 (2008) 7599):

    c_max h dc/dt = n_f j_in(x) + div( D c(1-c)/kT c_max h grad mu )     [mol/(m^2 s)]
    j_in = -i/F,  i = i0(c, mu) 2 sinh(e eta / 2kT),  eta = V - U0 + mu/e,
    i0(c, mu) = 2 i0_ref (1 - c) exp(mu / 2kT),  mu = g'(c) - kappa lap c (regular solution)

at constant current: the cell voltage V is a global unknown fixed by
int_A n_f j_in dA = the applied rate (the C-rate of the platelet's c_max h |A|), see
:mod:`fem.models.platelet` (model, scaling, the linear-stability critical current and the
intercalation-wave voltage gap).  1D (``cells_y = 0``: a line across the face) or 2D (the face).
One :class:`fem.simulation.Simulation` per C-rate (stages ``rate_<i>``), from
c = c_start + perturbation cos(pi x / L_x) + noise.

Scales: L = L_x, T = c_max h F / (n_f i0_ref) (the reaction time), mu in kT.

Outputs: ``timeseries.csv`` (t_s, c_rate, current_A_m2 (per reacting face, > 0 anodic),
capacity_fraction, c_mean, c_min, c_max, spread, voltage_V, ocv_mean_V, mass_balance_rel_error,
dt_s), summary (critical_c_rate, per rate: separated, spread_max, voltage_mean_0p3_0p7_V),
``plots/voltage.png``, ``plots/profile_<rate>C.png`` (1D) or ``plots/morphology_<rate>C.png``
(2D) at half capacity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dolfinx.fem
import dolfinx.mesh

from fem.field_plots import plot_section
from fem.models.cahn_hilliard import SOLVERS, SOLVER_HELP, acceptance_checks, smooth_noise
from fem.models.platelet import PlateletCahnHilliard, critical_rate, growth_rate, homogeneous_phi
from fem.output import RunOutput, mesh_summary
from fem.parameters import param
from fem.regular_solution import ElectrodeRegularSolutionParameters
from fem.scaling import ELEMENTARY_CHARGE, FARADAY
from fem.simulation import Simulation, StepControl
from fem.staged_runs import close_rate_sweep, first_stage

NAME = "platelet_intercalation"
DESCRIPTION = ("Depth-averaged LiFePO4-like platelet, reaction-limited (Cahn-Hilliard-reaction, "
               "Bazant): intercalation waves, suppression of phase separation above a critical current")


@dataclass
class PlateletParameters(ElectrodeRegularSolutionParameters):
    """The regular-solution block (omega_eV ... u0_V): :mod:`fem.regular_solution`."""

    length_m: float = param(100e-9, "platelet length L_x along x (the front travels along x)", "m", gt=0)
    width_m: float = param(50e-9, "platelet width L_y (2D only)", "m", gt=0)
    thickness_m: float = param(20e-9, "platelet thickness h (transport through it is fast)", "m", gt=0)
    reacting_faces: int = param(2, "number of reacting large faces n_f", "-", ge=1, le=2)
    cells_x: int = param(100, "cells along x", "-", ge=2)
    cells_y: int = param(0, "cells along y (0: 1D line across the face)", "-", ge=0)
    exchange_current_A_m2: float = param(0.05, "exchange current i0_ref per face at c = 1/2, mu = 0", "A/m^2",
                                         gt=0)
    inplane_diffusivity_m2_s: float = param(0.0, "in-plane tracer diffusivity D (0: pure reaction)", "m^2/s",
                                            ge=0)
    c_rates: list[float] = param([1.0, 100.0], "C-rates (1C: c_max h |A| in one hour), one stage each", "1/h")
    direction: str = param("discharge", "discharge: insert Li from c_start; charge: extract",
                           choices=("discharge", "charge"))
    c_start: float = param(0.02, "initial site fraction of a discharge (a charge starts at 1 - c_start)", "-",
                           gt=0, lt=0.5)
    perturbation: float = param(1e-3, "amplitude of the initial cos(pi x / L_x) perturbation", "-", ge=0)
    noise: float = param(1e-4, "amplitude of the initial smooth random noise", "-", ge=0)
    seed: int = param(7, "seed of the noise", "-", ge=0)
    capacity_end: float = param(0.9, "stop at this fraction of the c_start -> 1 - c_start range", "-", gt=0, le=1)
    voltage_cutoff_V: float = param(0.5, "stop when |V - U0| exceeds this", "V", gt=0)
    dc_max: float = param(0.02, "largest change of c in one step", "-", gt=0)
    growth_dt_factor: float = param(0.1, "while homogeneous: dt <= this / linear growth rate s(k1)", "-", gt=0)
    scheme: str = param("implicit", "time discretization of g'", choices=("split", "implicit"))
    solver: str = param("lu", SOLVER_HELP, choices=SOLVERS)

    def check(self):
        self.require(len(self.c_rates) > 0 and all(r > 0 for r in self.c_rates), "c_rates",
                     "needs at least one C-rate, each in (0, inf) 1/h")
        cells = [self.cells_x / self.length_m] + ([self.cells_y / self.width_m] if self.cells_y else [])
        self.require(self.interface_length_m * min(cells) >= 0.5, "interface_length_m",
                     "must be at least half a cell (refine cells_x, cells_y)")

    def time_scale_s(self) -> float:
        """T = c_max h F / (n_f i0_ref)."""
        return self.c_max_mol_m3 * self.thickness_m * FARADAY / (self.reacting_faces * self.exchange_current_A_m2)


Parameters = PlateletParameters


def build(p: PlateletParameters, comm) -> PlateletCahnHilliard:
    fe = p.free_energy()
    T = p.time_scale_s()
    if p.cells_y:
        mesh = dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [1.0, p.width_m / p.length_m]],
                                             [p.cells_x, p.cells_y], cell_type=dolfinx.mesh.CellType.triangle)
    else:
        mesh = dolfinx.mesh.create_interval(comm, p.cells_x, [0.0, 1.0])
    return PlateletCahnHilliard(mesh, fe, kappa=p.gradient_coefficient(p.length_m),
                                inplane_mobility=p.inplane_diffusivity_m2_s * T / p.length_m**2,
                                kT_e=fe.kT / ELEMENTARY_CHARGE, u0_V=p.u0_V, extract=p.direction == "charge",
                                scheme=p.scheme, solver=p.solver, prefix="platelet_")


def solve(p: PlateletParameters, out: RunOutput) -> None:
    model = build(p, out.comm)
    fe, kT_e, T = model.fe, model.kT_e, p.time_scale_s()
    sign = 1.0 if p.direction == "discharge" else -1.0
    c0 = p.c_start if sign > 0 else 1 - p.c_start
    noise = smooth_noise(p.seed, p.noise)

    def c_init(X):
        return c0 + sign * p.perturbation * np.cos(np.pi * X[0]) + noise(X)

    k1 = np.pi  # the longest no-flux mode along x (x in units of L_x)
    Ic, c_at = critical_rate(fe, k1, model.kappa)
    c_rate_of = lambda I: I * 3600.0 / T  # noqa: E731  (I = d<c>/dt in 1/T)
    out.update(mesh=mesh_summary(model.mesh, [model.W]), time_scale_s=T, kappa_nondimensional=model.kappa,
               binodal=fe.binodal(), spinodal=fe.spinodal(),
               plateau_voltage_V=(fe.u0_V - kT_e * fe.plateau_mu()) if fe.binodal() else None,
               critical_c_rate=c_rate_of(Ic) if sign > 0 and model.inplane_mobility == 0 else None,
               critical_current_A_m2=Ic * p.exchange_current_A_m2, critical_c_mean=c_at)
    c_out = dolfinx.fem.Function(model.V, name="concentration")
    done = []
    first = first_stage(out)
    for irate, rate in enumerate(p.c_rates):
        if irate < first:
            continue
        I = rate / 3600.0 * T  # mean filling rate d<c>/dt, nondimensional
        model.v_hold.value = homogeneous_phi(fe, c0, sign * I)  # initial guess of V
        model.reset(c_init)
        model.set_total_inflow(sign * I * model.area)
        t_end = p.capacity_end * (1 - 2 * p.c_start) / I
        model.notes.update(stages_done=done, half=False)
        last = {}
        vtx = out.vtx(f"concentration_{irate}", c_out, p.length_m)

        def record(t, rate=rate, I=I, last=last, vtx=vtx):
            c_mean = model.mass() / model.volume
            q = abs(c_mean - c0) / (1 - 2 * p.c_start)
            expected = I * t  # the imposed rate integrated
            mb = abs(abs(c_mean - model.c_mean0) - expected) / expected if t > 0 else 0.0
            lo, hi = model.global_minmax(model.concentration())
            last.update(V=model.cell_voltage_V(p.u0_V), spread=hi - lo)
            if not model.notes["half"] and q >= 0.5:
                model.notes["half"] = True
                c_out.x.array[:] = model.concentration()
                c_out.x.scatter_forward()
                vtx.write(t * T)
                _picture(out, model, p, rate)
            return {"c_rate": rate, "current_A_m2": -sign * I * p.exchange_current_A_m2, "capacity_fraction": q,
                    "c_mean": c_mean, "c_min": lo, "c_max": hi, "spread": hi - lo, "voltage_V": last["V"],
                    "ocv_mean_V": fe.u0_V - kT_e * model.surface_mu(), "mass_balance_rel_error": mb,
                    "dt_s": model.last_dt * T if t > 0 else 0.0}

        def cutoff(t, last=last):
            V = last["V"]
            return f"cut-off voltage reached: V = {V:.4f} V" if abs(V - p.u0_V) > p.voltage_cutoff_V else None

        def max_dt(t, I=I, last=last):
            """dc_max: aim below it (fewer rejected steps); while homogeneous, resolve the linear
            growth (backward Euler damps modes with s dt > 2)."""
            aim = 0.9 * model.last_dt * p.dc_max / model.last_dc if model.last_dc > 0 and t > 0 else np.inf
            if last.get("spread", 0.0) > 0.1:
                return aim
            c_mean = model.mass() / model.volume
            s = growth_rate(fe, c_mean, sign * I, k1, model.kappa, model.inplane_mobility)
            return min(aim, p.growth_dt_factor / s) if s > 0 else aim

        control = StepControl(t_end=t_end, dt=1e-4 * t_end, dt_min=1e-12 * t_end, dt_max=0.01 * t_end,
                              grow=1.3, easy_newton=5)
        res = Simulation(model, control, comm=out.comm, time_scale=T, output=out, recorders=[record],
                         stops=[cutoff], checks=acceptance_checks(model, p.dc_max, energy=False), max_dt=max_dt,
                         name=f"rate_{irate}").run()
        vtx.close()
        done = model.notes["stages_done"]
        ts = out.timeseries
        sel = ts.column("c_rate") == rate
        Q, V, spread = ts.column("capacity_fraction")[sel], ts.column("voltage_V")[sel], ts.column("spread")[sel]
        win = (Q >= 0.3) & (Q <= 0.7)
        done.append(dict(rate=f"{rate:g}C", status=res.status, reason=res.reason, counts=res.summary(T), entries=dict(
            steps=res.steps, rejected=res.rejected, end=res.reason or "capacity_end reached",
            current_over_exchange=sign * I, current_over_critical=I / Ic, spread_max=float(spread[1:].max()),
            separated=bool(spread[1:].max() > 0.5), capacity_reached=float(Q.max()),
            voltage_mean_0p3_0p7_V=float(V[win].mean()) if win.any() else None,
            mass_balance_rel_error_max=float(ts.column("mass_balance_rel_error")[sel].max()))))
        if res.status == "interrupted":
            break
    close_rate_sweep(out, model, done, p.c_rates, p.free_energy(), p.direction)


def _picture(out, model, p, rate):
    """c at half capacity: the face (2D) or the profile c(x) (1D)."""
    if p.cells_y:
        plot_section(out, f"morphology_{rate:g}C", model.V, model.concentration(), out.comm,
                     length_scale=p.length_m * 1e9, unit="[nm]", vmin=0, vmax=1, title=f"{rate:g}C, half capacity")
        return
    n = model.V.dofmap.index_map.size_local
    x = model.V.tabulate_dof_coordinates()[:n, 0]
    parts = out.comm.gather((x, model.concentration()[:n].copy()), root=0)
    with out.figure(f"profile_{rate:g}C") as (fig, ax):
        if fig is None:
            return
        x, c = (np.concatenate(z) for z in zip(*parts))
        order = np.argsort(x)
        ax.plot(x[order] * p.length_m * 1e9, c[order])
        ax.set_xlabel("x [nm]")
        ax.set_ylabel("c / c_max")
        ax.set_ylim(0, 1)
        ax.set_title(f"{p.direction} at {rate:g}C, half capacity")

