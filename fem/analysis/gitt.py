"""Galvanostatic intermittent titration (GITT): D(x) per pulse by Weppner–Huggins and by a
least-squares fit of the 1D radial sphere model.

Data: time t [s], current I [A] (anodic positive: Li leaves the particles), voltage V [V].
Pulses are the runs of samples with |I| > 5 % of max |I|; a sample's current holds from its
time to the next sample's (a cycler logs the new current at the switch).  Particles: spheres
of radius R [m], total active volume V_act [m^3] (default one sphere), c_max [mol/m^3]; the
surface is S = 3 V_act / R and the inward flux j = -I / (F S) [mol/(m^2 s)].  Stoichiometry
by charge counting x_k = x_{k-1} - Q_k / (F c_max V_act), Q_k = int I dt over pulse k.

Weppner–Huggins (W. Weppner, R. A. Huggins, J. Electrochem. Soc. 124 (1977) 1569), two-point
form for spheres (V/S = R/3):

    D_WH = 4/(pi tau) (R/3)^2 (Delta E_s / Delta E_t)^2          [m^2/s]

tau [s] the pulse duration, Delta E_s [V] the change of the rest (equilibrium) voltage over the
pulse, Delta E_t [V] the voltage change during the pulse without the IR step (first to last
sample under current; when that last sample is at t_l < tau, D_WH carries the factor t_l/tau, the
same formula with Delta E_t measured at t_l).  It assumes semi-infinite planar diffusion and a linear E(x), valid for
tau << R^2/D.  For a sphere the surface rises faster, by g(Dtau/R^2)/(2 sqrt(Dtau/(pi R^2)))
= 1 + sqrt(pi D tau)/(2R) + O(D tau/R^2) (:mod:`fem.analysis.sphere`), so

    D_WH / D = [2 sqrt(tau^/pi) / g(tau^)]^2 = 1 - sqrt(pi D tau)/R + O(D tau / R^2),   tau^ = D tau/R^2,

the stated error ``wh_error_first_order`` = -sqrt(pi D tau)/R; ``D_wh_sphere_m2_s`` solves the
exact sphere relation g(tau^)/(3 tau^) = Delta E_t/Delta E_s instead (same two numbers, no
short-time assumption).

Model fit (per pulse, its following rest included): V(t) = U(x_s(t)) + eta(t), with
``kinetics='butler_volmer'`` (default) eta = (2RT/F) asinh(i / (2 k0 sqrt(x_s (1 - x_s)))),
i = I/S [A/m^2] (symmetric Butler–Volmer, i0 = k0 sqrt(x_s(1 - x_s)) as in the single-particle
model; k0 [A/m^2] fitted per pulse), or ``'constant'``: eta = const while I != 0;
U(x) the interpolant of the rest voltages (x_k, E_k) (:class:`OCP`), x_s(t) the surface
stoichiometry of the sphere with D constant over the pulse (exact series/short-time solution,
earlier pulses' unrelaxed tails superposed with their fitted D); parameters ln D and ln k0 (or eta) by
scipy's least_squares.  Then passes (at most ``refine``, until no D changes by more than ``tol``
relative) account for D varying with x within the pulse: D(x) = D_k exp(b_k (x - x_k)), b_k the local
slope of ln D (least squares through pulses k-2..k+2 of the previous pass), and the surface-x
difference delta between that nonlinear model and constant D (two runs of the same finite-volume
solver, so its time-discretization error, ~0.5 % of the signal with geometric steps, cancels) is
added to x_s.  delta is evaluated at ln D_k -+ 0.1 and interpolated linearly in ln D inside the
refit, so the fit sees how the correction moves with D: a delta frozen at the previous D made the
passes oscillate (the correction is 10-20 % of D at the slowest pulses), and a slope through the two
neighbours alone coupled them into a zig-zag.
The 95 % interval of D is exp(ln D +- 1.96 sigma), sigma^2 from s^2 (J^T J)^-1 of the fit
(noise only, not model error).

Robustness.  ln k0 is bounded above where the overpotential would be 1 uV (``ETA_MIN_V``): faster kinetics
leave no trace in V.  k0 is reported unidentified (``kinetics_identified`` false, k0 held at its fitted
value, to be read as a lower bound) when it sits at that bound, when its standard uncertainty exceeds a
factor e, or when the column-normalised Jacobian's condition number exceeds ``COND_MAX``; D's interval is
then the wider of the joint one (if finite) and that of D alone, so it stays finite (it was [0, inf]).
The refinement's local slopes are bounded (D changes at most 10x across a pulse's own dx), the shapes'
exponents clipped at +-10, the finite-volume Newton damped (:class:`fem.analysis.sphere.RadialFV`); a pulse
whose correction still fails or is not finite keeps its previous D (``refine_fallbacks`` counts these).
A row at a repeated time (a step change) gives its time and current, not its voltage
(:func:`dedupe_switch_rows`); Delta E_t then starts from the first two voltages under current extrapolated
in sqrt(t) to the switch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.optimize import least_squares

from fem.analysis import sphere
from fem.errors import InputError
from fem.scaling import FARADAY, GAS_CONSTANT

Z95 = 1.959963984540054
ETA_MIN_V = 1e-6  # kinetic overpotential below which k0 is not resolvable (upper bound of k0)
COND_MAX = 1e6  # condition number of the column-normalised fit Jacobian above which k0 is held
SIGMA_LNK0_MAX = 1.0  # k0 unidentified when its standard uncertainty exceeds a factor e


@dataclass
class Particle:
    radius_m: float
    c_max_mol_m3: float
    volume_m3: float | None = None  # total active volume; None: one sphere of radius_m
    x0: float = 0.0  # stoichiometry before the first pulse

    @property
    def volume(self) -> float:
        return self.volume_m3 if self.volume_m3 else 4.0 / 3.0 * np.pi * self.radius_m**3

    @property
    def area(self) -> float:
        return 3.0 * self.volume / self.radius_m


@dataclass
class Pulse:
    i_on: int   # first sample under current
    i_off: int  # first sample after it (rest)
    i_end: int  # one past the last rest sample
    t_on: float = 0.0
    t_off: float = 0.0
    current_A: float = 0.0
    charge_C: float = 0.0
    extra: dict = field(default_factory=dict)


def dedupe_switch_rows(t, current, voltage, name="data"):
    """Arrays with the earlier of two rows at the same time dropped (cyclers and solidion's own time
    series log a step change twice: the end of the old step, then the start of the new one; with a
    sample's current holding until the next sample the earlier row spans no time).  The kept row's
    voltage becomes NaN (not fitted): at the switch instant it is ambiguous (a cycler may log the old
    step's voltage there, without the new overpotential: 1.6 mV at C/10 on NMC811, 16x the 0.1 mV
    noise; solidion's own rows give the voltage just after the switch).  Time must not decrease, nor
    repeat more than twice."""
    t, current, voltage = (np.array(a, dtype=float) for a in (t, current, voltage))
    keep = np.append(np.diff(t) != 0, True)
    repeated = np.append(False, np.diff(t) == 0)  # the later row of a pair
    voltage[repeated] = np.nan
    t, current, voltage = t[keep], current[keep], voltage[keep]
    if np.any(np.diff(t) <= 0):
        raise InputError(f"{name}: column time_s must increase (a time may repeat once, at a step change)")
    return t, current, voltage


def split_pulses(t, current, name="data", threshold=0.05) -> list[Pulse]:
    """Runs of samples under current, each followed by a rest (the last may end the data)."""
    imax = np.max(np.abs(current))
    if not imax > 0:
        raise InputError(f"{name}: column current_A: no current pulse (all zero)")
    on = np.abs(current) > threshold * imax
    edges = np.flatnonzero(np.diff(on.astype(int)))
    starts = [i + 1 for i in edges if not on[i]] + ([0] if on[0] else [])
    starts.sort()
    if not starts or starts[0] == 0:
        raise InputError(f"{name}: the data must start with a rest before the first pulse (column current_A)")
    pulses = []
    for k, s in enumerate(starts):
        off = s
        while off < len(on) and on[off]:
            off += 1
        end = starts[k + 1] if k + 1 < len(starts) else len(on)
        if off - s < 2 or end - off < 3 or off >= len(t):
            continue  # too short to analyse
        dt = np.diff(t[s:off + 1])
        q = float(np.sum(current[s:off] * dt))
        tau = float(t[off] - t[s])
        pulses.append(Pulse(s, off, end, float(t[s]), float(t[off]), q / tau, q))
    if not pulses:
        raise InputError(f"{name}: no pulse with >= 2 samples under current and >= 3 rest samples after it")
    return pulses


def rest_voltage(V, i0, i1, frac=0.05):
    """Mean of the last ``frac`` of the samples [i0, i1) (at least one): the relaxed voltage."""
    n = max(1, int(frac * (i1 - i0)))
    return float(np.nanmean(V[i1 - n:i1]))


class OCP:
    """U(x) through the rest points: PCHIP (monotone, no overshoot between rest points) inside; beyond
    the first/last rest point, where a pulse's surface overshoots, the cubic through the four end rest
    points (it carries the curvature of U that a pulse samples there; PCHIP's end cubic has a one-sided
    slope estimate and a linear continuation would miss U'' delta^2/2: 3.4 mV over an overshoot of
    0.046 in x with U'' = -3.2 V in the benchmark), continued for up to one interval, linear further."""

    def __init__(self, x, E):
        order = np.argsort(x)
        self.x, self.E = np.asarray(x, dtype=float)[order], np.asarray(E, dtype=float)[order]
        if np.any(np.diff(self.x) <= 0):
            raise InputError("gitt: two rests at the same stoichiometry (a pulse without charge?)")
        self.f = PchipInterpolator(self.x, self.E, extrapolate=True)
        m = min(4, len(self.x))
        self.left = np.polynomial.Polynomial.fit(self.x[:m], self.E[:m], m - 1)
        self.right = np.polynomial.Polynomial.fit(self.x[-m:], self.E[-m:], m - 1)
        h0, h1 = self.x[1] - self.x[0], self.x[-1] - self.x[-2]
        self.lo, self.hi = self.x[0] - h0, self.x[-1] + h1
        self.s0, self.s1 = float(self.left.deriv()(self.lo)), float(self.right.deriv()(self.hi))
        self.E0, self.E1 = float(self.left(self.lo)), float(self.right(self.hi))

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        y = self.f(np.clip(x, self.x[0], self.x[-1]))
        y = np.where(x < self.x[0], self.left(np.clip(x, self.lo, None)), y)
        y = np.where(x > self.x[-1], self.right(np.clip(x, None, self.hi)), y)
        y = np.where(x < self.lo, self.E0 + self.s0 * (x - self.lo), y)
        return np.where(x > self.hi, self.E1 + self.s1 * (x - self.hi), y)


def analyze(t, current, voltage, particle: Particle, name="data", refine: int = 6, tails: int = 3,
            fv_cells: int = 40, kinetics: str = "butler_volmer", temperature_K: float = 298.15,
            tol: float = 1e-3) -> dict:
    """All pulses: {'pulses': [per-pulse dicts], 'ocp': (x, E), 'fit': {...}} (module docstring)."""
    t, current, voltage = dedupe_switch_rows(t, current, voltage, name)
    P = particle
    pulses = split_pulses(t, current, name)
    Fc = FARADAY * P.c_max_mol_m3 * P.volume
    E0 = rest_voltage(voltage, 0, pulses[0].i_on)
    xs, Es = [P.x0], [E0]
    for p in pulses:
        xs.append(xs[-1] - p.charge_C / Fc)
        Es.append(rest_voltage(voltage, p.i_off, p.i_end))
    ocp = OCP(xs, Es)
    R = P.radius_m
    rows = []
    for k, p in enumerate(pulses):
        tau = p.t_off - p.t_on
        t_last = t[p.i_off - 1] - p.t_on  # last sample under current
        dEs = Es[k + 1] - Es[k]
        dEt = voltage[p.i_off - 1] - _voltage_at_switch(t, voltage, p)
        d_wh = 4.0 / (np.pi * tau) * (R / 3.0) ** 2 * (dEs / dEt) ** 2 * (t_last / tau) if dEt != 0 else np.nan
        tau_s = sphere.sphere_two_point_tau(dEt / dEs, t_last / tau) if dEs != 0 else np.nan
        rows.append({"pulse": k + 1, "t_start_s": p.t_on, "duration_s": tau, "current_A": p.current_A,
                     "x_before": xs[k], "x_after": xs[k + 1], "x_mid": 0.5 * (xs[k] + xs[k + 1]),
                     "rest_voltage_before_V": Es[k], "rest_voltage_after_V": Es[k + 1],
                     "dE_dx_V": dEs / (xs[k + 1] - xs[k]), "delta_E_s_V": dEs, "delta_E_t_V": dEt,
                     "D_wh_m2_s": d_wh, "D_wh_sphere_m2_s": tau_s * R**2 / tau,
                     "wh_validity_D_tau_over_R2": d_wh * tau / R**2,
                     "wh_error_first_order": -np.sqrt(np.pi * d_wh * tau) / R})
    # pass 0: constant D per pulse, exact linear response; passes 1..refine: D(x) within the pulse
    fitted: list[float] = []
    deltas = [None] * len(pulses)
    passes = 0
    for r in rows:
        r["refine_fallbacks"] = 0
    for it in range(refine + 1):
        if it > 0:
            shapes = _local_shapes([r["x_mid"] for r in rows], fitted,
                                   [r["x_after"] - r["x_before"] for r in rows])
            deltas = [_safe_delta(pulses, k, t, fitted[k], shapes[k], rows[k], P, fv_cells)
                      for k in range(len(pulses))]
        new = []
        for k, p in enumerate(pulses):
            guess = fitted[k] if it > 0 else (rows[k]["D_wh_sphere_m2_s"] if np.isfinite(rows[k]["D_wh_sphere_m2_s"])
                                             else rows[k]["D_wh_m2_s"])
            if it > 0 and deltas[k] is None:  # this pass's correction failed: keep the previous D
                rows[k]["refine_fallbacks"] += 1
                new.append(fitted[k])
                continue
            res = _fit_pulse(t, voltage, current, pulses, k, new, ocp, P, guess, deltas[k], tails, kinetics,
                             temperature_K)
            if it > 0 and not (np.isfinite(res["D_m2_s"]) and res["D_m2_s"] > 0):
                rows[k]["refine_fallbacks"] += 1
                new.append(fitted[k])
                continue
            new.append(res["D_m2_s"])
            rows[k].update(res)
        change = max(abs(np.log(a / b)) for a, b in zip(new, fitted)) if fitted else np.inf
        fitted = new
        passes = it
        if change < tol:
            break
    for r in rows:
        r["refine_passes"] = passes
    return {"pulses": rows, "ocp": {"x": xs, "E_V": Es}, "refine_passes": passes}


def _voltage_at_switch(t, V, p: Pulse) -> float:
    """V just after the switch (IR step included): the sample at the switch, or, when its voltage is unknown
    (NaN, see :func:`dedupe_switch_rows`), the first two finite samples under current extrapolated linearly
    in sqrt(t - t_on) (the surface rise goes as sqrt(t) at short times; Weppner & Huggins 1977)."""
    if np.isfinite(V[p.i_on]):
        return float(V[p.i_on])
    idx = [i for i in range(p.i_on, p.i_off) if np.isfinite(V[i])][:2]
    if len(idx) < 2:
        return float(V[idx[0]]) if idx else float("nan")
    s1, s2 = np.sqrt(t[idx[0]] - p.t_on), np.sqrt(t[idx[1]] - p.t_on)
    return float(V[idx[0]] - (V[idx[1]] - V[idx[0]]) * s1 / (s2 - s1))


def _switches(p: Pulse, P: Particle):
    j = -p.current_A / (FARADAY * P.area)
    return [(p.t_on, j), (p.t_off, 0.0)], j


def _fit_pulse(t, V, current, pulses, k, fitted, ocp, P, guess, delta, tails, kinetics, temperature_K):
    p = pulses[k]
    sl = slice(p.i_on, p.i_end)
    ts, vs = t[sl], V[sl]
    on = (np.abs(current[sl]) > 0.05 * abs(p.current_A)).astype(float)
    sw, _ = _switches(p, P)
    x_before = P.x0 - sum(q.charge_C for q in pulses[:k]) / (FARADAY * P.c_max_mol_m3 * P.volume)
    R, cm = P.radius_m, P.c_max_mol_m3
    tail = np.zeros_like(ts)
    for m in range(max(0, k - tails), k):  # unrelaxed remainders of earlier pulses
        swm, _ = _switches(pulses[m], P)
        dxm = -pulses[m].charge_C / (FARADAY * cm * P.volume)
        tail += sphere.surface_rise(ts, swm, fitted[m], R, cm) - dxm
    extra = delta if delta is not None else (lambda lnD: 0.0)

    i = current[sl] / P.area
    b = 2 * GAS_CONSTANT * temperature_K / FARADAY
    bv = kinetics == "butler_volmer"

    def model(q):
        D = np.exp(q[0])
        xsurf = x_before + tail + sphere.surface_rise(ts, sw, D, R, cm) + extra(q[0])
        if bv:
            i0 = np.exp(q[1]) * np.sqrt(np.clip(xsurf * (1 - xsurf), 1e-12, None))
            return ocp(xsurf) + b * np.arcsinh(i / (2 * i0))
        return ocp(xsurf) + q[1] * on

    ok = np.isfinite(vs)  # the voltage of a switch row is unknown (dedupe_switch_rows)
    f0 = int(np.argmax(ok))
    x_first = x_before + tail[f0]
    eta0 = float(vs[f0] - ocp(np.array([x_first]))[0])
    lo = hi = None
    if bv:
        i_on = i[f0] if i[f0] != 0 else p.current_A / P.area
        s_on = np.sqrt(max(x_first * (1 - x_first), 1e-12))
        # ln k0 bounded above where the overpotential b |i|/(2 k0 s) is ETA_MIN_V (1 uV, far below any
        # cycler's noise): faster kinetics leave no trace in V, the ln k0 column of the Jacobian vanishes
        # and exp(ln k0) overflowed (intervals [0, inf]); 40 e-folds below is a loose lower bound.
        hi = float(np.log(b * abs(i_on) / (2 * ETA_MIN_V * s_on)))
        lo = hi - 40.0
        sh = np.sinh(eta0 / b)
        k0 = i_on / (2 * s_on * sh) if sh * i_on > 0 else np.exp(hi)
        second = float(np.clip(np.log(k0), lo + 1e-3, hi - 1e-3))
    else:
        second = eta0
    q0 = np.array([np.log(guess if np.isfinite(guess) and guess > 0 else 1e-14), second])
    bounds = ([-np.inf, lo], [np.inf, hi]) if bv else (-np.inf, np.inf)
    resid = lambda q: (model(q) - vs)[ok]  # noqa: E731
    with np.errstate(over="ignore", invalid="ignore"):
        sol = least_squares(resid, q0, x_scale=[1.0, 1.0 if bv else 1e-3], xtol=1e-12, ftol=1e-12, gtol=1e-12,
                            bounds=bounds)
    n = int(ok.sum())
    J = sol.jac
    identified, cond = _identifiable(J)
    s2_full = float(np.sum(sol.fun**2) / max(n - J.shape[1], 1))
    cov = _covariance(J, s2_full)
    sig = float(np.sqrt(cov[0, 0]))
    if bv:
        sig_k = float(np.sqrt(cov[1, 1]))
        identified = identified and sig_k < SIGMA_LNK0_MAX and sol.x[1] < hi - 1e-6
        if not identified:
            # kinetics unidentified (overpotential at or below the resolution, or dependent columns): k0 is
            # held; D's interval is the wider of the joint one (when finite) and the D column's alone
            s2 = float(np.sum(sol.fun**2) / max(n - 1, 1))
            sig1 = float(np.sqrt(_covariance(J[:, :1], s2)[0, 0]))
            sig = sig1 if not np.isfinite(sig) else max(sig, sig1)
    D = float(np.exp(sol.x[0]))
    out = {"D_fit_m2_s": D, "D_m2_s": D, "D_fit_ci95_low_m2_s": D * np.exp(-Z95 * sig),
           "D_fit_ci95_high_m2_s": D * np.exp(Z95 * sig), "D_fit_rel_sigma": sig,
           "fit_jacobian_condition": cond, "fit_rms_V": float(np.sqrt(np.mean(sol.fun**2))),
           "_t": ts, "_v": vs, "_model": model(sol.x)}
    if bv:
        out.update({"exchange_k0_fit_A_m2": float(np.exp(sol.x[1])), "kinetics_identified": bool(identified)})
        if not identified:
            out["exchange_k0_note"] = ("unidentified (overpotential at the noise level or below, or Jacobian "
                                       f"condition {cond:.2g} >= {COND_MAX:g}): k0 held at the fitted value; "
                                       "read it as a lower bound")
    else:
        out["overpotential_fit_V"] = float(sol.x[1])
    return out


def _covariance(J, s2):
    """s^2 (J^T J)^-1, inf where J^T J is singular or the result is not finite/positive on the diagonal."""
    npar = J.shape[1]
    try:
        with np.errstate(all="ignore"):
            cov = np.linalg.inv(J.T @ J) * s2
    except np.linalg.LinAlgError:
        return np.full((npar, npar), np.inf)
    d = np.diag(cov)
    if not np.all(np.isfinite(d) & (d >= 0)):
        return np.full((npar, npar), np.inf)
    return cov


def _identifiable(J, max_condition=COND_MAX):
    """(all parameters identifiable, condition number of J with unit-norm columns): a column of zeros or
    two dependent columns make J^T J singular (the 95 % interval of D came out [0, inf])."""
    norms = np.linalg.norm(J, axis=0)
    if not np.all(np.isfinite(J)) or np.any(norms == 0):
        return False, float("inf")
    sv = np.linalg.svd(J / norms, compute_uv=False)
    cond = float(sv[0] / sv[-1]) if sv[-1] > 0 else float("inf")
    return cond < max_condition, cond


def _local_shapes(x_mid, D, dx=None, half: int = 2, max_factor: float = 10.0):
    """Per pulse k: s_k(x) = exp(b_k (x - x_k)), b_k the least-squares slope of ln D over x through the
    pulses k-half..k+half (fewer at the ends, at least two).  For a centred window the pulse's own D has
    no weight in its slope, which keeps the passes from coupling neighbours into a zig-zag (a slope
    through the two neighbours alone did).  |b_k| is bounded by ln(max_factor)/|dx_k| (D changes at most
    ``max_factor`` times across the pulse's own stoichiometry step dx_k: a wild first-pass D made slopes
    that overflowed exp), and the exponent by +-10."""
    x, lnD = np.asarray(x_mid, dtype=float), np.log(np.asarray(D, dtype=float))
    n = len(x)
    out = []
    for k in range(n):
        if n == 1:
            b = 0.0
        else:
            lo, hi = max(0, k - half), min(n, k + half + 1)
            if hi - lo < 2:
                lo, hi = max(0, hi - 2), min(n, lo + 2)
            xx, yy = x[lo:hi], lnD[lo:hi]
            b = float(np.polyfit(xx, yy, 1)[0]) if np.all(np.isfinite(yy)) else 0.0
            if dx is not None and dx[k] != 0:
                cap = np.log(max_factor) / abs(dx[k])
                b = float(np.clip(b, -cap, cap))
        out.append(lambda y, b=b, xk=x[k]: np.exp(np.clip(b * (np.asarray(y, dtype=float) - xk), -10.0, 10.0)))
    return out


def _safe_delta(pulses, k, t, D_k, shape, row, P, fv_cells):
    """:func:`_delta_of_lnD`, or None when the finite-volume runs fail or give a non-finite correction."""
    try:
        f = _delta_of_lnD(pulses, k, t, D_k, shape, row, P, fv_cells)
        if not np.all(np.isfinite(f(np.log(D_k)))):
            return None
        return f
    except (FloatingPointError, ValueError, np.linalg.LinAlgError):
        return None


def _delta_of_lnD(pulses, k, t, D_k, shape, row, P, fv_cells, h=0.1):
    """delta(ln D): the nonlinear correction of pulse k as a function of its fitted ln D, linear through
    its values at ln D_k -+ h, so that the refit sees how the correction moves with D (a fixed delta
    made the passes oscillate: the correction is 10-20 % of D at the slowest pulses)."""
    lo, hi = (_nonlinear_delta(pulses, k, t, D_k * np.exp(s), shape, row, P, fv_cells) for s in (-h, h))
    q0 = np.log(D_k) - h
    return lambda q: lo + (hi - lo) * ((q - q0) / (2 * h))


def _nonlinear_delta(pulses, k, t, D_k, shape, row, P, fv_cells):
    """x_s(D(x)) - x_s(D_k) over pulse k and its rest, from a uniform start at x_before."""
    p = pulses[k]
    R, cm = P.radius_m, P.c_max_mol_m3
    ts = t[p.i_on:p.i_end]
    x_ref = row["x_mid"]
    s_ref = float(shape(np.array([x_ref]))[0])
    jhat = -p.current_A / (FARADAY * P.area) * R / (D_k * cm)
    T = D_k / R**2
    segs = [(0.0, (p.t_off - p.t_on) * T, jhat), ((p.t_off - p.t_on) * T, (ts[-1] - p.t_on) * T, 0.0)]
    fv = sphere.RadialFV(n_cells=fv_cells)
    tau = (ts - p.t_on) * T
    nonlin, _ = fv.run(lambda x: shape(x) / s_ref, row["x_before"], segs, tau)
    lin, _ = fv.run(lambda x: np.ones_like(x), row["x_before"], segs, tau)
    return nonlin - lin
