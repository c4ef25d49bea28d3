"""Galvanostatic (dis)charge of a cathode particle: anisotropic, concentration-dependent
solid diffusion with Butler–Volmer surface kinetics.

Strong form (SI), x = c / c_max:

    c_max dx/dt = div( c_max D(x, T) grad x )                 in the particle
    -c_max D grad x . n = i(x, eta) / F                       on the surface (Butler–Volmer)
    eta = V - U(x),   i = i0(x) [exp(alpha_a f eta) - exp(-alpha_c f eta)]   [A/m^2]
    int_S i dS = I_app                                        (constant applied current [A])

D(x, T) = D_ref  D_hat_cell  g(x)  exp(-(E_a/k_B)(1/T - 1/T_ref)): per grain
D_lab = Q diag(1, 1, r) Q^T (layered oxide, r = D_c/D_ab, Q the grain's
crystal->lab rotation from the polycrystal mesh; one tensor on a sphere);
g(x) = 1, exp(beta (x - x_ref)) or a user table (CSV, log-PCHIP).  The particle
potential V (phi_e = 0) is a global unknown solved with c, so the voltage curve
is an output.  Also: fixed potential, fixed flux or fixed surface concentration.

Composition: :class:`fem.models.intercalation.IntercalationParticle` (bordered
Newton of :mod:`fem.galvanostatic`, two GMRES + BoomerAMG solves per iteration;
nondimensional x^ = x/R, t^ = t D_ref/R^2) driven by :class:`fem.simulation.Simulation`.
A step moving V by more than ``max_voltage_step_V`` is rejected and retried with
a smaller dt.  The run ends at the cut-off voltage or when the whole surface is
saturated (x >= ``saturation_x``: i0 ~ sqrt(1 - x) vanishes and V collapses
within a fraction of a percent of the capacity).

Outputs: ``timeseries.csv`` (t_s, voltage_V, ocv_surface_V, overpotential_V,
current_A, capacity_mAh, c_mean_mol_m3, c_surface_mean_mol_m3,
c_surface_min/max_mol_m3, x_mean, moles_mol, mass_balance_rel_error),
``fields/concentration.bp``, ``plots/voltage.png``, ``plots/concentration_section.png``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl

from fem.constitutive import diffusivity as dif
from fem.constitutive.kinetics import ButlerVolmer
from fem.constitutive.materials import MATERIALS, Material
from fem.constitutive.tabulated import Tabulated
from fem.errors import InputError
from fem.galvanostatic import max_change_check
from fem.models import intercalation as ic
from fem.output import RunOutput, mesh_summary, si_fields
from fem.parameters import Parameters, param
from fem.scaling import ELEMENTARY_CHARGE, FARADAY, Scales, thermal_voltage
from fem.simulation import Simulation, SimulationResult, StepControl
from meshes import tags as T

T_REF_K = 298.15  # temperature of the material's reference diffusivity
NAME = "particle_discharge"
DESCRIPTION = ("Constant-current discharge of a (polycrystalline, anisotropic) cathode particle: "
               "D(c) tensor, Butler-Volmer kinetics, voltage curve")


@dataclass
class ParticleDischargeParameters(Parameters):
    material: str = param("nmc811_chen2020", "material parameter set (c_max, D, OCV, kinetics)",
                          choices=tuple(MATERIALS))
    geometry: str = param("polycrystal", "particle geometry", choices=("polycrystal", "sphere"))
    radius_m: float = param(5.22e-6, "particle radius R", "m", gt=0)
    n_grains: int = param(50, "number of grains (polycrystal)", ge=1)
    grain_seed: int = param(0, "random seed of the grain structure and orientations", ge=0)
    mesh_size: float = param(0.15, "element size relative to the radius", "-", gt=0, le=1)
    mesh_size_surface: float = param(0.0, "element size at the surface (and grain boundaries) relative "
                                     "to the radius; 0: uniform mesh_size", "-", ge=0, le=1)
    element_degree: int = param(1, "Lagrange degree of the concentration", choices=(1, 2))
    geometry_order: int = param(1, "geometry order (2: curved surface)", choices=(1, 2))
    diffusivity_m2_s: float = param(0.0, "in-plane (fast) diffusivity D_ref; 0: the material's", "m^2/s", ge=0)
    anisotropy_ratio: float = param(0.01, "D_out-of-plane / D_in-plane (1: isotropic)", "-", gt=0)
    crystal_euler_deg: str = param("0,0,0", "Bunge Euler angles (phi1,Phi,phi2) of the uniform crystal "
                                   "(geometry='sphere')", "deg")
    diffusivity_model: str = param("exponential", "concentration dependence g(x) of D",
                                   choices=("constant", "exponential", "table"))
    diffusivity_beta: float = param(-2.0, "g(x) = exp(beta (x - x_ref)) (diffusivity_model='exponential')", "-")
    diffusivity_x_ref: float = param(0.5, "x_ref of the exponential model", "-", ge=0, le=1)
    diffusivity_table: str = param("", "CSV (x, D/D_ref) for diffusivity_model='table'")
    ocv_table: str = param("", "CSV (x, U [V]) replacing the material's OCV (optional)")
    temperature_K: float = param(298.15, "temperature (at the centre)", "K", gt=0)
    temperature_gradient_K: float = param(0.0, "temperature rise across the particle along z "
                                          "(T = T0 + dT z/R)", "K")
    activation_energy_eV: float = param(0.0, "Arrhenius activation energy of D (0: none)", "eV", ge=0)
    surface_condition: str = param("butler_volmer", "surface condition",
                                   choices=("butler_volmer", "potentiostatic", "flux", "concentration"))
    voltage_V: float = param(3.6, "particle potential (surface_condition='potentiostatic')", "V", gt=0)
    c_rate: float = param(1.0, "C-rate; > 0 discharges (lithiates), < 0 charges", "1/h")
    x0: float = param(-1.0, "initial x = c/c_max (< 0: the material's charged state x_full)", "-", lt=1)
    cutoff_voltage_V: float = param(3.0, "stop when the voltage crosses this value", "V", gt=0)
    saturation_x: float = param(0.98, "discharge also ends when the whole surface has x >= this: i0 ~ "
                                "sqrt(1 - x) vanishes and the voltage collapses within < 1 % of the capacity",
                                "-", gt=0, le=1)
    flux_mol_m2_s: float = param(0.0, "inward flux (surface_condition='flux'); 0: from c_rate", "mol/(m^2 s)")
    c_surface_mol_m3: float = param(0.0, "surface concentration (surface_condition='concentration')",
                                    "mol/m^3", ge=0)
    t_end_s: float = param(0.0, "end time (0: 1.2 x the nominal time 3600/|c_rate|)", "s", ge=0)
    dt_s: float = param(1.0, "initial time step", "s", gt=0)
    dt_max_s: float = param(60.0, "largest time step", "s", gt=0)
    time_order: int = param(2, "BDF order", choices=(1, 2))
    max_voltage_step_V: float = param(0.02, "reject and retry (smaller dt) a step that changes the "
                                      "voltage by more than this", "V", gt=0)
    solver: str = param("gmres_amg", "linear solver", choices=("gmres_amg", "lu"))
    fields_every: int = param(20, "write fields every N steps (0: first and last only)", ge=0)
    section_plot: bool = param(True, "plot the concentration on the z = 0 section")

    def check(self):
        mat = MATERIALS[self.material]
        x0 = mat.x_full if self.x0 < 0 else self.x0
        self.require(0 < x0 < 1, "x0", "allowed range (0, 1)")
        self.require(self.c_rate != 0 or self.surface_condition in ("concentration", "potentiostatic"), "c_rate",
                     "must be nonzero (allowed: any nonzero C-rate)")
        try:
            v = [float(s) for s in self.crystal_euler_deg.split(",")]
            ok = len(v) == 3
        except ValueError:
            ok = False
        self.require(ok, "crystal_euler_deg", "must be three comma-separated angles in degrees, e.g. 0,45,0")
        if self.diffusivity_model == "table":
            self.require(bool(self.diffusivity_table), "diffusivity_table",
                         "a CSV file is required when diffusivity_model='table'")
        self.require(self.c_surface_mol_m3 <= mat.c_max_mol_m3, "c_surface_mol_m3",
                     f"allowed range [0, {mat.c_max_mol_m3}] mol/m^3")


Parameters = ParticleDischargeParameters


def resolved_x0(p) -> float:
    return MATERIALS[p.material].x_full if p.x0 < 0 else p.x0


def build_domain(p, comm):
    """TaggedMesh of the particle (length scale R) and {cell tag: crystal->lab rotation}."""
    if p.geometry == "polycrystal":
        try:
            from meshes.polycrystal import polycrystal
        except ImportError:
            raise InputError("parameter 'geometry' = 'polycrystal' needs meshes/polycrystal.py, which is "
                             "not available; allowed: 'sphere'") from None
        dom = polycrystal(p.radius_m, p.n_grains, seed=p.grain_seed, h=p.mesh_size, comm=comm,
                          order=p.geometry_order, h_interface=p.mesh_size_surface or None)
        orient = dom.metadata.get("orientations", {})
        rotations = {dom.cell_id(name): np.asarray(Q, dtype=float) for name, Q in orient.items()}
        if not rotations:
            raise InputError("the polycrystal mesh carries no grain orientations")
        return dom, rotations
    from meshes.sphere import sphere
    dom = sphere(p.radius_m, p.mesh_size, order=p.geometry_order, comm=comm,
                 h_surface=p.mesh_size_surface or None)
    Q = dif.rotation_matrix([float(s) for s in p.crystal_euler_deg.split(",")])
    return dom, {dom.cell_id(T.PARTICLE): Q}


@dataclass
class Setup:
    """SI data of a built particle (for recorders, summary, plots and references)."""

    p: ParticleDischargeParameters
    mat: Material
    scales: Scales
    D_ref: float  # m^2/s
    D_tensor: object  # UFL matrix or DG0 tensor Function (relative to D_ref)
    g: object  # concentration factor g(x) of D (numpy and UFL)
    ocv: object  # U(x) [V]
    bv: ButlerVolmer
    x0: float
    volume_m3: float
    area_m2: float
    capacity_C: float
    I_app: float  # A, anodic positive
    initial_voltage_V: float | None


def build(p: ParticleDischargeParameters, comm, domain=None, rotations=None):
    """(IntercalationParticle, Setup) for ``p``; ``domain``/``rotations`` default to :func:`build_domain`."""
    mat = MATERIALS[p.material]
    D_ref = p.diffusivity_m2_s or mat.diffusivity_m2_s
    s = Scales.diffusive(p.radius_m, D_ref, mat.c_max_mol_m3, p.temperature_K)
    if domain is None:
        domain, rotations = build_domain(p, comm)
    mesh = domain.mesh
    ocv = Tabulated.from_csv(p.ocv_table, name="ocv_table") if p.ocv_table else mat.ocv_V
    D_tensor = dif.layered_grain_tensors(mesh, domain.cell_tags, rotations, p.anisotropy_ratio)
    table = (Tabulated.from_csv(p.diffusivity_table, log=True, name="diffusivity_table")
             if p.diffusivity_model == "table" else None)
    g = dif.concentration_factor(p.diffusivity_model, p.diffusivity_beta, p.diffusivity_x_ref, table)
    gdim = mesh.geometry.dim
    T_field = p.temperature_K + p.temperature_gradient_K * ufl.SpatialCoordinate(mesh)[gdim - 1]

    def diffusivity(x):
        D = D_tensor * g(x)
        if p.activation_energy_eV > 0:  # D_ref is the value at T_REF_K
            D = D * dif.arrhenius_factor(T_field, T_REF_K, p.activation_energy_eV * ELEMENTARY_CHARGE)
        return D

    vt = thermal_voltage(p.temperature_K)
    bv = ButlerVolmer(mat.rate_constant_A_m2, mat.c_max_mol_m3, mat.c_electrolyte_mol_m3, mat.alpha, mat.alpha,
                      p.temperature_K)
    i_scale = FARADAY * mat.c_max_mol_m3 * D_ref / p.radius_m  # A/m^2
    condition = "galvanostatic" if p.surface_condition == "butler_volmer" else p.surface_condition
    x0 = resolved_x0(p)
    model = ic.IntercalationParticle(
        domain, T.SURFACE, diffusivity=diffusivity, x0=x0, condition=condition, ocv=ocv, kinetics=bv,
        thermal_voltage=vt, current_scale=i_scale, voltage=p.voltage_V,
        c_surface=p.c_surface_mol_m3 / mat.c_max_mol_m3, degree=p.element_degree, time_order=p.time_order,
        solver=p.solver)
    L = p.radius_m
    volume_m3, area_m2 = model.volume * L**3, model.area * L**2
    capacity_C = FARADAY * mat.capacity_mol_m3 * volume_m3
    I_app = -p.c_rate * capacity_C / 3600.0  # discharge (c_rate > 0) is cathodic
    v0 = None
    if condition == "galvanostatic":
        model.set_current(I_app / (i_scale * L**2))
        v0 = float(ocv(x0) + bv.overpotential(I_app / area_m2, x0))  # uniform x0: V = U(x0) + eta(I/A)
        model.set_voltage(v0)
    elif condition == "flux":
        model.set_flux((p.flux_mol_m2_s or -I_app / (FARADAY * area_m2)) / s.molar_flux)
    return model, Setup(p, mat, s, D_ref, D_tensor, g, ocv, bv, x0, volume_m3, area_m2, capacity_C, I_app, v0)


def simulation(model: ic.IntercalationParticle, setup: Setup, out: RunOutput, recorders=()) -> Simulation:
    """The run's Simulation (stops, voltage-jump check, recorders, fields); writes the
    static summary entries.  ``recorders`` are added after the particle's observables."""
    p, s = setup.p, setup.scales
    galvanostatic = model.condition == "galvanostatic"
    out.update(mesh=mesh_summary(model.mesh, [model.V]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               volume_m3=setup.volume_m3, surface_area_m2=setup.area_m2, applied_current_A=setup.I_app,
               nominal_capacity_mAh=setup.capacity_C / 3.6, initial_voltage_analytic_V=setup.initial_voltage_V)
    t_end = p.t_end_s or 1.2 * 3600.0 / max(abs(p.c_rate), 1e-12)
    control = StepControl(t_end=t_end / s.time, dt=p.dt_s / s.time, dt_min=1e-6 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.2, easy_newton=4)
    stops, checks = [], []
    if galvanostatic:
        if p.c_rate > 0:
            stops.append(ic.surface_saturation_stop(model, p.saturation_x))
        stops.append(ic.cutoff_voltage_stop(model, p.cutoff_voltage_V, discharge=p.c_rate > 0))
        checks.append(max_change_check(model.phi, p.max_voltage_step_V, model.vt))
    fields = si_fields(out, "concentration", [(model.c, "concentration_mol_m3", s.concentration)], s,
                       every=p.fields_every)
    observables = ic.observables(model, s, setup.I_app if galvanostatic else None)
    return Simulation(model, control, comm=out.comm, time_scale=s.time, output=out,
                      recorders=[observables, *recorders], fields=[fields], stops=stops, checks=checks)


def summary(model: ic.IntercalationParticle, setup: Setup, out: RunOutput, res: SimulationResult) -> dict:
    """The fixed summary keys plus Newton/Krylov averages and the voltage results."""
    p = setup.p
    d = {**res.summary(setup.scales.time), "newton_per_step": res.newton / max(res.steps, 1),
         "krylov_per_newton": res.krylov / max(res.newton, 1)}
    if model.phi is not None:
        ts = out.timeseries
        capacity = (ic.capacity_at_cutoff_mAh(ts.column("t_s"), ts.column("voltage_V"), setup.I_app,
                                              p.cutoff_voltage_V, discharge=p.c_rate > 0)
                    if model.condition == "galvanostatic" else float(ts.column("capacity_mAh")[-1]))
        d.update(final_voltage_V=model.voltage_V, capacity_mAh=capacity,
                 max_mass_balance_rel_error=float(np.max(ts.column("mass_balance_rel_error")))
                 if out.comm.rank == 0 else None)
    return d


def solve(p: ParticleDischargeParameters, out: RunOutput) -> None:
    model, setup = build(p, out.comm)
    res = simulation(model, setup, out).run()
    plot(out, model, setup)
    out.finish(res.status, res.reason, **summary(model, setup, out, res), timings=model.solver.timings())
    model.destroy()


def plot(out: RunOutput, model: ic.IntercalationParticle, setup: Setup) -> None:
    """voltage.png, concentration.png and (``section_plot``) concentration_section.png (collective)."""
    ts = out.timeseries
    section = _section(model, setup.scales) if setup.p.section_plot else None
    if out.comm.rank != 0:
        return
    t = ts.column("t_s")
    if model.phi is not None:
        with out.figure("voltage") as (fig, ax):
            ax.plot(ts.column("capacity_mAh") * 1e6, ts.column("voltage_V"), label="V (FEM)")
            ax.plot(ts.column("capacity_mAh") * 1e6, ts.column("ocv_surface_V"), "--", label="OCV(surface x)")
            ax.set_xlabel("capacity [nAh]")
            ax.set_ylabel("voltage vs Li/Li$^+$ [V]")
            ax.legend()
    with out.figure("concentration") as (fig, ax):
        for col in ("c_mean_mol_m3", "c_surface_mean_mol_m3", "c_surface_min_mol_m3", "c_surface_max_mol_m3"):
            ax.plot(t, ts.column(col), label=col.replace("_mol_m3", ""))
        ax.set_xlabel("t [s]")
        ax.set_ylabel("c [mol/m$^3$]")
        ax.legend()
    if section is not None:
        X, Y, Z = section
        with out.figure("concentration_section") as (fig, ax):
            im = ax.pcolormesh(X * 1e6, Y * 1e6, Z, shading="auto")
            fig.colorbar(im, ax=ax, label="c [mol/m$^3$]")
            ax.set_aspect("equal")
            ax.set_xlabel("x [um]")
            ax.set_ylabel("y [um]")
            ax.set_title("concentration on z = 0 at the end")


def _section(model: ic.IntercalationParticle, s: Scales, n=61):
    """Concentration [mol/m^3] on the z = 0 plane (collective)."""
    from fem.probes import PointProbe
    g = np.linspace(-0.97, 0.97, n)
    X, Y = np.meshgrid(g, g)
    inside = X**2 + Y**2 < 0.95**2
    pts = np.column_stack([X[inside], Y[inside], np.zeros(inside.sum())])
    try:
        vals = PointProbe(model.mesh, pts)(model.c)
    except ValueError:
        return None
    Z = np.full(X.shape, np.nan)
    Z[inside] = vals * s.concentration
    return X * s.length, Y * s.length, Z
