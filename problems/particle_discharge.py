"""Galvanostatic (dis)charge of a cathode particle: anisotropic, concentration-dependent
solid diffusion with Butler–Volmer surface kinetics.

Strong form (SI), x = c / c_max:

    c_max dx/dt = div( c_max D(x, T) grad x )                 in the particle
    -c_max D grad x . n = i(x, eta) / F                       on the surface (Butler–Volmer)
    eta = V - U(x),   i = i0(x) [exp(alpha_a f eta) - exp(-alpha_c f eta)]   [A/m^2]
    int_S i dS = I_app                                        (constant applied current [A])

D(x, T) = D_ref  D_hat_cell  g(x)  exp(-(E_a/k_B)(1/T - 1/T_ref))  is a symmetric
positive-definite tensor: per grain D_lab = Q D_cryst Q^T with D_cryst =
diag(1, 1, r) (layered oxide: fast in the Li layers, r = D_c/D_ab) and Q the
grain's crystal->lab rotation (from the polycrystal mesh), or one uniform
tensor on a sphere.  g(x) is 1 (``constant``), exp(beta (x - x_ref))
(``exponential``) or a user table (CSV, log-PCHIP).  The particle potential V
(electrode vs. electrolyte, phi_e = 0) is a global unknown solved together
with c, so the voltage curve is an output.

Nondimensional inside: x^ = x/R, t^ = t D_ref/R^2, c^ = x, potential in
k_B T/e, current density in F c_max D_ref / R.

Solver ("bordered Newton"): each Newton step solves the (n+1) system

    [ J_cc   b ] [dc  ]   [F]        J_cc = dF/dc (FEM Jacobian), b = dF/dV (vector)
    [ g^T    h ] [dV  ] = [G]        g = dG/dc (vector), h = dG/dV, G = int i dS - I_app

by block elimination with two Krylov solves on J_cc (GMRES + hypre
BoomerAMG; the second reuses the preconditioner):  J x1 = F, J x2 = b,
dV = (G - g.x1)/(h - g.x2), dc = x1 - x2 dV.  This keeps the scalable AMG
preconditioner of the scalar diffusion operator (no dense row/column in the
matrix).  Fixed-flux and fixed-concentration surfaces use the shared SNES
solver.  Variable-step BDF2; a failed Newton solve cuts the step and retries
(:func:`fem.timestepping.integrate`).

The run ends at the cut-off voltage or when the whole surface is saturated
(x >= ``saturation_x``: i0 ~ sqrt(1 - x) vanishes and V collapses within a
fraction of a percent of the capacity; resolving that collapse costs many tiny
steps and adds nothing to the capacity).  A step that moves V by more than
``max_voltage_step_V`` is rejected and retried with a smaller dt.

Outputs: ``timeseries.csv`` (t_s, voltage_V, ocv_surface_V, overpotential_V,
current_A, capacity_mAh, c_mean_mol_m3, c_surface_mean_mol_m3,
c_surface_min/max_mol_m3, x_mean, moles_mol, mass_balance_rel_error),
``fields/concentration.bp``, ``plots/voltage.png``, ``plots/concentration_section.png``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc as fem_petsc

from fem import petsc_options
from fem.constitutive import diffusivity as dif
from fem.constitutive.kinetics import ButlerVolmer
from fem.constitutive.materials import MATERIALS
from fem.constitutive.mathops import exp
from fem.constitutive.tabulated import Tabulated
from fem.errors import InputError
from fem.observables import Integral
from fem.output import FieldSchedule, RunOutput, mesh_summary
from fem.parameters import Parameters, param
from fem.scaling import ELEMENTARY_CHARGE, FARADAY, Scales, thermal_voltage
from fem.solver import SNESSolver, SolveStats
from fem.time_schemes import BDF
from fem.timestepping import Progress, StepControl, integrate
from fem.weak_forms.diffusion import diffusion_residual
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
                                   choices=("butler_volmer", "flux", "concentration"))
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
        self.require(self.c_rate != 0 or self.surface_condition == "concentration", "c_rate",
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


class ParticleDischarge:
    """Assembled problem (also usable directly from tests with ``domain``/``rotations``)."""

    def __init__(self, p: ParticleDischargeParameters, comm, domain=None, rotations=None, ocv=None):
        self.p = p
        mat = self.mat = MATERIALS[p.material]
        self.D_ref = p.diffusivity_m2_s or mat.diffusivity_m2_s
        self.scales = Scales.diffusive(p.radius_m, self.D_ref, mat.c_max_mol_m3, p.temperature_K)
        if domain is None:
            domain, rotations = build_domain(p, comm)
        self.domain = domain
        mesh = self.mesh = domain.mesh
        gdim = mesh.geometry.dim
        # OCV (material or user table)
        if ocv is not None:
            self.ocv = ocv
        elif p.ocv_table:
            self.ocv = Tabulated.from_csv(p.ocv_table, name="ocv_table")
        else:
            self.ocv = mat.ocv_V
        # diffusivity tensor field (relative to D_ref)
        d_cryst = dif.layered_tensor(1.0, p.anisotropy_ratio, dim=gdim)
        tensors = {tag: dif.rotate_tensor(d_cryst, np.asarray(Q)[:gdim, :gdim]) for tag, Q in rotations.items()}
        if len(tensors) == 1:
            self.D_tensor = ufl.as_matrix(next(iter(tensors.values())).tolist())
        else:
            self.D_tensor = dif.tensor_field(mesh, domain.cell_tags, tensors)
        if p.diffusivity_model == "table":
            self.g_table = Tabulated.from_csv(p.diffusivity_table, log=True, name="diffusivity_table")

        V = self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", p.element_degree))
        self.c = dolfinx.fem.Function(V, name="x")
        self.c_old = dolfinx.fem.Function(V)
        self.c_older = dolfinx.fem.Function(V)
        self.x0 = resolved_x0(p)
        for f in (self.c, self.c_old, self.c_older):
            f.x.array[:] = self.x0
        self.bdf = BDF(mesh, p.time_order)
        dcdt = self.bdf.ddt(self.c, self.c_old, self.c_older)
        v = ufl.TestFunction(V)
        md = {"quadrature_degree": 2 * p.element_degree + p.geometry_order}
        dx = self.dx = domain.dx(metadata=md)
        ds = self.ds = domain.ds(T.SURFACE, metadata=md)
        X = ufl.SpatialCoordinate(mesh)
        self.T_field = p.temperature_K + p.temperature_gradient_K * X[gdim - 1]
        D = self.D_tensor * self.concentration_factor(self.c)
        if p.activation_energy_eV > 0:  # D_ref is the value at T_REF_K
            D = D * dif.arrhenius_factor(self.T_field, T_REF_K, p.activation_energy_eV * ELEMENTARY_CHARGE)
        self.D_expr = D

        self.volume = Integral(1.0 * dx)()
        self.area = Integral(1.0 * ds)()
        # applied current [A] (anodic positive): discharge (c_rate > 0) is cathodic
        L = p.radius_m
        self.volume_m3 = self.volume * L**3
        self.area_m2 = self.area * L**2
        q_cap = FARADAY * mat.capacity_mol_m3 * self.volume_m3  # C
        self.capacity_C = q_cap
        self.I_app = -p.c_rate * q_cap / 3600.0
        self.i_scale = FARADAY * mat.c_max_mol_m3 * self.D_ref / p.radius_m  # A/m^2
        self.vt = thermal_voltage(p.temperature_K)
        self.bv = ButlerVolmer(mat.rate_constant_A_m2, mat.c_max_mol_m3, mat.c_electrolyte_mol_m3,
                               mat.alpha, mat.alpha, p.temperature_K)
        opts = petsc_options.gmres_amg() if p.solver == "gmres_amg" else petsc_options.direct_lu()
        bcs = []
        self.phi = None
        if p.surface_condition == "butler_volmer":
            self.phi = dolfinx.fem.Constant(mesh, 0.0)  # V / (kT/e)
            phi_v = ufl.variable(self.phi)
            eta = self.vt * phi_v - self.ocv(self.c)
            i_hat = self.bv.current(self.c, eta) / self.i_scale
            self.i_hat = i_hat
            F = diffusion_residual(dcdt, self.c, v, D, dx, inflow=[(-i_hat, ds)])
            self.I_hat = self.I_app / (self.i_scale * L**2)
            di_dphi = ufl.diff(i_hat, phi_v)
            self.newton = BorderedNewton(F, self.c, ds_forms=dict(
                b=di_dphi * v * ds, g=ufl.derivative(i_hat * ds, self.c, v), G=i_hat * ds, h=di_dphi * ds),
                phi=self.phi, target=self.I_hat, options=opts, prefix="particle_",
                scale_form=self.c / self.bdf.dt * v * dx)
            self.phi.value = self.initial_potential() / self.vt
        elif p.surface_condition == "flux":
            j = p.flux_mol_m2_s or -self.I_app / (FARADAY * self.area_m2)
            self.j_in = dolfinx.fem.Constant(mesh, j / self.scales.molar_flux)
            F = diffusion_residual(dcdt, self.c, v, D, dx, inflow=[(self.j_in, ds)])
            self.newton = SNESSolver(F, self.c, [], prefix="particle_", options=opts)
        else:
            facets = domain.facets(T.SURFACE)
            dofs = dolfinx.fem.locate_dofs_topological(V, mesh.topology.dim - 1, facets)
            bcs.append(dolfinx.fem.dirichletbc(p.c_surface_mol_m3 / mat.c_max_mol_m3, dofs, V))
            F = diffusion_residual(dcdt, self.c, v, D, dx)
            self.newton = SNESSolver(F, self.c, bcs, prefix="particle_", options=opts)

        # observables
        self.int_c = Integral(self.c * dx)
        self.int_c_surface = Integral(self.c * ds)
        self.int_ocv_surface = Integral(self.ocv(self.c) * ds)
        sfacets = domain.facets(T.SURFACE)
        self.surface_dofs = dolfinx.fem.locate_dofs_topological(V, mesh.topology.dim - 1, sfacets)
        nowned = V.dofmap.index_map.size_local
        self.surface_dofs = self.surface_dofs[self.surface_dofs < nowned]
        # inward molar flux integrated over the surface (nondimensional, per unit time)
        if p.surface_condition == "butler_volmer":
            self.total_inflow = Integral(-self.i_hat * ds)
        elif p.surface_condition == "flux":
            self.total_inflow = Integral(self.j_in * ds)
        else:  # variationally consistent flux = int dc/dt dx
            self.total_inflow = Integral(dcdt * dx)
        self.moles0 = self.int_c()
        self.moles_in = self.moles_in_old = 0.0
        self.t_hat = 0.0
        self.x_surface_min = self.x0
        self.phi_old = float(self.phi.value) if self.phi is not None else None
        self.phi_older = None
        self.out = None

    # ------------------------------------------------------------------
    def concentration_factor(self, x):
        p = self.p
        if p.diffusivity_model == "constant":
            return 1.0
        if p.diffusivity_model == "exponential":
            return exp(p.diffusivity_beta * (x - p.diffusivity_x_ref))
        return self.g_table(x)

    def initial_potential(self) -> float:
        """V at t = 0: uniform x0 -> V = U(x0) + eta(I/A)   [V]."""
        return float(self.ocv(self.x0) + self.bv.overpotential(self.I_app / self.area_m2, self.x0))

    @property
    def voltage_V(self) -> float:
        return float(self.phi.value) * self.vt if self.phi is not None else float("nan")

    # TimeDependent protocol ---------------------------------------------
    def step(self, t, dt) -> SolveStats:
        self.bdf.set_step(dt)
        self.predict(dt)
        st = self.newton.solve()
        if st.converged and self.phi is not None:
            dv = abs(float(self.phi.value) - self.phi_old) * self.vt
            if dv > self.p.max_voltage_step_V:
                return SolveStats(False, st.newton_iterations, st.krylov_iterations,
                                  f"voltage changed by {dv:.3g} V > max_voltage_step_V")
        return st

    def predict(self, dt):
        """Newton initial guess: linear extrapolation of the last two accepted states."""
        if self.bdf.dt_prev is None:
            return
        w = dt / self.bdf.dt_prev
        a = self.c.x.array
        a[:] = self.c_old.x.array + w * (self.c_old.x.array - self.c_older.x.array)
        np.clip(a, 1e-6, 1 - 1e-6, out=a)
        if self.phi is not None and self.phi_older is not None:
            self.phi.value = self.phi_old + w * (self.phi_old - self.phi_older)

    def reject(self):
        self.c.x.array[:] = self.c_old.x.array
        if self.phi is not None:
            self.phi.value = self.phi_old

    def accept(self, t_new, dt, stats):
        inflow = self.total_inflow()
        self.moles_in, self.moles_in_old = (
            self.bdf.integrate_rate(self.moles_in, self.moles_in_old, inflow, dt), self.moles_in)
        self.bdf.accepted(dt)
        self.c_older.x.array[:] = self.c_old.x.array
        self.c_old.x.array[:] = self.c.x.array
        if self.phi is not None:
            self.phi_older, self.phi_old = self.phi_old, float(self.phi.value)
        self.t_hat = t_new
        xs = self.c.x.array[self.surface_dofs]
        self.x_surface_min = self.mesh.comm.allreduce(float(xs.min()) if len(xs) else 1e300, op=MPI.MIN)
        if self.out is not None:
            self.record(t_new)

    # ------------------------------------------------------------------
    def observables(self, t) -> dict[str, float]:
        s, p, mat = self.scales, self.p, self.mat
        L3 = s.length**3
        moles = self.int_c()
        stored = moles - self.moles0
        err = abs(stored - self.moles_in) / max(abs(stored), 1e-300) if t > 0 else 0.0
        xs_loc = self.c.x.array[self.surface_dofs]
        comm = self.mesh.comm
        xs_min = comm.allreduce(float(xs_loc.min()) if len(xs_loc) else 1e300, op=MPI.MIN)
        xs_max = comm.allreduce(float(xs_loc.max()) if len(xs_loc) else -1e300, op=MPI.MAX)
        ocv_s = self.int_ocv_surface() / self.area
        row = {"t_s": t * s.time}
        if self.phi is not None:
            row.update(voltage_V=self.voltage_V, ocv_surface_V=ocv_s, overpotential_V=self.voltage_V - ocv_s,
                       current_A=self.I_app, capacity_mAh=abs(self.I_app) * t * s.time / 3.6)
        row.update({
            "x_mean": moles / self.volume,
            "c_mean_mol_m3": moles / self.volume * s.concentration,
            "c_surface_mean_mol_m3": self.int_c_surface() / self.area * s.concentration,
            "c_surface_min_mol_m3": xs_min * s.concentration,
            "c_surface_max_mol_m3": xs_max * s.concentration,
            "moles_mol": moles * s.concentration * L3,
            "mass_balance_rel_error": err,
        })
        return row

    def record(self, t):
        self.out.timeseries.add(self.observables(t))
        self.fields.step(t)

    def write_fields(self, t):
        self.c_si.x.array[:] = self.c.x.array * self.scales.concentration
        self.vtx.write(t * self.scales.time)

    def stop(self, t) -> str | None:
        if self.phi is None:
            return None
        V = self.voltage_V
        sat = self.p.saturation_x
        if self.p.c_rate > 0 and self.x_surface_min >= sat:
            return (f"surface saturated (min surface x = {self.x_surface_min:.4f} >= saturation_x = {sat}): the "
                    f"exchange current vanishes and the voltage collapses (V = {V:.4f} V)")
        if (self.p.c_rate > 0 and V <= self.p.cutoff_voltage_V) or (self.p.c_rate < 0 and V >= self.p.cutoff_voltage_V):
            return f"cut-off voltage {self.p.cutoff_voltage_V} V reached (V = {V:.4f} V)"
        return None

    def run(self, out: RunOutput | None = None, quiet=True):
        """Time loop; returns the LoopResult."""
        p, s = self.p, self.scales
        t_end = p.t_end_s or 1.2 * 3600.0 / max(abs(p.c_rate), 1e-12)
        if self.phi is not None:
            self.phi_old = float(self.phi.value)
        control = StepControl(t_end=t_end / s.time, dt=p.dt_s / s.time, dt_min=1e-6 * p.dt_s / s.time,
                              dt_max=p.dt_max_s / s.time, grow=1.2, easy_newton=4)
        prog = Progress(self.mesh.comm, control.t_end, s.time, quiet=quiet)
        return integrate(self, control, stop=self.stop, progress=prog)


class BorderedNewton:
    """Newton for (c, V): FEM residual F(c, V) plus one global constraint G(c, V) = 0.

    Block elimination (see the module docstring) with a PETSc KSP on J_cc.
    Converged when ||F||_2 <= max(rtol ||F_0||, atol, 1e3 eps ||scale||) and |G| <= atol (1 + |target|)
    (``scale_form``: the vector of the largest residual term, e.g. c/dt v dx, whose
    round-off bounds the attainable residual)
    (residual-based only: an update-based test would stop early when dt is small
    and spoil the discrete mass balance).
    """

    def __init__(self, F, u, *, ds_forms, phi, target, options, prefix="bordered_", rtol=1e-10,
                 atol=1e-12, max_it=25, max_dphi=20.0, scale_form=None):
        self.scale_form = None if scale_form is None else dolfinx.fem.form(scale_form)
        self.u, self.phi, self.target = u, phi, target
        self.rtol, self.atol, self.max_it, self.max_dphi = rtol, atol, max_it, max_dphi
        V = u.function_space
        self.L = dolfinx.fem.form(F)
        self.a = dolfinx.fem.form(ufl.derivative(F, u, ufl.TrialFunction(V)))
        self.b_form = dolfinx.fem.form(ds_forms["b"])
        self.g_form = dolfinx.fem.form(ds_forms["g"])
        self.G_form = dolfinx.fem.form(ds_forms["G"])
        self.h_form = dolfinx.fem.form(ds_forms["h"])
        self.A = fem_petsc.create_matrix(self.a)
        self.F = fem_petsc.create_vector(self.L)
        self.bvec = fem_petsc.create_vector(self.L)
        self.gvec = fem_petsc.create_vector(self.L)
        self.x1 = self.F.duplicate()
        self.x2 = self.F.duplicate()
        self.comm = V.mesh.comm
        self.ksp = PETSc.KSP().create(self.comm)
        self.ksp.setOptionsPrefix(prefix)
        petsc_options.register_prefix(prefix)
        petsc_options.apply(prefix, options)
        self.ksp.setOperators(self.A)
        self.ksp.setFromOptions()
        self.total_newton = self.total_krylov = 0

    def _vec(self, vec, form):
        with vec.localForm() as loc:
            loc.set(0.0)
        fem_petsc.assemble_vector(vec, form)
        vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)

    def _scalar(self, form):
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    def solve(self) -> SolveStats:
        u = self.u
        kits = 0
        r0 = None
        for it in range(self.max_it + 1):
            u.x.scatter_forward()
            self._vec(self.F, self.L)
            G = self._scalar(self.G_form) - self.target
            rn = self.F.norm()
            if not (np.isfinite(rn) and np.isfinite(G)):
                return self._done(False, it, kits, "non-finite residual")
            if r0 is None:
                r0 = rn
                floor = 0.0
                if self.scale_form is not None:  # round-off floor of the residual
                    self._vec(self.bvec, self.scale_form)
                    floor = 1e3 * np.finfo(float).eps * self.bvec.norm()
            if it > 0 and rn <= max(self.rtol * r0, self.atol, floor) and abs(G) <= self.atol * (1 + abs(self.target)):
                return self._done(True, it, kits, "converged (residual)")
            if it == self.max_it:
                break
            self.A.zeroEntries()
            fem_petsc.assemble_matrix(self.A, self.a)
            self.A.assemble()
            self._vec(self.bvec, self.b_form)
            self._vec(self.gvec, self.g_form)
            h = self._scalar(self.h_form)
            self.ksp.setOperators(self.A)
            self.ksp.solve(self.F, self.x1)
            ok1 = self.ksp.getConvergedReason() > 0
            kits += self.ksp.getIterationNumber()
            self.ksp.solve(self.bvec, self.x2)
            ok2 = self.ksp.getConvergedReason() > 0
            kits += self.ksp.getIterationNumber()
            if not (ok1 and ok2):
                return self._done(False, it, kits, f"KSP diverged ({self.ksp.getConvergedReason()})")
            denom = h - self.gvec.dot(self.x2)
            dphi = (G - self.gvec.dot(self.x1)) / denom
            dphi = float(np.clip(dphi, -self.max_dphi, self.max_dphi))
            self.x1.axpy(-dphi, self.x2)  # dc = x1 - x2 dphi
            u.x.petsc_vec.axpy(-1.0, self.x1)
            u.x.scatter_forward()
            self.phi.value = float(self.phi.value) - dphi
        return self._done(False, self.max_it, kits, "max Newton iterations")

    def _done(self, ok, its, kits, reason):
        finite = bool(self.comm.allreduce(bool(np.isfinite(self.u.x.array).all()), op=MPI.LAND))
        self.total_newton += its
        self.total_krylov += kits
        return SolveStats(ok and finite, its, kits, reason if finite else "non-finite iterate")

    def destroy(self):
        for o in (self.ksp, self.A, self.F, self.bvec, self.gvec, self.x1, self.x2):
            o.destroy()


# ----------------------------------------------------------------------------

def solve(p: ParticleDischargeParameters, out: RunOutput) -> None:
    prob = ParticleDischarge(p, out.comm)
    _run_with_output(prob, p, out)


def _run_with_output(prob: ParticleDischarge, p, out: RunOutput, extra_summary=None, after=None):
    s = prob.scales
    prob.out = out
    prob.c_si = dolfinx.fem.Function(prob.V, name="concentration_mol_m3")
    prob.vtx = out.vtx("concentration", prob.c_si, s.length)
    prob.fields = FieldSchedule(p.fields_every, prob.write_fields)
    out.update(mesh=mesh_summary(prob.mesh, [prob.V]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               volume_m3=prob.volume_m3, surface_area_m2=prob.area_m2, applied_current_A=prob.I_app,
               nominal_capacity_mAh=prob.capacity_C / 3.6,
               initial_voltage_analytic_V=prob.initial_potential() if prob.phi is not None else None)
    out.timeseries.add(prob.observables(0.0))
    prob.fields.write(0.0)
    res = prob.run(out, quiet=out.quiet)
    prob.fields.final(res.t)
    prob.vtx.close()
    ts = out.timeseries
    stats = dict(steps=res.steps, rejected_steps=res.rejected, newton_iterations=res.newton,
                 krylov_iterations=res.krylov, solve_wall_s=res.wall_s, t_final_s=res.t * s.time,
                 newton_per_step=res.newton / max(res.steps, 1),
                 krylov_per_newton=res.krylov / max(res.newton, 1))
    if prob.phi is not None:
        stats.update(final_voltage_V=prob.voltage_V, capacity_mAh=capacity_at_cutoff_mAh(prob, ts),
                     max_mass_balance_rel_error=float(np.max(ts.column("mass_balance_rel_error")))
                     if out.comm.rank == 0 else None)
    if extra_summary:
        stats.update(extra_summary(prob, res))
    _plot(out, prob)
    if after:
        after(prob, res, out)
    status = res.status
    reason = res.reason or "end time reached"
    out.finish(status, reason, **stats)
    prob.newton.destroy()


def capacity_at_cutoff_mAh(prob: ParticleDischarge, ts) -> float:
    """Discharged capacity [mAh] at the cut-off voltage (linear interpolation in the last
    step), or at the end of the run if the cut-off was not crossed."""
    t, v = ts.column("t_s"), ts.column("voltage_V")
    vc = prob.p.cutoff_voltage_V
    sign = 1 if prob.p.c_rate > 0 else -1
    t_cut = t[-1]
    if len(t) >= 2 and sign * (v[-1] - vc) <= 0 < sign * (v[-2] - vc):
        t_cut = t[-2] + (t[-1] - t[-2]) * (v[-2] - vc) / (v[-2] - v[-1])
    return abs(prob.I_app) * t_cut / 3.6


def _plot(out: RunOutput, prob: ParticleDischarge):
    ts = out.timeseries
    section = _section(prob) if prob.p.section_plot else None
    if out.comm.rank != 0:
        return
    t = ts.column("t_s")
    if prob.phi is not None:
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


def _section(prob: ParticleDischarge, n=61):
    """Concentration [mol/m^3] on the z = 0 plane (collective)."""
    from fem.probes import PointProbe
    g = np.linspace(-0.97, 0.97, n)
    X, Y = np.meshgrid(g, g)
    inside = X**2 + Y**2 < 0.95**2
    pts = np.column_stack([X[inside], Y[inside], np.zeros(inside.sum())])
    try:
        vals = PointProbe(prob.mesh, pts)(prob.c)
    except ValueError:
        return None
    Z = np.full(X.shape, np.nan)
    Z[inside] = vals * prob.scales.concentration
    L = prob.scales.length
    return X * L, Y * L, Z
