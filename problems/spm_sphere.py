"""Single-particle-model check: constant-current discharge of an isotropic sphere with the
Chen 2020 NMC811 positive-electrode particle, 3D FEM vs a fine 1D radial reference.

Same physics, model and solver as :mod:`problems.particle_discharge` (:mod:`fem.particle`:
isotropic, D(c) = D_ref g(x), Butler–Volmer, the particle potential solved with c), on a sphere with curved
(order-2) geometry, or on ``mesh_file`` (then the reference is the sphere of the
mesh's volume-equivalent radius); the 1D voltage is one more recorder.  The
reference is the solid phase of the single-particle model solved independently by
:mod:`fem.reference.radial_fv` (400 cells, BDF2) at the same current per volume; its
voltage is V_1D = U(x_surface) + eta(i), eta = (2RT/F) asinh(i / (2 i0(x_surface))).

Defaults are PyBaMM's ``Chen2020`` positive particle: x0 = 17038/63104 = 0.27 and 1C
on the 'nominal' basis, the LG M50's 5 A h over its positive particles' surface
a L A_el = (3 * 0.665 / 5.22 um) * 75.6 um * (0.065 m * 1.58 m) = 2.967 m^2:
1C = 1.685 A/m^2 (the particle's own stoichiometry window, capacity_basis='window',
would give 1.890 A/m^2).

``protocol`` (:mod:`fem.protocols`) runs the protocol instead, with ``particle_discharge``'s
outputs and no 1D reference.

Outputs: those of ``particle_discharge`` (3D pictures included) plus the columns ``voltage_1d_V`` and
``x_surface_1d``, ``plots/voltage_vs_1d.png`` and in summary.json ``spm_comparison`` =
{max_abs_voltage_diff_V, max_abs_voltage_diff_after_60s_V (None for runs shorter than
60 s), max_abs_x_surface_diff, capacity_fem_mAh, capacity_1d_mAh, capacity_rel_diff}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem import particle as fp
from fem.constitutive.diffusivity import arrhenius_factor, rotation_matrix
from fem.constitutive.kinetics import ButlerVolmer
from fem.models.intercalation import capacity_at_cutoff_mAh
from fem.output import RunOutput
from fem.parameters import param
from fem.reference.radial_fv import solve_sphere
from fem.scaling import ELEMENTARY_CHARGE, FARADAY
from meshes import tags as T
from meshes.particle_geometry import ParticleGeometryParameters, particle_domain

NAME = "spm_sphere"
DESCRIPTION = "Isotropic Chen 2020 NMC811 sphere at constant current vs a 1D single-particle reference"

#: Chen 2020 (PyBaMM ``Chen2020``) LG M50: nominal capacity 5 A h over the positive particles' surface
#: (3 eps_s / R) L_pos A_el, eps_s = 0.665, R = 5.22 um, L_pos = 75.6 um, A_el = 0.065 m x 1.58 m
CHEN2020_ONE_C_A_M2 = 5.0 / (3 * 0.665 / 5.22e-6 * 75.6e-6 * 0.065 * 1.58)
CHEN2020_X0 = 0.27  # initial positive concentration 17038 mol/m^3 / c_max 63104 mol/m^3


@dataclass
class SPMSphereParameters(ParticleGeometryParameters, fp.ParticleParameters):
    diffusivity_model: str = param("constant", "concentration dependence g(x) of D (Chen 2020: constant)",
                                   choices=("constant", "exponential", "table"))
    element_degree: int = param(2, "Lagrange degree of the concentration", choices=(1, 2))
    geometry_order: int = param(2, "geometry order, 2: curved surface (generated sphere)", choices=(1, 2))
    mesh_size: float = param(0.3, "element size relative to the radius (generated sphere, .stl)", "-", gt=0, le=1)
    mesh_size_surface: float = param(0.1, "element size at the surface relative to the radius (resolves "
                                     "the early-time boundary layer; generated sphere)", "-", ge=0, le=1)
    capacity_basis: str = param("nominal", "1C of c_rate: 'nominal' = nominal_capacity_Ah_m2 in 1 h (PyBaMM: "
                                "the cell's nominal capacity); 'window' = the particle's stoichiometry window "
                                "x_full..x_empty in 1 h", choices=("nominal", "window"))
    nominal_capacity_Ah_m2: float = param(CHEN2020_ONE_C_A_M2, "nominal capacity per m^2 of particle surface "
                                          "(capacity_basis='nominal'; Chen 2020 LG M50 positive: 5 A h / "
                                          "2.967 m^2); 1C = this in A/m^2", "A h/m^2", ge=0, le=1e6)
    x0: float = param(CHEN2020_X0, "initial x = c/c_max (Chen 2020: 17038/63104 = 0.27)", "-", ge=0, lt=1)
    reference_cells: int = param(400, "cells of the 1D radial reference", ge=10)
    reference_steps: int = param(4000, "time steps of the 1D reference", ge=10)


Parameters = SPMSphereParameters


def reference_1d(setup: fp.Setup, t_end_s: float):
    """1D SPM voltage curve at the same current per volume as the FEM particle."""
    p, mat = setup.p, setup.mat
    R = setup.radius_m
    j = -setup.I_app / FARADAY * R / (3 * setup.volume_m3)  # inward flux of the exact sphere
    D_ref, g = setup.D_ref, setup.g

    # uniform temperature: the Arrhenius factor of D (a BPX file's activation energy) is a number
    arr = float(arrhenius_factor(p.temperature_K, setup.T_ref_K, setup.activation_eV * ELEMENTARY_CHARGE))

    def D(x):
        return D_ref * arr * np.asarray(g(np.asarray(x)) * np.ones_like(x), dtype=float)

    bv = ButlerVolmer(mat.rate_constant_A_m2, mat.c_max_mol_m3, mat.c_electrolyte_mol_m3, mat.alpha, mat.alpha,
                      p.temperature_K)
    ocv = setup.ocv
    i = -j * FARADAY

    def voltage(xs):
        return float(ocv(xs) + bv.overpotential(i, xs))

    stop = lambda t, xm, xs: xs >= p.saturation_x or voltage(min(xs, p.saturation_x)) <= p.cutoff_voltage_V  # noqa: E731
    ref = solve_sphere(R, D, setup.x0, j, mat.c_max_mol_m3, t_end_s, n_cells=p.reference_cells,
                       n_steps=p.reference_steps, stop=stop)
    v = np.array([voltage(min(x, p.saturation_x)) for x in ref.x_surface])
    return ref.t_s, v, ref


def voltage_1d(t_ref, v_ref, x_ref, time_scale: float):
    """Recorder: the 1D voltage and surface x at model time t (their last values after the
    1D run ended: the time-series writer refuses NaN)."""

    def record(t) -> dict[str, float]:
        ts = min(t * time_scale, t_ref[-1])
        return {"voltage_1d_V": float(np.interp(ts, t_ref, v_ref)), "x_surface_1d": float(np.interp(ts, t_ref, x_ref))}

    return record


def comparison(out: RunOutput, setup: fp.Setup, t_ref, v_ref) -> dict:
    """FEM vs 1D: voltage differences and capacities (rank 0; {} elsewhere)."""
    p = setup.p
    if out.comm.rank != 0:
        return {}
    ts = out.timeseries
    t = ts.column("t_s")
    v, v1 = ts.column("voltage_V"), ts.column("voltage_1d_V")
    ok = t <= t_ref[-1]
    late = ok & (t >= 60.0)
    xs = ts.column("c_surface_mean_mol_m3") / setup.mat.c_max_mol_m3
    cap_fem = capacity_at_cutoff_mAh(t, v, setup.I_app, p.cutoff_voltage_V, discharge=True)
    vc = p.cutoff_voltage_V
    t_cut = t_ref[-1]
    if len(t_ref) >= 2 and v_ref[-1] <= vc < v_ref[-2]:
        t_cut = t_ref[-2] + (t_ref[-1] - t_ref[-2]) * (v_ref[-2] - vc) / (v_ref[-2] - v_ref[-1])
    cap_1d = abs(setup.I_app) * t_cut / 3.6
    return {"spm_comparison": {
        "max_abs_voltage_diff_V": float(np.max(np.abs(v[ok] - v1[ok]))),
        "max_abs_voltage_diff_after_60s_V": float(np.max(np.abs(v - v1)[late])) if late.any() else None,
        "max_abs_x_surface_diff": float(np.max(np.abs(xs - ts.column("x_surface_1d"))[ok])),
        "voltage_diff_at_half_time_V": float(np.interp(0.5 * t[-1], t, v - v1)),
        "capacity_fem_mAh": cap_fem, "capacity_1d_mAh": cap_1d,
        "capacity_rel_diff": abs(cap_fem - cap_1d) / cap_1d}}


def build(p: SPMSphereParameters, comm):
    """(IntercalationParticle, Setup): the generated sphere (one crystal: the identity rotation) or ``mesh_file``."""
    domain, rotations = particle_domain(p, comm, radius_m=fp.particle_radius_m(p), single=rotation_matrix([0.0] * 3))
    return fp.build(p, comm, domain, rotations, surface=T.SURFACE)


def solve(p: SPMSphereParameters, out: RunOutput) -> None:
    model, setup = build(p, out.comm)
    if p.protocol:  # a protocol: the particle_discharge outputs (the 1D reference is one constant current)
        res, entries = fp.run(model, setup, out)
        fp.plot(out, model, setup)
        out.finish(res.status, res.reason, **entries, timings=model.solver.timings())
        model.destroy()
        return
    t_ref, v_ref, ref = reference_1d(setup, setup.t_end_s)
    res, entries = fp.run(model, setup, out, recorders=[voltage_1d(t_ref, v_ref, ref.x_surface, setup.scales.time)])
    fp.plot(out, model, setup)
    if out.comm.rank == 0:
        ts = out.timeseries
        with out.figure("voltage_vs_1d") as (fig, ax):
            ax.plot(ts.column("t_s"), ts.column("voltage_V"), label="3D FEM")
            ax.plot(t_ref, v_ref, "k:", label="1D radial FV (SPM)")
            ax.set_xlabel("t [s]")
            ax.set_ylabel("voltage vs Li/Li$^+$ [V]")
            ax.legend()
    out.finish(res.status, res.reason, **entries, **comparison(out, setup, t_ref, v_ref),
               timings=model.solver.timings())
    model.destroy()
