"""Fickian diffusion in a spherical particle (the foundation's vertical slice).

    dc/dt = D lap c                 0 < r < R,  c(x, 0) = c0
    c = c_s            on r = R     (surface_condition = "concentration"), or
    D dc/dn = j_in     on r = R     (surface_condition = "flux", j_in > 0 inserts)

Nondimensional inside: x^ = x/R, t^ = t D/R^2, c^ = c/c_max.  Backward
Euler / variable-step BDF2 in time; SNES (one Newton step for this linear law) with CG + hypre
BoomerAMG.  Reference: J. Crank, The Mathematics of Diffusion (1975), eqs.
6.18-6.20 (fixed surface concentration) and 6.44 (constant flux).

Outputs: ``timeseries.csv`` (t_s, c_mean_mol_m3, c_surface_mean_mol_m3,
c_center_mol_m3, surface_flux_mol_s, moles_mol, mass_balance_rel_error),
``fields/concentration.bp``, ``plots/concentration.png``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl

import dolfinx.fem
import dolfinx.fem.petsc

from fem import analytic, petsc_options
from fem.errors import SolverError
from fem.observables import Integral
from fem.output import FieldSchedule, RunOutput, mesh_summary
from fem.parameters import Parameters, param
from fem.probes import PointProbe
from fem.scaling import Scales
from fem.solver import SNESSolver, SolveStats
from fem.time_schemes import BDF
from fem.timestepping import Progress, StepControl, integrate
from fem.weak_forms.diffusion import diffusion_residual
from meshes import tags as T
from meshes.sphere import sphere

NAME = "sphere_diffusion"
DESCRIPTION = "Fickian diffusion in a spherical particle (fixed surface concentration or flux)"


@dataclass
class SphereDiffusionParameters(Parameters):
    radius_m: float = param(5.0e-6, "particle radius R", "m", gt=0)
    diffusivity_m2_s: float = param(1.0e-14, "diffusivity D", "m^2/s", gt=0)
    c_max_mol_m3: float = param(51765.0, "maximum (reference) concentration", "mol/m^3", gt=0)
    c0_mol_m3: float = param(10000.0, "initial concentration", "mol/m^3", ge=0)
    surface_condition: str = param("concentration", "surface condition", choices=("concentration", "flux"))
    c_surface_mol_m3: float = param(40000.0, "surface concentration (surface_condition='concentration')",
                                    "mol/m^3", ge=0)
    flux_mol_m2_s: float = param(2.0e-5, "inward molar flux density (surface_condition='flux'); "
                                 "negative extracts", "mol/(m^2 s)")
    t_end_s: float = param(500.0, "end time", "s", gt=0)
    dt_s: float = param(0.5, "initial time step", "s", gt=0)
    dt_max_s: float = param(10.0, "largest time step", "s", gt=0)
    mesh_size: float = param(0.12, "element size relative to the radius", "-", gt=0, le=1)
    element_degree: int = param(2, "Lagrange degree of the concentration", choices=(1, 2))
    geometry_order: int = param(2, "geometry order (2 = curved surface)", choices=(1, 2))
    time_order: int = param(2, "BDF order in time (1: backward Euler)", choices=(1, 2))
    solver: str = param("cg_amg", "linear solver", choices=("cg_amg", "lu"))
    fields_every: int = param(10, "write fields every N steps (0: only the last)", ge=0)

    def check(self):
        self.require(self.c0_mol_m3 <= self.c_max_mol_m3, "c0_mol_m3",
                     f"allowed range [0, c_max_mol_m3 = {self.c_max_mol_m3}] mol/m^3")
        self.require(self.c_surface_mol_m3 <= self.c_max_mol_m3, "c_surface_mol_m3",
                     f"allowed range [0, c_max_mol_m3 = {self.c_max_mol_m3}] mol/m^3")
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}] s")
        if self.surface_condition == "flux":
            # The mean concentration c0 + 3 j t / R must stay within [0, c_max].
            c_end = self.c0_mol_m3 + 3 * self.flux_mol_m2_s * self.t_end_s / self.radius_m
            self.require(0 <= c_end <= self.c_max_mol_m3, "flux_mol_m2_s",
                         f"gives a mean concentration {c_end:.4g} mol/m^3 at t_end_s, outside "
                         f"[0, c_max_mol_m3 = {self.c_max_mol_m3}]; allowed range "
                         f"[{-self.c0_mol_m3 * self.radius_m / (3 * self.t_end_s):.4g}, "
                         f"{(self.c_max_mol_m3 - self.c0_mol_m3) * self.radius_m / (3 * self.t_end_s):.4g}] "
                         "mol/(m^2 s)")


Parameters = SphereDiffusionParameters


class SphereDiffusion:
    """Assembled problem: mesh, spaces, forms, solver and observables."""

    def __init__(self, p: SphereDiffusionParameters, comm):
        self.p = p
        self.scales = Scales.diffusive(p.radius_m, p.diffusivity_m2_s, p.c_max_mol_m3)
        self.domain = sphere(p.radius_m, p.mesh_size, order=p.geometry_order, comm=comm)
        mesh = self.domain.mesh
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", p.element_degree))
        self.V = V
        self.c = dolfinx.fem.Function(V, name="concentration")
        self.c_old = dolfinx.fem.Function(V)    # c^n
        self.c_older = dolfinx.fem.Function(V)  # c^{n-1}
        c0 = p.c0_mol_m3 / p.c_max_mol_m3
        for f in (self.c, self.c_old, self.c_older):
            f.x.array[:] = c0
        self.bdf = BDF(mesh, p.time_order)
        dcdt = self.bdf.ddt(self.c, self.c_old, self.c_older)
        v = ufl.TestFunction(V)
        # Exact quadrature for P_k on affine cells; avoids the inflated
        # estimate UFL makes for curved (order-2) geometry.
        md = {"quadrature_degree": 2 * p.element_degree + (p.geometry_order - 1)}
        dx = self.domain.dx(metadata=md)
        ds = self.domain.ds(T.SURFACE, metadata=md)
        D = dolfinx.fem.Constant(mesh, 1.0)  # D / D_ref
        bcs, inflow = [], []
        if p.surface_condition == "concentration":
            facets = self.domain.facets(T.SURFACE)
            dofs = dolfinx.fem.locate_dofs_topological(V, mesh.topology.dim - 1, facets)
            self.c_surface = p.c_surface_mol_m3 / p.c_max_mol_m3
            bcs.append(dolfinx.fem.dirichletbc(self.c_surface, dofs, V))
            self.j_in = None
        else:
            self.j_in = dolfinx.fem.Constant(mesh, p.flux_mol_m2_s / self.scales.molar_flux)
            inflow.append((self.j_in, ds))
        F = diffusion_residual(dcdt, self.c, v, D, dx, inflow=inflow)
        opts = petsc_options.cg_amg() if p.solver == "cg_amg" else petsc_options.direct_lu()
        self.solver = SNESSolver(F, self.c, bcs, prefix="diffusion_", options=opts)

        # Observables.  The surface flux is the variationally consistent one:
        # the residual tested with a function that is 1 on surface dofs only.
        self.volume = Integral(1.0 * dx)()
        self.area = Integral(1.0 * ds)()
        self.int_c = Integral(self.c * dx)
        self.int_c_surface = Integral(self.c * ds)
        v_surface = dolfinx.fem.Function(V)
        facets = self.domain.facets(T.SURFACE)
        sdofs = dolfinx.fem.locate_dofs_topological(V, mesh.topology.dim - 1, facets)
        v_surface.x.array[sdofs] = 1.0
        v_surface.x.scatter_forward()
        F_unconstrained = diffusion_residual(dcdt, self.c, v_surface, D, dx)
        self.consistent_flux = Integral(F_unconstrained)  # = int j_in ds (nondim, per unit time)
        self.probe = PointProbe(mesh, [[0.0, 0.0, 0.0]])
        self.moles0 = self.int_c()
        self.moles_in = self.moles_in_old = 0.0  # integrated surface inflow (nondimensional)

    # TimeDependent protocol --------------------------------------------
    def step(self, t, dt) -> SolveStats:
        # Linear problem: the operator changes only with the BDF coefficients,
        # so the Jacobian and its AMG hierarchy are reused while they are unchanged.
        coefficients = (dt, *self.bdf.coefficients(dt))
        same = coefficients == getattr(self, "_last_coefficients", None)
        self._last_coefficients = coefficients
        self.bdf.set_step(dt)
        return self.solver.solve(reuse_jacobian=same)

    def reject(self):
        self.c.x.array[:] = self.c_old.x.array
        self._last_coefficients = None

    def accept(self, t_new, dt, stats):
        self.flux_now = self.consistent_flux()
        # integrate the inflow with the same BDF formula -> exact discrete balance
        self.moles_in, self.moles_in_old = (
            self.bdf.integrate_rate(self.moles_in, self.moles_in_old, self.flux_now, dt), self.moles_in)
        self.bdf.accepted(dt)
        self.c_older.x.array[:] = self.c_old.x.array
        self.c_old.x.array[:] = self.c.x.array
        self.record(t_new)

    # ---------------------------------------------------------------------
    def observables(self, t) -> dict[str, float]:
        s, p = self.scales, self.p
        L3 = s.length**3
        moles = self.int_c()
        stored = moles - self.moles0
        err = abs(stored - self.moles_in) / max(abs(stored), abs(self.moles_in), 1e-300) if t > 0 else 0.0
        return {
            "t_s": t * s.time,
            "c_mean_mol_m3": moles / self.volume * s.concentration,
            "c_surface_mean_mol_m3": self.int_c_surface() / self.area * s.concentration,
            "c_center_mol_m3": float(self.probe(self.c)[0]) * s.concentration,
            "surface_flux_mol_s": getattr(self, "flux_now", 0.0) * s.concentration * L3 / s.time,
            "moles_mol": moles * s.concentration * L3,
            "mass_balance_rel_error": err,
        }

    def record(self, t):
        self.out.timeseries.add(self.observables(t))
        self.fields.step(t)

    def write_fields(self, t):
        self.c_si.x.array[:] = self.c.x.array * self.scales.concentration
        self.vtx.write(t * self.scales.time)


def solve(p: SphereDiffusionParameters, out: RunOutput) -> None:
    prob = SphereDiffusion(p, out.comm)
    s = prob.scales
    prob.out = out
    prob.c_si = dolfinx.fem.Function(prob.V, name="concentration_mol_m3")
    prob.vtx = out.vtx("concentration", prob.c_si, s.length)
    prob.fields = FieldSchedule(p.fields_every, prob.write_fields)
    out.update(mesh=mesh_summary(prob.domain.mesh, [prob.V]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               volume_m3=prob.volume * s.length**3, surface_area_m2=prob.area * s.length**2)
    out.timeseries.add(prob.observables(0.0))
    prob.fields.write(0.0)
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-6 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.2, easy_newton=10,
                          fixed=p.dt_max_s <= p.dt_s)
    res = integrate(prob, control, progress=Progress(out.comm, control.t_end, s.time, quiet=out.quiet))
    prob.fields.final(res.t)
    prob.vtx.close()
    stats = dict(steps=res.steps, rejected_steps=res.rejected, newton_iterations=res.newton,
                 krylov_iterations=res.krylov, time_loop_s=res.wall_s, t_final_s=res.t * s.time,
                 timings=prob.solver.timings())
    _plot(out, p)
    out.finish(res.status, res.reason, **stats)
    prob.solver.destroy()


def _plot(out: RunOutput, p: SphereDiffusionParameters):
    ts = out.timeseries
    if out.comm.rank != 0:
        return
    t = ts.column("t_s")
    with out.figure("concentration") as (fig, ax):
        for col, label in (("c_mean_mol_m3", "mean"), ("c_surface_mean_mol_m3", "surface"),
                           ("c_center_mol_m3", "centre")):
            ax.plot(t, ts.column(col), label=f"{label} (FEM)")
        R, D, c0 = p.radius_m, p.diffusivity_m2_s, p.c0_mol_m3
        tt = np.linspace(t[0], t[-1], 200)[1:]
        if p.surface_condition == "concentration":
            cs = p.c_surface_mol_m3
            ax.plot(tt, [analytic.crank_sphere_fixed_surface_mean(x, R, D, c0, cs) for x in tt], "k:",
                    label="Crank (mean, centre)")
            ax.plot(tt, [analytic.crank_sphere_fixed_surface(0.0, x, R, D, c0, cs)[0] for x in tt], "k:")
        else:
            F = p.flux_mol_m2_s
            ax.plot(tt, analytic.crank_sphere_constant_flux_mean(tt, R, c0, F), "k:", label="Crank")
            ax.plot(tt, [analytic.crank_sphere_constant_flux(R, x, R, D, c0, F)[0] for x in tt], "k:")
            ax.plot(tt, [analytic.crank_sphere_constant_flux(0.0, x, R, D, c0, F)[0] for x in tt], "k:")
        ax.set_xlabel("t [s]")
        ax.set_ylabel("c [mol/m$^3$]")
        ax.legend()
