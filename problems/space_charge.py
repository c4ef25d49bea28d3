"""Space-charge layers at a cathode | solid-electrolyte interface (Poisson–Nernst–Planck).

Physics (SI; nondimensionalization below)::

    J_i = -D_i (grad c_i + c_i grad ln gamma_i + z_i e/(kT) c_i grad phi)   [mol/(m^2 s)]
    dc_i/dt + div J_i = 0,        div(eps grad phi) = -rho,
    rho = F (sum_i z_i c_i + rho_fixed / F)                                  [C/m^3]

Interface (tag ``interface``): phi continuous; D_+ - D_- = sigma_f (normal from
the electrode to the electrolyte); each species in electrochemical equilibrium
(eta_i and flux continuous), blocking, or finite-rate (Butler–Volmer in the eta
difference).  Model: :mod:`fem.models.pnp` (formulation in electrochemical-
potential unknowns: :mod:`fem.weak_forms.pnp`), nondimensionalized with the
Debye scales (:meth:`fem.scaling.Scales.debye`: x by L_D, phi by kT/e, c by
c_ref, t by L_D^2 / D_ref, eps by eps0 eps_ref).

Default material model: layered-oxide cathode (LiCoO2-like, p-type: mobile Li
defects + holes, fixed negative background) | oxide solid electrolyte (mobile
Li defects + fixed background).  The difference of Li standard chemical
potentials ``delta_mu0_Li_eV`` = mu0(cathode) - mu0(electrolyte) drives Li
across the interface on contact; the resulting space-charge layers are
resolved by a mesh graded to a fraction of the Debye length.

Stages of :func:`solve`:
1. equilibrium (Poisson–Boltzmann, grand canonical: the Li level fixed by the
   electrolyte bulk, the hole level by the cathode bulk);
2. transient from contact (closed cell: blocking contacts; species and charge
   conservation monitored) to t_end;
3. steady states under applied ionic current densities (Li injected at the
   left contact, Li reservoir at the right, holes in equilibrium with the left
   contact): total and interfacial area-specific resistance
   R_total = (kT/e) (eta_Li(left) - eta_Li(right)) / i and the interface-local
   R_int = (kT/e) [eta_Li]_extrapolated / i (jump of the ohmic eta_Li lines
   fitted 8-20 space-charge widths away on each side: space-charge + charge-
   transfer resistance, free of the Hebb-Wagner-polarized bulk layers); each
   current by continuation from the last (:func:`fem.continuation.continuation`).
Restart: the transient (stage ``transient``) is checkpointed; a restart
recomputes stage 1 and continues the transient from its checkpoint.

Species (issue 17): by default the Li defect + hole system above, from the ``*_Li_*`` /
``*_hole_*`` parameters (a fixed negative background neutralizes each bulk).  Any other
set of mobile species with charge numbers (Li+, oxygen vacancies z = +2, electrons
z = -1, holes ...) and fixed background charges per material is given as a list of
tables ``[[species]]`` (:mod:`fem.pnp_species`; the Li/hole parameters must then stay
at their defaults); ``current_species`` carries the applied current of stage 3, every
other species is held at equilibrium with the left contact (present in the cathode)
or the right one.

Outputs: ``profiles.csv`` (x_m, phi_V, c_<species>_mol_m3 along the x axis
through the interface), ``summary.json`` (space-charge widths and potential
drops on each side, interfacial resistance vs current), ``timeseries.csv``
(transient), ``fields/pnp.bp``, ``plots/*.png``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fem import petsc_options
from fem.continuation import continuation
from fem.errors import InputError, SolverError
from fem.models import pnp
from fem.models.pnp import PNPModel
from fem.output import RunOutput, mesh_summary, si_fields
from fem.parameters import Parameters, param
from fem.pnp_species import build_description, li_hole_tables, parse_species
from fem.pnp_outputs import plot_profiles, scales_summary, write_profiles
from fem.scaling import FARADAY, GAS_CONSTANT
from fem.simulation import Simulation, StepControl
from meshes import tags as T

# solver option prefixes of this module (registered up front so that a user option given with one
# prefix, e.g. -pnps_snes_monitor, is not also forwarded to solvers created earlier)
for _prefix in ("pb_", "pnpt_", "pnps_", "pnpp_"):
    petsc_options.register_prefix(_prefix)

NAME = "space_charge"
DESCRIPTION = "PNP / Poisson-Boltzmann space-charge layers at a cathode | solid-electrolyte bilayer"


@dataclass
class SpaceChargeParameters(Parameters):
    dim: int = param(1, "spatial dimension", choices=(1, 2, 3))
    thickness_cathode_m: float = param(100e-9, "cathode layer thickness", "m", gt=0)
    thickness_electrolyte_m: float = param(100e-9, "electrolyte layer thickness", "m", gt=0)
    width_m: float = param(20e-9, "lateral width (2D/3D)", "m", gt=0)
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    eps_r_cathode: float = param(15.0, "relative permittivity of the cathode", "-", gt=0)
    eps_r_electrolyte: float = param(50.0, "relative permittivity of the electrolyte", "-", gt=0)
    c_Li_cathode_mol_m3: float = param(10.0, "bulk mobile Li(+) defect concentration, cathode", "mol/m^3", gt=0)
    c_Li_electrolyte_mol_m3: float = param(10.0, "bulk mobile Li(+) defect concentration, electrolyte",
                                           "mol/m^3", gt=0)
    c_max_Li_cathode_mol_m3: float = param(100.0, "Li site density, cathode (lattice saturation)", "mol/m^3", gt=0)
    c_max_Li_electrolyte_mol_m3: float = param(100.0, "Li site density, electrolyte", "mol/m^3", gt=0)
    activity: str = param("lattice", "activity model of Li", choices=("ideal", "lattice"))
    c_hole_cathode_mol_m3: float = param(10.0, "bulk hole concentration, cathode (p-type)", "mol/m^3", gt=0)
    D_Li_cathode_m2_s: float = param(1e-14, "Li diffusivity, cathode", "m^2/s", gt=0)
    D_Li_electrolyte_m2_s: float = param(1e-13, "Li diffusivity, electrolyte", "m^2/s", gt=0)
    D_hole_m2_s: float = param(1e-12, "hole diffusivity, cathode", "m^2/s", gt=0)
    delta_mu0_Li_eV: float = param(-0.1, "mu0_Li(cathode) - mu0_Li(electrolyte)", "eV")
    Li_interface: str = param("equilibrium", "Li interface condition",
                              choices=("equilibrium", "butler_volmer", "blocking"))
    exchange_current_A_m2: float = param(1.0, "interface exchange current density (butler_volmer)", "A/m^2", gt=0)
    sigma_f_C_m2: float = param(0.0, "free surface charge on the interface", "C/m^2")
    h_interface_debye: float = param(0.05, "element size at the interface / Debye length", "-", gt=0)
    h_bulk_debye: float = param(1.0, "element size far from the interface / Debye length", "-", gt=0)
    t_end_s: float = param(2.0, "end of the contact transient (0: skip)", "s", ge=0)
    dt_s: float = param(1e-6, "initial time step", "s", gt=0)
    currents_A_m2: list = param([0.01, 0.03, 0.1, 0.3], "applied ionic current densities (steady states)", "A/m^2")
    solver: str = param("auto", "linear solver: auto = LU (MUMPS) up to 5k unknowns in 3D, 50k in 2D, always in 1D, else fieldsplit "
                        "(Slotboom variables + Schur fieldsplit with BoomerAMG, fem/pnp_preconditioner.py); "
                        "override with PETSc options under the -pnpp_/-pnpt_/-pnps_ prefixes",
                        choices=pnp.LINEAR_SOLVERS)
    species: list[dict] = param([], "mobile species and fixed charges: TOML array of tables [[species]] "
                                "(fem/pnp_species.py); [] = the Li + hole system of the parameters above")
    current_species: str = param("Li", "species carrying the applied current (stage 3)")

    def check(self):
        self.require(self.h_interface_debye <= self.h_bulk_debye, "h_interface_debye",
                     f"allowed range (0, h_bulk_debye = {self.h_bulk_debye}]")
        self.require(self.c_Li_cathode_mol_m3 < self.c_max_Li_cathode_mol_m3 or self.activity == "ideal",
                     "c_Li_cathode_mol_m3", f"allowed range (0, c_max_Li_cathode_mol_m3 = "
                     f"{self.c_max_Li_cathode_mol_m3})")
        self.require(self.c_Li_electrolyte_mol_m3 < self.c_max_Li_electrolyte_mol_m3 or self.activity == "ideal",
                     "c_Li_electrolyte_mol_m3", f"allowed range (0, c_max_Li_electrolyte_mol_m3 = "
                     f"{self.c_max_Li_electrolyte_mol_m3})")
        for i in self.currents_A_m2:
            if not isinstance(i, (int, float)) or not i > 0:
                raise InputError(f"parameter 'currents_A_m2' = {self.currents_A_m2!r}: allowed values (0, inf) A/m^2")
        if self.species:
            defaults = type(self)()
            for name in LEGACY_SPECIES_PARAMETERS:
                self.require(getattr(self, name) == getattr(defaults, name), name,
                             "not used when 'species' is given (set it in the [[species]] tables)")
        tables = species_tables(self)
        if self.currents_A_m2:
            cur = [t for t in tables if t["name"] == self.current_species and t["mobile"]]
            self.require(bool(cur) and all(m in cur[0]["c"] for m in MATERIALS), "current_species",
                         "must name a mobile species present in both materials")


LEGACY_SPECIES_PARAMETERS = ("c_Li_cathode_mol_m3", "c_Li_electrolyte_mol_m3", "c_max_Li_cathode_mol_m3",
                             "c_max_Li_electrolyte_mol_m3", "activity", "c_hole_cathode_mol_m3",
                             "D_Li_cathode_m2_s", "D_Li_electrolyte_m2_s", "D_hole_m2_s", "delta_mu0_Li_eV",
                             "Li_interface", "exchange_current_A_m2")
MATERIALS = ("cathode", "electrolyte")


def species_tables(p) -> list[dict]:
    """The checked species tables (:func:`fem.pnp_species.parse_species`): ``p.species``, or the
    default Li + hole system with its neutralizing fixed background in the cathode."""
    if p.species:
        return parse_species(p.species, MATERIALS)
    return parse_species(li_hole_tables(p), MATERIALS, "species (default Li + hole system)")


Parameters = SpaceChargeParameters



def build_model_description(p, cathode=T.ELECTRODE, electrolyte=T.ELECTROLYTE):
    """(scales, materials, species, bulk concentrations) of the cathode | electrolyte system
    (Debye scales of the electrolyte's mobile species)."""
    return build_description(species_tables(p), MATERIALS, {"cathode": cathode, "electrolyte": electrolyte},
                             p.temperature_K, {"cathode": p.eps_r_cathode, "electrolyte": p.eps_r_electrolyte},
                             "electrolyte")


def make_mesh(p, s, comm):
    from meshes.bilayer import bilayer
    return bilayer([p.thickness_cathode_m, p.thickness_electrolyte_m], dim=p.dim,
                   width_m=p.width_m if p.dim > 1 else None, h_m=p.h_bulk_debye * s.length,
                   h_interface_m=p.h_interface_debye * s.length, comm=comm, length_scale=s.length,
                   grading_ratio=1.15 if p.dim == 1 else 1.3)


def transient(p, out, domain, materials, species, bulk, sigma, opts, s, pts, x_int):
    """Closed-cell transient from contact (each layer in its neutral bulk state at phi = 0,
    blocking contacts, phi = 0 on the left) to t_end; returns (model, result)."""
    model = PNPModel(domain, materials, species, mode="transient", sigma_f=sigma, options=opts,
                     phi_dirichlet={T.CONTACT_LEFT: 0.0}, time_order=2, prefix="pnpt_", interface=T.INTERFACE)
    model.set_contact_state(bulk)
    amounts0 = {k.name: model.amount(k.name) for k in model.carriers}
    charge0 = sum(model.charge(m.name) for m in materials) + sigma * model.interface_area()
    probe_pts = pts[[np.argmin(np.abs(pts[:, 0] - x_int + 1e-9)), 0, -1]]

    def record(t):
        row = {}
        for k in model.carriers:
            a, name = model.amount(k.name), pnp.carrier_label(k.name)
            row[f"amount_{name}_mol"] = a * s.concentration * s.length ** domain.dim
            row[f"amount_rel_change_{name}"] = (a - amounts0[k.name]) / amounts0[k.name]
        q = sum(model.charge(m.name) for m in materials) + sigma * model.interface_area()
        row["net_charge_C"] = (q - charge0) * s.surface_charge * s.length ** (domain.dim - 1)
        v = model.line_values(probe_pts)
        row["phi_interface_V"] = float(v["phi"][0] * s.potential)
        row["phi_drop_V"] = float((v["phi"][1] - v["phi"][2]) * s.potential)
        return row
    return model, run_transient(model, p, s, out, record, steps_per_end_time=10, grow=1.3)


def run_transient(model, p, s, out: RunOutput, record, steps_per_end_time: int, grow: float):
    """The PNP transient from t = 0 to ``p.t_end_s`` (stage ``transient``), fields at start and end."""
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                          dt_max=p.t_end_s / s.time / steps_per_end_time, grow=grow, easy_newton=6)
    fields = si_fields(out, "pnp", pnp.potential_fields(model, s), s)
    sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out, recorders=[record],
                     fields=[fields], name="transient")
    return sim.run()


def steady_states(p, domain, materials, species, bulk, sigma, opts, s, etas, phi_bulk, pts, x_int, widths):
    """Steady states under the applied currents (continuation from the last one):
    returns (rows, R_bulk [ohm m^2], status, reason)."""
    name = p.current_species
    carriers = pnp.make_carriers(materials, species)
    li = [k for k in carriers if k.species.name == name]
    z = li[0].species.z
    left_li, right_li = li[0].name, li[-1].name
    # the current enters at the left contact and leaves into a reservoir on the right; every other
    # carrier is in equilibrium with the left contact (present in the cathode) or the right one
    fixed = {(right_li, T.CONTACT_RIGHT): etas[name]}
    for k in carriers:
        if k.species.name != name:
            fixed[(k.name, T.CONTACT_LEFT if T.ELECTRODE in k.materials else T.CONTACT_RIGHT)] = etas[k.species.name]
    model = PNPModel(domain, materials, species, mode="steady", sigma_f=sigma, options=opts, interface=T.INTERFACE,
                     eta_dirichlet=fixed, inflow={(left_li, T.CONTACT_LEFT): 0.0}, prefix="pnps_")
    for k in model.carriers:
        model.set_component(k.index, value=etas[k.species.name])
    model.set_component(0, values_by_material=phi_bulk)
    st0 = model.solve()
    if not st0.converged:
        raise SolverError(f"steady solve at zero current did not converge: {st0.reason}")
    R_bulk = 0.0
    for m, L in ((T.ELECTRODE, p.thickness_cathode_m), (T.ELECTROLYTE, p.thickness_electrolyte_m)):
        D = li[0].species.D[m] * s.diffusivity
        R_bulk += L / (z ** 2 * FARADAY ** 2 * D * (bulk[name][m] * s.concentration)
                       / (GAS_CONSTANT * p.temperature_K))
    # eta_Li is linear (ohmic) in the bulk next to each space-charge layer; the jump of those lines,
    # extrapolated to the interface, is the interface-local drop
    thick = (p.thickness_cathode_m / s.length, p.thickness_electrolyte_m / s.length)
    widths = (widths[0] / s.length, widths[1] / s.length)
    rows, status, reason = [], "ok", ""
    jval = model.values[("inflow", left_li, T.CONTACT_LEFT)]
    for i_A in sorted(p.currents_A_m2):
        t1 = time.perf_counter()
        res = continuation(model.solve, model.u, lambda v: setattr(jval, "value", v), float(jval.value),
                           i_A / s.current_density / z, comm=domain.comm, name="current")
        if res.status != "ok":
            status = "interrupted" if res.status == "interrupted" else "failed"
            reason = f"steady state at {i_A} A/m^2 did not converge: {res.reason}"
            break
        # eta is in kT units; per unit charge (the voltage) it is eta / z
        d_eta = float(model.line_values(pts[[0]])[f"eta_{name}"][0] - model.line_values(pts[[-1]])[f"eta_{name}"][0])
        d_eta *= s.potential / z
        d_int = pnp.ohmic_interface_jump(model, f"eta_{name}", x_int, widths, thick, pts[0, 1:]) * s.potential / z
        rows.append({"current_A_m2": i_A, "voltage_V": d_eta, "R_total_ohm_m2": d_eta / i_A,
                     "interface_drop_V": d_int, "R_interface_ohm_m2": d_int / i_A,
                     "R_total_minus_bulk_ohm_m2": d_eta / i_A - R_bulk, "newton_iterations": res.newton,
                     "krylov_iterations": res.krylov, "wall_s": time.perf_counter() - t1})
    model.destroy()
    return rows, R_bulk, status, reason


def solve(p: SpaceChargeParameters, out: RunOutput) -> None:
    comm = out.comm
    s, materials, species, bulk = build_model_description(p)
    domain = make_mesh(p, s, comm)
    x_int = domain.metadata["interfaces_x"][0]
    sigma = p.sigma_f_C_m2 / s.surface_charge
    opts = pnp.linear_solver_options(p.solver)
    out.update(scales=scales_summary(s))

    # 1. Poisson–Boltzmann equilibrium (recomputed on a restart: cheap, and the later stages need it)
    t0 = time.perf_counter()
    pb, etas, phi_bulk = pnp.solve_equilibrium_pb(domain, materials, species, bulk, sigma, T.ELECTROLYTE, opts,
                                                  interface=T.INTERFACE)
    out.log(f"Poisson-Boltzmann: {pb.solver.total_newton} Newton its, {time.perf_counter() - t0:.2f} s")
    pts = pnp.line_points(domain, x_int)
    x, vals = write_profiles(out, pb, pts, s)
    xi = x_int * s.length
    drop_c, width_c = pnp.side_metrics(x, vals["phi"] * s.potential, xi, "left")
    drop_e, width_e = pnp.side_metrics(x, vals["phi"] * s.potential, xi, "right")
    out.update(mesh=mesh_summary(domain.mesh, [pb.W]),
               equilibrium={"potential_drop_cathode_V": drop_c, "potential_drop_electrolyte_V": drop_e,
                            "space_charge_width_cathode_m": width_c, "space_charge_width_electrolyte_m": width_e,
                            "contact_potential_V": (phi_bulk[T.ELECTRODE] - phi_bulk[T.ELECTROLYTE]) * s.potential,
                            "newton_iterations": pb.solver.total_newton},
               potential_drop_cathode_V=drop_c, potential_drop_electrolyte_V=drop_e,
               space_charge_width_cathode_m=width_c, space_charge_width_electrolyte_m=width_e)
    plot_profiles(out, x, vals, s, species, "equilibrium_profiles", xi)
    pb_phi = vals["phi"].copy()
    pb.destroy()

    # 2. transient from contact (closed cell) -----------------------------------------
    status, reason, summary, timings = "ok", "", {}, {}
    if p.t_end_s > 0:
        model, res = transient(p, out, domain, materials, species, bulk, sigma, opts, s, pts, x_int)
        phi = model.line_values(pts)["phi"]
        dev = float(np.max(np.abs((phi - phi[0]) - (pb_phi - pb_phi[0]))) * s.potential)
        rel = [abs(out.timeseries.column(c)[-1]) for c in out.timeseries.columns
               if c.startswith("amount_rel_change")]
        summary = res.summary(s.time)
        out.update(transient={**summary, "max_amount_rel_change": max(rel) if rel else 0.0,
                              "max_deviation_from_pb_V": dev})
        status, reason = res.status, res.reason
        _plot_transient(out)
        timings = model.solver.timings()
        model.destroy()
    elif out.mode == "restart":
        raise InputError("space_charge: only the transient stage (t_end_s > 0) can be restarted")

    # 3. steady states under applied ionic current ------------------------------------
    if p.currents_A_m2 and status == "ok":
        rows, R_bulk, status, reason = steady_states(p, domain, materials, species, bulk, sigma, opts, s, etas,
                                                     phi_bulk, pts, x_int, (width_c, width_e))
        out.update(steady_states=rows, R_bulk_ohm_m2=R_bulk,
                   interfacial_resistance_ohm_m2=rows[0]["R_interface_ohm_m2"] if rows else None)
        _plot_resistance(out, rows)
    out.finish(status, reason, **summary, timings=timings)


def _plot_transient(out):
    ts = out.timeseries
    with out.figure("transient") as (fig, ax):
        if fig is None:
            return
        t = ts.column("t_s")
        ax.semilogx(t[1:], ts.column("phi_drop_V")[1:] * 1e3)
        ax.set_xlabel("t [s]")
        ax.set_ylabel("phi(left) - phi(right) [mV]")


def _plot_resistance(out, rows):
    with out.figure("interfacial_resistance") as (fig, ax):
        if fig is None or not rows:
            return
        ax.plot([r["current_A_m2"] for r in rows], [r["R_interface_ohm_m2"] * 1e4 for r in rows], "o-")
        ax.set_xlabel("i [A/m$^2$]")
        ax.set_ylabel(r"R$_{int}$ [$\Omega$ cm$^2$]")
