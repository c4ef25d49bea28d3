"""Interdiffusion couple with the Kirkendall effect (Darken's equations).

Two blocks of a substitutional A-B solid, x_A = x_left for z < z0 and x_right
for z > z0, closed ends.  In the laboratory frame (constant molar volume)

    dx/dt = d/dz( D~(x) dx/dz ),   D~ = (1 - x) D_A + x D_B,   D_i = D_i* Phi(x)

(Darken), and inert markers ride on the lattice with the Kirkendall velocity

    dz_m/dt = v(z_m, t) = (D_A - D_B)(x) dx/dz.

Phi is the regular-solution thermodynamic factor 1 - 2 (Omega/RT) x (1 - x).
Nondimensional inside (z by the couple length L, t by L^2/max(D_A*, D_B*));
variable-step BDF2; markers by Heun's method on a mass-lumped nodal velocity.
References: L. S. Darken, Trans. AIME 175 (1948) 184; A. D. Smigelskas and
E. O. Kirkendall, Trans. AIME 171 (1947) 130; C. Matano, Jpn. J. Phys. 8 (1933) 109
(the Boltzmann–Matano similarity solution, :mod:`fem.reference.boltzmann`).

Outputs: ``timeseries.csv`` (t_s, x_A_mean_frac, amount_A_rel_change,
matano_plane_m, marker_position_m, marker_velocity_m_s), ``profiles.csv``
(final z_m, x_A_frac), fields ``fields/composition.bp``, plots.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import ufl

import dolfinx.fem
import dolfinx.geometry
import dolfinx.la

from fem import petsc_options
from fem.constitutive.interdiffusion import (interdiffusion_coefficient, intrinsic_diffusivities,
                                             regular_solution_thermodynamic_factor)
from fem.observables import Integral
from fem.output import FieldSchedule, RunOutput, atomic_write_text, mesh_summary
from fem.parameters import Parameters, param
from fem.probes import PointProbe
from fem.scaling import GAS_CONSTANT
from fem.solver import SNESSolver, SolveStats
from fem.time_schemes import BDF
from fem.timestepping import Progress, StepControl, integrate
from fem.weak_forms.diffusion import diffusion_residual
from meshes import tags as T
from meshes.bilayer import bilayer

NAME = "interdiffusion"
DESCRIPTION = "Binary interdiffusion couple: Darken interdiffusivity, Kirkendall marker motion"


@dataclass
class InterdiffusionParameters(Parameters):
    thickness_left_m: float = param(10e-6, "thickness of the A-rich block (left)", "m", gt=0)
    thickness_right_m: float = param(10e-6, "thickness of the B-rich block (right)", "m", gt=0)
    x_left: float = param(0.95, "initial mole fraction of A on the left", "-", ge=0, le=1)
    x_right: float = param(0.05, "initial mole fraction of A on the right", "-", ge=0, le=1)
    tracer_diffusivity_A_m2_s: float = param(1e-15, "tracer diffusivity D_A*", "m^2/s", gt=0)
    tracer_diffusivity_B_m2_s: float = param(2e-16, "tracer diffusivity D_B*", "m^2/s", gt=0)
    omega_J_mol: float = param(0.0, "regular-solution interaction Omega (thermodynamic factor)", "J/mol")
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    total_concentration_mol_m3: float = param(1.0e5, "total (site) concentration c_t", "mol/m^3", gt=0)
    t_end_s: float = param(2000.0, "end time", "s", gt=0)
    dt_s: float = param(0.005, "initial time step", "s", gt=0)
    dt_max_s: float = param(50.0, "largest time step", "s", gt=0)
    dim: int = param(1, "spatial dimension of the couple", choices=(1, 2, 3))
    mesh_size: float = param(0.01, "element size away from the interface, relative to the couple length",
                             "-", gt=0, le=0.5)
    mesh_size_interface: float = param(0.0005, "element size at the interface, relative", "-", gt=0, le=0.5)
    element_degree: int = param(2, "Lagrange degree of x_A", choices=(1, 2))
    fields_every: int = param(20, "write fields every N steps (0: only the last)", ge=0)

    def check(self):
        a = self.omega_J_mol / (GAS_CONSTANT * self.temperature_K)
        self.require(a < 2.0, "omega_J_mol",
                     f"Omega/RT = {a:.3g} >= 2 makes the thermodynamic factor negative (spinodal); "
                     f"allowed range (-inf, {2 * GAS_CONSTANT * self.temperature_K:.6g}) J/mol at "
                     f"temperature_K = {self.temperature_K}")
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}] s")
        self.require(self.mesh_size_interface <= self.mesh_size, "mesh_size_interface",
                     f"allowed range (0, mesh_size = {self.mesh_size}]")


Parameters = InterdiffusionParameters


class InterdiffusionCouple:
    def __init__(self, p: InterdiffusionParameters, comm):
        self.p = p
        L = p.thickness_left_m + p.thickness_right_m
        d_ref = max(p.tracer_diffusivity_A_m2_s, p.tracer_diffusivity_B_m2_s)
        self.L, self.T = L, L * L / d_ref
        self.z0 = p.thickness_left_m / L
        self.domain = bilayer([p.thickness_left_m, p.thickness_right_m], dim=p.dim, h=p.mesh_size,
                              h_interface=p.mesh_size_interface, comm=comm, length_scale=L,
                              layer_names=[T.layer(0), T.layer(1)])
        mesh = self.domain.mesh
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", p.element_degree))
        self.x = dolfinx.fem.Function(self.V, name="x_A")
        self.x_n = dolfinx.fem.Function(self.V)
        self.x_nm1 = dolfinx.fem.Function(self.V)
        xl, xr, z0 = p.x_left, p.x_right, self.z0
        eps = 1e-12

        def step(X):
            return np.where(X[0] < z0 - eps, xl, np.where(X[0] > z0 + eps, xr, 0.5 * (xl + xr)))

        for f in (self.x, self.x_n, self.x_nm1):
            f.interpolate(step)

        # Constitutive laws (nondimensional diffusivities D / d_ref)
        a = p.omega_J_mol / (GAS_CONSTANT * p.temperature_K)
        phi = regular_solution_thermodynamic_factor(self.x, a)
        # Constants (not floats): keeps D_A - D_B a form even when the tracers are equal
        tracer_A = dolfinx.fem.Constant(mesh, p.tracer_diffusivity_A_m2_s / d_ref)
        tracer_B = dolfinx.fem.Constant(mesh, p.tracer_diffusivity_B_m2_s / d_ref)
        D_A, D_B = intrinsic_diffusivities(self.x, tracer_A, tracer_B, phi)
        D_tilde = interdiffusion_coefficient(self.x, D_A, D_B)
        self.bdf = BDF(mesh, 2)
        md = {"quadrature_degree": 2 * p.element_degree + 2}
        dx = self.domain.dx(metadata=md)
        F = diffusion_residual(self.bdf.ddt(self.x, self.x_n, self.x_nm1), self.x,
                               ufl.TestFunction(self.V), D_tilde, dx)
        opts = petsc_options.direct_lu() if p.dim == 1 else petsc_options.gmres_amg()
        self.solver = SNESSolver(F, self.x, [], prefix="interdiffusion_", options=opts)

        # Kirkendall velocity v = (D_A - D_B) grad x, mass-lumped onto P1 vectors
        gdim = mesh.geometry.dim
        self.W = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (gdim,)))
        w = ufl.TestFunction(self.W)
        self.velocity = dolfinx.fem.Function(self.W, name="kirkendall_velocity")
        self.velocity_old = dolfinx.fem.Function(self.W)
        self.v_form = dolfinx.fem.form(ufl.inner((D_A - D_B) * ufl.grad(self.x), w) * dx)
        lumped = dolfinx.fem.assemble_vector(
            dolfinx.fem.form(ufl.inner(ufl.as_vector([1.0] * gdim), w) * ufl.dx))
        lumped.scatter_reverse(dolfinx.la.InsertMode.add)
        lumped.scatter_forward()  # ghosts too (no 0/0 on ghost entries)
        self.lumped_mass = lumped.array.copy()
        self.tree = dolfinx.geometry.bb_tree(mesh, mesh.topology.dim)
        # markers: one on the initial interface (centre of the cross-section)
        centre = 0.5 * self.domain.metadata.get("width_m", L) / L if p.dim > 1 else 0.0
        self.markers = np.array([[z0] + [centre] * (gdim - 1)])
        self.update_velocity()
        self.velocity_old.x.array[:] = self.velocity.x.array

        self.volume = Integral(1.0 * ufl.dx(domain=mesh))()
        self.int_x = Integral(self.x * ufl.dx(domain=mesh))
        self.amount0 = self.int_x()

    def update_velocity(self):
        b = dolfinx.fem.assemble_vector(self.v_form)
        b.scatter_reverse(dolfinx.la.InsertMode.add)
        self.velocity.x.array[:] = b.array / self.lumped_mass
        self.velocity.x.scatter_forward()

    def velocity_at(self, f, points):
        vals = PointProbe(self.domain.mesh, points, tree=self.tree)(f)
        return np.asarray(vals).reshape(len(points), -1)[:, 0:1]  # z component

    # TimeDependent protocol ---------------------------------------------
    def step(self, t, dt) -> SolveStats:
        self.bdf.set_step(dt)
        return self.solver.solve()

    def reject(self):
        self.x.x.array[:] = self.x_n.x.array

    def accept(self, t_new, dt, stats):
        self.update_velocity()
        # Heun: predictor with the old velocity, corrector with the new one (z only)
        z = self.markers.copy()
        v0 = self.velocity_at(self.velocity_old, z)
        zp = z.copy()
        zp[:, 0:1] = z[:, 0:1] + dt * v0
        v1 = self.velocity_at(self.velocity, zp)
        self.markers[:, 0:1] = z[:, 0:1] + 0.5 * dt * (v0 + v1)
        self.marker_velocity = float(v1[0, 0])
        self.velocity_old.x.array[:] = self.velocity.x.array
        self.bdf.accepted(dt)
        self.x_nm1.x.array[:] = self.x_n.x.array
        self.x_n.x.array[:] = self.x.x.array
        self.record(t_new)

    # ----------------------------------------------------------------------
    def observables(self, t):
        p = self.p
        amount = self.int_x()
        mean = amount / self.volume
        # Matano plane: where the areas between the profile and the end values balance
        matano = (p.x_right - mean) / (p.x_right - p.x_left) if p.x_right != p.x_left else self.z0
        return {"t_s": t * self.T,
                "x_A_mean_frac": mean,
                "amount_A_rel_change": (amount - self.amount0) / self.amount0,
                "matano_plane_m": matano * self.L,
                "marker_position_m": float(self.markers[0, 0]) * self.L,
                "marker_velocity_m_s": getattr(self, "marker_velocity", 0.0) * self.L / self.T}

    def record(self, t):
        self.out.timeseries.add(self.observables(t))
        self.fields.step(t)

    def write_fields(self, t):
        self.v_si.x.array[:] = self.velocity.x.array * (self.L / self.T)
        self.vtx.write(t * self.T)
        self.vtx_velocity.write(t * self.T)

    def profile(self, n=401):
        """x_A along the stacking direction (centre line), gathered on every rank."""
        gdim = self.domain.mesh.geometry.dim
        pts = np.zeros((n, gdim))
        pts[:, 0] = np.linspace(0.0, 1.0, n)
        if gdim > 1:
            pts[:, 1:] = self.markers[0, 1:]
        return pts[:, 0] * self.L, PointProbe(self.domain.mesh, pts, tree=self.tree)(self.x)


def solve(p: InterdiffusionParameters, out: RunOutput) -> None:
    prob = InterdiffusionCouple(p, out.comm)
    prob.out = out
    prob.v_si = dolfinx.fem.Function(prob.W, name="kirkendall_velocity_m_s")
    prob.vtx = out.vtx("composition", [prob.x], prob.L)
    prob.vtx_velocity = out.vtx("kirkendall_velocity", [prob.v_si], prob.L)
    prob.fields = FieldSchedule(p.fields_every, prob.write_fields)
    out.update(mesh=mesh_summary(prob.domain.mesh, [prob.V]),
               scales={"length_m": prob.L, "time_s": prob.T})
    out.timeseries.add(prob.observables(0.0))
    prob.fields.write(0.0)
    control = StepControl(t_end=p.t_end_s / prob.T, dt=p.dt_s / prob.T, dt_min=1e-8 * p.dt_s / prob.T,
                          dt_max=p.dt_max_s / prob.T, grow=1.2, easy_newton=5)
    res = integrate(prob, control, progress=Progress(out.comm, control.t_end, prob.T, quiet=out.quiet))
    prob.fields.final(res.t)
    prob.vtx.close()
    prob.vtx_velocity.close()
    z, xa = prob.profile()
    if out.comm.rank == 0:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["z_m", "x_A_frac"])
        w.writerows(zip(z.tolist(), xa.tolist()))
        atomic_write_text(out.dir / "profiles.csv", buf.getvalue())
    _plot(out, prob, z, xa)
    out.finish(res.status, res.reason, steps=res.steps, rejected_steps=res.rejected,
               newton_iterations=res.newton, krylov_iterations=res.krylov, time_loop_s=res.wall_s,
               t_final_s=res.t * prob.T, timings=prob.solver.timings(),
               marker_displacement_m=float(prob.markers[0, 0] - prob.z0) * prob.L)
    prob.solver.destroy()


def _plot(out, prob, z, xa):
    if out.comm.rank != 0:
        return
    ts = out.timeseries
    with out.figure("profile") as (fig, ax):
        ax.plot((z - prob.z0 * prob.L) * 1e6, xa, label=f"t = {ts.column('t_s')[-1]:.4g} s")
        ax.axvline((ts.column("marker_position_m")[-1] - prob.z0 * prob.L) * 1e6, color="k", ls=":",
                   label="Kirkendall marker")
        ax.set_xlabel("z - z$_0$ [µm]")
        ax.set_ylabel("x$_A$")
        ax.legend()
    with out.figure("marker") as (fig, ax):
        t = ts.column("t_s")
        ax.plot(np.sqrt(t), (ts.column("marker_position_m") - prob.z0 * prob.L) * 1e6)
        ax.set_xlabel("$\\sqrt{t}$ [s$^{1/2}$]")
        ax.set_ylabel("marker displacement [µm]")
