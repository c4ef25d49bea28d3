"""Space-charge layer around a cathode particle embedded in a solid electrolyte (3D PNP).

Same physics, nondimensionalization and formulation as :mod:`problems.space_charge`
(electrochemical-potential unknowns, see :mod:`fem.weak_forms.pnp`): a ball of
layered-oxide cathode (mobile Li defects + holes + fixed background) of radius R
in a cube of oxide solid electrolyte (mobile Li defects + fixed background),
interface ``interface`` (particle surface), outer boundary ``outer``.

Stages: (1) Poisson–Boltzmann equilibrium (grand canonical; Li level of the
electrolyte bulk, hole level of the cathode bulk); (2) optional transient from
contact (closed cell: blocking outer boundary, phi = 0 there) with species and
charge conservation monitored.

Outputs: ``profiles.csv`` along a radial line from the particle centre through
the surface (x_m = distance from the centre, phi_V, c_<species>_mol_m3),
``summary.json`` (space-charge width and potential drop inside/outside the
particle surface, min/mean/max surface potential, solver statistics),
``timeseries.csv`` (transient), ``fields/pnp.bp``, ``plots/*.png``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from mpi4py import MPI

import dolfinx.fem

from fem.output import RunOutput, mesh_summary
from fem.parameters import param
from fem.timestepping import Progress, StepControl, integrate
from meshes import tags as T
from problems import space_charge as sc

NAME = "particle_in_electrolyte"
DESCRIPTION = "PNP space-charge layer around a cathode particle embedded in solid electrolyte (3D)"


@dataclass
class ParticleInElectrolyteParameters(sc.SpaceChargeParameters):
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


def surface_potential(model, domain):
    """min, area-mean, max of phi on the particle surface (nondimensional)."""
    import ufl
    V, m = model.subs[0]
    dofs = dolfinx.fem.locate_dofs_topological(V, domain.dim - 1, domain.facets(T.INTERFACE))
    nloc = V.dofmap.index_map.size_local
    vals = model.u.x.array[m[dofs[dofs < nloc]]]
    lo = domain.comm.allreduce(vals.min() if len(vals) else np.inf, op=MPI.MIN)
    hi = domain.comm.allreduce(vals.max() if len(vals) else -np.inf, op=MPI.MAX)
    dS = model.dS
    mean = model.integral(("phi_surface",), ufl.avg(model.us[0]) * dS) / model.interface_area()
    return lo, mean, hi


def solve(p: ParticleInElectrolyteParameters, out: RunOutput) -> None:
    comm = out.comm
    s, materials, species, bulk = sc.build_model_description(p, cathode=T.PARTICLE, electrolyte=T.MATRIX)
    t0 = time.perf_counter()
    domain = make_mesh(p, s, comm)
    t_mesh = time.perf_counter() - t0
    opts = sc._options(p)
    sigma = p.sigma_f_C_m2 / s.surface_charge
    R = p.radius_m / s.length
    W = p.box_half_width_m / s.length
    t0 = time.perf_counter()
    pb, etas, phi_bulk = sc.solve_equilibrium_pb(domain, materials, species, bulk, sigma, T.MATRIX, opts)
    t_pb = time.perf_counter() - t0
    # radial line along the diagonal direction (1,1,1)/sqrt(3) (or (1,1)/sqrt2), centre to corner-ish
    d = np.ones(p.dim) / np.sqrt(p.dim)
    r_max = 0.98 * W
    t = np.linspace(0, 1, 600) ** 2
    rs = np.unique(np.concatenate([R - 1e-9 - t * (R - 1e-9), R + 1e-9 + t * (r_max - R - 1e-9)]))
    pts = rs[:, None] * d[None, :]
    x, vals = sc.write_profiles(out, pb, pts, s, radial_origin=np.zeros(p.dim))
    phi_V = vals["phi"] * s.potential
    drop_in, w_in = sc.side_metrics(x, phi_V, R * s.length, "left")
    drop_out, w_out = sc.side_metrics(x, phi_V, R * s.length, "right")
    lo, mean, hi = surface_potential(pb, domain)
    pb_stats = {"newton_iterations": pb.solver.total_newton, "krylov_iterations": pb.solver.total_krylov,
                "wall_s": t_pb}
    out.update(mesh=mesh_summary(domain.mesh, [pb.W]), mesh_wall_s=t_mesh,
               scales={"debye_length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration,
                       "potential_V": s.potential},
               potential_drop_particle_V=drop_in, potential_drop_electrolyte_V=drop_out,
               space_charge_width_particle_m=w_in, space_charge_width_electrolyte_m=w_out,
               surface_potential_V={"min": lo * s.potential, "mean": mean * s.potential, "max": hi * s.potential},
               contact_potential_V=(phi_bulk[T.PARTICLE] - phi_bulk[T.MATRIX]) * s.potential,
               poisson_boltzmann=pb_stats)
    sc._plot_profiles(out, x, vals, s, species, "equilibrium_profiles", R * s.length)
    pb.destroy()
    status, reason = "ok", ""
    if p.t_end_s > 0:
        model = sc.PNPModel(domain, materials, species, mode="transient", sigma_f=sigma, options=opts,
                            phi_dirichlet={T.OUTER: 0.0}, time_order=2, prefix="pnpp_")
        model.set_contact_state(bulk)
        a0 = {k.name: model.amount(k.name) for k in model.carriers}

        def record(tt):
            row = {"t_s": tt * s.time}
            for k in model.carriers:
                row[f"amount_rel_change_{k.name.replace('@', '_in_')}"] = (model.amount(k.name) - a0[k.name]) / a0[k.name]
            row["net_charge_C"] = ((model.charge(T.PARTICLE) + model.charge(T.MATRIX) + sigma * model.interface_area())
                                   * s.surface_charge * s.length ** (domain.dim - 1))
            row["phi_surface_mean_V"] = surface_potential(model, domain)[1] * s.potential
            out.timeseries.add(row)
        model.on_accept = lambda tt, dt, st: record(tt)
        record(0.0)
        control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                              dt_max=p.t_end_s / s.time / 5, grow=1.5, easy_newton=6)
        res = integrate(model, control, progress=Progress(comm, control.t_end, s.time, quiet=out.quiet))
        fields = sc._fields(model, s)
        vtx = out.vtx("pnp", list(fields.values()), s.length)
        sc._write_fields(fields, model, s)
        vtx.write(res.t * s.time)
        vtx.close()
        out.update(transient={"steps": res.steps, "rejected": res.rejected, "newton_iterations": res.newton,
                              "krylov_iterations": res.krylov, "wall_s": res.wall_s,
                              "wall_per_step_s": res.wall_s / max(res.steps, 1), "t_final_s": res.t * s.time,
                              "mesh_dofs": mesh_summary(domain.mesh, [model.W])["dofs"]})
        status, reason = res.status, res.reason
        model.destroy()
    out.finish(status, reason)
