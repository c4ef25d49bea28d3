"""Analytic references for sharp-interface two-phase (Stefan) diffusion.

Sign convention used throughout solidion's Stefan code
------------------------------------------------------
n is the unit normal on the interface pointing from phase alpha into phase
beta, v the normal velocity of the interface measured along -n (v > 0: beta
advances into alpha, i.e. alpha is consumed), J = -D grad c.  Mass balance on
a pill box moving with the interface then gives the Stefan condition of the
issue,

    v (c_beta - c_alpha) = J_alpha . n - J_beta . n          [mol/(m^2 s)]

(c_alpha, c_beta the interface (equilibrium) concentrations of each phase).

1. Planar two-phase Neumann similarity solution
-----------------------------------------------
Half space x > 0; beta occupies 0 < x < s(t), alpha x > s(t) (so n = -e_x and
v = ds/dt).  c(0, t) = c_0, c(x, 0) = c(inf, t) = c_inf, interface values
c_beta (beta side) and c_alpha (alpha side):

    beta :  c = c_0   + (c_beta  - c_0)   erf(x / (2 sqrt(D_b t)))  / erf(lambda / sqrt(D_b))
    alpha:  c = c_inf + (c_alpha - c_inf) erfc(x / (2 sqrt(D_a t))) / erfc(lambda / sqrt(D_a))
    s(t) = 2 lambda sqrt(t)

with lambda [m/s^(1/2)] the root of the transcendental equation

    (c_beta - c_alpha) lambda sqrt(pi)
        = -(c_beta - c_0) sqrt(D_b) exp(-lambda^2/D_b) / erf(lambda/sqrt(D_b))
          - (c_alpha - c_inf) sqrt(D_a) exp(-lambda^2/D_a) / erfc(lambda/sqrt(D_a))

(Crank, The Mathematics of Diffusion (1975) sec. 13.2; Carslaw & Jaeger
(1959) sec. 11.2).  Valid on a finite slab while the alpha boundary layer has
not reached the far end.

2. Quasi-steady shrinking core (sphere)
---------------------------------------
Core (alpha, c = c_alpha) of radius r_c inside a shell (beta) of outer radius
R held at c(R) = c_s; the shell profile is the steady one, c = A + B / r, when
the Stefan number St = |c_beta - c_s| / |c_alpha - c_beta| << 1.  The core
shrinks as

    (c_alpha - c_beta) r_c^2 dr_c/dt = -D_b (c_beta - c_s) / (1/r_c - 1/R),  i.e.
    t(xi) = (c_alpha - c_beta) R^2 / (6 D_b (c_beta - c_s)) (1 - 3 xi^2 + 2 xi^3),  xi = r_c/R

(Levenspiel, Chemical Reaction Engineering (1999) ch. 25, "diffusion through
ash layer controls"), with the start r_c(0) = R; ``shrinking_core_time``
also allows a start from xi_0 < 1.  The neglected change of the mass stored
in the shell makes the error O(St).

3. Pseudo-steady shrinking core with shell storage
--------------------------------------------------
The same steady shell profile c(r) = c_s + (c_beta - c_s) (1/r - 1/R) / (1/r_c - 1/R), but the
particle's total amount N(r_c) = c_alpha 4/3 pi r_c^3 + int_{r_c}^R c(r) 4 pi r^2 dr (core plus
shell) balances the surface flux (Bischoff, Chem. Eng. Sci. 18 (1963) 711, "accuracy of the
pseudo steady state approximation for moving boundary diffusion problems"):

    dN/dr_c dr_c/dt = -4 pi D_b (c_beta - c_s) / (1/r_c - 1/R),
    dN/dr_c = 4 pi (c_alpha - c_beta) r_c^2
              + 4 pi (c_beta - c_s) [(R^2 - r_c^2)/2 - (R^3 - r_c^3)/(3R)] / (r_c^2 (1/r_c - 1/R)^2),

which differs from part 2 by the second (storage) term, O(St) relative; the remaining error is
O(St^2) (the profile's own transient).  ``shrinking_core_time_storage`` integrates dt/dr_c.

4. General two-phase Neumann case
---------------------------------
Part 1 with c_inf != c_alpha is the general case: the far-field (initial) alpha concentration
differs from its interface value, so alpha carries a diffusion layer of its own and D_alpha
enters lambda.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf, erfc, erfcx


def neumann_lambda(D_alpha, D_beta, c0, c_beta, c_alpha, c_inf) -> float:
    """Root lambda [length/time^(1/2)] of the two-phase Neumann equation (module docstring)."""
    sa, sb = math.sqrt(D_alpha), math.sqrt(D_beta)

    def f(lam):
        # exp(-z^2)/erfc(z) = 1/erfcx(z): stable for large z
        beta_term = (c_beta - c0) * sb * math.exp(-lam**2 / D_beta) / erf(lam / sb)
        alpha_term = (c_alpha - c_inf) * sa / erfcx(lam / sa)
        return (c_beta - c_alpha) * lam * math.sqrt(math.pi) + beta_term + alpha_term

    lo, hi = 1e-12 * max(sa, sb), 10.0 * max(sa, sb)
    while f(lo) * f(hi) > 0 and hi < 1e6 * max(sa, sb):
        hi *= 4
    if f(lo) * f(hi) > 0:
        raise ValueError("no interface advancing into alpha for these concentrations")
    return brentq(f, lo, hi, xtol=1e-15, rtol=1e-14)


class NeumannSolution:
    """The planar two-phase similarity solution (module docstring, part 1)."""

    def __init__(self, D_alpha, D_beta, c0, c_beta, c_alpha, c_inf):
        self.Da, self.Db = D_alpha, D_beta
        self.c0, self.cb, self.ca, self.cinf = c0, c_beta, c_alpha, c_inf
        self.lam = neumann_lambda(D_alpha, D_beta, c0, c_beta, c_alpha, c_inf)

    def position(self, t):
        """Interface position s(t) = 2 lambda sqrt(t)."""
        return 2 * self.lam * np.sqrt(t)

    def velocity(self, t):
        return self.lam / np.sqrt(t)

    def concentration(self, x, t):
        """c(x, t) (beta for x < s, alpha for x > s)."""
        x = np.asarray(x, dtype=float)
        s = self.position(t)
        cb = self.c0 + (self.cb - self.c0) * erf(x / (2 * np.sqrt(self.Db * t))) / erf(self.lam / np.sqrt(self.Db))
        ca = self.cinf + (self.ca - self.cinf) * erfc(x / (2 * np.sqrt(self.Da * t))) / erfc(
            self.lam / np.sqrt(self.Da))
        return np.where(x < s, cb, ca)


def shrinking_core_time(xi, R, D_beta, c_alpha, c_beta, c_surface, xi0=1.0):
    """Quasi-steady time [s] for the core to shrink from xi0 R to xi R (module docstring, part 2)."""
    xi = np.asarray(xi, dtype=float)
    pref = (c_alpha - c_beta) * R**2 / (6 * D_beta * (c_beta - c_surface))
    g = lambda z: 1 - 3 * z**2 + 2 * z**3  # noqa: E731
    return pref * (g(xi) - g(xi0))


def shrinking_core_radius(t, R, D_beta, c_alpha, c_beta, c_surface, xi0=1.0):
    """Inverse of :func:`shrinking_core_time`: core radius [m] at time t [s]."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    out = np.empty_like(t)
    for i, ti in enumerate(t):
        f = lambda z: shrinking_core_time(z, R, D_beta, c_alpha, c_beta, c_surface, xi0) - ti  # noqa: E731
        if f(0.0) <= 0:
            out[i] = 0.0
        else:
            out[i] = brentq(f, 0.0, xi0, xtol=1e-14) * R
    return out


def shrinking_core_constant_current_radius(t, R, r0, current_mol_s, c_alpha, c_beta):
    """Core radius when all of a constant molar extraction rate comes from core conversion.

    4 pi r_c^2 (c_alpha - c_beta) dr_c/dt = -I  ->  r_c^3 = r0^3 - 3 I t / (4 pi (c_alpha - c_beta)).
    """
    r3 = r0**3 - 3 * current_mol_s * np.asarray(t, dtype=float) / (4 * np.pi * (c_alpha - c_beta))
    return np.cbrt(np.maximum(r3, 0.0))


def shrinking_core_time_storage(xi, R, D_beta, c_alpha, c_beta, c_surface, xi0=1.0 - 1e-9):
    """Pseudo-steady time [s] from r_c = xi0 R to xi R including the shell storage (part 3)."""
    from scipy.integrate import quad

    def dt_dr(rc):
        q = 1 / rc - 1 / R
        dN = (c_alpha - c_beta) * rc**2 + (c_beta - c_surface) * (
            (R**2 - rc**2) / 2 - (R**3 - rc**3) / (3 * R)) / (rc**2 * q**2)
        return -dN * q / (D_beta * (c_beta - c_surface))

    xi = np.atleast_1d(np.asarray(xi, dtype=float))
    out = np.array([quad(dt_dr, xi0 * R, z * R, epsabs=0, epsrel=1e-12, limit=200)[0] for z in xi])
    return out if out.size > 1 else float(out[0])


def shrinking_core_front_fixing(t_eval, R, D_beta, c_alpha, c_beta, c_surface, xi0, n=200, stop_xi=0.1):
    """Independent numerical reference for the spherical shrinking core (core at its binodal value,
    shell initially at c_beta, surface held at c_s): the shell R s(t) < r < R mapped onto the fixed
    interval 0 <= z <= 1, r = s + z (R - s) (Landau front fixing; Crank, Free and Moving Boundary
    Problems (1984) sec. 3.4), second-order finite differences on n intervals, integrated by
    ``scipy.integrate.solve_ivp`` (BDF, tight tolerances):

        c_t = D c_zz / L^2 + (2 D / (r L) + (1 - z) s' / L) c_z,   L = R - s,
        (c_alpha - c_beta) s' = D c_z(0) / L  (Stefan condition, no flux in the core).

    Returns (t, r_c) at ``t_eval`` (r_c = nan after the core radius fell below ``stop_xi`` R)."""
    from scipy.integrate import solve_ivp

    z = np.linspace(0.0, 1.0, n + 1)
    hz = 1.0 / n

    def rhs(t, y):
        s = y[0]
        c = np.concatenate([[c_beta], y[1:], [c_surface]])
        L = R - s
        # one-sided second-order derivative at the interface
        cz0 = (-3 * c[0] + 4 * c[1] - c[2]) / (2 * hz)
        sdot = D_beta * cz0 / (L * (c_alpha - c_beta))
        r = s + z[1:-1] * L
        cz = (c[2:] - c[:-2]) / (2 * hz)
        czz = (c[2:] - 2 * c[1:-1] + c[:-2]) / hz**2
        dc = D_beta * czz / L**2 + (2 * D_beta / (r * L) + (1 - z[1:-1]) * sdot / L) * cz
        return np.concatenate([[sdot], dc])

    def small(t, y):
        return y[0] - stop_xi * R
    small.terminal = True
    y0 = np.concatenate([[xi0 * R], np.full(n - 1, c_beta)])
    t_eval = np.asarray(t_eval, dtype=float)
    sol = solve_ivp(rhs, (0.0, float(t_eval.max())), y0, method="BDF", t_eval=t_eval, events=small,
                    rtol=1e-9, atol=1e-12 * R)
    out = np.full(t_eval.shape, np.nan)
    if len(sol.t):
        out[: sol.y.shape[1]] = sol.y[0]
    t_stop = sol.t_events[0][0] if len(sol.t_events[0]) else np.inf
    return out, t_stop
