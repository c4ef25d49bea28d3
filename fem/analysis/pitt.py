"""Potentiostatic intermittent titration (PITT): D per potential step from the current transient.

A step of the particle potential at t = 0 fixes the surface stoichiometry change Delta x (fast
kinetics assumed); for a sphere of radius R [m] (Crank 1975, eq. 6.20, differentiated):

    I(t) = F S c_max Delta x (D/R) h(D t / R^2),   h(tau) = 2 sum_n exp(-n^2 pi^2 tau)      [A]
    short times:  h = 1/sqrt(pi tau) - 1   =>  I sqrt(t) = F S c_max Delta x sqrt(D/pi) (1 - sqrt(pi D t)/R)
    long times:   h ~ 2 exp(-pi^2 tau)     =>  d ln|I| / dt = -pi^2 D / R^2

with S = 3 V_act / R, and c_max Delta x = Q/(F V_act) from the step's total charge Q [C], counted
by the trapezoid rule over the samples except the first interval [0, t_1], where the current is
singular (~ t^-1/2: int_0^t1 I dt = 2 I(t_1) t_1).  (A left-rectangle sum, "the sample's current holds
to the next sample", over-counted Q by 2.8 % on a 1/sqrt(t) transient sampled geometrically then every
20 s, and D_cottrell ~ 1/Q^2 by -5.4 %.)  Estimates per step:

``D_cottrell_m2_s`` = pi mean_i(I_i sqrt(t_i))^2 / (F S c_max Delta x)^2 over the samples of the first
``cottrell_fraction`` of the step (planar Cottrell).  Exactly (short-time sphere form above),

    D_cottrell / D = [mean_i (1 - sqrt(pi D t_i)/R)]^2                                   (stated error)

which ``cottrell_error_first_order`` gives, evaluated with ``D_cottrell_sphere_m2_s``: the sphere-
corrected Cottrell estimate, D = pi a^2 from the least-squares line y_i = a - b sqrt(t_i) through
y_i = I_i sqrt(t_i)/(F S c_max Delta x) (a = sqrt(D/pi), b = D/R; exact up to O(exp(-R^2/(D t)))).
``D_long_m2_s`` from the slope of ln|I| over the samples after ``long_fraction``
of the step (valid once the first mode dominates, D t/R^2 > ~0.1), and ``D_fit_m2_s``: least
squares of the full series (parameters ln D and Q) with its 95 % interval from the Jacobian.
(A. J. Bard, L. R. Faulkner, Electrochemical Methods, 2nd ed., sec. 5.2; C. J. Wen, B. A.
Boukamp, R. A. Huggins, W. Weppner, J. Electrochem. Soc. 126 (1979) 2258.)
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from fem.analysis import sphere
from fem.analysis.gitt import Z95, Particle
from fem.errors import InputError
from fem.scaling import FARADAY


def split_steps(t, V, name="data", jump_V=None):
    """Start indices of the potential steps: jumps of V larger than ``jump_V`` (default 30 % of
    the largest jump)."""
    dV = np.abs(np.diff(V))
    thr = jump_V if jump_V else 0.3 * dV.max()
    starts = [i + 1 for i in np.flatnonzero(dV > thr)]
    if not starts:
        raise InputError(f"{name}: column voltage_V: no potential step found")
    ends = starts[1:] + [len(t)]
    out = [(s, e) for s, e in zip(starts, ends) if e - s >= 8]
    if not out:
        raise InputError(f"{name}: no potential step with >= 8 samples")
    return out


def analyze(t, current, voltage, particle: Particle, name="data", cottrell_fraction=0.005,
            long_fraction=0.5) -> dict:
    t, I, V = (np.asarray(a, dtype=float) for a in (t, current, voltage))
    P = particle
    R, S = P.radius_m, P.area
    rows = []
    x = P.x0
    for k, (s, e) in enumerate(split_steps(t, V, name)):
        ts = t[s:e] - t[s]
        Is = I[s:e]
        # trapezoid, except the first interval (I ~ t^-1/2 there: 2 I(t_1) t_1; see the module docstring)
        Q = float(2.0 * Is[1] * ts[1] + np.sum(0.5 * (Is[1:-1] + Is[2:]) * np.diff(ts[1:])))
        dc = Q / (FARADAY * P.volume)  # c_max |Delta x| with sign of the charge
        A = FARADAY * S * dc
        early = (ts > 0) & (ts <= cottrell_fraction * ts[-1])
        d_cot = d_cs = np.nan
        if early.sum() >= 2:
            y = Is[early] * np.sqrt(ts[early]) / A
            d_cot = np.pi * np.mean(y) ** 2
            a0 = np.polyfit(np.sqrt(ts[early]), y, 1)[1]
            d_cs = np.pi * a0**2
        late = (ts >= long_fraction * ts[-1]) & (Is * np.sign(Q) > 0)
        d_long = np.nan
        if late.sum() >= 3:
            slope = np.polyfit(ts[late], np.log(np.abs(Is[late])), 1)[0]
            d_long = -slope * R**2 / np.pi**2
        pos = ts > 0
        tt, ii = ts[pos], Is[pos]
        g0 = d_long if np.isfinite(d_long) and d_long > 0 else d_cot

        def model(q):
            D, qq = np.exp(q[0]), q[1]
            return FARADAY * S * qq / (FARADAY * P.volume) * D / R * sphere.step_response(D * tt / R**2)

        sol = least_squares(lambda q: (model(q) - ii) / np.abs(ii).max(), [np.log(g0), Q], x_scale=[1.0, abs(Q)],
                            xtol=1e-14, ftol=1e-14, gtol=1e-14)
        J = sol.jac
        s2 = float(np.sum(sol.fun**2) / max(len(ii) - 2, 1))
        try:
            sig = float(np.sqrt(np.linalg.inv(J.T @ J)[0, 0] * s2))
        except np.linalg.LinAlgError:
            sig = np.inf
        D = float(np.exp(sol.x[0]))
        dx = -Q / (FARADAY * P.c_max_mol_m3 * P.volume)
        rows.append({"step": k + 1, "t_start_s": float(t[s]), "duration_s": float(ts[-1]), "voltage_V": float(np.median(V[s:e])),
                     "charge_C": Q, "x_before": x, "x_after": x + dx, "D_cottrell_m2_s": d_cot,
                     "D_cottrell_sphere_m2_s": d_cs,
                     "cottrell_error_first_order": (float(np.mean(1 - np.sqrt(np.pi * d_cs * ts[early]) / R)) ** 2 - 1
                                                   if early.sum() >= 2 else np.nan),
                     "D_long_m2_s": d_long, "D_fit_m2_s": D, "D_fit_ci95_low_m2_s": D * np.exp(-Z95 * sig),
                     "D_fit_ci95_high_m2_s": D * np.exp(Z95 * sig), "charge_fit_C": float(sol.x[1]),
                     "fit_rms_A": float(np.sqrt(np.mean((model(sol.x) - ii) ** 2))),
                     "_t": tt + t[s], "_i": ii, "_model": model(sol.x)})
        x += dx
    return {"steps": rows}
