"""Thermodiffusion in a solid bar: ion transport coupled to a solved heat equation by linear
irreversible thermodynamics (Soret and Dufour effects, Joule and reaction heat).

Physics (SI; the Onsager matrix, its identification with D, S_T, Q* and k, and the derivation of
the steady profile: :mod:`fem.constitutive.onsager`)::

    dc/dt = -div J,                       J    = L_11 X_1 + L_1q X_q
    rho c_p dT/dt = -div J_q' + q_J,      J_q' = L_q1 X_1 + L_qq X_q,     q_J = z F J . E   [W/m^3]
    X_1 = -(1/T) grad_T mu~,  X_q = grad(1/T),  L_11 = D c / R,  L_1q = L_q1 = D c S_T T^2,  L_qq = k T^2

i.e. J = -D (grad c + c S_T grad T - z F c E / (R T)) and
J_q' = -k grad T - Q* D (grad c - z F c E / (R T)) with the heat of transport Q* = R T^2 S_T.
Bar 0 < x < L (1D), closed for the species; the right end at T_right_K; the left end either at
T_left_K (``left_boundary = temperature``) or a reacting surface (``reaction``): inward molar
flux j_r and the reaction heat j_r q_r [W/m^2] released there (insulated otherwise).  E is a
uniform applied field (the ions migrate; Joule heat); the dilute species' own enthalpy transport
is neglected (its heat capacity is part of rho c_p).

Steady state of the closed bar without field (J = 0): grad ln c = -S_T grad T, so for constant
S_T c(x) = A exp(-S_T (T(x) - T_ref)), A from the conserved amount; the run compares the FE
profile with it (``soret_profile_max_rel_error``, at every row; it converges to the FE error).

Nondimensional inside (x by L, t by L^2/D, c by c0, T by T_ref = T_initial_K; gamma = D c0 R / k,
S^ = S_T T_ref, Le = rho c_p D / k).  References: S. R. de Groot, P. Mazur, Non-equilibrium
Thermodynamics (North-Holland 1962), ch. IV, XI; S. Kjelstrup, D. Bedeaux, Non-Equilibrium
Thermodynamics of Heterogeneous Systems (World Scientific 2008), ch. 3-4.

Outputs: ``timeseries.csv`` (end temperatures and concentrations, amount balance, entropy
production: integral and minimum, Joule heat, Soret-profile error), ``profiles.csv`` (x_m, c_mol_m3,
T_K, c_soret_mol_m3), ``summary.json`` (the Onsager matrix at (c0, T_ref), Q*, the Dufour
coefficient, the check numbers), ``fields/thermodiffusion.bp``, ``plots/profiles.png``,
``plots/approach.png``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from fem.constitutive.onsager import Thermodiffusion
from fem.models.thermodiffusion import ThermodiffusionModel
from fem.output import RunOutput, atomic_write_text, mesh_summary, si_fields
from fem.parameters import Parameters, param
from fem.probes import PointProbe
from fem.scaling import FARADAY, GAS_CONSTANT, Scales
from fem.simulation import Simulation, StepControl
from meshes import tags as T

NAME = "thermodiffusion"
DESCRIPTION = "Soret/Dufour thermodiffusion in a solid bar: ion transport + heat equation with an Onsager matrix"


@dataclass
class ThermodiffusionParameters(Parameters):
    length_m: float = param(2e-6, "bar length L", "m", gt=0)
    n_cells: int = param(64, "number of cells along the bar", ge=2, le=100000)
    element_degree: int = param(2, "Lagrange degree of c and T", choices=(1, 2))
    c0_mol_m3: float = param(1000.0, "initial (uniform) concentration of the mobile species", "mol/m^3", gt=0)
    diffusivity_m2_s: float = param(1e-14, "diffusivity D", "m^2/s", gt=0)
    soret_coefficient_1_K: float = param(5e-3, "Soret coefficient S_T (heat of transport Q* = R T^2 S_T)", "1/K",
                                         ge=-1.0, le=1.0)
    thermal_conductivity_W_m_K: float = param(2.0, "thermal conductivity k (uniform electrochemical potential)",
                                              "W/(m K)", gt=0, le=1e4)
    density_kg_m3: float = param(4700.0, "density", "kg/m^3", gt=0, le=1e5)
    heat_capacity_J_kg_K: float = param(700.0, "specific heat capacity c_p", "J/(kg K)", gt=0, le=1e5)
    charge_number: int = param(1, "charge number z of the mobile species", ge=-4, le=4)
    T_initial_K: float = param(298.15, "initial (and reference) temperature", "K", gt=0)
    T_left_K: float = param(348.15, "left-end temperature (left_boundary = temperature)", "K", gt=0)
    T_right_K: float = param(298.15, "right-end temperature", "K", gt=0)
    left_boundary: str = param("temperature", "left end: fixed temperature, or a reacting surface",
                               choices=("temperature", "reaction"))
    reaction_flux_mol_m2_s: float = param(1e-9, "inward molar flux at a reacting left end", "mol/(m^2 s)")
    reaction_heat_J_mol: float = param(5e4, "heat released per mole reacted at the left end (-Delta H)", "J/mol")
    electric_field_V_m: float = param(0.0, "uniform applied electric field E (migration, Joule heat)", "V/m",
                                      ge=-1e7, le=1e7)
    t_end_s: float = param(1200.0, "end time (3 L^2/D by default: the steady Soret profile)", "s", gt=0)
    dt_s: float = param(0.01, "initial time step", "s", gt=0)
    fields_every: int = param(0, "write fields every N steps (0: first and last)", ge=0)

    def check(self):
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}] s")
        self.require_cells(self.n_cells, "n_cells")
        Ts = [self.T_initial_K, self.T_right_K] + ([self.T_left_K] if self.left_boundary == "temperature" else [])
        # the largest concentration of the run: the Soret enrichment plus what a reacting end inserts
        j = self.reaction_flux_mol_m2_s if self.left_boundary == "reaction" else 0.0
        c_max = (self.c0_mol_m3 * np.exp(abs(self.soret_coefficient_1_K) * (max(Ts) - min(Ts)))
                 + max(j, 0.0) * self.t_end_s / self.length_m)
        self.coefficients().check(c_max, max(Ts), names=("diffusivity_m2_s", "soret_coefficient_1_K",
                                                         "thermal_conductivity_W_m_K"))

    def coefficients(self) -> Thermodiffusion:
        return Thermodiffusion(self.diffusivity_m2_s, self.soret_coefficient_1_K, self.thermal_conductivity_W_m_K,
                               self.charge_number)


Parameters = ThermodiffusionParameters


def build(p: ThermodiffusionParameters, comm):
    """(model, scales, nondimensional groups) of the bar on x^ = x / L in [0, 1]."""
    from meshes._common import interval_mesh
    L, D, T0 = p.length_m, p.diffusivity_m2_s, p.T_initial_K
    s = Scales(L, L * L / D, p.c0_mol_m3, GAS_CONSTANT * T0 / FARADAY)
    domain = interval_mesh(np.linspace(0.0, 1.0, p.n_cells + 1), comm, [(T.PARTICLE, 0.0, 1.0)],
                           [(T.CONTACT_LEFT, 0.0), (T.CONTACT_RIGHT, 1.0)], T.cell_id, T.facet_id, L, {},
                           name="bar")
    gamma, S = p.coefficients().reduced(p.c0_mol_m3, T0)
    lewis = p.density_kg_m3 * p.heat_capacity_J_kg_K * D / p.thermal_conductivity_W_m_K
    field = p.electric_field_V_m * L / s.potential
    T_bc = {T.CONTACT_RIGHT: p.T_right_K / T0}
    inflow, heat = {}, {}
    if p.left_boundary == "temperature":
        T_bc[T.CONTACT_LEFT] = p.T_left_K / T0
    else:
        inflow[T.CONTACT_LEFT] = p.reaction_flux_mol_m2_s * L / (D * p.c0_mol_m3)
        heat[T.CONTACT_LEFT] = p.reaction_flux_mol_m2_s * p.reaction_heat_J_mol * L / (p.thermal_conductivity_W_m_K
                                                                                       * T0)
    model = ThermodiffusionModel(domain, gamma=gamma, S=S, lewis=lewis, z=p.charge_number, field=[field],
                                 T_dirichlet=T_bc, inflow=inflow, heat_inflow=heat, degree=p.element_degree,
                                 time_order=2)
    return model, s, {"gamma": gamma, "soret_reduced": S, "lewis_number": lewis, "field_reduced": field}


def recorder(model, p, s, inflow_rate):
    """SI observables of a row (per unit cross-section of the bar)."""
    T0, k, L = p.T_initial_K, p.thermal_conductivity_W_m_K, p.length_m
    ends = PointProbe(model.mesh, np.array([[0.0], [1.0]]))
    xs = np.linspace(0.0, 1.0, 4 * p.n_cells + 1)[:, None]
    line = PointProbe(model.mesh, xs)
    amount0 = model.amount()
    soret = p.electric_field_V_m == 0.0 and inflow_rate == 0.0

    def record(t):
        c, th = model.component(0), model.component(1)
        ce, te = ends(c), ends(th)
        sig, sig_min = model.entropy_production()
        row = {"T_left_K": te[0] * T0, "T_right_K": te[1] * T0, "c_left_mol_m3": ce[0] * s.concentration,
               "c_right_mol_m3": ce[1] * s.concentration,
               "amount_mol_m2": model.amount() * s.concentration * L,
               # closed bar / constant inflow: amount(t) = amount(0) + j t exactly (BDF integrates linear t exactly)
               "amount_balance_rel": (model.amount() - amount0 - inflow_rate * t) / amount0,
               "entropy_production_W_K_m2": sig * k / L, "entropy_production_min_W_K_m3": sig_min * k / L ** 2,
               "joule_heat_W_m2": model.joule_heat() * k * T0 / L}
        if soret:
            A = model.soret_normalization()
            cl, tl = line(c), line(th)
            row["soret_profile_max_rel_error"] = float(np.max(np.abs(cl - A * np.exp(-model.S.value * (tl - 1.0))))
                                                       / A)
        return row
    return record, line


def solve(p: ThermodiffusionParameters, out: RunOutput) -> None:
    model, s, groups = build(p, out.comm)
    coeff, T0 = p.coefficients(), p.T_initial_K
    inflow = float(model.values[("inflow", T.CONTACT_LEFT)].value) if p.left_boundary == "reaction" else 0.0
    out.update(mesh=mesh_summary(model.mesh, [model.W]), scales={"length_m": s.length, "time_s": s.time},
               nondimensional=groups,
               onsager_matrix_SI=coeff.onsager_matrix(p.c0_mol_m3, T0).tolist(),
               heat_of_transport_J_mol=coeff.heat_of_transport_J_mol(T0),
               dufour_coefficient_W_m_mol=coeff.dufour_W_m_mol(T0),
               conductivity_at_zero_flux_W_m_K=p.thermal_conductivity_W_m_K
               - p.c0_mol_m3 * p.diffusivity_m2_s * GAS_CONSTANT * (p.soret_coefficient_1_K * T0) ** 2)
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                          dt_max=p.t_end_s / s.time / 40, grow=1.3, easy_newton=5)

    def fill(i, factor):
        def f(dst):
            dst.x.array[:] = model.u.x.array[model.subs[i][1]] * factor
        return f
    import dolfinx.fem
    items = [(dolfinx.fem.Function(model.subs[0][0], name="c_mol_m3"), fill(0, s.concentration)),
             (dolfinx.fem.Function(model.subs[1][0], name="T_K"), fill(1, T0))]
    record, line = recorder(model, p, s, inflow)
    sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out, recorders=[record],
                     fields=[si_fields(out, "thermodiffusion", items, s, every=p.fields_every)])
    res = sim.run()
    c, th = line(model.component(0)), line(model.component(1))
    A = model.soret_normalization()
    x = line.points[:, 0] * s.length
    c_soret = A * np.exp(-model.S.value * (th - 1.0))
    if out.comm.rank == 0:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["x_m", "c_mol_m3", "T_K", "c_soret_mol_m3"])
        w.writerows(zip(x.tolist(), (c * s.concentration).tolist(), (th * T0).tolist(),
                        (c_soret * s.concentration).tolist()))
        atomic_write_text(out.dir / "profiles.csv", buf.getvalue())
    ts = out.timeseries
    extra = {"entropy_production_min_all_steps_W_K_m3": float(model.sigma_min_history) * p.thermal_conductivity_W_m_K
             / p.length_m ** 2,
             "amount_balance_max_rel": float(np.max(np.abs(ts.column("amount_balance_rel"))))}
    if "soret_profile_max_rel_error" in ts.columns:
        extra["soret_profile_max_rel_error"] = float(ts.column("soret_profile_max_rel_error")[-1])
    _plot(out, x, c * s.concentration, th * T0, c_soret * s.concentration, "soret_profile_max_rel_error" in ts.columns)
    out.finish(res.status, res.reason, **res.summary(s.time), **extra, timings=model.solver.timings())
    model.destroy()


def _plot(out, x, c, T_K, c_soret, soret):
    with out.figure("profiles") as (fig, ax):
        if fig is None:
            return
        ax.plot(x * 1e6, c, "C0-", label="c (FE)")
        if soret:
            ax.plot(x * 1e6, c_soret, "k:", label=r"A exp(-S$_T$(T - T$_{ref}$))")
        ax.set_xlabel("x [µm]")
        ax.set_ylabel("c [mol/m$^3$]")
        ax2 = ax.twinx()
        ax2.plot(x * 1e6, T_K, "C3--", label="T")
        ax2.set_ylabel("T [K]")
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [ln.get_label() for ln in lines], loc="upper center")
    with out.figure("approach") as (fig, ax):
        ts = out.timeseries
        t = ts.column("t_s")
        if "soret_profile_max_rel_error" in ts.columns:
            ax.semilogy(t[1:], ts.column("soret_profile_max_rel_error")[1:], label="Soret-profile error")
        ax.semilogy(t[1:], np.maximum(ts.column("entropy_production_W_K_m2")[1:], 1e-300),
                    label=r"$\int \sigma$ dx [W/(K m$^2$)]")
        ax.set_xlabel("t [s]")
        ax.legend()
