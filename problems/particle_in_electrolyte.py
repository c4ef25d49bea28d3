"""Space-charge layer around a cathode particle embedded in a solid electrolyte (3D PNP).

Same physics, nondimensionalization and formulation as :mod:`problems.space_charge`
(model :mod:`fem.models.pnp`, electrochemical-potential unknowns, see
:mod:`fem.weak_forms.pnp`): a ball of layered-oxide cathode (mobile Li defects +
holes + fixed background) of radius R in a cube of oxide solid electrolyte
(mobile Li defects + fixed background), interface ``interface`` (particle
surface), outer boundary ``outer``.

Stages: (1) Poisson–Boltzmann equilibrium (grand canonical; Li level of the
electrolyte bulk, hole level of the cathode bulk); (2) optional transient from
contact (closed cell: blocking outer boundary, phi = 0 there) with species and
charge conservation monitored.

Outputs: ``profiles.csv`` along a radial line from the particle centre through
the surface (x_m = distance from the centre, phi_V, c_<species>_mol_m3),
``summary.json`` (space-charge width and potential drop inside/outside the
particle surface, min/mean/max surface potential, solver statistics),
``timeseries.csv`` (transient), ``fields/pnp.bp``, ``plots/*.png`` (3D: the equilibrium potential on
the particle surface, ``potential_surface.png``, on the mid plane z = 0, ``potential_section.png``,
and in the clipped particle, ``potential_clip.png``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import dolfinx.fem

from fem import field_views
from fem.errors import InputError
from fem.models import pnp
from fem.models.pnp import PNPModel
from fem.output import RunOutput, mesh_summary
from fem.parameters import param
from fem.pnp_outputs import plot_profiles, scales_summary, write_profiles
from meshes import tags as T
from problems.space_charge import SpaceChargeParameters, build_model_description, run_transient

NAME = "particle_in_electrolyte"
DESCRIPTION = "PNP space-charge layer around a cathode particle embedded in solid electrolyte (3D)"


@dataclass
class ParticleInElectrolyteParameters(SpaceChargeParameters):
    dim: int = param(3, "spatial dimension (2: planar disc)", choices=(2, 3))
    radius_m: float = param(30e-9, "particle radius R", "m", gt=0)
    box_half_width_m: float = param(60e-9, "half width of the electrolyte cube", "m", gt=0)
    h_interface_debye: float = param(0.5, "element size at the particle surface / Debye length", "-", gt=0)
    h_bulk_debye: float = param(8.0, "element size far from the surface / Debye length", "-", gt=0)
    t_end_s: float = param(0.0, "end of the contact transient (0: skip)", "s", ge=0)
    currents_A_m2: list = param([], "unused (steady currents are run by space_charge)", "A/m^2")

    def check(self):
        super().check()
        self.require(self.box_half_width_m > self.radius_m, "box_half_width_m",
                     f"allowed range (radius_m = {self.radius_m}, inf) m")


Parameters = ParticleInElectrolyteParameters


def make_mesh(p, s, comm):
    from meshes.particle_in_matrix import particle_in_matrix
    R = p.radius_m
    return particle_in_matrix(R, p.box_half_width_m, h=min(1.0, p.h_bulk_debye * s.length / R),
                              h_interface=min(1.0, p.h_interface_debye * s.length / R), dim=p.dim, comm=comm,
                              length_scale=s.length, axisymmetric=False)


def radial_points(p, s):
    """Radial line along the diagonal (1,1,1)/sqrt3 (or (1,1)/sqrt2), centre to near the corner."""
    R, W = p.radius_m / s.length, p.box_half_width_m / s.length
    d = np.ones(p.dim) / np.sqrt(p.dim)
    t = np.linspace(0, 1, 600) ** 2
    rs = np.unique(np.concatenate([R - 1e-9 - t * (R - 1e-9), R + 1e-9 + t * (0.98 * W - R - 1e-9)]))
    return rs[:, None] * d[None, :]


def transient(p, out, domain, materials, species, bulk, sigma, opts, s):
    """Closed-cell transient from contact (blocking outer boundary, phi = 0 there); returns (model, result)."""
    model = PNPModel(domain, materials, species, mode="transient", sigma_f=sigma, options=opts,
                     phi_dirichlet={T.OUTER: 0.0}, time_order=2, prefix="pnpp_", interface=T.INTERFACE)
    model.set_contact_state(bulk)
    a0 = {k.name: model.amount(k.name) for k in model.carriers}

    def record(t):
        row = {f"amount_rel_change_{pnp.carrier_label(k.name)}": (model.amount(k.name) - a0[k.name]) / a0[k.name]
               for k in model.carriers}
        row["net_charge_C"] = ((model.charge(T.PARTICLE) + model.charge(T.MATRIX) + sigma * model.interface_area())
                               * s.surface_charge * s.length ** (domain.dim - 1))
        row["phi_surface_mean_V"] = model.interface_potential()[1] * s.potential
        return row
    return model, run_transient(model, p, s, out, record, steps_per_end_time=5, grow=1.5)


def solve(p: ParticleInElectrolyteParameters, out: RunOutput) -> None:
    comm = out.comm
    s, materials, species, bulk = build_model_description(p, cathode=T.PARTICLE, electrolyte=T.MATRIX)
    t0 = time.perf_counter()
    domain = make_mesh(p, s, comm)
    t_mesh = time.perf_counter() - t0
    opts = pnp.linear_solver_options(p.solver)
    sigma = p.sigma_f_C_m2 / s.surface_charge
    R = p.radius_m / s.length

    # 1. Poisson–Boltzmann equilibrium (recomputed on a restart: cheap)
    t0 = time.perf_counter()
    pb, etas, phi_bulk = pnp.solve_equilibrium_pb(domain, materials, species, bulk, sigma, T.MATRIX, opts,
                                                  interface=T.INTERFACE)
    t_pb = time.perf_counter() - t0
    x, vals = write_profiles(out, pb, radial_points(p, s), s, radial_origin=np.zeros(p.dim))
    phi_V = vals["phi"] * s.potential
    drop_in, w_in = pnp.side_metrics(x, phi_V, R * s.length, "left")
    drop_out, w_out = pnp.side_metrics(x, phi_V, R * s.length, "right")
    lo, mean, hi = pb.interface_potential()
    pb_stats = {"newton_iterations": pb.solver.total_newton, "krylov_iterations": pb.solver.total_krylov,
                "wall_s": t_pb}
    out.update(mesh=mesh_summary(domain.mesh, [pb.W]), mesh_wall_s=t_mesh, scales=scales_summary(s),
               potential_drop_particle_V=drop_in, potential_drop_electrolyte_V=drop_out,
               space_charge_width_particle_m=w_in, space_charge_width_electrolyte_m=w_out,
               surface_potential_V={"min": lo * s.potential, "mean": mean * s.potential, "max": hi * s.potential},
               contact_potential_V=(phi_bulk[T.PARTICLE] - phi_bulk[T.MATRIX]) * s.potential,
               poisson_boltzmann=pb_stats)
    plot_profiles(out, x, vals, s, species, "equilibrium_profiles", R * s.length)
    if p.dim == 3:
        phi = dolfinx.fem.Function(pb.subs[0][0])
        phi.x.array[:] = pb.u.x.array[pb.subs[0][1]]
        field_views.snapshot(out, "potential", phi, length_scale=s.length, value_scale=s.potential, label="φ [V]",
                             title="equilibrium potential", surface_cells=domain.cells(T.PARTICLE), cmap="coolwarm")
    pb.destroy()

    # 2. transient from contact (closed cell) -----------------------------------------
    if p.t_end_s <= 0:
        if out.mode == "restart":
            raise InputError("particle_in_electrolyte: only the transient stage (t_end_s > 0) can be restarted")
        out.finish("ok", "")
        return
    model, res = transient(p, out, domain, materials, species, bulk, sigma, opts, s)
    summary = res.summary(s.time)
    out.update(transient={**summary, "wall_per_step_s": res.wall_s / max(res.steps, 1),
                          "mesh_dofs": mesh_summary(domain.mesh, [model.W])["dofs"]})
    timings = model.solver.timings()
    model.destroy()
    out.finish(res.status, res.reason, **summary, timings=timings)
