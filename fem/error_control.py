"""Error-controlled time steps for a Cahn-Hilliard step: backward Euler (order 1) or variable-step
BDF2 (order 2, ``CahnHilliard(time_order=2)``).

:class:`TimeErrorControl` estimates the local truncation error of the step just
attempted and offers it to :class:`fem.simulation.Simulation` as an acceptance
check (``check``: rejects when err > tol) and a step limit (``max_dt``: the
next proposed step), so the driver needs no change.

Estimate (a vector e on the c dofs).  The split step c_s^{n+1} differs from the exact
c(t^{n+1}) (from an exact c^n) by two parts, c_s - c = (c_s - c_BE) + (c_BE - c), the splitting
error of the step and the local error of fully implicit backward Euler c_BE:

* splitting (convex-concave scheme): the step lags the concave part of mu,
  delta_mu = g'(c_s) - g'_split(c_s, c^n) = O(dt).  Subtracting the two discrete steps,
  (c_s - c_BE)/dt = -m^{-1} K_M (mu_s - mu_BE) and mu_BE - mu_s = delta_mu + O(c_s - c_BE), so
  e_split = dt (K_M delta_mu) / m = c_s - c_BE + O(dt^3)  (K_M the mobility-weighted
  stiffness matrix, m the lumped mass); the dominant error of the split scheme in early
  spinodal growth (it under-grows the fastest modes); e_split = 0 for ``implicit``;
* backward Euler (Milne-type), from the backward-Euler solution c_BE = c_s - e_split:
  with the linear extrapolation predictor p = c^n + dt (c^n - c^{n-1}) / dt_prev, Taylor
  expansion gives c_BE - p = dt (2 dt + dt_prev)/2 c'' + O(dt^3) and LTE_BE = dt^2/2 c'', so
  e_BE = (c_s - e_split - p) dt / (2 dt + dt_prev).
  (Taking the difference of c_s itself, as an earlier version did, counts the splitting
  error a second time, dt/(2 dt + dt_prev) e_split = e_split/3 at equal steps: the estimate
  then exceeded the true local error by ~1.27x as dt -> 0.)

e = e_BE + e_split estimates c_s - c(t^{n+1}) to O(dt^3).
err = ||e_BE + e_split|| / ||c^{n+1} - <c>||  (lumped-mass L2 norms; relative
to the composition contrast, which is the signal of spinodal decomposition,
of size 1e-2 at onset and 0.2 late).  Step selection (p = 1):
dt_new = dt * safety * (tol / err)^(1/2), limited to [shrink_min, grow_max] dt.
The first step (no history) is controlled by e_split alone.

BDF2 (order 2; Milne device with a quadratic predictor).  Steps h = dt_n, k = dt_{n-1},
k2 = dt_{n-2}, c3 = d^3c/dt^3.  Expanding c(t^n), c(t^{n-1}) about t^{n+1}, the variable-step BDF2
residual of the exact solution is tau = (a0 c(t^{n+1}) + a1 c(t^n) + a2 c(t^{n-1}))/h - c'
= -c3 h (h+k)/6 + O(h^3) (the constant, linear and quadratic terms cancel for
a = ((1+2w)/(1+w), -(1+w), w^2/(1+w)), w = h/k), so the local error is
    c_BDF2 - c(t^{n+1}) = -h tau / a0 = c3 h^2 (h+k)^2 / (6 (2h+k)) + O(h^4)
(equal steps: 2/9 h^3 c3, the BDF2 error constant).  The quadratic interpolant p of
(t^{n-2}, c^{n-2}), (t^{n-1}, c^{n-1}), (t^n, c^n), evaluated at t^{n+1}, has
c(t^{n+1}) - p = c3 h (h+k) (h+k+k2)/6 + O(h^4).  Eliminating c3 from c_BDF2 - p:
    e_BDF2 = (c_BDF2 - p) h (h+k) / (h (h+k) + (2h+k)(h+k+k2))
(equal steps: 2/11 (c - p), the classical Milne constant (2/9)/(2/9 + 1)).  The second step (BDF2
with one history point) has no quadratic predictor: it is controlled by the backward-Euler
estimate above (an over-estimate, O(h^2)) with the order-1 exponent; the first step (BDF1, no
history) by none.  The step ratio w is capped at ``ratio_max`` = 1.8 (in ``max_dt`` and by
``grow_max``): variable-step BDF2 is zero-stable for w < 1 + sqrt(2) (Grigorieff 1983) and stable
for parabolic problems for w <= (2 + sqrt(13))/3 = 1.87 (Becker, BIT 38 (1998) 644).

Error per step, not per unit time: the step errors are not accumulated by the dissipative
Cahn-Hilliard dynamics but forgotten.  PFHub 1a, 100^2 Q1 implicit, F at tol 1e-3 against tol 1e-4
between the output times (``bench_pfhub1a.py drift``): largest |dF/F| 0.38 % in t = 1-10, 1.10 %
in 10-30 (t = 14.7, the fastest decay), 0.17 % in 30-100, 0.073 % in 100-300, 0.006 % in 300-659;
control of the error per unit time (err <= tol dt) would shrink the late steps (dt ~ 0.004 t at
tol 1e-4) where the error is already smallest.
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI

import dolfinx.fem
import dolfinx.fem.petsc


class TimeErrorControl:
    """Local-error control of a :class:`fem.models.cahn_hilliard.CahnHilliard` step.

    tol : tolerance of the relative local error per step (``time_tolerance``)
    mobility : UFL-callable c -> M(c) (the model's)
    """

    def __init__(self, model, tol: float, mobility, *, safety: float = 0.9, grow_max: float | None = None,
                 shrink_min: float = 0.2, order: int | None = None, ratio_max: float = 1.8):
        self.model, self.tol = model, float(tol)
        order = getattr(model, "time_order", 1) if order is None else order
        if order != getattr(model, "time_order", 1):
            raise ValueError(f"order {order} != the model's time_order {model.time_order}")
        # BDF2: the step ratio stays below ratio_max (zero-stability, module docstring)
        self.ratio_max = ratio_max if order == 2 else np.inf
        if grow_max is None:
            grow_max = 2.0 if order == 1 else ratio_max
        self.safety, self.grow_max, self.shrink_min, self.p = safety, grow_max, shrink_min, order
        V = model.V
        self.c_prev = dolfinx.fem.Function(V, name="c_prev")  # c^{n-1}
        self.c_prev2 = dolfinx.fem.Function(V, name="c_prev2")  # c^{n-2} (BDF2)
        self.dt_prev = 0.0  # 0: no history yet
        self.dt_prev2 = 0.0
        self.p_last = order  # order of the estimate of the last attempt (BDF2: 1 on its 2nd step)
        self.dt_next = np.inf  # proposal for the next attempt
        self.last_err = 0.0
        q = ufl.TestFunction(V)
        self.m = dolfinx.fem.petsc.assemble_vector(dolfinx.fem.form(q * model.dx_lumped))
        self.m.ghostUpdate(addv=2, mode=1)  # ADD, REVERSE
        self.n_owned = V.dofmap.index_map.size_local
        self.m_owned = self.m.array_r[:self.n_owned].copy()
        c, c_old = model.c_expr, model.w_old.sub(0)
        self.split = model.scheme == "split"
        if self.split:
            from fem.weak_forms import cahn_hilliard as chw
            delta_mu = model.fe.mu(c) - chw.chemical_potential(model.fe, c, c_old, "split")
            Mc = mobility(c)
            g = ufl.grad(delta_mu)
            flux = ufl.dot(Mc, g) if len(ufl.shape(Mc)) == 2 else Mc * g
            self.split_form = dolfinx.fem.form(model.dt * ufl.inner(flux, ufl.grad(q)) * model.dx)
            self.split_vec = dolfinx.fem.petsc.create_vector(self.split_form)
        model.error_control = self

    # -- norms -------------------------------------------------------------
    def _norm2(self, e) -> float:
        return float(self.model.comm.allreduce(float(np.sum(self.m_owned * e[:self.n_owned] ** 2)), op=MPI.SUM))

    def error_vector(self, dt: float) -> np.ndarray:
        model = self.model
        c_new, c_old = model.concentration("new"), model.concentration("old")
        e_split = np.zeros_like(c_new)  # c_s - c_BE (module docstring)
        if self.split:
            b = self.split_vec
            with b.localForm() as bl:
                bl.set(0.0)
            dolfinx.fem.petsc.assemble_vector(b, self.split_form)
            b.ghostUpdate(addv=2, mode=1)
            e_split[:self.n_owned] = b.array_r[:self.n_owned] / self.m_owned
        e = e_split.copy()
        self.p_last = self.p
        if self.p == 2 and self.dt_prev2 > 0:  # Milne estimate of BDF2, quadratic predictor
            h, k, k2 = dt, self.dt_prev, self.dt_prev2
            c1, c2 = self.c_prev.x.array, self.c_prev2.x.array
            pred = ((h + k) * (h + k + k2) / (k * (k + k2)) * c_old - h * (h + k + k2) / (k * k2) * c1
                    + h * (h + k) / ((k + k2) * k2) * c2)
            return (c_new - pred) * h * (h + k) / (h * (h + k) + (2 * h + k) * (h + k + k2))
        if self.p == 2:
            self.p_last = 1  # second step: the (over-)estimate of order 1 below
        if self.dt_prev > 0:  # Milne estimate of backward Euler, from c_BE = c_s - e_split
            pred = c_old + dt * (c_old - self.c_prev.x.array) / self.dt_prev
            e += (c_new - e_split - pred) * dt / (2 * dt + self.dt_prev)
        return e

    def error(self, dt: float) -> float:
        model = self.model
        c = model.concentration("new")
        mean = model.mass() / model.volume
        scale = self._norm2(c - mean)
        return float(np.sqrt(self._norm2(self.error_vector(dt)) / max(scale, 1e-300)))

    def _propose(self, dt, err):
        f = self.safety * (self.tol / err) ** (1.0 / (self.p_last + 1)) if err > 0 else self.grow_max
        self.dt_next = dt * min(self.grow_max, max(self.shrink_min, f))

    # -- Simulation hooks ------------------------------------------------------
    def check(self, t, dt, stats):
        """Acceptance check: err <= tol (also proposes the next step)."""
        err = self.error(dt)
        self.last_err = err
        self._propose(dt, err)
        if err > self.tol:
            return f"time error {err:.3g} > time_tolerance {self.tol:g}"
        return None

    def max_dt(self, t):
        if self.dt_prev > 0:  # BDF2: w = dt / dt_prev <= ratio_max (also after a short output step)
            return min(self.dt_next, self.ratio_max * self.dt_prev)
        return self.dt_next

    def accepted(self, dt):
        """Called by the model's ``accept`` before it overwrites c^n."""
        self.c_prev2.x.array[:] = self.c_prev.x.array
        self.c_prev.x.array[:] = self.model.concentration("old")
        self.dt_prev2, self.dt_prev = self.dt_prev, dt

    # -- restart -------------------------------------------------------------
    def state(self) -> dict:
        return {"ec_c_prev": self.c_prev, "ec_c_prev2": self.c_prev2, "ec_dt_prev": self.dt_prev,
                "ec_dt_prev2": self.dt_prev2, "ec_dt_next": self.dt_next, "ec_last_err": self.last_err}

    def restore(self, state: dict) -> None:
        self.dt_prev, self.dt_next, self.last_err = state["ec_dt_prev"], state["ec_dt_next"], state["ec_last_err"]
        self.dt_prev2 = state.get("ec_dt_prev2", 0.0)
