"""Interdiffusion couple with the Kirkendall effect (Darken's equations).

Two blocks of a substitutional A-B solid, x_A = x_left for z < z0 and x_right
for z > z0, closed ends.  In the laboratory frame (constant molar volume)

    dx/dt = d/dz( D~(x) dx/dz ),   D~ = (1 - x) D_A + x D_B,   D_i = D_i* Phi(x)

(Darken), and inert markers ride on the lattice with the Kirkendall velocity

    dz_m/dt = v(z_m, t) = (D_A - D_B)(x) dx/dz.

Phi is the regular-solution thermodynamic factor 1 - 2 (Omega/RT) x (1 - x).
``vacancy_wind = true`` adds Manning's vacancy-wind factors for a random alloy,
D_A = D_A* Phi r_A, D_B = D_B* Phi r_B with r_A = 1 + 2 x_A (D_A* - D_B*)/(M0 S*),
r_B = 1 - 2 x_B (D_A* - D_B*)/(M0 S*), S* = x_A D_A* + x_B D_B*, M0 = 2 f0/(1 - f0)
(f0 = ``correlation_factor``, 0.7815 fcc): D~ grows by Manning's S >= 1 and the
marker velocity factor D_A - D_B by 1/f0 (:mod:`fem.constitutive.vacancy_wind`;
J. R. Manning, Acta Metall. 15 (1967) 817; Metall. Trans. 1 (1970) 499).
Nondimensional inside (z by the couple length L, t by L^2/max(D_A*, D_B*));
variable-step BDF2; markers by Heun's method on a mass-lumped nodal velocity.
References: L. S. Darken, Trans. AIME 175 (1948) 184; A. D. Smigelskas and
E. O. Kirkendall, Trans. AIME 171 (1947) 130; C. Matano, Jpn. J. Phys. 8 (1933) 109
(the Boltzmann–Matano similarity solution, :mod:`fem.reference.boltzmann`).

Outputs: ``timeseries.csv`` (t_s, x_A_mean_frac, amount_A_rel_change,
matano_plane_m, marker_position_m, marker_velocity_m_s), ``profiles.csv``
(final z_m, x_A_frac), fields ``fields/composition.bp`` and
``fields/kirkendall_velocity.bp``, plots.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

from fem.models.interdiffusion import DarkenInterdiffusion
from fem.output import RunOutput, atomic_write_text, mesh_summary, si_fields
from fem.parameters import Parameters, param
from fem.scaling import GAS_CONSTANT, Scales
from fem.simulation import Simulation, StepControl
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
    vacancy_wind: bool = param(False, "Manning's vacancy-wind factors in the intrinsic diffusivities (random alloy)")
    correlation_factor: float = param(0.7815, "tracer correlation factor f0 of the lattice (fcc 0.7815, "
                                      "bcc 0.7272; used with vacancy_wind)", "-", gt=0, lt=1)
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


def build(p: InterdiffusionParameters, comm):
    """Geometry and model: the couple in x^ = x/L (L the couple length), t^ = t d_ref/L^2."""
    L = p.thickness_left_m + p.thickness_right_m
    d_ref = max(p.tracer_diffusivity_A_m2_s, p.tracer_diffusivity_B_m2_s)
    scales = Scales(L, L * L / d_ref)
    z0 = p.thickness_left_m / L
    domain = bilayer([p.thickness_left_m, p.thickness_right_m], dim=p.dim, h=p.mesh_size,
                     h_interface=p.mesh_size_interface, comm=comm, length_scale=L,
                     layer_names=[T.layer(0), T.layer(1)])
    xl, xr, eps = p.x_left, p.x_right, 1e-12

    def x_initial(X):
        return np.where(X[0] < z0 - eps, xl, np.where(X[0] > z0 + eps, xr, 0.5 * (xl + xr)))

    # one marker on the initial interface (centre of the cross-section)
    centre = 0.5 * domain.metadata.get("width_m", L) / L if p.dim > 1 else 0.0
    model = DarkenInterdiffusion(
        domain, x_initial=x_initial, tracer_A=p.tracer_diffusivity_A_m2_s / d_ref,
        tracer_B=p.tracer_diffusivity_B_m2_s / d_ref,
        omega_over_RT=p.omega_J_mol / (GAS_CONSTANT * p.temperature_K),
        markers=[[z0] + [centre] * (domain.mesh.geometry.dim - 1)],
        correlation_factor=p.correlation_factor if p.vacancy_wind else None, degree=p.element_degree,
        solver="lu" if p.dim == 1 else "gmres_amg")
    return model, scales, z0


def observables(model: DarkenInterdiffusion, p: InterdiffusionParameters, s: Scales, z0: float):
    """Recorder: SI observables of the couple at model time t."""
    def record(t) -> dict[str, float]:
        amount = model.amount()
        mean = amount / model.volume
        # Matano plane: where the areas between the profile and the end values balance
        matano = (p.x_right - mean) / (p.x_right - p.x_left) if p.x_right != p.x_left else z0
        return {"x_A_mean_frac": mean,
                "amount_A_rel_change": (amount - model.amount0) / model.amount0,
                "matano_plane_m": matano * s.length,
                "marker_position_m": float(model.markers[0, 0]) * s.length,
                "marker_velocity_m_s": float(model.marker_velocity[0]) * s.length / s.time}
    return record


def profile(model: DarkenInterdiffusion, s: Scales, n=401):
    """x_A along the stacking direction (centre line through the marker), on every rank."""
    gdim = model.domain.mesh.geometry.dim
    pts = np.zeros((n, gdim))
    pts[:, 0] = np.linspace(0.0, 1.0, n)
    if gdim > 1:
        pts[:, 1:] = model.markers[0, 1:]
    return pts[:, 0] * s.length, model.sample(pts)


def solve(p: InterdiffusionParameters, out: RunOutput) -> None:
    model, s, z0 = build(p, out.comm)
    out.update(mesh=mesh_summary(model.domain.mesh, [model.V]),
               scales={"length_m": s.length, "time_s": s.time})
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.2, easy_newton=5)
    fields = [si_fields(out, "composition", [(model.x, "x_A", 1.0)], s, every=p.fields_every),
              si_fields(out, "kirkendall_velocity",
                        [(model.velocity, "kirkendall_velocity_m_s", s.length / s.time)],
                        s, every=p.fields_every)]
    sim = Simulation(model, control, comm=out.comm, time_scale=s.time, output=out,
                     recorders=[observables(model, p, s, z0)], fields=fields)
    res = sim.run()
    z, xa = profile(model, s)
    if out.comm.rank == 0:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["z_m", "x_A_frac"])
        w.writerows(zip(z.tolist(), xa.tolist()))
        atomic_write_text(out.dir / "profiles.csv", buf.getvalue())
    _plot(out, z0 * s.length, z, xa)
    out.finish(res.status, res.reason, **res.summary(s.time), timings=model.solver.timings(),
               marker_displacement_m=float(model.markers[0, 0] - z0) * s.length)
    model.destroy()


def _plot(out, z0_m, z, xa):
    if out.comm.rank != 0:
        return
    ts = out.timeseries
    with out.figure("profile") as (fig, ax):
        ax.plot((z - z0_m) * 1e6, xa, label=f"t = {ts.column('t_s')[-1]:.4g} s")
        ax.axvline((ts.column("marker_position_m")[-1] - z0_m) * 1e6, color="k", ls=":",
                   label="Kirkendall marker")
        ax.set_xlabel("z - z$_0$ [µm]")
        ax.set_ylabel("x$_A$")
        ax.legend()
    with out.figure("marker") as (fig, ax):
        t = ts.column("t_s")
        ax.plot(np.sqrt(t), (ts.column("marker_position_m") - z0_m) * 1e6)
        ax.set_xlabel("$\\sqrt{t}$ [s$^{1/2}$]")
        ax.set_ylabel("marker displacement [µm]")
