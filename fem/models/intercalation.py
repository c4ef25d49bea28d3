"""Intercalation particle: nonlinear (tensor) solid diffusion with a surface reaction.

Nondimensional (x^ = x/L, t^ = t D_ref/L^2, c^ = x = c/c_max, potential in
k_B T/e, current density in ``current_scale`` = F c_max D_ref / L)::

    dx/dt = div( D(x) grad x )                      in the particle
    -D(x) grad x . n = i(x, eta)                    on ``surface`` (Butler–Volmer)
    eta = v_T phi - U(x)  [V],   i = i_BV(x, eta) / current_scale

``D(x)`` is any UFL tensor (or scalar) of the concentration, e.g. per-grain
rotated tensors times g(x) (:mod:`fem.constitutive.diffusivity`).  Surface
conditions (``condition``):

* ``galvanostatic``: int_S i dS = I (``current``, nondimensional, anodic
  positive); the particle potential phi is a global unknown solved with x by
  the bordered Newton of :mod:`fem.galvanostatic` (one GMRES solve per Newton
  iteration on the bordered system, preconditioned through the field's AMG;
  ``-particle_bordered_pc_lag 0`` builds its hierarchy once per Newton solve);
  the Newton Jacobian's flux terms use a one-point rule (``JACOBIAN_QUADRATURE_DEGREE``; the
  storage term stays exact, the residual keeps degree 2p + 1): an inexact Newton method with the same
  root, J per cell 0.97 -> 0.69 us at 116k unknowns for ~4 % more Newton steps
  (``-particle_jacobian_quadrature_degree -1``: the exact derivative); with D = g(x) T (T per grain)
  the cell terms of the residual and of that Jacobian are summed in numpy from element matrices
  computed once (:mod:`fem.p1_cells`, equal to the generated forms to round-off; 491k unknowns:
  see the README), the surface terms, the constraint and its derivatives come from one surface
  assembly (:class:`fem.galvanostatic.SurfaceFlux`);
* ``potentiostatic``: phi fixed (``voltage``), SNES on x;
* ``flux``: fixed inward flux density ``flux``; ``concentration``: x = ``c_surface``.

Variable-step BDF1/2 (:class:`fem.time_schemes.BDFHistory`).  Newton's initial
guess is the linear extrapolation of the last two accepted states
(:meth:`BDFHistory.predict`, clipped to (0, 1)) and of phi.  The surface inflow is
integrated with the field's BDF formula, so ``moles_in`` is what the discrete
scheme put in (exact discrete balance).

Also here: the SI recorder of the particle's observables (:func:`observables`),
the stop conditions of a discharge (:func:`surface_saturation_stop`,
:func:`cutoff_voltage_stop`), :func:`capacity_at_cutoff_mAh` and the controller of
:mod:`fem.protocols` runs (:class:`ProtocolControl`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import ufl
from mpi4py import MPI

import dolfinx.fem

from fem import p1_cells, petsc_options
from fem.galvanostatic import NEWTON_KSP_RTOL, PC_LAG_DEFAULT, BorderedNewton, GlobalUnknown, SurfaceFlux
from fem.observables import Integral
from fem.scaling import FARADAY
from fem.solver import SNESSolver, SolveStats, with_quadrature_degree
from fem.time_schemes import BDFHistory
from fem.weak_forms.diffusion import diffusion_residual
from fem.weak_forms.grain_boundary import grain_boundary_residual

CONDITIONS = ("galvanostatic", "potentiostatic", "flux", "concentration")

#: galvanostatic with GMRES + BoomerAMG: the AMG hierarchy is built at the first Newton iteration of a
#: time step and kept for the step's later iterations (``-particle_bordered_pc_lag``, fem.galvanostatic;
#: GMRES still multiplies by the current Jacobian, so the iterates are those of exact Newton steps to
#: ``ksp_rtol``)
AMG_LAG = 0
#: galvanostatic with GMRES + BoomerAMG: the hierarchy is also kept across time steps until the
#: Krylov iterations it cost beyond its first solve's exceed this many (``-particle_bordered_pc_build_cost``,
#: fem.galvanostatic; 0: rebuilt at every time step)
AMG_BUILD_COST = 0.0

#: galvanostatic Newton: stop when ||F|| <= NEWTON_RTOL ||F(predictor)|| and the total current
#: matches to CURRENT_TOL (1 + |I|) (nondimensional); ``-particle_snes_rtol``,
#: ``-particle_bordered_constraint_tol`` override.  F(predictor) is the defect of the BDF
#: extrapolation, so the iteration error left is ~1e-6 of the step's own change (CVODE stops at
#: 0.1 of its local-error tolerance); measured on the 18k-dof 50-grain 1C discharge against 1e-10 /
#: 1e-12: Newton iterations 312 -> 245, voltages equal to 4e-11 V where the steps coincide; 491k on 2
#: ranks: 308 -> 278, 906.5 -> 847.6 s wall (README, tests/bench/bench_particle_discharge.py).
#: CURRENT_TOL 1e-9 -> 1e-8 (session 13): at 1e-9, 25 of 88 multi-iteration solves of that 18k run took
#: their last iteration for the current alone (the field at < 1e-7 r0); 1e-8: Newton 228 -> 210, the
#: same steps and voltages to < 1e-6 V up to the saturation stop, mass balance unchanged (7.7e-9);
#: 1e-7 raised the mass balance error to 1.7e-8
NEWTON_RTOL = 1e-6
CURRENT_TOL = 1e-8

#: galvanostatic: quadrature degree of the flux terms of the Newton Jacobian (-1: the residual's own);
#: ``-particle_jacobian_quadrature_degree`` overrides (module docstring)
JACOBIAN_QUADRATURE_DEGREE = 1


class IntercalationParticle:
    """One concentration field x on ``domain`` (a :class:`meshes.tagged.TaggedMesh`).

    surface : name of the boundary region of the reaction / flux / fixed concentration.
    diffusivity : callable x -> UFL diffusivity (tensor or scalar, relative to D_ref).
    x0 : initial (uniform) x.
    condition : one of :data:`CONDITIONS` (module docstring).
    ocv, kinetics : U(x) [V] (numpy and UFL) and a :class:`fem.constitutive.kinetics.ButlerVolmer`
        (galvanostatic, potentiostatic; ``ocv`` also for the surface-OCV observable).
    thermal_voltage : k_B T/e [V]; current_scale : A/m^2 per nondimensional current density.
    current : total current (nondimensional, anodic positive; galvanostatic).
    voltage : particle potential [V] (potentiostatic; galvanostatic: set it with :meth:`set_voltage`).
    flux : inward flux density (nondimensional; ``flux``); c_surface : x on the surface (``concentration``).
    cell_law : (T, g, dg) when ``diffusivity`` is g(x) T with T a constant (numpy) or DG0 tensor and
        g, g' numpy functions: the galvanostatic Newton then assembles the cell terms in numpy
        (:mod:`fem.p1_cells`, P1 on affine simplices with the one-point Jacobian rule;
        ``-particle_p1_cells 0``: the generated forms); None: the forms.
    gb_conductance, gb : grain-boundary fast paths: the nondimensional tangential conductance
        K = delta (D_gb - D_ref) / (D_ref L) of the facet group ``gb`` (a name passed in by the
        problem, e.g. meshes.tags.GRAIN_BOUNDARY), added to the residual of every surface condition as
        + int_gb K grad_G x . grad_G v dS (:mod:`fem.weak_forms.grain_boundary`); None: none.
    """

    def __init__(self, domain, surface: str, *, diffusivity: Callable, x0: float,
                 condition: str = "galvanostatic", ocv=None, kinetics=None, thermal_voltage: float = 1.0,
                 current_scale: float = 1.0, current: float = 0.0, voltage: float = 0.0, flux: float = 0.0,
                 c_surface: float | None = None, degree: int = 1, time_order: int = 2,
                 solver: str = "gmres_amg", prefix: str = "particle_", x_clip: float = 1e-6,
                 gb_conductance: float | None = None, gb: str | None = None, cell_law=None):
        if condition not in CONDITIONS:
            raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
        self.domain, self.condition, self.x0, self.x_clip = domain, condition, x0, x_clip
        self.ocv, self.vt = ocv, thermal_voltage
        mesh = self.mesh = domain.mesh
        V = self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
        self.c = dolfinx.fem.Function(V, name="x")
        self.history = BDFHistory(self.c, time_order)
        self.history.set_all(x0)
        dcdt = self.history.ddt()
        v = ufl.TestFunction(V)
        md = {"quadrature_degree": 2 * degree + mesh.geometry.cmap.degree}
        dx = self.dx = domain.dx(metadata=md)
        ds = self.ds = domain.ds(surface, metadata=md)
        D = diffusivity(self.c)
        self.volume = Integral(1.0 * dx)()
        self.area = Integral(1.0 * ds)()
        opts = petsc_options.gmres_amg() if solver == "gmres_amg" else petsc_options.direct_lu()
        extra = 0  # grain-boundary facet term (none: the bulk forms unchanged)
        self.gb_area = 0.0
        if gb_conductance is not None:
            dS = domain.dS(gb, metadata=md)
            extra = grain_boundary_residual(self.c, v, dolfinx.fem.Constant(mesh, float(gb_conductance)), dS)
            self.gb_area = Integral(1.0 * dS)()
        self.phi = None  # GlobalUnknown of the particle potential (V / v_T)
        self.current = current
        if condition in ("galvanostatic", "potentiostatic"):
            self.phi = GlobalUnknown(mesh, 0.0)
            phi_v = ufl.variable(self.phi.constant)
            eta = thermal_voltage * phi_v - ocv(self.c)
            i_hat = self.i_hat = kinetics.current(self.c, eta) / current_scale
            F = diffusion_residual(dcdt, self.c, v, D, dx, inflow=[(-i_hat, ds)]) + extra
            if condition == "galvanostatic":
                # the constraint int_S i dS = I is the total of F's surface term (one surface assembly)
                border = SurfaceFlux(i_hat, phi_v, ds)
                bulk = diffusion_residual(dcdt, self.c, v, D, dx) + extra
                lag, reuse = PC_LAG_DEFAULT, 0.0
                if solver == "gmres_amg":  # inexact Newton (fem.galvanostatic.NEWTON_KSP_RTOL)
                    # right preconditioning: GMRES's stopping test is on the true linear residual, so the
                    # inexact-Newton bound holds whatever the (lagged) AMG (left preconditioning with
                    # the lag stalled Newton near saturation: test_polycrystal_discharge_with_fast_paths)
                    opts = {**opts, "ksp_rtol": NEWTON_KSP_RTOL, "ksp_pc_side": "right"}
                    lag, reuse = AMG_LAG, AMG_BUILD_COST
                J = None
                jq = petsc_options.get_int(prefix, "jacobian_quadrature_degree", JACOBIAN_QUADRATURE_DEGREE)
                if jq >= 0:  # storage term exact (P1 mass: degree 2), flux terms at degree jq
                    du = ufl.TrialFunction(V)
                    flux = diffusion_residual(None, self.c, v, D, dx, inflow=[(-i_hat, ds)]) + extra
                    dx_mass = domain.dx(metadata={"quadrature_degree": 2 * degree})  # exact on affine cells
                    J = (ufl.derivative(dcdt * v * dx_mass, self.c, du)
                         + with_quadrature_degree(ufl.derivative(flux, self.c, du), jq))
                cells = None
                if (cell_law is not None and jq in (0, 1) and petsc_options.get_int(prefix, "p1_cells", 1)
                        and p1_cells.applicable(V, cell_law[0])):
                    # the cell terms in numpy from element matrices computed once (fem.p1_cells; the same
                    # rules); the forms keep the grain-boundary term (F) and the surface terms (J)
                    du = ufl.TrialFunction(V)
                    tensor, g, dg = cell_law
                    cells = (p1_cells.P1DiffusionCells(V, tensor, g, dg, self.history, md["quadrature_degree"]),
                             None if gb_conductance is None else extra,
                             ufl.derivative(i_hat * v * ds + extra, self.c, du))
                self.solver = BorderedNewton(bulk, self.c, self.phi, border, current, options=opts, prefix=prefix,
                                             pc_lag=lag, pc_build_cost=reuse, J=J, rtol=NEWTON_RTOL,
                                             constraint_tol=CURRENT_TOL, cells=cells,
                                             scale_form=self.c / self.history.bdf.dt * v * dx)
                self._hold = (F, opts, prefix + "hold_")  # potentiostatic solver, built on first hold
            else:
                self.phi.set_accepted(voltage / thermal_voltage)
                self.solver = SNESSolver(F, self.c, [], prefix=prefix, options=opts)
            self.total_inflow = Integral(-i_hat * ds)
            self.total_current = Integral(i_hat * ds)
            self.total_current_dphi = Integral(ufl.diff(i_hat, phi_v) * ds)
        elif condition == "flux":
            self.j_in = dolfinx.fem.Constant(mesh, flux)
            F = diffusion_residual(dcdt, self.c, v, D, dx, inflow=[(self.j_in, ds)]) + extra
            self.solver = SNESSolver(F, self.c, [], prefix=prefix, options=opts)
            self.total_inflow = Integral(self.j_in * ds)
        else:
            dofs = dolfinx.fem.locate_dofs_topological(V, mesh.topology.dim - 1, domain.facets(surface))
            bc = dolfinx.fem.dirichletbc(c_surface, dofs, V)
            F = diffusion_residual(dcdt, self.c, v, D, dx) + extra
            self.solver = SNESSolver(F, self.c, [bc], prefix=prefix, options=opts)
            self.total_inflow = Integral(dcdt * dx)  # variationally consistent flux
        self.residual = F  # the field residual (for checks)
        # observables
        self.int_c = Integral(self.c * dx)
        self.int_c_surface = Integral(self.c * ds)
        self.int_ocv_surface = Integral(ocv(self.c) * ds) if ocv is not None else None
        sdofs = dolfinx.fem.locate_dofs_topological(V, mesh.topology.dim - 1, domain.facets(surface))
        self.surface_dofs = sdofs[sdofs < V.dofmap.index_map.size_local]  # owned
        self.moles0 = self.int_c()
        self.moles_in = self.moles_in_old = 0.0
        self.t = 0.0  # model time of the last accepted state
        self.x_surface_min = x0
        self.holding = False  # galvanostatic model held at a fixed potential (hold_voltage)
        self.hold_solver = None

    # ------------------------------------------------------------------
    @property
    def voltage_V(self) -> float:
        return self.phi.value * self.vt if self.phi is not None else float("nan")

    def set_voltage(self, volts: float) -> None:
        """Set the particle potential (current and accepted value), e.g. the initial state."""
        self.phi.set_accepted(volts / self.vt)

    def set_current(self, current: float) -> None:
        """Galvanostatic: the total current (nondimensional, anodic positive)."""
        self.current = self.solver.target = current

    def hold_voltage(self, volts: float) -> None:
        """Galvanostatic model: hold the particle potential at ``volts`` (a potentiostatic
        solve on the same residual) until :meth:`release_voltage`."""
        if self.condition != "galvanostatic":
            raise ValueError("hold_voltage needs the galvanostatic condition")
        if self.hold_solver is None:
            F, opts, prefix = self._hold
            # snes_stol: a Newton update of zero (the residual at its round-off floor ~1e-12, under
            # the c/dt terms of a short step, where the Krylov solve returns at once) is converged
            self.hold_solver = SNESSolver(F, self.c, [], prefix=prefix, options={"snes_stol": 1e-14, **opts})
        self.holding = True
        self.set_voltage(volts)

    def release_voltage(self, current: float) -> None:
        """Back to a controlled total current (nondimensional, anodic positive)."""
        self.holding = False
        self.set_current(current)

    def consistent_voltage(self, tol: float = 1e-12, max_iterations: int = 60) -> float:
        """Galvanostatic: set and return the particle potential [V] at which the surface reaction
        carries the set total current with the present concentration field,
        int_S i(c, phi) dS = I  (c frozen; scalar Newton in phi, steps clipped to 4 v_T).

        The voltage right after a step change of the current: c is continuous across the switch,
        the overpotential is not (the IR-like step a cycler records at once)."""
        phi = self.phi.value
        for _ in range(max_iterations):
            self.phi.value = phi
            r = self.total_current() - self.current
            if abs(r) <= tol * max(abs(self.current), 1.0):
                break
            slope = self.total_current_dphi()
            if not slope > 0:
                raise RuntimeError(f"consistent_voltage: d I / d phi = {slope} (Butler-Volmer is increasing)")
            phi -= float(np.clip(r / slope, -4.0, 4.0))
        else:
            raise RuntimeError(f"consistent_voltage: no convergence (residual {r:.3g})")
        self.phi.set_accepted(phi)
        return self.voltage_V

    def restart_history(self) -> None:
        """Start the time scheme afresh from the accepted state (BDF1 step, no extrapolation):
        for a discontinuous change of the surface condition (a protocol's next step)."""
        self.history.bdf.dt_prev = None
        if self.phi is not None:
            self.phi.older = None

    def set_flux(self, flux: float) -> None:
        """``flux`` condition: the inward flux density (nondimensional)."""
        self.j_in.value = flux

    def surface_range(self) -> tuple[float, float]:
        """(min, max) of x over the surface dofs (collective)."""
        xs = self.c.x.array[self.surface_dofs]
        comm = self.mesh.comm
        return (comm.allreduce(float(xs.min()) if len(xs) else 1e300, op=MPI.MIN),
                comm.allreduce(float(xs.max()) if len(xs) else -1e300, op=MPI.MAX))

    # step / reject / accept ----------------------------------------------
    def step(self, t: float, dt: float) -> SolveStats:
        self.history.set_step(dt)
        self.predict(dt)
        return (self.hold_solver if self.holding else self.solver).solve()

    def predict(self, dt: float) -> None:
        """Newton initial guess: linear extrapolation of the last two accepted states."""
        dt_prev = self.history.bdf.dt_prev
        if dt_prev is None:
            return
        self.history.predict(dt)
        np.clip(self.c.x.array, self.x_clip, 1 - self.x_clip, out=self.c.x.array)
        if self.condition == "galvanostatic" and not self.holding:
            self.phi.predict(dt / dt_prev)

    def reject(self) -> None:
        self.history.reject()
        if self.phi is not None:
            self.phi.reject()

    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None:
        inflow = self.total_inflow()
        self.moles_in, self.moles_in_old = (
            self.history.bdf.integrate_rate(self.moles_in, self.moles_in_old, inflow, dt), self.moles_in)
        self.history.accept(dt)
        if self.phi is not None:
            self.phi.accept()
        self.t = t_new
        self.x_surface_min = self.surface_range()[0]

    # restart ----------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        state = {**self.history.checkpoint_state("c"), "moles_in": self.moles_in,
                 "moles_in_old": self.moles_in_old, "t": self.t, "x_surface_min": self.x_surface_min}
        if self.phi is not None:
            state.update(self.phi.checkpoint_state("phi"))
        if self.condition == "galvanostatic":
            state.update(holding=self.holding, current=self.current)
        return state

    def restore_state(self, state: dict) -> None:
        self.history.restore_state("c", state)
        self.moles_in, self.moles_in_old = state["moles_in"], state["moles_in_old"]
        self.t, self.x_surface_min = state["t"], state["x_surface_min"]
        if self.phi is not None:
            self.phi.restore_state("phi", state)
        if self.condition == "galvanostatic" and "holding" in state:
            if state["holding"]:
                volts = self.voltage_V
                self.hold_voltage(volts)
                self.phi.restore_state("phi", state)
            else:
                self.holding = False
            self.set_current(state["current"])

    def destroy(self) -> None:
        self.solver.destroy()
        if self.hold_solver is not None:
            self.hold_solver.destroy()


# --- SI observables and stop conditions --------------------------------------------

def observables(model: IntercalationParticle, scales, current_A: float | None = None):
    """Recorder t -> SI columns: the voltage block (when the particle has a potential;
    ``current_A`` the applied current, None: the computed one) and the concentrations,
    moles and the relative mass-balance error."""
    L3 = scales.length**3

    def record(t) -> dict[str, float]:
        moles = model.int_c()
        stored = moles - model.moles0
        err = abs(stored - model.moles_in) / max(abs(stored), 1e-300) if t > 0 else 0.0
        xs_min, xs_max = model.surface_range()
        row = {}
        if model.phi is not None:
            V = model.voltage_V
            ocv_s = model.int_ocv_surface() / model.area
            if current_A is not None:  # constant current
                I, charge_C = current_A, abs(current_A) * t * scales.time
            else:  # computed current, integrated charge
                I = model.total_current() * scales.current_density * scales.length**2
                charge_C = abs(model.moles_in) * scales.concentration * L3 * FARADAY
            row.update(voltage_V=V, ocv_surface_V=ocv_s, overpotential_V=V - ocv_s, current_A=I,
                       capacity_mAh=charge_C / 3.6)
        row.update({
            "x_mean": moles / model.volume,
            "c_mean_mol_m3": moles / model.volume * scales.concentration,
            "c_surface_mean_mol_m3": model.int_c_surface() / model.area * scales.concentration,
            "c_surface_min_mol_m3": xs_min * scales.concentration,
            "c_surface_max_mol_m3": xs_max * scales.concentration,
            "moles_mol": moles * scales.concentration * L3,
            "mass_balance_rel_error": err,
        })
        return row

    return record


def surface_saturation_stop(model: IntercalationParticle, saturation_x: float):
    """Stop when the whole surface has x >= saturation_x (i0 ~ sqrt(1 - x) vanishes and
    the voltage collapses within a fraction of a percent of the capacity)."""

    def stop(t) -> str | None:
        if model.x_surface_min >= saturation_x:
            return (f"surface saturated (min surface x = {model.x_surface_min:.4f} >= saturation_x = "
                    f"{saturation_x}): the exchange current vanishes and the voltage collapses "
                    f"(V = {model.voltage_V:.4f} V)")
        return None

    return stop


def cutoff_voltage_stop(model: IntercalationParticle, cutoff_V: float, discharge: bool):
    """Stop when the voltage falls to (discharge) or rises to (charge) ``cutoff_V``."""

    def stop(t) -> str | None:
        V = model.voltage_V
        if (discharge and V <= cutoff_V) or (not discharge and V >= cutoff_V):
            return f"cut-off voltage {cutoff_V} V reached (V = {V:.4f} V)"
        return None

    return stop


def capacity_at_cutoff_mAh(t_s, voltage_V, current_A: float, cutoff_V: float, discharge: bool) -> float:
    """Capacity [mAh] at the cut-off voltage (linear interpolation in the last step), or at
    the last time if the cut-off was not crossed."""
    t, v = np.asarray(t_s), np.asarray(voltage_V)
    sign = 1 if discharge else -1
    t_cut = t[-1]
    if len(t) >= 2 and sign * (v[-1] - cutoff_V) <= 0 < sign * (v[-2] - cutoff_V):
        t_cut = t[-2] + (t[-1] - t[-2]) * (v[-2] - cutoff_V) / (v[-2] - v[-1])
    return abs(current_A) * t_cut / 3.6


# --- protocols (fem.protocols) on a galvanostatic particle ---------------------------------

class ProtocolControl:
    """Applies the steps of a :mod:`fem.protocols` protocol to a galvanostatic
    :class:`IntercalationParticle` and measures their limits, in SI.

    scales : the model's :class:`fem.scaling.Scales`; one_c_A : |I| of 1C [A];
    area_m2 : the particle surface (current densities).
    ``record`` is a recorder adding ``protocol_step``, ``protocol_step_type``
    (:data:`fem.protocols.STEP_CODES`), ``current_A`` (the applied current of a current step
    or rest, the computed one of a hold), ``charge_passed_C`` (int I dt, anodic positive) and
    ``capacity_mAh`` = |charge_passed_C| / 3.6.
    """

    def __init__(self, model: IntercalationParticle, scales, one_c_A: float, area_m2: float):
        if model.condition != "galvanostatic":
            raise ValueError("protocols need the galvanostatic (Butler-Volmer) condition")
        self.model, self.s, self.one_c_A, self.area_m2 = model, scales, one_c_A, area_m2
        self.current_unit_A = scales.current_density * scales.length**2
        self.index, self.step, self.t0, self.q0, self.moles0, self.I = -1, None, 0.0, 0.0, 0.0, 0.0

    def applied_current_A(self, step) -> float:
        """Anodic-positive current of a current step (0 for a rest)."""
        if step.kind == "rest":
            return 0.0
        magnitude = step.c_rate * self.one_c_A if step.c_rate > 0 else step.current_density_A_m2 * self.area_m2
        return magnitude if step.charge else -magnitude

    def computed_current_A(self) -> float:
        return self.model.total_current() * self.current_unit_A

    def charge_C(self, t: float) -> float:
        if self.step is not None and self.step.kind == "voltage":
            moles = (self.model.moles_in - self.moles0) * self.s.concentration * self.s.length**3
            return self.q0 - FARADAY * moles
        return self.q0 + self.I * (t - self.t0) * self.s.time

    def apply(self, index: int, step, t: float) -> None:
        """Start step ``index`` at model time ``t`` (the accepted state)."""
        self.q0 = self.charge_C(t) if self.step is not None else 0.0
        self.index, self.step, self.t0, self.moles0 = index, step, t, self.model.moles_in
        self.model.restart_history()
        if step.kind == "voltage":
            self.I = 0.0
            self.model.hold_voltage(step.voltage_V)
        else:
            self.I = self.applied_current_A(step)
            self.model.release_voltage(self.I / self.current_unit_A)
            # the stage's first row shows V just after the switch, not the old step's voltage
            self.model.consistent_voltage()

    def limits(self, discharge_sign: int | None = None) -> list:
        """:class:`fem.protocols.EventLocator` objects of the current step's limits (time limits
        are the stage's end time)."""
        from fem.protocols import EventLocator
        m, step, out = self.model, self.step, []
        if step.kind == "current":
            sign = -1.0 if step.charge else 1.0  # discharge: V falls, x rises
            if step.until_voltage_V is not None:
                V = step.until_voltage_V
                out.append(EventLocator(lambda: sign * (m.voltage_V - V), 1e-7 * V, f"voltage limit {V} V"))
            if step.until_x is not None:
                x = step.until_x
                out.append(EventLocator(lambda: sign * (x - m.int_c() / m.volume), 1e-9,
                                        f"stoichiometry limit x = {x}"))
        elif step.kind == "voltage" and (step.until_c_rate or step.until_current_density_A_m2):
            limit = (step.until_c_rate * self.one_c_A if step.until_c_rate
                     else step.until_current_density_A_m2 * self.area_m2)
            out.append(EventLocator(lambda: abs(self.computed_current_A()) - limit, 1e-4 * limit,
                                    f"current limit {limit:.6g} A"))
        return out

    def record(self, t: float) -> dict:
        I = self.computed_current_A() if self.step.kind == "voltage" else self.I
        q = self.charge_C(t)
        from fem.protocols import STEP_CODES
        return {"protocol_step": float(self.index), "protocol_step_type": float(STEP_CODES[self.step.kind]),
                "current_A": I, "charge_passed_C": q, "capacity_mAh": abs(q) / 3.6}

    def checkpoint_state(self) -> dict:
        return {"protocol_index": self.index, "protocol_t0": self.t0, "protocol_q0": self.q0,
                "protocol_moles0": self.moles0, "protocol_I": self.I}

    def restore_state(self, state: dict) -> None:
        self.index, self.t0, self.q0 = state["protocol_index"], state["protocol_t0"], state["protocol_q0"]
        self.moles0, self.I = state["protocol_moles0"], state["protocol_I"]
