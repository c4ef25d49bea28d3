"""Fickian diffusion in a spherical particle (the foundation's vertical slice).

    dc/dt = D lap c                 0 < r < R,  c(x, 0) = c0
    c = c_s            on r = R     (surface_condition = "concentration"), or
    D dc/dn = j_in     on r = R     (surface_condition = "flux", j_in > 0 inserts)

Nondimensional inside: x^ = x/R, t^ = t D/R^2, c^ = c/c_max.  Backward
Euler / variable-step BDF2 in time; SNES (one Newton step for this linear law) with CG + hypre
BoomerAMG.

The start: a step change of the surface concentration enters as c - c0 ~ erfc(r'/sqrt(4 D t))
(r' the depth), a layer of width sqrt(D t) (0.02 R at the first output, 1 s, by default) and
an uptake ~ t^(1/2).  The mesh grades from ``mesh_size`` inside to ``mesh_size /
surface_refinement`` at the surface (Gmsh Distance + Threshold), and ``startup_steps``
unrecorded sub-steps growing by ``startup_ratio`` reach the first output time ``dt_s`` (one
backward-Euler step of any size puts in sqrt(D dt) where the series gives 2 sqrt(D dt/pi),
-11 %).  On a uniform 0.12 R mesh with one 0.5 s step the mean was 1.4 % of the swing c_s - c0
(28 % of the uptake) off Crank's series at 0.5 s.  Reference: J. Crank, The Mathematics of Diffusion (1975), eqs.
6.18-6.20 (fixed surface concentration) and 6.44 (constant flux).

Outputs: ``timeseries.csv`` (t_s, c_mean_mol_m3, c_surface_mean_mol_m3,
c_center_mol_m3, c_min_mol_m3, c_max_in_particle_mol_m3, surface_flux_mol_s, moles_mol,
mass_balance_rel_error), ``fields/concentration.bp``, ``plots/concentration.png``.
The run stops (reason given) when a surface value leaves [0, c_max].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem import analytic, field_views
from fem.models.diffusion import FickianDiffusion
from fem.output import RunOutput, mesh_summary, si_fields
from fem.parameters import param
from fem.probes import PointProbe
from fem.scaling import Scales
from fem.simulation import GradedStartParameters, Simulation, StepControl
from meshes import tags as T
from meshes.sphere import sphere

NAME = "sphere_diffusion"
DESCRIPTION = "Fickian diffusion in a spherical particle (fixed surface concentration or flux)"


@dataclass
class SphereDiffusionParameters(GradedStartParameters):
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
    dt_s: float = param(1.0, "first output time: the first recorded step (reached in startup_steps "
                        "sub-steps)", "s", gt=0)
    dt_max_s: float = param(10.0, "largest time step", "s", gt=0)
    mesh_size: float = param(0.12, "element size relative to the radius", "-", gt=0, le=1)
    surface_refinement: float = param(2.0, "mesh_size / element size at the surface: the mesh grades from "
                                      "mesh_size inside to mesh_size/surface_refinement at the surface "
                                      "(resolves the layer sqrt(D t) of the first outputs); 1: uniform", "-",
                                      ge=1, le=10)
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


def build(p: SphereDiffusionParameters, comm) -> tuple[FickianDiffusion, Scales]:
    """Geometry and model: the unit ball (x^ = x/R) with the surface condition of ``p``."""
    scales = Scales.diffusive(p.radius_m, p.diffusivity_m2_s, p.c_max_mol_m3)
    graded = p.surface_refinement > 1
    domain = sphere(p.radius_m, p.mesh_size, order=p.geometry_order, comm=comm,
                    h_surface=p.mesh_size / p.surface_refinement if graded else None)
    fixed = p.surface_condition == "concentration"
    model = FickianDiffusion(
        domain, T.SURFACE, c0=p.c0_mol_m3 / p.c_max_mol_m3,
        c_surface=p.c_surface_mol_m3 / p.c_max_mol_m3 if fixed else None,
        flux=p.flux_mol_m2_s / scales.molar_flux, degree=p.element_degree,
        time_order=p.time_order, solver=p.solver)
    return model, scales


def observables(model: FickianDiffusion, p: SphereDiffusionParameters, s: Scales):
    """Recorder: SI observables of the sphere at model time t.

    mass_balance_rel_error: stored moles against what was prescribed -- the flux case against
    j A t (the applied flux integrated exactly in time over the discrete surface area A), the
    concentration case against the time integral of the variationally consistent surface flux.
    c_min/c_max_in_particle: nodal extremes (a P2 field may undershoot c0 near a steep front).
    """
    probe = PointProbe(model.domain.mesh, [[0.0, 0.0, 0.0]])
    L3 = s.length**3
    mol = s.concentration * L3
    fixed = p.surface_condition == "concentration"

    def record(t) -> dict[str, float]:
        moles = model.moles()
        stored = (moles - model.moles0) * mol
        if fixed:
            inflow = model.moles_in * mol
        else:  # SI throughout: independent of the flux scaling of the model
            inflow = p.flux_mol_m2_s * model.area * s.length**2 * t * s.time
        err = (abs(stored - inflow) / max(abs(stored), abs(inflow), 1e-300) if t > 0 else 0.0)
        c_min, c_max, _, _ = model.value_range()
        return {
            "c_mean_mol_m3": moles / model.volume * s.concentration,
            "c_surface_mean_mol_m3": model.surface_mean() * s.concentration,
            "c_center_mol_m3": float(probe(model.c)[0]) * s.concentration,
            "c_min_mol_m3": c_min * s.concentration,
            "c_max_in_particle_mol_m3": c_max * s.concentration,
            "surface_flux_mol_s": model.flux_now * s.concentration * L3 / s.time,
            "moles_mol": moles * mol,
            "mass_balance_rel_error": err,
        }
    return record


def surface_in_range(model: FickianDiffusion, s: Scales, c_max_mol_m3: float):
    """Stop: a surface value left [0, c_max] (the flux would insert into a full, or extract from an
    empty, host)."""
    def stop(t) -> str | None:
        _, _, lo, hi = model.value_range()
        lo, hi = lo * s.concentration, hi * s.concentration
        over, under = hi > c_max_mol_m3 * (1 + 1e-12), lo < -1e-12 * c_max_mol_m3  # beyond round-off
        if over or under:
            bad = f"max {hi:.6g} > c_max_mol_m3 = {c_max_mol_m3:.6g}" if over else f"min {lo:.6g} < 0"
            return (f"surface concentration left [0, c_max_mol_m3] at t = {t * s.time:.6g} s: {bad} mol/m^3 "
                    "(reduce |flux_mol_m2_s| or t_end_s)")
    return stop


def solve(p: SphereDiffusionParameters, out: RunOutput) -> None:
    model, s = build(p, out.comm)
    out.update(mesh=mesh_summary(model.domain.mesh, [model.V]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               volume_m3=model.volume * s.length**3, surface_area_m2=model.area * s.length**2)
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-6 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.2, easy_newton=10,
                          fixed=p.dt_max_s <= p.dt_s, **p.startup(record=False))
    fields = si_fields(out, "concentration", [(model.c, "concentration_mol_m3", s.concentration)],
                       s, every=p.fields_every)
    # 3D pictures (plots/concentration_{surface,section,clip}.png) at the end and at output_times_s
    views = field_views.views_output(out, "concentration", model.c, time_scale=s.time, length_scale=s.length,
                                     value_scale=s.concentration, label="c [mol/m$^3$]",
                                     title="Li concentration")
    sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out,
                     recorders=[observables(model, p, s)], fields=[fields, views],
                     stops=[surface_in_range(model, s, p.c_max_mol_m3)])
    res = sim.run()
    _plot(out, p)
    out.finish(res.status, res.reason, **res.summary(s.time), timings=model.solver.timings())
    model.destroy()


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
