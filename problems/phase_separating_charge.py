"""Galvanostatic charge/discharge of a phase-separating (LiFePO4-like) particle.

Cahn-Hilliard with the regular-solution free energy per site (units of kT):

    dc/dt = div( D~ c(1-c) A grad mu ),   mu = ln(c/(1-c)) + a (1 - 2c) + 2 k c - kappa~ lap c
    a = (Omega - T s1)/kT,  k = K/kT,  kappa~ = a (lambda / L)^2  (lambda: interface length)

on a 2D section  [0, Lx] x [0, Ly] of a platelet particle; lithium enters or
leaves through the faces y = 0 and y = Ly (the fast b-axis facets of LiFePO4)
with a uniform flux fixed by the C-rate (constant current):

    D c(1-c) A grad mu . n = j_in = +-(C_rate / 3600 s) c_max Ly / 2     [mol/(m^2 s)]

and no flux through x = 0, Lx.  A = diag(anisotropy_x, 1) scales the mobility.
The cell voltage is the surface-averaged equilibrium potential minus a
symmetric Butler-Volmer overpotential:

    V = U0 - (kT/e) <mu>_surface - (2kT/e) asinh( j_in F / (2 i0) )

At low rate the particle separates into Li-rich and Li-poor phases and V
sits on the plateau U0 - (kT/e) mu_plateau (common tangent; = U0 for a
symmetric regular solution); at high rate the concentration gradients tilt it.
Scales: L = Ly, T = Ly^2 / D, c_max; mu in kT.

Outputs: ``timeseries.csv`` (t_s, c_rate, capacity_fraction, c_mean,
voltage_V, ocv_surface_V, overpotential_V, mass_balance_rel_error, dt_s),
``plots/voltage.png`` (voltage vs capacity per rate),
``plots/morphology_<rate>C.png`` (c at half charge), ``fields/concentration_<i>.bp``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl

import dolfinx.fem
import dolfinx.mesh

from fem.constitutive.free_energy import RegularSolution
from fem.constitutive.mobility import mobility
from fem.errors import SolverError
from fem.observables import Integral
from fem.output import RunOutput, mesh_summary
from fem.parameters import Parameters, param
from fem.scaling import ELEMENTARY_CHARGE, FARADAY, Scales
from fem.timestepping import Progress, StepControl, integrate
from problems.cahn_hilliard_common import SOLVERS, CahnHilliardModel, plot_section, spinodal_dt_cap

NAME = "phase_separating_charge"
DESCRIPTION = "Phase-separating (LiFePO4-like) particle at low and high C-rate: voltage plateau, morphology"


@dataclass
class ChargeParameters(Parameters):
    length_x_m: float = param(100e-9, "particle length along x (no-flux faces at x = 0, Lx)", "m", gt=0)
    length_y_m: float = param(50e-9, "particle thickness along y (insertion faces y = 0, Ly)", "m", gt=0)
    cells_x: int = param(50, "cells along x", "-", ge=2)
    cells_y: int = param(25, "cells along y", "-", ge=2)
    omega_eV: float = param(0.1159, "regular-solution interaction Omega (4.51 kT at 298 K)", "eV", ge=0)
    s1_eV_K: float = param(0.0, "vibrational entropy coefficient s1 (Omega_eff = Omega - T s1)", "eV/K")
    coherency_eV: float = param(0.0, "homogeneous coherency-strain energy K (term K c^2)", "eV", ge=0)
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    interface_length_m: float = param(3e-9, "interface length lambda = sqrt(kappa / Omega_eff)", "m", gt=0)
    diffusivity_m2_s: float = param(1e-16, "tracer diffusivity D (mobility D c(1-c)/kT)", "m^2/s", gt=0)
    anisotropy_x: float = param(1.0, "mobility ratio along x relative to y", "-", gt=0)
    c_max_mol_m3: float = param(22806.0, "site (maximum) concentration", "mol/m^3", gt=0)
    u0_V: float = param(3.422, "reference potential U0 (plateau of the symmetric solution)", "V")
    exchange_current_A_m2: float = param(0.5, "exchange current density i0 (Butler-Volmer)", "A/m^2", gt=0)
    control: str = param("current", "current: galvanostatic at c_rates; voltage: potentiostatic hold at "
                         "hold_voltage_V with a local Butler-Volmer surface reaction", choices=("current", "voltage"))
    c_rates: list[float] = param([0.05, 5.0], "C-rates to run one after the other", "1/h")
    hold_voltage_V: float = param(3.472, "cell voltage held (control = 'voltage')", "V")
    hold_time_s: float = param(2000.0, "duration of the potentiostatic hold (control = 'voltage')", "s", gt=0)
    direction: str = param("charge", "charge: extract Li (c from c_full down); discharge: insert",
                           choices=("charge", "discharge"))
    c_full: float = param(0.97, "initial site fraction of a charge (discharge starts at 1 - c_full)", "-",
                          gt=0.5, lt=1)
    capacity_end: float = param(0.9, "stop at this capacity fraction of the c_full -> 1-c_full range", "-",
                                gt=0, le=1)
    voltage_cutoff_V: float = param(0.3, "stop when |V - U0| exceeds this (cut-off voltages)", "V", gt=0)
    dc_max: float = param(0.03, "largest change of c in one step", "-", gt=0)
    scheme: str = param("implicit", "time discretization of g' (split: convex-concave, first-order lag "
                        "error 2 a dc in mu; implicit: fully implicit backward Euler)",
                        choices=("split", "implicit"))
    solver: str = param("lu", "linear solver", choices=SOLVERS)
    seed: int = param(7, "seed of the small initial noise (breaks the symmetry)", "-", ge=0)
    noise: float = param(1e-3, "amplitude of the initial noise", "-", ge=0)

    def check(self):
        self.require(len(self.c_rates) > 0 and all(r > 0 for r in self.c_rates), "c_rates",
                     "needs at least one C-rate, each in (0, inf) 1/h")
        fe = self.free_energy()
        self.require(self.interface_length_m * min(self.cells_x / self.length_x_m,
                                                    self.cells_y / self.length_y_m) >= 0.5,
                     "interface_length_m", "must be at least half a cell (refine cells_x, cells_y)")
        del fe

    def free_energy(self) -> RegularSolution:
        return RegularSolution.from_eV(self.omega_eV, self.temperature_K, self.s1_eV_K, self.coherency_eV,
                                       self.u0_V)


Parameters = ChargeParameters


def smooth_noise(seed, amplitude, n_modes=24, k_max=12.0):
    """Partition-independent seeded noise: a sum of random Fourier modes in x (nondimensional)."""
    rng = np.random.default_rng(seed)
    k = rng.uniform(-k_max, k_max, size=(n_modes, 3))
    phase = rng.uniform(0, 2 * np.pi, n_modes)
    weight = rng.normal(size=n_modes) / np.sqrt(n_modes)

    def f(X):
        s = np.zeros(X.shape[1])
        for kj, pj, wj in zip(k, phase, weight):
            s += wj * np.cos(kj @ X + pj)
        return amplitude * s
    return f


class PhaseSeparatingParticle:
    def __init__(self, p: ChargeParameters, comm):
        self.p = p
        self.fe = p.free_energy()
        self.scales = Scales.diffusive(p.length_y_m, p.diffusivity_m2_s, p.c_max_mol_m3, p.temperature_K)
        lx = p.length_x_m / p.length_y_m
        mesh = dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [lx, 1.0]], [p.cells_x, p.cells_y],
                                             cell_type=dolfinx.mesh.CellType.triangle)
        fdim = mesh.topology.dim - 1
        facets = dolfinx.mesh.locate_entities_boundary(
            mesh, fdim, lambda X: np.isclose(X[1], 0.0) | np.isclose(X[1], 1.0))
        tags = dolfinx.mesh.meshtags(mesh, fdim, np.sort(facets), np.full(len(facets), 1, dtype=np.int32))
        # fixed quadrature: the inflow in the residual (tested with q, sum_i q_i = 1) and its
        # integral for the mass balance use the same rule -> exact discrete balance
        self.ds = ufl.Measure("ds", domain=mesh, subdomain_data=tags, subdomain_id=1,
                              metadata={"quadrature_degree": 4})
        self.j_in = dolfinx.fem.Constant(mesh, 0.0)  # nondimensional mean inward flux
        self._w_mean = dolfinx.fem.Constant(mesh, 1.0)
        self.v_hold = dolfinx.fem.Constant(mesh, (p.hold_voltage_V - p.u0_V) / (self.fe.kT / ELEMENTARY_CHARGE))
        self.j0 = dolfinx.fem.Constant(mesh, p.exchange_current_A_m2 / FARADAY / self.scales.molar_flux)
        kappa = self.fe.a * (p.interface_length_m / p.length_y_m) ** 2
        A = ufl.as_matrix([[p.anisotropy_x, 0.0], [0.0, 1.0]])
        self.model = CahnHilliardModel(
            mesh, self.fe, kappa=kappa, mobility=lambda c: mobility(c, "lattice", 1.0, A),
            inflow=self._inflow, dc_max=p.dc_max, scheme=p.scheme, check_energy=False,
            solver=p.solver, prefix="psc_",
            # the potentiostatic inflow depends on the unknowns: converge the residual (whose
            # sum is the discrete lithium balance) to round-off
            snes_options={"snes_atol": 1e-14} if p.control == "voltage" else None,
            dt_cap=lambda model: spinodal_dt_cap(model, lambda c: max(p.anisotropy_x, 1.0) * c * (1 - c)))
        m = self.model
        self.weight_norm = Integral(self._weight(m.w_old.sub(0)) * self.ds)
        self.area = Integral(dolfinx.fem.Constant(mesh, 1.0) * self.ds)()
        self.mu_surface = Integral(m.mu_expr * self.ds)
        if p.control == "voltage":
            self.inflow_total = Integral(self.bv_flux(m.c_expr, m.mu_expr) * self.ds)
        self.volume = m.volume
        self.kappa = kappa

    def _weight(self, c_old):
        """Reaction availability: c for extraction, 1 - c for insertion (lagged)."""
        return c_old if self.p.direction == "charge" else 1 - c_old

    def _inflow(self, c, mu, c_old):
        if self.p.control == "voltage":
            return [(self.bv_flux(c, mu), self.ds)]
        # local flux j_avg w(c^n) / <w(c^n)>_surface: the total current is exactly the applied
        # one in every step, and no lithium is pulled from a surface point that has none
        return [(self.j_in * self._weight(c_old) / self._w_mean, self.ds)]

    def bv_flux(self, c, mu):
        """Potentiostatic Butler-Volmer inflow (nondimensional, symmetric, alpha = 1/2):

            j_in = -2 j0 [2 sqrt(c (1 - c))] sinh(eta / 2),   eta = (V - U0) e/kT + mu = (V - U_eq(mu)) e/kT

        j0 = i0 / F is the exchange flux at c = 1/2; the sqrt(c(1-c)) factor switches the
        reaction off where the surface is empty or full."""
        eta = self.v_hold + mu
        return -self.j0 * 2 * ufl.sqrt(c * (1 - c)) * 2 * ufl.sinh(eta / 2)

    def update_weight(self):
        self._w_mean.value = self.weight_norm() / self.area

    def reset(self, c_start):
        noise = smooth_noise(self.p.seed, self.p.noise)
        self.model.set_concentration(lambda X: c_start + noise(X))
        self.c_mean0 = self.model.mass() / self.volume
        self.update_weight()


def solve(p: ChargeParameters, out: RunOutput) -> None:
    if p.control == "voltage":
        return solve_potentiostatic(p, out)
    prob = PhaseSeparatingParticle(p, out.comm)
    m, s, fe = prob.model, prob.scales, prob.fe
    kT_e = fe.kT / ELEMENTARY_CHARGE
    out.update(mesh=mesh_summary(m.mesh, [m.W]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               binodal=fe.binodal(), spinodal=fe.spinodal(),
               plateau_voltage_V=(fe.u0_V - kT_e * fe.plateau_mu()) if fe.binodal() else None,
               kappa_nondimensional=prob.kappa)
    sign = -1.0 if p.direction == "charge" else 1.0
    c_start = p.c_full if p.direction == "charge" else 1.0 - p.c_full
    c_range = 2 * p.c_full - 1
    c_out = dolfinx.fem.Function(m.V, name="concentration")
    results = {}
    status, reason = "ok", ""
    total = dict(steps=0, rejected=0, newton=0, krylov=0, wall=0.0)
    for irate, rate in enumerate(p.c_rates):
        prob.reset(c_start)
        # dc_mean/dt = rate/3600 s (c in units of c_max) -> nondimensional flux over the two faces
        j_nd = sign * rate / 3600.0 * s.time * prob.volume / prob.area
        prob.j_in.value = j_nd
        j_si = j_nd * s.molar_flux  # mol/(m^2 s), > 0 inserting
        eta = -2 * kT_e * np.arcsinh(j_si * FARADAY / (2 * p.exchange_current_A_m2))
        t_end = p.capacity_end * c_range / (rate / 3600.0 * s.time)
        vtx = out.vtx(f"concentration_{irate}", c_out, s.length)
        state = {"half": False, "V": [], "Q": []}

        def record(t, dt, stats, rate=rate, eta=eta, state=state, vtx=vtx):
            prob.update_weight()
            c_mean = m.mass() / prob.volume
            q = abs(c_mean - c_start) / c_range
            expected = abs(j_nd) * t * prob.area / prob.volume  # exact: the applied current
            mb = abs(abs(c_mean - prob.c_mean0) - expected) / max(expected, 1e-300) if t > 0 else 0.0
            ocv = fe.u0_V - kT_e * prob.mu_surface() / prob.area
            V = ocv + eta
            out.timeseries.add({"t_s": t * s.time, "c_rate": rate, "capacity_fraction": q, "c_mean": c_mean,
                                "voltage_V": V, "ocv_surface_V": ocv, "overpotential_V": eta,
                                "mass_balance_rel_error": mb, "dt_s": dt * s.time,
                                "current_A_m2": -j_si * FARADAY})
            if not state["half"] and q >= 0.5:
                state["half"] = True
                c_out.x.array[:] = m.concentration()
                c_out.x.scatter_forward()
                vtx.write(t * s.time)
                plot_section(out, f"morphology_{rate:g}C", m.V, m.concentration(), out.comm,
                             length_scale=s.length * 1e9, unit="[nm]", vmin=0, vmax=1,
                             title=f"{p.direction} at {rate:g}C, half capacity")

        m.on_accept = record
        record(0.0, 0.0, None)

        def stop(t):
            V = out.timeseries.rows[-1][4]
            if abs(V - p.u0_V) > p.voltage_cutoff_V:
                return f"cut-off voltage reached: V = {V:.4f} V"
            return None

        control = StepControl(t_end=t_end, dt=1e-4 * t_end, dt_min=1e-12 * t_end, dt_max=0.01 * t_end,
                              grow=1.3, easy_newton=5)
        res = integrate(m, control, stop=stop, progress=Progress(out.comm, t_end, s.time, quiet=out.quiet))
        vtx.close()
        if res.status != "ok":
            status, reason = res.status, f"{rate:g}C: {res.reason}"
        ts_rate = [r for r in out.timeseries.rows if r[1] == rate]
        Q = np.array([r[2] for r in ts_rate])
        V = np.array([r[4] for r in ts_rate])
        results[f"{rate:g}C"] = dict(
            steps=res.steps, rejected=res.rejected, end=res.reason or "capacity_end reached",
            voltage_at_half_V=float(np.interp(0.5, Q, V)) if Q.max() >= 0.5 else None,
            voltage_mean_0p3_0p7_V=float(V[(Q >= 0.3) & (Q <= 0.7)].mean()) if Q.max() >= 0.7 else None,
            overpotential_V=eta, capacity_reached=float(Q.max()), half_charge_morphology=state["half"])
        for k, v in (("steps", res.steps), ("rejected", res.rejected), ("newton", res.newton),
                     ("krylov", res.krylov), ("wall", res.wall_s)):
            total[k] += v
    out.update(rates=results)
    _plot(out, p)
    m.destroy()
    out.finish(status, reason, steps=total["steps"], rejected_steps=total["rejected"],
               newton_iterations=total["newton"], krylov_iterations=total["krylov"], solve_wall_s=total["wall"])
    if status != "ok":
        raise SolverError(reason)


def solve_potentiostatic(p: ChargeParameters, out: RunOutput) -> None:
    """Hold the cell voltage; the local Butler-Volmer flux drives the particle to the
    equilibrium composition mu(c) = -(V - U0) e/kT (single phase if V is off the plateau)."""
    prob = PhaseSeparatingParticle(p, out.comm)
    m, s, fe = prob.model, prob.scales, prob.fe
    kT_e = fe.kT / ELEMENTARY_CHARGE
    c_start = p.c_full if p.direction == "charge" else 1.0 - p.c_full
    prob.reset(c_start)
    inserted = {"n": 0.0}  # nondimensional moles inserted per unit depth, BE-consistent
    out.update(mesh=mesh_summary(m.mesh, [m.W]), control="voltage", hold_voltage_V=p.hold_voltage_V,
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration})

    def record(t, dt, stats):
        total = prob.inflow_total() if t > 0 else 0.0
        inserted["n"] += dt * total
        c_mean = m.mass() / prob.volume
        stored = (c_mean - prob.c_mean0) * prob.volume
        mb = abs(stored - inserted["n"]) / max(abs(stored), 1e-300) if t > 0 else 0.0
        ocv = fe.u0_V - kT_e * prob.mu_surface() / prob.area
        i_A_m2 = -total / prob.area * s.molar_flux * FARADAY  # > 0 for extraction (charge)
        c_rate = -total / prob.volume / s.time * 3600.0
        out.timeseries.add({"t_s": t * s.time, "c_rate": c_rate, "capacity_fraction": abs(c_mean - prob.c_mean0),
                            "c_mean": c_mean, "voltage_V": p.hold_voltage_V, "ocv_surface_V": ocv,
                            "overpotential_V": p.hold_voltage_V - ocv, "mass_balance_rel_error": mb,
                            "dt_s": dt * s.time, "current_A_m2": i_A_m2})

    m.on_accept = record
    record(0.0, 0.0, None)
    t_end = p.hold_time_s / s.time
    control = StepControl(t_end=t_end, dt=1e-6 * t_end, dt_min=1e-14 * t_end, dt_max=0.05 * t_end,
                          grow=1.3, easy_newton=5)
    res = integrate(m, control, progress=Progress(out.comm, t_end, s.time, quiet=out.quiet))
    ts = out.timeseries
    # equilibrium composition at the held voltage: mu(c) = -(V - U0) e / kT on the stable branch
    from scipy.optimize import brentq
    target = -(p.hold_voltage_V - p.u0_V) / kT_e
    sp = fe.spinodal()
    lo, hi = (1e-12, sp[0]) if (sp and target < fe.plateau_mu()) else ((sp[1], 1 - 1e-12) if sp else (1e-12, 1 - 1e-12))
    c_eq = brentq(lambda x: fe.mu(x) - target, lo, hi, xtol=1e-14)
    out.update(c_equilibrium=c_eq, c_mean_final=float(ts.column("c_mean")[-1]),
               mass_balance_rel_error_max=float(ts.column("mass_balance_rel_error").max()))
    if out.comm.rank == 0:
        with out.figure("current") as (fig, ax):
            ax.semilogx(ts.column("t_s")[1:], ts.column("current_A_m2")[1:])
            ax.set_xlabel("t [s]")
            ax.set_ylabel("current density [A/m$^2$]")
    m.destroy()
    out.finish(res.status, res.reason, steps=res.steps, rejected_steps=res.rejected,
               newton_iterations=res.newton, krylov_iterations=res.krylov, solve_wall_s=res.wall_s)
    if res.status != "ok":
        raise SolverError(res.reason)


def _plot(out, p):
    if out.comm.rank != 0:
        return
    ts = out.timeseries
    rates, Q, V = ts.column("c_rate"), ts.column("capacity_fraction"), ts.column("voltage_V")
    fe = p.free_energy()
    with out.figure("voltage") as (fig, ax):
        for r in p.c_rates:
            sel = rates == r
            ax.plot(Q[sel], V[sel], label=f"{r:g}C")
        if fe.binodal():
            ax.axhline(fe.u0_V - fe.kT / ELEMENTARY_CHARGE * fe.plateau_mu(), color="k", ls=":",
                       label="common tangent")
        ax.set_xlabel("capacity fraction")
        ax.set_ylabel("voltage [V]")
        ax.set_title(p.direction)
        ax.legend()
