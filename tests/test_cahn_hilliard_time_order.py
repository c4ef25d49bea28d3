"""Temporal order of the Cahn-Hilliard time schemes, and the local-error estimate behind the
error-controlled steps, against a manufactured solution that is not polynomial in t.

Continuous PDE (written here, independently of fem.weak_forms / fem.constitutive), on [0, 1]:

    dc/dt = d/dx( M(c) dmu/dx ) + f,   mu = ln(c/(1-c)) + a (1 - 2c) + 2 k c - kappa d2c/dx2,
    M(c) = c (1 - c),   no flux (dc/dx = dmu/dx = 0 at x = 0, 1),

exact solution c_e = 1/2 + A(t) cos(pi x), A(t) = 0.15 + 0.1 sin(4 t + 0.5), t in [0, 0.3]: mu_e is the
chemical potential of c_e itself (so mu needs no source, and dmu_e/dx = 0 at the ends), and
f = dc_e/dt - d/dx(M(c_e) dmu_e/dx) is evaluated at t^{n+1} in every step (backward Euler).
a = 2.5 (g''(1/2) = -1: inside the spinodal), k = 0.3 (K != 0), kappa = 0.01.

P2 on 200 cells: the spatial error (~1e-8) is far below the temporal one.  Both schemes are
first order: ``implicit`` is backward Euler, ``split`` lags the concave part of g' (an O(dt)
error in mu on top of backward Euler's).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import ufl
from mpi4py import MPI

import dolfinx.fem
import dolfinx.mesh

from fem.constitutive.free_energy import RegularSolution
from fem.constitutive.mobility import mobility
from fem.models.cahn_hilliard import CahnHilliard
from fem.observables import Integral
from fem.scaling import BOLTZMANN

A_OM, K_COH, KAPPA, T_END = 2.5, 0.3, 0.01, 0.3
TEMPERATURE = 298.15


def amplitude(t):
    return 0.15 + 0.1 * math.sin(4 * t + 0.5)


def amplitude_rate(t):
    return 0.4 * math.cos(4 * t + 0.5)


def exact_c(x, A):
    """c_e as UFL (A a Constant) or numpy (A a float)."""
    cos = ufl.cos if isinstance(x, ufl.core.expr.Expr) else np.cos
    return 0.5 + A * cos(np.pi * x)


class Manufactured:
    """The model on [0, 1] with the source f(t) of the continuous PDE (t a Constant set per step)."""

    def __init__(self, scheme, cells=200, degree=2, time_order=1):
        kT = BOLTZMANN * TEMPERATURE
        fe = RegularSolution(A_OM * kT, TEMPERATURE, coherency_J=K_COH * kT)
        self.mesh = dolfinx.mesh.create_interval(MPI.COMM_SELF, cells, [0.0, 1.0])
        x = ufl.SpatialCoordinate(self.mesh)[0]
        self.A = dolfinx.fem.Constant(self.mesh, 0.0)  # A(t^{n+1})
        self.dA = dolfinx.fem.Constant(self.mesh, 0.0)  # A'(t^{n+1})
        c_e = exact_c(x, self.A)
        mu_e = (ufl.ln(c_e / (1 - c_e)) + A_OM * (1 - 2 * c_e) + 2 * K_COH * c_e
                - KAPPA * ufl.div(ufl.grad(c_e)))
        M_e = c_e * (1 - c_e)
        f = self.dA * ufl.cos(np.pi * x) - ufl.div(M_e * ufl.grad(mu_e))
        self.model = CahnHilliard(self.mesh, fe, kappa=KAPPA, mobility=lambda c: mobility(c, "lattice"),
                                  scheme=scheme, degree=degree, source_c=f, quadrature_degree=8,
                                  snes_options={"snes_rtol": 1e-12, "snes_atol": 1e-13},
                                  prefix=f"ch_torder_{scheme}{time_order}_", time_order=time_order)
        self.x = x

    def set_exact(self, t):
        A = amplitude(t)
        self.model.set_concentration(lambda X: exact_c(X[0], A))

    def step(self, t, dt):
        self.A.value, self.dA.value = amplitude(t + dt), amplitude_rate(t + dt)
        s = self.model.step(t, dt)
        assert s.converged, s
        return s

    def error(self, t):
        """L2 error of c against c_e(t)."""
        dx = ufl.dx(domain=self.mesh, metadata={"quadrature_degree": 10})
        return math.sqrt(Integral((self.model.c_expr - exact_c(self.x, amplitude(t))) ** 2 * dx)())


def final_error(scheme, n, time_order=1):
    p = Manufactured(scheme, time_order=time_order)
    p.set_exact(0.0)
    dt = T_END / n
    for i in range(n):
        s = p.step(i * dt, dt)
        p.model.accept((i + 1) * dt, dt, s)
    err = p.error(T_END)
    p.model.destroy()
    return err


# the split scheme's lag acts like a viscous term 2 a dt (M k^2) dc/dt: its error is
# first order with a large dt^2 correction (2 a M pi^2 dt = 0.06 at 40 steps), hence finer steps
@pytest.mark.parametrize("scheme, steps", [("implicit", (20, 40, 80)), ("split", (40, 80, 160))])
def test_cahn_hilliard_temporal_order(scheme, steps):
    """Fixed steps to t = 0.3: observed order within 0.1 of 1 on the finest pair (measured: implicit
    errors 1.90e-3, 9.51e-4, 4.76e-4, orders 0.999, 1.000; split errors 3.36e-3, 1.75e-3, 8.90e-4,
    orders 0.945, 0.972)."""
    errs = [final_error(scheme, n) for n in steps]
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    print(f"CH {scheme}: errors {errs} orders {rates}")
    assert abs(rates[-1] - 1) < 0.1, (errs, rates)


# --- the local-error estimate of fem.error_control --------------------------------------
def local_error(scheme, dt, t_n=0.1):
    """One step from the exact state at t_n (history: the exact state at t_n - dt): the estimate of
    TimeErrorControl and the true local error c^{n+1} - c_e(t_n + dt), in the estimator's norm."""
    from fem.error_control import TimeErrorControl
    p = Manufactured(scheme)
    ec = TimeErrorControl(p.model, 1.0, lambda c: mobility(c, "lattice"))
    p.set_exact(t_n)
    A_prev, A_next = amplitude(t_n - dt), amplitude(t_n + dt)
    ec.c_prev.interpolate(lambda X: exact_c(X[0], A_prev))
    ec.dt_prev = dt
    p.step(t_n, dt)
    exact = dolfinx.fem.Function(p.model.V)
    exact.interpolate(lambda X: exact_c(X[0], A_next))
    est = np.sqrt(ec._norm2(ec.error_vector(dt)))
    true = np.sqrt(ec._norm2(p.model.concentration() - exact.x.array))
    p.model.destroy()
    return est, true


def controlled_error(scheme, tol, time_order=1):
    """Error-controlled steps (fem.error_control through the driver) to T_END: final L2 error, steps."""
    from fem.error_control import TimeErrorControl
    from fem.simulation import Simulation, StepControl
    p = Manufactured(scheme, time_order=time_order)
    p.set_exact(0.0)
    ec = TimeErrorControl(p.model, tol, lambda c: mobility(c, "lattice"))

    class Forced:  # sets the source's time before each attempt
        def step(self, t, dt):
            return p.step(t, dt)

        def reject(self):
            p.model.reject()

        def accept(self, t_new, dt, stats):
            p.model.accept(t_new, dt, stats)

    control = StepControl(t_end=T_END, dt=1e-3, dt_min=1e-10, dt_max=T_END, grow=2.0, easy_newton=10)
    res = Simulation(Forced(), control, comm=MPI.COMM_SELF, checks=[ec.check], max_dt=ec.max_dt, quiet=True).run()
    assert res.status == "ok", res.reason
    err = p.error(T_END)
    p.model.destroy()
    return err, res.steps, res.rejected


def test_error_estimate_is_the_local_error():
    """One step from the exact state: the estimate of TimeErrorControl against the true local error.
    Backward Euler (implicit): the Milne estimate is asymptotically exact (measured ratio 0.9917 at
    dt = 0.01, 0.9959 at 0.005: the deviation halves with dt).  Split: e_split estimates the
    splitting error c_s - c_BE and the Milne part is taken of c_BE = c_s - e_split (measured ratio
    1.0017 at dt = 0.01, 1.0007 at 0.005, 1.0003 at 0.0025; taking the Milne difference of c_s
    itself counted the splitting error again and gave 1.268, 1.272)."""
    ratios = {}
    for scheme in ("implicit", "split"):
        for dt in (0.01, 0.005):
            est, true = local_error(scheme, dt)
            ratios[scheme, dt] = est / true
    print(ratios)
    assert abs(ratios["implicit", 0.005] - 1) < 0.012, ratios
    assert abs(ratios["implicit", 0.005] - 1) < 0.7 * abs(ratios["implicit", 0.01] - 1), ratios
    # ~3x the measured deviations (1.7e-3, 7.0e-4); the deviation shrinks with dt
    assert abs(ratios["split", 0.01] - 1) < 5e-3, ratios
    assert abs(ratios["split", 0.005] - 1) < 2.1e-3, ratios
    assert abs(ratios["split", 0.005] - 1) < 0.7 * abs(ratios["split", 0.01] - 1), ratios


@pytest.mark.parametrize("scheme", ["implicit", "split"])
def test_error_controlled_steps_meet_tolerance(scheme):
    """Error-controlled runs to t = 0.3 at tol = 1e-3 and 1e-4 (local error per step relative to the
    composition contrast): a first-order method with the local error held at tol takes steps
    dt ~ tol^(1/2), so the global error scales as tol^(1/2).  Measured: implicit 2.52e-3 -> 8.12e-4
    (19 -> 48 steps, exponent 0.491); split 4.23e-3 -> 1.46e-3 (31 -> 91 steps, exponent 0.461)."""
    (e1, n1, _), (e2, n2, _) = controlled_error(scheme, 1e-3), controlled_error(scheme, 1e-4)
    exponent = math.log10(e1 / e2)
    print(f"{scheme}: errors {e1:.4g} {e2:.4g}, steps {n1} {n2}, exponent {exponent:.3f}")
    assert abs(exponent - 0.5) < 0.1, (e1, e2, exponent)
    assert 1.8 < n2 / n1 < 4.5, (n1, n2)  # ~ 10^(1/2) more steps


def test_spinodal_lagged_lu_same_steps(tmp_path):
    """``lu_refactor_every`` (PFHub 1a set-up, 25^2 periodic, fixed dt): the stale LU only
    preconditions GMRES, so the Newton iterates converge to the same tolerance: every F equal to a
    plain-Newton run within 1e-9 relative (measured 7.8e-16 with the BDF2 default, 6.7e-16 with
    backward Euler; the bound allows a differently converged last Newton iterate), and the lag is
    real: GMRES takes more than one iteration per Newton iteration (measured 125 vs 25 with BDF2,
    151 vs 36 with backward Euler; a fresh LU with preonly takes exactly one)."""
    import csv

    from solidion import run
    kw = dict(comm=MPI.COMM_SELF, quiet=True, boundary="periodic", side_length=100.0, cells_per_side=25,
              t_end_s=6.0, dt_s=0.5, fixed_dt=True)
    F, s = {}, {}
    for n in (1, 8):
        s[n] = run("spinodal", out=tmp_path / f"lag{n}", lu_refactor_every=n, **kw)
        assert s[n]["status"] == "ok", s[n]["reason"]
        with open(tmp_path / f"lag{n}" / "timeseries.csv") as f:
            F[n] = np.array([float(r["free_energy"]) for r in csv.DictReader(f)])
    rel = np.max(np.abs(F[8] / F[1] - 1))
    print("max |F_lag/F - 1|", rel, "newton/krylov", {n: (s[n]["newton_iterations"], s[n]["krylov_iterations"])
                                                      for n in s})
    assert F[1].size == F[8].size == 13
    assert F[1][-1] < F[1][0] * (1 - 1e-3)  # the case evolves
    assert rel < 1e-9, rel
    assert s[1]["krylov_iterations"] == s[1]["newton_iterations"]
    assert s[8]["krylov_iterations"] > 1.2 * s[8]["newton_iterations"]  # measured 125 vs 25


# --- BDF2 (time_order=2, fully implicit) ---------------------------------------------------
def test_cahn_hilliard_bdf2_temporal_order():
    """Variable-step BDF2 with fixed steps (the first step BDF1) to t = 0.3: observed order 2 on the
    finest pair, two-sided (measured: errors 4.62e-4, 1.12e-4, 2.76e-5 at 10, 20, 40 steps, orders
    2.042, 2.023; 80 steps 6.84e-6, order 2.012)."""
    errs = [final_error("implicit", n, time_order=2) for n in (10, 20, 40)]
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    print(f"CH BDF2: errors {errs} orders {rates}")
    assert 1.8 < rates[-1] < 2.3, (errs, rates)


def bdf2_local_error(h, k, k2, t_n=0.1):
    """One BDF2 step of size h from the exact state at t_n, with the exact history at t_n - k and
    t_n - k - k2: the estimate of TimeErrorControl and the true local error (estimator's norm)."""
    from fem.error_control import TimeErrorControl
    p = Manufactured("implicit", time_order=2)
    ec = TimeErrorControl(p.model, 1.0, lambda c: mobility(c, "lattice"))
    A1, A2 = amplitude(t_n - k), amplitude(t_n - k - k2)
    p.set_exact(t_n)  # c^n; the model's history c^{n-1} and dt_{n-1} set by hand:
    ec.c_prev.interpolate(lambda X: exact_c(X[0], A1))
    ec.c_prev2.interpolate(lambda X: exact_c(X[0], A2))
    p.model.w_nm1.x.array[p.model.c_dofs] = ec.c_prev.x.array
    p.model.bdf.dt_prev = k
    ec.dt_prev, ec.dt_prev2 = k, k2
    p.step(t_n, h)
    exact = dolfinx.fem.Function(p.model.V)
    exact.interpolate(lambda X: exact_c(X[0], amplitude(t_n + h)))
    est = np.sqrt(ec._norm2(ec.error_vector(h)))
    true = np.sqrt(ec._norm2(p.model.concentration() - exact.x.array))
    p.model.destroy()
    return est, true


def test_bdf2_error_estimate_is_the_local_error():
    """The Milne estimate of BDF2 (quadratic predictor, fem.error_control) against the true local
    error of one step from the exact state and exact history, at equal steps and at unequal ones
    (h/k = 1.5, k/k2 = 0.7: tests the variable-step constant h (h+k) / (h (h+k) + (2h+k)(h+k+k2))).
    Measured ratios: equal 1.072, 1.036, 1.018 at dt = 0.02, 0.01, 0.005; unequal 1.064, 1.032,
    1.016 (the deviation halves with dt: the estimate is asymptotically exact)."""
    ratios = {}
    for w, w1 in ((1.0, 1.0), (1.5, 0.7)):
        for h in (0.01, 0.005):
            est, true = bdf2_local_error(h, h / w, h / w / w1)
            ratios[w, h] = est / true
    print(ratios)
    for w in (1.0, 1.5):
        # ~3x the measured deviations 0.036 / 0.018; a wrong constant (e.g. the equal-step 2/11 at
        # w = 1.5, or the backward-Euler estimate) is off by far more
        assert abs(ratios[w, 0.01] - 1) < 0.1, ratios
        assert abs(ratios[w, 0.005] - 1) < 0.05, ratios
        assert abs(ratios[w, 0.005] - 1) < 0.7 * abs(ratios[w, 0.01] - 1), ratios


def test_bdf2_error_controlled_steps_meet_tolerance():
    """BDF2 with error-controlled steps to t = 0.3 at tol = 1e-5 and 1e-6: a second-order method with
    the local error held at tol takes steps dt ~ tol^(1/3), so the global error scales as tol^(2/3)
    and the steps as tol^(-1/3).  The step errors are not amplified: the final error stays below the
    sum over the steps of tol x the composition contrast (||c - <c>|| = 0.176 at t = 0.3).
    Measured: errors 2.72e-5 -> 6.48e-6 (25 -> 47 steps, exponent 0.623), error / (steps tol
    contrast) 0.62, 0.78."""
    contrast = amplitude(T_END) / math.sqrt(2)
    (e1, n1, _), (e2, n2, _) = (controlled_error("implicit", tol, time_order=2) for tol in (1e-5, 1e-6))
    exponent = math.log10(e1 / e2)
    print(f"BDF2: errors {e1:.4g} {e2:.4g}, steps {n1} {n2}, exponent {exponent:.3f}, "
          f"budget ratios {e1 / (n1 * 1e-5 * contrast):.3f} {e2 / (n2 * 1e-6 * contrast):.3f}")
    assert abs(exponent - 2 / 3) < 0.12, (e1, e2, exponent)
    assert 1.4 < n2 / n1 < 3.2, (n1, n2)  # ~ 10^(1/3) = 2.15 more steps (measured 1.88)
    assert e1 < 2.5 * n1 * 1e-5 * contrast and e2 < 2.5 * n2 * 1e-6 * contrast, (e1, n1, e2, n2)
