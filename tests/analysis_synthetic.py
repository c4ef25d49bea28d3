"""Synthetic GITT/PITT data for the analysis tests: an independent 1D radial sphere solve.

Method of lines written here from the continuous PDE (not from fem.analysis): cell-centred
finite volumes on a sine-graded radial grid (cells shrink towards the surface), integrated by
scipy's adaptive BDF (rtol 1e-9) segment by segment, so every switch of the current is a fresh
start.  Voltage V = U(x_s) + (2RT/F) asinh(i / (2 i0(x_s))), i0 = k sqrt(x_s (1 - x_s)) (Butler–
Volmer, symmetric): the overpotential drifts with x_s a little, as in a real cell.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.sparse import diags

F, RGAS, T = 96485.33212, 8.314462618, 298.15


class Sphere1D:
    def __init__(self, R, c_max, D, n=200):
        xi = np.linspace(0.0, 1.0, n + 1)
        self.rf = np.sin(0.5 * np.pi * xi)  # faces, graded towards r = 1
        self.rc = 0.5 * (self.rf[1:] + self.rf[:-1])
        self.vol = (self.rf[1:] ** 3 - self.rf[:-1] ** 3) / 3.0
        self.A = self.rf[1:-1] ** 2
        self.dr = np.diff(self.rc)
        self.R, self.c_max, self.D, self.n = R, c_max, D, n

    def rhs(self, x, j):
        """dx/dt [1/s] with inward flux j [mol/(m^2 s)] at r = R."""
        Dm = self.D(0.5 * (x[1:] + x[:-1])) / self.R**2
        flux = self.A * Dm * np.diff(x) / self.dr  # into cell i from cell i+1 (nondim r)
        q = np.zeros(self.n)
        q[:-1] += flux
        q[1:] -= flux
        q[-1] += j / (self.c_max * self.R)
        return q / self.vol

    def surface(self, x, j):
        h = 1.0 - self.rc[-1]
        xs = x[-1]
        for _ in range(4):  # fixed point; h j R / (c_max D) is small
            xs = x[-1] + h * j * self.R / (self.c_max * self.D(np.array([xs]))[0])
        return xs

    def jac(self, x):
        """d rhs / dx (tridiagonal)."""
        m = 0.5 * (x[1:] + x[:-1])
        e = 1e-7
        Dm = self.D(m) / self.R**2
        dD = (self.D(m + e) - self.D(m - e)) / (2 * e) / self.R**2
        g = np.diff(x) / self.dr
        dl = self.A * (0.5 * dD * g - Dm / self.dr)  # d flux_i / d x_i
        du = self.A * (0.5 * dD * g + Dm / self.dr)  # d flux_i / d x_{i+1}
        main = np.zeros(self.n)
        main[:-1] += dl
        main[1:] -= du
        return diags([(-dl / self.vol[1:]), main / self.vol, du / self.vol[:-1]], [-1, 0, 1], format="csc")

    def run(self, x, j, times):
        """x profile after the segment, surface x at ``times`` (from 0 at the segment start)."""
        sol = solve_ivp(lambda t, y: self.rhs(y, j), (0.0, times[-1]), x, method="BDF", t_eval=times,
                        rtol=1e-8, atol=1e-11, jac=lambda t, y: self.jac(y), first_step=1e-4)
        assert sol.success, sol.message
        return sol.y[:, -1], np.array([self.surface(sol.y[:, i], j) for i in range(len(times))])


def sample_times(duration, every):
    early = np.array([0.0, 0.1, 0.2, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 40])
    return np.unique(np.concatenate([early[early < duration], np.arange(0.0, duration, every)]))


def synthetic_gitt(D, U, *, R=5e-6, c_max=5e4, x0=0.3, dx=0.04, n_pulses=15, pulse_s=600.0, rest_s=7200.0,
                   k_A_m2=5.0, noise_V=1e-4, seed=0, first_rest_s=600.0, n_cells=100):
    """(t_s, current_A, voltage_V, truth) of a GITT (lithiation pulses: x rises by ``dx`` each)."""
    m = Sphere1D(R, c_max, D, n_cells)
    S = 4 * np.pi * R**2
    V_act = 4 / 3 * np.pi * R**3
    j = dx * R * c_max / (3 * pulse_s)  # inward flux of one pulse
    I = -j * F * S  # anodic positive: lithiation is negative
    x = np.full(n_cells, x0)
    ts, Is, Vs = [], [], []
    t0 = 0.0

    def volt(xs, i):
        i0 = k_A_m2 * np.sqrt(np.clip(xs * (1 - xs), 1e-12, None))
        return U(xs) + 2 * RGAS * T / F * np.arcsinh(i / (2 * i0))

    segs = [(0.0, first_rest_s)] + [(I, pulse_s), (0.0, rest_s)] * n_pulses
    for cur, dur in segs:
        tt = sample_times(dur, 5.0 if cur else 30.0)
        tt = np.append(tt, dur)
        jj = -cur / (F * S)
        x, xs = m.run(x, jj, tt)
        ts.append(t0 + tt[:-1])
        Is.append(np.full(len(tt) - 1, cur))
        Vs.append(volt(xs[:-1], cur / S))
        t0 += dur
    t, Ic, V = np.concatenate(ts), np.concatenate(Is), np.concatenate(Vs)
    V = V + np.random.default_rng(seed).normal(0.0, noise_V, len(V))
    x_mid = x0 + dx * (np.arange(n_pulses) + 0.5)
    truth = {"x_mid": x_mid, "D_m2_s": D(x_mid), "R": R, "c_max": c_max, "volume": V_act, "x0": x0,
             "x_mean_end": float(np.sum(m.vol * x) * 3)}
    return t, Ic, V, truth
