"""A galvanostatic intercalation particle as the particle problems use it: the shared
parameter set, the :class:`fem.models.intercalation.IntercalationParticle` built from it,
and the run (one discharge/charge or a :mod:`fem.protocols` protocol) on the driver.

Strong form (SI), x = c / c_max (:mod:`fem.models.intercalation` solves it nondimensionally
with length R, time R^2/D_ref, current density F c_max D_ref / R)::

    c_max dx/dt = div( c_max D(x, T) grad x ) + div_G( K c_max grad_G x ) delta_GB   in the particle
    -c_max D grad x . n = i(x, eta) / F,   eta = V - U(x)                on the surface
    int_S i dS = I_app                                                   (constant current [A])

D = D_ref Q diag(1, 1, r) Q^T g(x) exp(-(E_a/k_B)(1/T - 1/T_ref)) per grain (r the anisotropy
ratio, Q the grain's crystal->lab rotation), g(x) = 1, exp(beta (x - x_ref)), a CSV table or a
BPX file's D(x)/D_ref.  Grain-boundary fast paths (``gb_width_m`` delta > 0, particle_discharge):
K = delta (D_gb - D_ref) [m^3/s] on the grain-boundary facets, Fisher's thin layer
(:mod:`fem.constitutive.grain_boundary`; constant D_gb, no g(x), no Arrhenius factor).

The geometry is not made here (fem never imports meshes/): the problem passes the tagged
mesh, the {cell tag: rotation} map and the facet-group names in.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import ufl

import dolfinx.fem

from fem import bpx, field_views, protocols
from fem.constitutive import diffusivity as dif
from fem.constitutive.grain_boundary import excess_conductance, hart_effective_diffusivity
from fem.constitutive.kinetics import ButlerVolmer
from fem.constitutive.materials import MATERIALS, Material
from fem.constitutive.tabulated import Tabulated
from fem.errors import InputError
from fem.galvanostatic import (AppliedCurrent, CurrentParameters, constant_current, max_change_check,
                               max_change_step)
from fem.models import intercalation as ic
from fem.output import RunOutput, mesh_summary, si_fields
from fem.parameters import param, require_table
from fem.scaling import ELEMENTARY_CHARGE, FARADAY, Scales, thermal_voltage
from fem.simulation import GradedStartParameters, Simulation, SimulationResult, StepControl

T_REF_K = 298.15  # temperature of the material's reference diffusivity


@dataclass
class ParticleParameters(CurrentParameters, GradedStartParameters):
    """Material, diffusivity, current, time stepping, BPX and protocol parameters shared by the
    particle problems (the graded start's sub-steps are recorded; a mixin: the problem adds its geometry's, e.g.
    :class:`meshes.particle_geometry.ParticleGeometryParameters`, and its own)."""

    material: str = param("nmc811_chen2020", "material parameter set (c_max, D, OCV, kinetics)",
                          choices=tuple(MATERIALS))
    element_degree: int = param(1, "Lagrange degree of the concentration", choices=(1, 2))
    diffusivity_m2_s: float = param(0.0, "(in-plane) diffusivity D_ref; 0: the material's", "m^2/s", ge=0)
    diffusivity_model: str = param("exponential", "concentration dependence g(x) of D",
                                   choices=("constant", "exponential", "table"))
    diffusivity_beta: float = param(-2.0, "g(x) = exp(beta (x - x_ref)) (diffusivity_model='exponential')", "-")
    diffusivity_x_ref: float = param(0.5, "x_ref of the exponential model", "-", ge=0, le=1)
    diffusivity_table: str = param("", "CSV (x, D_m2_s): D(x) in m^2/s for diffusivity_model='table' (monotone "
                                   "PCHIP of ln D in x; e.g. the D(x) of 'solidion analyze gitt')", table="positive")
    ocv_table: str = param("", "CSV (x, U [V]) replacing the material's OCV (optional)")
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    cutoff_voltage_V: float = param(3.0, "stop when the voltage crosses this value", "V", gt=0)
    saturation_x: float = param(0.98, "discharge also ends when the whole surface has x >= this: i0 ~ "
                                "sqrt(1 - x) vanishes and the voltage collapses within < 1 % of the capacity",
                                "-", gt=0, le=1)
    t_end_s: float = param(0.0, "end time (0: 1.2 x the time the current takes to pass the stoichiometry "
                           "window)", "s", ge=0)
    dt_s: float = param(1.0, "initial time step", "s", gt=0)
    dt_max_s: float = param(60.0, "largest time step", "s", gt=0)
    dt_growth: float = param(1.2, "growth factor of dt after an easy step (BDF2 stays stable up to 1.87)", "-",
                             gt=1, le=1.8)
    time_order: int = param(2, "BDF order", choices=(1, 2))
    max_voltage_step_V: float = param(0.02, "reject and retry (smaller dt) a step that changes the "
                                      "voltage by more than this", "V", gt=0)
    solver: str = param("gmres_amg", "linear solver", choices=("gmres_amg", "lu"))
    fields_every: int = param(20, "write fields every N steps (0: first and last only)", ge=0)
    bpx_file: str = param("", "BPX JSON parameter file (fem/bpx.py): radius, c_max, window, D(x, T), OCP(x), "
                          "exchange current, nominal capacity and initial SOC of one electrode's particle; "
                          "entries it cannot use are listed in a warning and in summary.json")
    bpx_electrode: str = param("positive", "the electrode of bpx_file", choices=("positive", "negative"))
    section_plot: bool = param(True, "3D pictures plots/concentration_{surface,section,clip}.png (surface, "
                               "exact mid section, clipped view) at the end and at output_times_s")
    protocol: list = param([], "cycling protocol (fem.protocols): steps such as 'Discharge at 1C until 3.0 V', "
                           "'Rest for 1 hour', 'Hold at 4.2 V until C/50', 'Repeat 3 times: ...; ...' or TOML "
                           "tables; [] = one discharge/charge to cutoff_voltage_V. Each step's t_end_s: its "
                           "duration, else t_end_s or (1.2 x window time at its current; holds 10 h)")

    def check(self):
        self.check_current()
        if self.diffusivity_model == "table":
            self.require(bool(self.diffusivity_table), "diffusivity_table",
                         "a CSV file is required when diffusivity_model='table'")
            require_table(self.diffusivity_table, "diffusivity_table", positive=True, x_range=(0, 1))
            self.refuse_unused(["diffusivity_m2_s"], "with diffusivity_model='table' (the table gives D)")
        else:
            self.refuse_unused(["diffusivity_table"], f"with diffusivity_model={self.diffusivity_model!r}")
        if self.bpx_file:
            self.bpx = bpx.read(self.bpx_file, self.bpx_electrode)
            self.refuse_unused(["material", "diffusivity_m2_s", "diffusivity_model", "diffusivity_beta",
                                "diffusivity_x_ref", "diffusivity_table", "ocv_table", "nominal_capacity_Ah_m2",
                                "activation_energy_eV"] + ([] if getattr(self, "mesh_file", "") else ["radius_m"]),
                               "with bpx_file (the file sets it)")
            if self.capacity_basis == "nominal" and self.c_rate > 0:
                self.require(self.bpx.nominal_capacity_Ah_m2 is not None, "capacity_basis",
                             f"'nominal' needs the nominal capacity, which {self.bpx_file} does not give (Cell: "
                             "Nominal cell capacity, Electrode area, Number of electrode pairs; electrode: Surface "
                             "area per unit volume, Thickness); allowed: 'window'")
        else:
            self.refuse_unused(["bpx_electrode"], "without bpx_file")
        if self.protocol:
            self.require(setting(self, "surface_condition") == "butler_volmer", "protocol",
                         "a protocol needs surface_condition='butler_volmer'")
            protocols.parse_protocol(self.protocol)  # InputError naming the bad step
        super().check()


#: values of the parameters a problem does not list (spm_sphere: an isotropic single crystal at uniform
#: temperature, discharged under Butler–Volmer kinetics, without grain-boundary fast paths)
FIXED = dict(anisotropy_ratio=1.0, temperature_gradient_K=0.0, activation_energy_eV=0.0,
             surface_condition="butler_volmer", direction="discharge", voltage_V=0.0, flux_mol_m2_s=0.0,
             c_surface_mol_m3=0.0, gb_width_m=0.0, gb_diffusivity_m2_s=0.0)


def setting(p, name: str):
    """Parameter ``name`` of ``p``, or its :data:`FIXED` value when the problem does not list it."""
    return getattr(p, name, FIXED[name])


def material(p) -> Material:
    """The material of ``p``: its BPX file's particle at ``temperature_K``, or ``MATERIALS[material]``."""
    bp = getattr(p, "bpx", None) if p.bpx_file else None
    if p.bpx_file and bp is None:
        bp = p.bpx = bpx.read(p.bpx_file, p.bpx_electrode)
    return bp.material(p.temperature_K) if bp is not None else MATERIALS[p.material]


def resolved_x0(p) -> float:
    """x0; a BPX file's initial SOC when x0 is left at its default, 'full': the charged state."""
    mat = material(p)
    if p.bpx_file and p.x0 == type(p).__dataclass_fields__["x0"].default and p.bpx.initial_soc is not None:
        return p.bpx.x_of_soc(p.bpx.initial_soc)
    return mat.x_full if p.x0 == "full" else float(p.x0)


def particle_radius_m(p) -> float:
    """Radius of a generated particle: the BPX file's, else ``radius_m``."""
    return material(p).radius_m if p.bpx_file else p.radius_m


def reference_diffusivity(p):
    """(D_ref [m^2/s], g(x), E_a [eV], T_ref [K]): D = D_ref g(x) (Arrhenius factor) of ``p``."""
    mat = material(p)
    if p.bpx_file:  # D(x) of the file, D_ref its value mid-window
        return mat.diffusivity_m2_s, p.bpx.g(), mat.diffusivity_activation_eV, p.bpx.T_ref_K
    table = (Tabulated.from_csv(p.diffusivity_table, log=True, name="diffusivity_table")
             if p.diffusivity_model == "table" else None)
    D_ref = table(0.5 * (mat.x_full + mat.x_empty)) if table else (p.diffusivity_m2_s or mat.diffusivity_m2_s)
    g = (lambda x, D_ref=float(D_ref): table(x) / D_ref) if table else dif.concentration_factor(
        p.diffusivity_model, p.diffusivity_beta, p.diffusivity_x_ref)
    return D_ref, g, setting(p, "activation_energy_eV"), T_REF_K


@dataclass
class Setup:
    """SI data of a built particle (for recorders, summary, plots and references)."""

    p: ParticleParameters
    mat: Material
    scales: Scales
    D_ref: float  # m^2/s
    D_tensor: object  # UFL matrix or DG0 tensor Function (relative to D_ref)
    g: object  # concentration factor g(x) of D (numpy and UFL)
    ocv: object  # U(x) [V]
    bv: ButlerVolmer
    x0: float
    radius_m: float  # length scale: radius_m, or a mesh file's volume-equivalent radius
    volume_m3: float
    area_m2: float
    capacity_C: float  # charge of the stoichiometry window
    current: AppliedCurrent | None
    initial_voltage_V: float | None
    activation_eV: float = 0.0  # of D
    T_ref_K: float = T_REF_K
    grain_boundary: dict | None = None  # the fast paths' SI data (summary.json), None without

    @property
    def I_app(self) -> float:
        """Applied current [A], anodic positive (0 without one)."""
        return self.current.current_A if self.current is not None else 0.0

    @property
    def discharge(self) -> bool:
        return setting(self.p, "direction") == "discharge"

    @property
    def t_end_s(self) -> float:
        return self.p.t_end_s or 1.2 * (self.current.window_time_s if self.current else 3600.0)


def _cell_law(p, D_tensor, g, E_a, T_ref):
    """(T, g, g') of D = g(x) T for the numpy cell terms (fem.p1_cells), or None: a tabulated or BPX g
    (no numpy derivative here) or an Arrhenius factor varying in space."""
    if p.bpx_file or p.diffusivity_model not in ("constant", "exponential"):
        return None
    if E_a > 0 and setting(p, "temperature_gradient_K") != 0:
        return None
    factor = dif.arrhenius_factor(p.temperature_K, T_ref, E_a * ELEMENTARY_CHARGE) if E_a > 0 else 1.0
    if isinstance(D_tensor, dolfinx.fem.Function):
        if factor != 1.0:
            return None
        tensor = D_tensor
    else:
        try:
            tensor = factor * np.array([[float(D_tensor[i, j]) for j in range(D_tensor.ufl_shape[1])]
                                        for i in range(D_tensor.ufl_shape[0])])
        except (TypeError, ValueError):
            return None
    return tensor, g, dif.concentration_factor_derivative(p.diffusivity_model, p.diffusivity_beta,
                                                          p.diffusivity_x_ref)


def build(p: ParticleParameters, comm, domain, rotations, *, surface: str, grain_boundary: str | None = None):
    """(IntercalationParticle, Setup) for ``p`` on ``domain`` (a TaggedMesh in units of its length
    scale R) with {cell tag: crystal->lab rotation} ``rotations``; ``surface``: the facet group of the
    reaction; ``grain_boundary``: the facet group of the fast paths (used when gb_width_m > 0)."""
    mat = material(p)
    D_ref, g, E_a, T_ref = reference_diffusivity(p)
    R = domain.length_scale
    s = Scales.diffusive(R, D_ref, mat.c_max_mol_m3, p.temperature_K)
    mesh = domain.mesh
    ocv = Tabulated.from_csv(p.ocv_table, name="ocv_table") if p.ocv_table else mat.ocv_V
    D_tensor = dif.layered_grain_tensors(mesh, domain.cell_tags, rotations, setting(p, "anisotropy_ratio"))
    gdim = mesh.geometry.dim
    T_field = p.temperature_K + setting(p, "temperature_gradient_K") * ufl.SpatialCoordinate(mesh)[gdim - 1]

    def diffusivity(x):
        D = D_tensor * g(x)
        if E_a > 0:  # D_ref is the value at T_ref
            D = D * dif.arrhenius_factor(T_field, T_ref, E_a * ELEMENTARY_CHARGE)
        return D

    cell_law = _cell_law(p, D_tensor, g, E_a, T_ref)
    K = None
    delta, D_gb = setting(p, "gb_width_m"), setting(p, "gb_diffusivity_m2_s")
    if delta > 0:
        if grain_boundary not in domain.all_facet_names():
            raise InputError(f"parameter 'gb_width_m' = {delta!r}: the mesh has no facet group "
                             f"{grain_boundary!r} (grain boundaries); it has {sorted(domain.all_facet_names())}")
        K = excess_conductance(delta, D_gb, D_ref) / (D_ref * R)  # nondimensional: length R, D by D_ref
    vt = thermal_voltage(p.temperature_K)
    bv = ButlerVolmer(mat.rate_constant_A_m2, mat.c_max_mol_m3, mat.c_electrolyte_mol_m3, mat.alpha, mat.alpha,
                      p.temperature_K)
    i_scale = FARADAY * mat.c_max_mol_m3 * D_ref / R  # A/m^2
    sc = setting(p, "surface_condition")
    condition = "galvanostatic" if sc == "butler_volmer" else sc
    x0 = resolved_x0(p)
    model = ic.IntercalationParticle(
        domain, surface, diffusivity=diffusivity, x0=x0, condition=condition, ocv=ocv, kinetics=bv,
        thermal_voltage=vt, current_scale=i_scale, voltage=setting(p, "voltage_V"),
        c_surface=setting(p, "c_surface_mol_m3") / mat.c_max_mol_m3, degree=p.element_degree,
        time_order=p.time_order, solver=p.solver, gb_conductance=K, gb=grain_boundary, cell_law=cell_law)
    volume_m3, area_m2 = model.volume * R**3, model.area * R**2
    capacity_C = FARADAY * mat.capacity_mol_m3 * volume_m3
    gb_info = None
    if K is not None:  # Hart's homogenised D with the measured boundary fraction f = delta A_gb / V
        f = delta * model.gb_area * R**2 / volume_m3
        gb_info = {"width_m": delta, "diffusivity_m2_s": D_gb,
                   "conductance_m3_s": excess_conductance(delta, D_gb, D_ref), "conductance_nondim": K,
                   "area_m2": model.gb_area * R**2, "volume_fraction": f,
                   "hart_diffusivity_m2_s": hart_effective_diffusivity(f, D_gb, D_ref)}
    current = None
    if p.uses_current():
        nominal = p.bpx.nominal_capacity_Ah_m2 if p.bpx_file else p.nominal_capacity_Ah_m2
        current = constant_current(area_m2=area_m2, volume_m3=volume_m3, window_mol_m3=mat.capacity_mol_m3,
                                   c_rate=p.c_rate, current_density_A_m2=p.current_density_A_m2,
                                   basis=p.capacity_basis, nominal_capacity_Ah_m2=nominal or 0.0,
                                   lithiation=setting(p, "direction") == "discharge")
    v0 = None
    if condition == "galvanostatic":
        model.set_current(current.current_A / (i_scale * R**2))
        v0 = float(ocv(x0) + bv.overpotential(current.current_A / area_m2, x0))  # uniform x0: V = U(x0) + eta
        model.set_voltage(v0)
    elif condition == "flux":
        flux = setting(p, "flux_mol_m2_s") or -current.current_A / (FARADAY * area_m2)
        model.set_flux(flux / s.molar_flux)
    return model, Setup(p, mat, s, D_ref, D_tensor, g, ocv, bv, x0, R, volume_m3, area_m2, capacity_C, current, v0,
                        E_a, T_ref, gb_info)


def field_outputs(model: ic.IntercalationParticle, setup: Setup, out: RunOutput, every: int) -> list:
    """fields/concentration.bp (every ``every`` steps) and, with ``section_plot``, the 3D pictures
    plots/concentration_{surface,section,clip}.png at the end and at output_times_s."""
    s = setup.scales
    fields = [si_fields(out, "concentration", [(model.c, "concentration_mol_m3", s.concentration)], s, every=every)]
    if setup.p.section_plot:
        fields.append(field_views.views_output(out, "concentration", model.c, time_scale=s.time,
                                               length_scale=s.length, value_scale=s.concentration,
                                               label="c [mol/m$^3$]", title="Li concentration"))
    return fields


def simulation(model: ic.IntercalationParticle, setup: Setup, out: RunOutput, recorders=(),
               fields=None, step=None) -> Simulation:
    """The run's Simulation (stops, voltage-jump check, recorders, fields); writes the
    static summary entries.  ``recorders`` are added after the particle's observables;
    ``step``: a protocol step (:mod:`fem.protocols`; its limits replace the cut-off voltage)."""
    p, s = setup.p, setup.scales
    galvanostatic = model.condition == "galvanostatic"
    geometry = {"mesh_file": p.mesh_file, "mesh_unit_m": model.domain.metadata.get("mesh_unit_m"),
                "volume_equivalent_radius_m": setup.radius_m,
                "grain_orientations": model.domain.metadata.get("orientation_source")} if p.mesh_file else {}
    gb = {"grain_boundary": setup.grain_boundary} if setup.grain_boundary else {}
    out.update(mesh=mesh_summary(model.mesh, [model.V]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               volume_m3=setup.volume_m3, surface_area_m2=setup.area_m2, applied_current_A=setup.I_app,
               nominal_capacity_mAh=setup.capacity_C / 3.6, initial_voltage_analytic_V=setup.initial_voltage_V,
               x0=setup.x0, **({"current": setup.current.summary()} if setup.current else {}), **geometry, **gb)
    control = StepControl(t_end=setup.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-6 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=p.dt_growth, easy_newton=4,
                          **p.startup(record=True))
    stops, checks, max_dt = [], [], None
    if galvanostatic:
        discharge = setup.discharge if step is None else step.kind == "current" and not step.charge
        if discharge:
            stops.append(ic.surface_saturation_stop(model, p.saturation_x))
        jump = max_change_check(model.phi, p.max_voltage_step_V, model.vt)
        if step is None:
            stops.append(ic.cutoff_voltage_stop(model, p.cutoff_voltage_V, discharge=setup.discharge))
            checks.append(jump)
            # not in protocol steps: there the first accepted step's change holds the switch's jump of V,
            # whose "rate" would cut the next step for nothing
            max_dt = max_change_step(model.phi, p.max_voltage_step_V, model.vt,
                                     lambda: model.history.bdf.dt_prev)
        else:  # not on a step's first (the switch)
            checks.append(lambda t, dt, st: None if model.phi.older is None else jump(t, dt, st))
    if fields is None:
        fields = field_outputs(model, setup, out, p.fields_every)
    observables = ic.observables(model, s, setup.I_app if galvanostatic and step is None else None)
    return Simulation(model, control, comm=out.comm, time_scale=s.time, output=out,
                      recorders=[observables, *recorders], fields=fields, stops=stops, checks=checks,
                      max_dt=max_dt)


def summary(model: ic.IntercalationParticle, setup: Setup, out: RunOutput, res: SimulationResult) -> dict:
    """The fixed summary keys plus Newton/Krylov averages and the voltage results."""
    p = setup.p
    d = {**res.summary(setup.scales.time), "newton_per_step": res.newton / max(res.steps, 1),
         "krylov_per_newton": res.krylov / max(res.newton, 1)}
    for key in ("total_jacobians", "total_pc_builds"):  # the bordered Newton's counts
        if hasattr(model.solver, key):
            d[key.removeprefix("total_")] = getattr(model.solver, key)
    if model.phi is not None:
        ts = out.timeseries
        capacity = (ic.capacity_at_cutoff_mAh(ts.column("t_s"), ts.column("voltage_V"), setup.I_app,
                                              p.cutoff_voltage_V, discharge=setup.discharge)
                    if model.condition == "galvanostatic" else float(ts.column("capacity_mAh")[-1]))
        d.update(final_voltage_V=model.voltage_V, capacity_mAh=capacity,
                 max_mass_balance_rel_error=float(np.max(ts.column("mass_balance_rel_error")))
                 if out.comm.rank == 0 else None)
    return d


def run(model: ic.IntercalationParticle, setup: Setup, out: RunOutput, recorders=()):
    """One discharge/charge, or ``p.protocol`` (:func:`fem.protocols.run_protocol`):
    (SimulationResult, summary entries)."""
    p, s = setup.p, setup.scales
    if p.bpx_file:  # what the file gives that the particle does not use: said, never dropped
        out.update(bpx=p.bpx.summary())
        if out.comm.rank == 0 and p.bpx.unused:
            print(f"solidion: warning: {p.bpx_file}: {len(p.bpx.unused)} BPX entries not used by a single "
                  f"{p.bpx_electrode} particle (listed in summary.json 'bpx'/'unused'): "
                  + "; ".join(p.bpx.unused), file=sys.stderr, flush=True)
    if not p.protocol:
        res = simulation(model, setup, out, recorders).run()
        return res, summary(model, setup, out, res)
    steps = protocols.parse_protocol(p.protocol)
    one_c_A = setup.current.one_c_A_m2 * setup.area_m2
    ctrl = ic.ProtocolControl(model, s, one_c_A, setup.area_m2)

    def duration_s(step):  # a step's t_end_s: its duration, else t_end_s, else 1.2 x window time / 10 h
        return step.duration_s or p.t_end_s or (1.2 * setup.capacity_C / abs(ctrl.I) if step.kind == "current"
                                                else 36000.0)

    fields = field_outputs(model, setup, out, p.fields_every)
    res, extra = protocols.run_protocol(
        steps, ctrl, lambda step, rec, f: simulation(model, setup, out, [*rec, *recorders], f, step=step),
        time_scale=s.time, duration_s=duration_s, fields=[fields[0]] + [(f, False) for f in fields[1:]], out=out)
    ts = out.timeseries
    last = {c: float(ts.column(c)[-1]) for c in ("capacity_mAh", "charge_passed_C")} if out.comm.rank == 0 else None
    extra.update(**out.comm.bcast(protocols.write_transients(out, steps), root=0), **out.comm.bcast(last, root=0))
    return res, {**summary(model, setup, out, res), **extra}


def plot(out: RunOutput, model: ic.IntercalationParticle, setup: Setup) -> None:
    """voltage.png (vs capacity; vs time for a protocol) and concentration.png (rank 0)."""
    ts = out.timeseries
    if out.comm.rank != 0:
        return
    t = ts.column("t_s")
    if model.phi is not None:
        with out.figure("voltage") as (fig, ax):
            protocol = setup.p.protocol
            x = t if protocol else ts.column("capacity_mAh") * 1e6
            ax.plot(x, ts.column("voltage_V"), label="V (FEM)")
            ax.plot(x, ts.column("ocv_surface_V"), "--", label="OCV(surface x)")
            ax.set_xlabel("t [s]" if protocol else "capacity [nAh]")
            ax.set_ylabel("voltage vs Li/Li$^+$ [V]")
            ax.legend()
    with out.figure("concentration") as (fig, ax):
        for col in ("c_mean_mol_m3", "c_surface_mean_mol_m3", "c_surface_min_mol_m3", "c_surface_max_mol_m3"):
            ax.plot(t, ts.column(col), label=col.replace("_mol_m3", ""))
        ax.set_xlabel("t [s]")
        ax.set_ylabel("c [mol/m$^3$]")
        ax.legend()
