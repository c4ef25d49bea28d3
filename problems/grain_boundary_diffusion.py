"""Grain-boundary diffusion from a surface source into a bicrystal / lamellar polycrystal (2D).

``n_grains`` parallel grains of width w (:mod:`meshes.lamellar`), boundaries of width
delta and diffusivity D_gb perpendicular to the surface y = 0, which is held at c_s
from t = 0 (constant source); the far end y = depth and the outer planes are closed.

    dc/dt = div(D grad c) + div_G(K grad_G c) delta_Gamma,   K = delta (D_gb - D)

``gb_model``: ``facet`` (the boundaries as thin layers on their facets, Fisher's model;
:mod:`fem.weak_forms.grain_boundary`), ``effective_medium`` (no facets; Hart's
D_eff = f D_gb + (1 - f) D with the stack's boundary fraction f = (n - 1) delta / (n w);
E. W. Hart, Acta Metall. 5 (1957) 597) or ``none`` (lattice diffusion only).
Nondimensional inside (length by the depth L, time by L^2/D, c by c_s); P1/P2, BDF2.

For one boundary in Harrison's type-B regime (sqrt(D t) << w, beta >~ 10) the run is
Whipple's problem (R. T. P. Whipple, Phil. Mag. 45 (1954) 1225; :mod:`fem.reference.whipple`):
``summary.json`` reports beta and Le Claire's estimate of delta D_gb from the slope of
ln c_avg against y^(6/5) over w = eta beta^(-1/2) in [le_claire_w_min, le_claire_w_max]
(A. D. Le Claire, Br. J. Appl. Phys. 14 (1963) 351; :mod:`fem.constitutive.grain_boundary`).

Outputs: ``timeseries.csv`` (t_s, amount_mol_per_m, uptake_rate_mol_m_s, lattice_uptake_mol_per_m
(the 1D erfc uptake of the same surface without boundaries), uptake_enhancement,
balance_rel_error), ``profiles.csv`` (y_m, c_avg_mol_m3 the layer average, c_gb_mol_m3 on the
first boundary, c_lattice_mol_m3 = c_s erfc(y / 2 sqrt(D t))), ``fields/concentration.bp``, plots.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

from fem.constitutive.grain_boundary import (excess_conductance, hart_effective_diffusivity,
                                             le_claire_slope, le_claire_triple_product, whipple_beta)
from fem.models.grain_boundary import GrainBoundaryDiffusion
from fem.output import RunOutput, atomic_write_text, mesh_summary, si_fields
from fem.parameters import Parameters, param
from fem.probes import PointProbe
from fem.scaling import Scales
from fem.simulation import Simulation, StepControl
from meshes import tags as T
from meshes.lamellar import lamellar

NAME = "grain_boundary_diffusion"
DESCRIPTION = "Grain-boundary fast paths: surface source into a bicrystal / lamellar stack (Whipple, Le Claire, Hart)"


@dataclass
class GrainBoundaryParameters(Parameters):
    n_grains: int = param(2, "number of parallel grains (2: bicrystal with one boundary)", ge=1, le=200)
    grain_width_m: float = param(4e-6, "grain width w", "m", gt=0)
    depth_m: float = param(10e-6, "depth of the grains below the source surface", "m", gt=0)
    bulk_diffusivity_m2_s: float = param(1e-17, "lattice (bulk) diffusivity D", "m^2/s", gt=0)
    gb_diffusivity_m2_s: float = param(1e-12, "grain-boundary diffusivity D_gb", "m^2/s", gt=0)
    gb_width_m: float = param(0.5e-9, "grain-boundary width delta", "m", gt=0)
    gb_model: str = param("facet", "boundaries as facets, Hart's effective medium, or none",
                          choices=("facet", "effective_medium", "none"))
    c_surface_mol_m3: float = param(1000.0, "concentration held on the surface y = 0", "mol/m^3", gt=0)
    t_end_s: float = param(1000.0, "end time", "s", gt=0)
    dt_s: float = param(0.1, "initial time step", "s", gt=0)
    dt_max_s: float = param(20.0, "largest time step", "s", gt=0)
    mesh_size: float = param(0.04, "element size inside the grains, relative to the depth", "-", gt=0, le=0.5)
    mesh_size_gb: float = param(0.002, "element size at the boundaries, relative to the depth", "-", gt=0, le=0.5)
    mesh_size_surface: float = param(0.002, "element size at the surface, relative to the depth", "-",
                                     gt=0, le=0.5)
    element_degree: int = param(1, "Lagrange degree of c", choices=(1, 2))
    le_claire_w_min: float = param(2.0, "tail window for Le Claire's slope: lowest eta beta^(-1/2)", "-", gt=0)
    le_claire_w_max: float = param(4.0, "tail window: highest eta beta^(-1/2)", "-", gt=0)
    fields_every: int = param(0, "write fields every N steps (0: only the last)", ge=0)

    def check(self):
        self.require(self.gb_width_m < self.grain_width_m, "gb_width_m",
                     f"allowed range (0, grain_width_m = {self.grain_width_m}) m")
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}] s")
        self.require(self.le_claire_w_min < self.le_claire_w_max, "le_claire_w_min",
                     f"allowed range (0, le_claire_w_max = {self.le_claire_w_max})")
        for name in ("mesh_size_gb", "mesh_size_surface"):
            self.require(getattr(self, name) <= self.mesh_size, name,
                         f"allowed range (0, mesh_size = {self.mesh_size}]")


Parameters = GrainBoundaryParameters


def build(p: GrainBoundaryParameters, comm):
    """Mesh and model in x^ = x/depth, t^ = t D/depth^2, c^ = c/c_s."""
    s = Scales.diffusive(p.depth_m, p.bulk_diffusivity_m2_s, p.c_surface_mol_m3)
    domain = lamellar(p.n_grains, p.grain_width_m, p.depth_m, h=p.mesh_size, h_gb=p.mesh_size_gb,
                      h_surface=p.mesh_size_surface, comm=comm)
    D, D_gb = p.bulk_diffusivity_m2_s, p.gb_diffusivity_m2_s
    f = (p.n_grains - 1) * p.gb_width_m / (p.n_grains * p.grain_width_m)
    diffusivity, K = 1.0, None
    if p.gb_model == "facet" and p.n_grains > 1:
        K = excess_conductance(p.gb_width_m, D_gb, D) / (D * p.depth_m)
    elif p.gb_model == "effective_medium":
        diffusivity = hart_effective_diffusivity(f, D_gb, D) / D
    model = GrainBoundaryDiffusion(domain, T.SURFACE, gb=T.GRAIN_BOUNDARY, c0=0.0, c_surface=1.0, diffusivity=diffusivity,
                                   conductance=K, degree=p.element_degree)
    return model, s, {"gb_volume_fraction": f, "hart_diffusivity_m2_s": hart_effective_diffusivity(f, D_gb, D),
                      "conductance_m3_s": excess_conductance(p.gb_width_m, D_gb, D)}


def observables(model: GrainBoundaryDiffusion, p: GrainBoundaryParameters, s: Scales):
    width_m = p.n_grains * p.grain_width_m
    per_m = s.concentration * s.length**2  # nondimensional area integral -> mol per metre (2D)

    def record(t) -> dict[str, float]:
        t_s = t * s.time
        amount = model.amount()
        lattice = width_m * 2 * p.c_surface_mol_m3 * np.sqrt(p.bulk_diffusivity_m2_s * t_s / np.pi)
        return {"amount_mol_per_m": amount * per_m,
                "uptake_rate_mol_m_s": model.flux_now * per_m / s.time,
                "lattice_uptake_mol_per_m": lattice,
                "uptake_enhancement": (amount - model.amount0) * per_m / lattice if t > 0 else 1.0,
                "balance_rel_error": (amount - model.amount0 - model.uptake) / max(abs(model.uptake), 1e-300)}
    return record


def profiles(model: GrainBoundaryDiffusion):
    """(y, layer average of c, c on the first boundary) at the mesh's node rows (nondimensional; exact
    trapezoidal averages for P1, node lines + midpoints (Simpson) for P2), on every rank."""
    meta = model.domain.metadata
    xn, yn = np.array(meta["x_nodes"]), np.array(meta["y_nodes"])
    if model.V.element.basix_element.degree > 1:
        xn = np.sort(np.concatenate([xn, 0.5 * (xn[1:] + xn[:-1])]))
    gb_x = meta["grain_width_m"] / model.domain.length_scale
    X, Y = np.meshgrid(xn, yn)
    pts = np.column_stack([X.ravel(), Y.ravel()])
    gb = np.column_stack([np.full(len(yn), gb_x), yn])
    vals = PointProbe(model.domain.mesh, np.vstack([pts, gb]))(model.c)
    c = vals[:len(pts)].reshape(len(yn), len(xn))
    if model.V.element.basix_element.degree > 1:  # Simpson on each node interval
        h = np.diff(xn[::2])
        avg = ((c[:, 0:-2:2] + 4 * c[:, 1:-1:2] + c[:, 2::2]) * h / 6).sum(axis=1) / (xn[-1] - xn[0])
    else:
        avg = np.trapezoid(c, xn, axis=1) / (xn[-1] - xn[0])
    return yn, avg, vals[len(pts):]


def le_claire(y_m, c_avg, p: GrainBoundaryParameters, t_s: float) -> dict:
    """Le Claire's delta D_gb from the tail of the layer-average excess over the lattice part."""
    D = p.bulk_diffusivity_m2_s
    beta = whipple_beta(p.gb_width_m, p.gb_diffusivity_m2_s, D, t_s)
    w = y_m / np.sqrt(D * t_s) / np.sqrt(beta)
    excess = c_avg - erfc(y_m / (2 * np.sqrt(D * t_s)))
    m = (w >= p.le_claire_w_min) & (w <= p.le_claire_w_max) & (excess > 0)
    out = {"whipple_beta": float(beta), "le_claire_points": int(m.sum())}
    if m.sum() >= 3:
        slope = le_claire_slope(y_m[m], excess[m])
        out.update(le_claire_slope_m_6_5=slope,
                   le_claire_delta_D_gb_m3_s=float(le_claire_triple_product(slope, D, t_s)))
    return out


def solve(p: GrainBoundaryParameters, out: RunOutput) -> None:
    model, s, info = build(p, out.comm)
    out.update(mesh=mesh_summary(model.domain.mesh, [model.V]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration}, **info)
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.2, easy_newton=5)
    fields = [si_fields(out, "concentration", [(model.c, "c_mol_m3", s.concentration)], s, every=p.fields_every)]
    sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out,
                     recorders=[observables(model, p, s)], fields=fields)
    res = sim.run()
    y, avg, cgb = profiles(model)
    t_s = float(res.t) * s.time
    y_m = y * s.length
    lattice = erfc(y_m / (2 * np.sqrt(p.bulk_diffusivity_m2_s * t_s)))
    if out.comm.rank == 0:
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(["y_m", "c_avg_mol_m3", "c_gb_mol_m3", "c_lattice_mol_m3"])
        wr.writerows(zip(y_m.tolist(), (avg * s.concentration).tolist(), (cgb * s.concentration).tolist(),
                         (lattice * s.concentration).tolist()))
        atomic_write_text(out.dir / "profiles.csv", buf.getvalue())
    lc = le_claire(y_m, avg, p, t_s) if p.n_grains == 2 and p.gb_model == "facet" else {}
    _plot(out, y_m, avg, cgb, lattice, lc)
    out.finish(res.status, res.reason, **res.summary(s.time), timings=model.solver.timings(),
               delta_D_gb_m3_s=p.gb_width_m * p.gb_diffusivity_m2_s, **lc)
    model.destroy()


def _plot(out, y_m, avg, cgb, lattice, lc):
    if out.comm.rank != 0:
        return
    with out.figure("profiles") as (fig, ax):
        ax.semilogy(y_m * 1e6, np.maximum(avg, 1e-12), label="layer average")
        ax.semilogy(y_m * 1e6, np.maximum(cgb, 1e-12), label="on the boundary")
        ax.semilogy(y_m * 1e6, np.maximum(lattice, 1e-12), ":", label="lattice only (erfc)")
        ax.set_xlabel("depth y [µm]")
        ax.set_ylabel("c / c$_s$")
        ax.set_ylim(1e-8, 2)
        ax.legend()
    ts = out.timeseries
    with out.figure("uptake") as (fig, ax):
        t = ts.column("t_s")
        ax.plot(np.sqrt(t), ts.column("amount_mol_per_m"), label="computed")
        ax.plot(np.sqrt(t), ts.column("lattice_uptake_mol_per_m"), ":", label="lattice only")
        ax.set_xlabel("$\\sqrt{t}$ [s$^{1/2}$]")
        ax.set_ylabel("uptake [mol/m]")
        ax.legend()
