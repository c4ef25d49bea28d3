"""Analytic reference solutions (SI or nondimensional as documented)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq


def _sphere_flux_roots(n: int) -> np.ndarray:
    """First n positive roots of tan(lam) = lam (lam a cot(lam) = 1)."""
    roots = []
    for k in range(1, n + 1):
        lo, hi = k * np.pi + 1e-9, k * np.pi + np.pi / 2 - 1e-9
        roots.append(brentq(lambda x: np.sin(x) - x * np.cos(x), lo, hi))
    return np.array(roots)


def crank_sphere_fixed_surface(r, t, a, D, c0, cs, terms=400):
    """Crank (1975) eq. 6.18: sphere radius a [m], initial c0, surface held at cs.

    c(r, t) = c0 + (cs - c0) [1 + (2a/(pi r)) sum_n (-1)^n/n sin(n pi r/a) exp(-D n^2 pi^2 t/a^2)]
    (r = 0 by the limit 1 + 2 sum (-1)^n exp(...)).
    """
    r = np.atleast_1d(np.asarray(r, dtype=float))
    n = np.arange(1, terms + 1)[:, None]
    e = np.exp(-D * n**2 * np.pi**2 * t / a**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(r > 1e-14 * a,
                     (2 * a / (np.pi * np.maximum(r, 1e-300))) * np.sum((-1.0) ** n / n * np.sin(n * np.pi * r / a) * e, axis=0),
                     2 * np.sum((-1.0) ** n * e, axis=0))
    return c0 + (cs - c0) * (1 + s)


def crank_sphere_fixed_surface_mean(t, a, D, c0, cs, terms=400):
    """Crank eq. 6.20: M_t/M_inf = 1 - 6/pi^2 sum 1/n^2 exp(-D n^2 pi^2 t / a^2)."""
    n = np.arange(1, terms + 1)
    frac = 1 - 6 / np.pi**2 * np.sum(np.exp(-D * n**2 * np.pi**2 * t / a**2) / n**2)
    return c0 + (cs - c0) * frac


def crank_sphere_constant_flux(r, t, a, D, c0, flux_in, terms=200):
    """Crank eq. 6.44 (constant flux F into a sphere of radius a, initial c0).

    c - c0 = (F a / D) [3 D t / a^2 + r^2/(2 a^2) - 3/10
             - (2 a / r) sum_n sin(alpha_n r) / (alpha_n^2 a^2 sin(alpha_n a)) exp(-D alpha_n^2 t)]
    with alpha_n a the positive roots of tan(x) = x.  flux_in in mol/(m^2 s).
    """
    r = np.atleast_1d(np.asarray(r, dtype=float))
    lam = _sphere_flux_roots(terms)[:, None]
    alpha = lam / a
    e = np.exp(-D * alpha**2 * t)
    rr = np.maximum(r, 1e-12 * a)
    series = (2 * a / rr) * np.sum(np.sin(alpha * rr) / (lam**2 * np.sin(lam)) * e, axis=0)
    return c0 + flux_in * a / D * (3 * D * t / a**2 + r**2 / (2 * a**2) - 0.3 - series)


def crank_sphere_constant_flux_mean(t, a, c0, flux_in):
    """Mean concentration under constant inward flux: c0 + 3 F t / a."""
    return c0 + 3 * flux_in * t / a
