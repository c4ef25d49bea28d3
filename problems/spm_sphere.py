"""Single-particle-model check: constant-current discharge of an isotropic sphere with the
Chen 2020 NMC811 positive-electrode particle, 3D FEM vs a fine 1D radial reference.

Same physics, model and solver as :mod:`problems.particle_discharge` (its public
``build``/``simulation``/``summary``/``plot``: isotropic, D(c) = D_ref g(x),
Butler–Volmer, the particle potential solved with c), on a sphere with curved
(order-2) geometry; the 1D voltage is one more recorder.  The reference is the solid phase of the
single-particle model solved independently by :mod:`fem.reference.radial_fv`
(400 cells, BDF2) at the same volumetric current; its voltage is
V_1D = U(x_surface) + eta(i), eta = (2RT/F) asinh(i / (2 i0(x_surface))).

Outputs: those of ``particle_discharge`` plus the column ``voltage_1d_V``,
``plots/voltage.png`` with both curves, and in summary.json
``spm_comparison`` = {max_abs_voltage_diff_V, capacity_fem_mAh, capacity_1d_mAh,
capacity_rel_diff}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.constitutive.kinetics import ButlerVolmer
from fem.models.intercalation import capacity_at_cutoff_mAh
from fem.output import RunOutput
from fem.parameters import param
from fem.reference.radial_fv import solve_sphere
from fem.scaling import FARADAY
from problems import particle_discharge as pd

NAME = "spm_sphere"
DESCRIPTION = "Isotropic Chen 2020 NMC811 sphere at constant current vs a 1D single-particle reference"


@dataclass
class SPMSphereParameters(pd.ParticleDischargeParameters):
    geometry: str = param("sphere", "particle geometry", choices=("sphere",))
    anisotropy_ratio: float = param(1.0, "D_out-of-plane / D_in-plane (1: isotropic)", "-", gt=0)
    diffusivity_model: str = param("constant", "concentration dependence g(x) of D (Chen 2020: constant)",
                                   choices=("constant", "exponential", "table"))
    element_degree: int = param(2, "Lagrange degree of the concentration", choices=(1, 2))
    geometry_order: int = param(2, "geometry order (2: curved surface)", choices=(1, 2))
    mesh_size: float = param(0.3, "element size relative to the radius", "-", gt=0, le=1)
    mesh_size_surface: float = param(0.1, "element size at the surface relative to the radius "
                                     "(resolves the early-time boundary layer)", "-", ge=0, le=1)
    surface_condition: str = param("butler_volmer", "surface condition", choices=("butler_volmer",))
    reference_cells: int = param(400, "cells of the 1D radial reference", ge=10)
    reference_steps: int = param(4000, "time steps of the 1D reference", ge=10)

    def check(self):
        super().check()
        self.require(self.c_rate > 0, "c_rate", "allowed range (0, inf) (discharge)")


Parameters = SPMSphereParameters


def reference_1d(setup: pd.Setup, t_end_s: float):
    """1D SPM voltage curve at the same current per volume as the FEM particle."""
    p, mat = setup.p, setup.mat
    R = p.radius_m
    j = -setup.I_app / FARADAY * R / (3 * setup.volume_m3)  # inward flux of the exact sphere
    D_ref, g = setup.D_ref, setup.g

    def D(x):
        return D_ref * np.asarray(g(np.asarray(x)) * np.ones_like(x), dtype=float)

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


def voltage_1d(t_ref, v_ref, time_scale: float):
    """Recorder: the 1D voltage at model time t (its last value after the 1D run ended:
    the time-series writer refuses NaN)."""

    def record(t) -> dict[str, float]:
        ts = t * time_scale
        return {"voltage_1d_V": float(np.interp(ts, t_ref, v_ref)) if ts <= t_ref[-1] else float(v_ref[-1])}

    return record


def comparison(out: RunOutput, setup: pd.Setup, t_ref, v_ref) -> dict:
    """FEM vs 1D: voltage differences and capacities (rank 0; {} elsewhere)."""
    p = setup.p
    if out.comm.rank != 0:
        return {}
    ts = out.timeseries
    t = ts.column("t_s")
    v, v1 = ts.column("voltage_V"), ts.column("voltage_1d_V")
    ok = t <= t_ref[-1]
    cap_fem = capacity_at_cutoff_mAh(t, v, setup.I_app, p.cutoff_voltage_V, discharge=True)
    vc = p.cutoff_voltage_V
    t_cut = t_ref[-1]
    if len(t_ref) >= 2 and v_ref[-1] <= vc < v_ref[-2]:
        t_cut = t_ref[-2] + (t_ref[-1] - t_ref[-2]) * (v_ref[-2] - vc) / (v_ref[-2] - v_ref[-1])
    cap_1d = abs(setup.I_app) * t_cut / 3.6
    return {"spm_comparison": {
        "max_abs_voltage_diff_V": float(np.max(np.abs(v[ok] - v1[ok]))),
        "max_abs_voltage_diff_after_60s_V": float(np.max(np.abs(v - v1)[ok & (t >= 60.0)])),
        "voltage_diff_at_half_time_V": float(np.interp(0.5 * t[-1], t, v - v1)),
        "capacity_fem_mAh": cap_fem, "capacity_1d_mAh": cap_1d,
        "capacity_rel_diff": abs(cap_fem - cap_1d) / cap_1d}}


def solve(p: SPMSphereParameters, out: RunOutput) -> None:
    model, setup = pd.build(p, out.comm)
    t_ref, v_ref, _ = reference_1d(setup, p.t_end_s or 1.2 * 3600.0 / abs(p.c_rate))
    sim = pd.simulation(model, setup, out, recorders=[voltage_1d(t_ref, v_ref, setup.scales.time)])
    res = sim.run()
    pd.plot(out, model, setup)
    if out.comm.rank == 0:
        ts = out.timeseries
        with out.figure("voltage_vs_1d") as (fig, ax):
            ax.plot(ts.column("t_s"), ts.column("voltage_V"), label="3D FEM")
            ax.plot(t_ref, v_ref, "k:", label="1D radial FV (SPM)")
            ax.set_xlabel("t [s]")
            ax.set_ylabel("voltage vs Li/Li$^+$ [V]")
            ax.legend()
    out.finish(res.status, res.reason, **pd.summary(model, setup, out, res), **comparison(out, setup, t_ref, v_ref),
               timings=model.solver.timings())
    model.destroy()
