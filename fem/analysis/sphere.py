"""1D radial diffusion in a sphere for the GITT/PITT fits: exact constant-D responses and a
small nonlinear finite-volume solver for D(x).

Nondimensional: r^ = r/R, tau = D t / R^2, x = c/c_max.  dx/dt = (1/r^2) d/dr(r^2 D(x) dx/dr),
inward flux j [mol/(m^2 s)] at r = R: D c_max dx/dr = j.

Constant flux from a uniform state (Crank 1975, eq. 6.44 at r = a), surface rise
    Delta x_s = (j R / (D c_max)) g(tau),
    g(tau) = 3 tau + 1/5 - 2 sum_n exp(-lambda_n^2 tau) / lambda_n^2,   tan(lambda_n) = lambda_n,
and for short times (u = r c turns the sphere into a half-space with a Robin condition at
r = R; Laplace transform 1/(p (sqrt(p) - 1)), exact up to the reflection from the centre,
O(exp(-1/tau)))
    g(tau) = exp(tau) erfc(-sqrt(tau)) - 1 = 2 sqrt(tau/pi) [1 + sqrt(pi tau)/2 + (2/3) tau + ...].
The leading term is the planar (semi-infinite) result Delta x_s = 2 j sqrt(t) / (c_max sqrt(pi D))
of Weppner & Huggins (J. Electrochem. Soc. 124 (1977) 1569); the bracket is the sphere's
correction (see :func:`weppner_huggins_ratio`).

Fixed surface step Delta x (Crank eq. 6.20): current per surface area
    i(t) / (F Delta x c_max) = (D/R) [2 sum_n exp(-n^2 pi^2 tau)],   n = 1, 2, ...
and for short times (Poisson summation, exact up to O(exp(-1/tau)))
    2 sum_n exp(-n^2 pi^2 tau) = 1/sqrt(pi tau) - 1   (Cottrell term and the sphere's -1).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded
from scipy.optimize import brentq
from scipy.special import erfc

_SMALL_TAU = 0.02  # below: the closed short-time forms (centre reflection ~exp(-50))


def _flux_roots(n: int) -> np.ndarray:
    """First n positive roots of tan(l) = l."""
    k = np.arange(1, n + 1)
    out = np.empty(n)
    for i, kk in enumerate(k):
        out[i] = brentq(lambda x: np.sin(x) - x * np.cos(x), kk * np.pi + 1e-9, kk * np.pi + np.pi / 2 - 1e-9)
    return out


_LAMBDA = _flux_roots(30)  # exp(-lambda_30^2 0.02) ~ 1e-77: enough for tau >= _SMALL_TAU


def flux_response(tau) -> np.ndarray:
    """g(tau): dimensionless surface rise under a unit constant inward flux (module docstring);
    0 for tau <= 0."""
    tau = np.asarray(tau, dtype=float)
    out = np.zeros_like(tau)
    small = (tau > 0) & (tau < _SMALL_TAU)
    ts = tau[small]
    out[small] = np.exp(ts) * erfc(-np.sqrt(ts)) - 1.0
    big = tau >= _SMALL_TAU
    tb = tau[big]
    lam2 = _LAMBDA[:, None] ** 2
    out[big] = 3 * tb + 0.2 - 2 * np.sum(np.exp(-lam2 * tb[None, :]) / lam2, axis=0)
    return out


def step_response(tau) -> np.ndarray:
    """h(tau) = 2 sum_n exp(-n^2 pi^2 tau) (module docstring): the current after a surface step is
    F c_max Delta x (D/R) h(tau) per surface area.  inf at tau = 0."""
    tau = np.asarray(tau, dtype=float)
    out = np.full_like(tau, np.inf)
    small = (tau > 0) & (tau < _SMALL_TAU)
    out[small] = 1.0 / np.sqrt(np.pi * tau[small]) - 1.0
    big = tau >= _SMALL_TAU
    n2 = (np.arange(1, 30)[:, None] * np.pi) ** 2
    out[big] = 2 * np.sum(np.exp(-n2 * tau[big][None, :]), axis=0)
    return out


def weppner_huggins_ratio(tau) -> np.ndarray:
    """D_WH / D for a sphere: [2 sqrt(tau/pi) / g(tau)]^2 at tau = D t_pulse / R^2.

    Weppner–Huggins take Delta x_s(t) = 2 j sqrt(t)/(c_max sqrt(pi D)) (planar); the sphere's is
    larger by g/(2 sqrt(tau/pi)) = 1 + sqrt(pi tau)/2 + O(tau), so D_WH = D (1 - sqrt(pi D t)/R + O(D t/R^2)).
    """
    tau = np.asarray(tau, dtype=float)
    return (2 * np.sqrt(tau / np.pi) / flux_response(tau)) ** 2


def sphere_two_point_tau(ratio_t_over_s: float, last_fraction: float = 1.0) -> float:
    """tau = D t_pulse/R^2 with g(tau f) / (3 tau) = Delta E_t / Delta E_s, f = ``last_fraction`` the
    time of the last sample under current over the pulse duration (the exact-sphere form of the
    Weppner–Huggins two-point estimate; for f = 1 the left side falls from inf to 1 as tau grows)."""
    if not ratio_t_over_s > 0.0:
        return float("nan")
    f = lambda lt: float(flux_response(np.array([np.exp(lt) * last_fraction]))[0] / (3 * np.exp(lt))) - ratio_t_over_s  # noqa: E731
    if f(np.log(1e-12)) * f(np.log(1e3)) > 0:
        return float("nan")
    return float(np.exp(brentq(f, np.log(1e-12), np.log(1e3), xtol=1e-12)))


def surface_rise(t, switches, D, R, c_max, tails=()):
    """Delta x_s(t) of piecewise-constant inward flux (constant D, linear superposition).

    switches : [(t_i, j_i)]: the flux becomes j_i [mol/(m^2 s)] at t_i (the flux before the first
    switch is 0).  tails : further (switches, D) pairs superposed with their own D (earlier pulses).
    """
    t = np.asarray(t, dtype=float)
    out = np.zeros_like(t)
    for sw, d in [(switches, D)] + list(tails):
        prev = 0.0
        for ti, ji in sw:
            dj = ji - prev
            if dj != 0.0:
                out += R / (d * c_max) * dj * flux_response(d * (t - ti) / R**2)
            prev = ji
    return out


class RadialFV:
    """Nonlinear 1D sphere, cell-centred finite volumes graded towards the surface (surface cell
    ``h_surface`` R, growth factor solved so that ``n_cells`` fill the radius), variable-step BDF2
    (first step of each segment backward Euler) with steps growing geometrically from ``dt_first``
    of a segment; Newton with the exact tridiagonal Jacobian, damped by a backtracking line search on
    the residual norm.  Moles conserved to round-off."""

    def __init__(self, n_cells: int = 80, h_surface: float = 2e-4):
        q = brentq(lambda q: h_surface * (q**n_cells - 1) / (q - 1) - 1.0, 1.0 + 1e-9, 2.0)
        depth = h_surface * (q ** np.arange(n_cells + 1) - 1) / (q - 1)
        depth[-1] = 1.0
        self.rf = np.sort(1.0 - depth)  # faces, 0 .. 1
        self.rf[0] = 0.0
        self.rc = 0.5 * (self.rf[1:] + self.rf[:-1])
        self.vol = (self.rf[1:] ** 3 - self.rf[:-1] ** 3) / 3.0
        self.area = self.rf[1:-1] ** 2
        self.dist = self.rc[1:] - self.rc[:-1]
        self.n = n_cells

    def surface(self, x, Dhat, jhat):
        """Surface value: last cell + half-cell gradient (D dx/dr = jhat at r = 1)."""
        h = 1.0 - self.rc[-1]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # non-finite: run() raises
            return x[-1] + h * jhat / Dhat(np.array([x[-1]]))[0]

    def run(self, Dhat, x_init, segments, t_out, dt_first=None, growth=1.3, max_steps_per_segment=400):
        """Integrate (nondimensional time; Dhat(x) = D(x)/D_scale; segments [(t0, t1, jhat)] with
        jhat = j R / (D_scale c_max)) and return (x_surface at t_out, final profile).  The first
        step of a segment is ``dt_first`` (default: half the first output time in it, <= 1e-4)."""
        x = np.array(x_init, dtype=float) * np.ones(self.n)
        t_out = np.asarray(t_out, dtype=float)
        ts_all, xs_all = [], []
        for t0, t1, jh in segments:
            span = t1 - t0
            if span <= 0:
                continue
            after = t_out[(t_out > t0) & (t_out <= t1)] - t0
            first = dt_first if dt_first else min(1e-4, 0.5 * after.min()) if after.size else 1e-4
            dt = min(first, span)
            dt_max = span / 12.0
            ts, xs = [t0], [self.surface(x, Dhat, jh)]
            t, x_old, dt_old = t0, None, None
            for _ in range(max_steps_per_segment * 4):
                if t >= t1 - 1e-14 * span:
                    break
                dt = min(dt, t1 - t)
                for _retry in range(12):  # a failed damped Newton: halve the step (BDF2 history rescales)
                    try:
                        y = self._step(x, x_old, dt, dt_old, Dhat, jh)
                        break
                    except FloatingPointError:
                        if _retry == 11:
                            raise
                        dt *= 0.5
                x_old, x, dt_old, t = x, y, dt, t + dt
                ts.append(t)
                xs.append(self.surface(x, Dhat, jh))
                dt = min(dt * growth, dt_max)
            ts_all.append(np.array(ts))
            xs_all.append(np.array(xs))
        if not all(np.all(np.isfinite(xs)) for xs in xs_all):  # e.g. D(x_surface) underflowed to 0
            raise FloatingPointError("RadialFV: non-finite surface value")
        out = np.full(t_out.shape, np.nan)
        for ts, xs in zip(ts_all, xs_all):
            m = (t_out >= ts[0]) & (t_out <= ts[-1])
            if m.any():  # interpolate in sqrt(t - t0): x_s ~ sqrt(t) after a switch
                out[m] = np.interp(np.sqrt(t_out[m] - ts[0]), np.sqrt(ts - ts[0]), xs)
        return out, x

    def _residual(self, y, a0, hist, dt, Dhat, jh):
        """(BDF residual vol (a0 y + hist) - dt q(y) of the cell balances, D at the interior faces)."""
        N = self.n
        m = 0.5 * (y[1:] + y[:-1])
        d = Dhat(m)
        F = self.area * d * (y[1:] - y[:-1]) / self.dist  # outward-positive flux through interior faces
        q = np.zeros(N)
        q[:-1] += F
        q[1:] -= F
        q[-1] += jh  # r = 1 face area 1
        return self.vol * (a0 * y + hist) - dt * q, d

    def _jacobian(self, y, d, a0, dt, Dhat, eps=1e-7):
        """d residual / dy (d: D at the interior faces), tridiagonal, in solve_banded's (1, 1) layout."""
        N = self.n
        m = 0.5 * (y[1:] + y[:-1])
        dd = (Dhat(m + eps) - Dhat(m - eps)) / (2 * eps)
        g = (y[1:] - y[:-1]) / self.dist
        dFl = self.area * (0.5 * dd * g - d / self.dist)
        dFr = self.area * (0.5 * dd * g + d / self.dist)
        ab = np.zeros((3, N))
        ab[1, :] = a0 * self.vol
        ab[1, :-1] -= dt * dFl
        ab[1, 1:] += dt * dFr
        ab[0, 1:] = -dt * dFr
        ab[2, :-1] = dt * dFl
        return ab

    def _step(self, x, x_old, dt, dt_old, Dhat, jh):
        """One BDF step by damped Newton: the full step is halved (at most 30 times) until the residual
        norm falls (Armijo, 1e-4) and stays finite; a steep D(x) (ln D slope ~40 in the GITT refinement)
        otherwise overshot into exp overflow (NaN in the banded solve).  Raises FloatingPointError when no
        finite decrease is found or Newton does not converge in 25 iterations (``run`` then halves dt)."""
        if x_old is None:
            a0, a1, a2 = 1.0, -1.0, 0.0
        else:  # variable-step BDF2: (a0 y + a1 x + a2 x_old)/dt
            w = dt / dt_old
            a0, a1, a2 = (1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w)
        hist = a1 * x + a2 * (x_old if x_old is not None else 0.0)
        y = x.copy()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            res, d = self._residual(y, a0, hist, dt, Dhat, jh)
            norm = np.linalg.norm(res)
            for _ in range(25):
                ab = self._jacobian(y, d, a0, dt, Dhat)
                if not (np.isfinite(norm) and np.all(np.isfinite(ab))):
                    raise FloatingPointError("RadialFV: non-finite residual or Jacobian")
                dy = solve_banded((1, 1), ab, -res, check_finite=False)
                if not np.all(np.isfinite(dy)):
                    raise FloatingPointError("RadialFV: non-finite Newton correction")
                if np.max(np.abs(dy)) < 1e-10:  # converged: a line search could only see round-off
                    return y + dy
                lam = 1.0
                for _ls in range(30):
                    y_try = y + lam * dy
                    r_try, d_try = self._residual(y_try, a0, hist, dt, Dhat, jh)
                    n_try = np.linalg.norm(r_try)
                    if np.isfinite(n_try) and n_try <= (1 - 1e-4 * lam) * norm:
                        break
                    lam *= 0.5
                else:
                    raise FloatingPointError("RadialFV: line search found no decrease")
                y, res, norm, d = y_try, r_try, n_try, d_try
        raise FloatingPointError("RadialFV: Newton did not converge in 25 iterations")
