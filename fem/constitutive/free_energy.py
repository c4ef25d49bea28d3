"""Regular-solution free energy of an intercalation compound (lattice gas).

Per lattice site, in units of k_B T (x = site fraction c / c_max in (0, 1)):

    g(x) / kT = x ln x + (1 - x) ln(1 - x) + Omega_eff x (1 - x) / kT + K x^2 / kT
    Omega_eff = Omega - T s1              (vibrational entropy s1 [J/K per site])

so that with the homogeneous coherency term K [J per site]

    mu(x)  = g'(x)  = kT ln(x / (1 - x)) + Omega_eff (1 - 2x) + 2 K x      [J]
    g''(x)          = kT / (x (1 - x)) - 2 Omega_eff + 2 K                  [J]

Spinodal (g'' = 0, exists for Omega_eff - K > 2 kT):
    x_s = 1/2 -+ 1/2 sqrt(1 - 2 kT / (Omega_eff - K)).
Binodal: common tangent of g (symmetric when K = 0: x_b solves
    ln(x/(1-x)) = -(Omega_eff/kT)(1 - 2x); with K != 0 the tangent is found numerically).
Open-circuit voltage: U(x) = U0 - mu(x) / e   [V].

Energies are given in J per site (or eV via ``from_eV``); temperature in K.
The methods take numpy arrays or UFL expressions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from fem.constitutive.mathops import ln
from fem.scaling import BOLTZMANN, ELEMENTARY_CHARGE


@dataclass(frozen=True)
class RegularSolution:
    """Regular-solution (lattice-gas) free energy per site.

    omega_J : regular-solution interaction parameter Omega [J/site]
    temperature_K : T [K]
    s1_J_K : vibrational entropy coefficient s1 [J/(K site)], Omega_eff = Omega - T s1
    coherency_J : homogeneous coherency-strain energy K [J/site] (term K x^2)
    u0_V : reference potential U0 of the open-circuit voltage [V]
    """

    omega_J: float
    temperature_K: float = 298.15
    s1_J_K: float = 0.0
    coherency_J: float = 0.0
    u0_V: float = 0.0

    @classmethod
    def from_eV(cls, omega_eV: float, temperature_K: float = 298.15, s1_eV_K: float = 0.0,
                coherency_eV: float = 0.0, u0_V: float = 0.0):
        e = ELEMENTARY_CHARGE
        return cls(omega_eV * e, temperature_K, s1_eV_K * e, coherency_eV * e, u0_V)

    # -- scales ---------------------------------------------------------
    @property
    def kT(self) -> float:
        return BOLTZMANN * self.temperature_K

    @property
    def omega_eff(self) -> float:
        """Omega - T s1 [J]."""
        return self.omega_J - self.temperature_K * self.s1_J_K

    @property
    def a(self) -> float:
        """Omega_eff / kT (dimensionless)."""
        return self.omega_eff / self.kT

    @property
    def k(self) -> float:
        """K / kT (dimensionless)."""
        return self.coherency_J / self.kT

    # -- dimensionless (units of kT) ------------------------------------
    def g(self, x):
        """g / kT."""
        return x * ln(x) + (1 - x) * ln(1 - x) + self.a * x * (1 - x) + self.k * x * x

    def mu(self, x):
        """mu / kT = ln(x/(1-x)) + a (1 - 2x) + 2 k x."""
        return ln(x / (1 - x)) + self.a * (1 - 2 * x) + 2 * self.k * x

    def mu_ideal(self, x):
        """Entropic part ln(x/(1-x)) (for convex-concave splitting)."""
        return ln(x / (1 - x))

    def mu_enthalpic(self, x):
        """Non-convex part a (1 - 2x) + 2 k x (explicit in a convex-concave split)."""
        return self.a * (1 - 2 * x) + 2 * self.k * x

    def d2g(self, x):
        """g'' / kT = 1/(x(1-x)) - 2a + 2k."""
        return 1 / (x * (1 - x)) - 2 * self.a + 2 * self.k

    def thermodynamic_factor(self, x):
        """Phi = d ln(a)/d ln(x) = x (1-x) g''/kT ... for a lattice gas: 1 + dln(gamma)/dln(x) with
        ideal reference x/(1-x): Phi = x (1 - x) g''/kT (= 1 for a = k = 0)."""
        return x * (1 - x) * self.d2g(x)

    # -- SI -------------------------------------------------------------
    def chemical_potential_J(self, x):
        return self.kT * self.mu(x)

    def ocv_V(self, x):
        """Open-circuit voltage U0 - mu(x)/e [V]."""
        return self.u0_V - self.kT * self.mu(x) / ELEMENTARY_CHARGE

    # -- phase diagram --------------------------------------------------
    def spinodal(self) -> tuple[float, float] | None:
        """Site fractions where g'' = 0, or None if g is convex (a - k <= 2)."""
        b = self.a - self.k
        if b <= 2:
            return None
        d = 0.5 * np.sqrt(1 - 2 / b)
        return 0.5 - d, 0.5 + d

    def binodal(self) -> tuple[float, float] | None:
        """Coexisting fractions (common tangent of g), or None if single phase.

        K x^2 = K x - K x (1 - x): the linear part does not move the common
        tangent, so the binodal is the symmetric one of b = (Omega_eff - K)/kT,
        the root of ln(x/(1-x)) + b (1 - 2x) = 0 below the spinodal.
        """
        sp = self.spinodal()
        if sp is None:
            return None
        b = self.a - self.k
        f = lambda x: np.log(x / (1 - x)) + b * (1 - 2 * x)  # noqa: E731
        lo = 1e-300
        while f(lo) > 0:  # pragma: no cover - only for absurdly large b
            lo *= 1e-10
        x1 = brentq(f, lo, sp[0], xtol=1e-300, rtol=4 * np.finfo(float).eps)
        return float(x1), float(1 - x1)

    def plateau_mu(self) -> float | None:
        """Chemical potential / kT of the two-phase plateau (common tangent slope)."""
        b = self.binodal()
        return None if b is None else float(self.mu(b[0]))

    def stable_composition(self, mu: float) -> float:
        """Site fraction with mu(x) = ``mu`` on the stable branch: below the spinodal for mu
        under the plateau, above it otherwise (the only root if g is convex)."""
        sp = self.spinodal()
        if sp is None:
            lo, hi = 1e-12, 1 - 1e-12
        else:
            lo, hi = (1e-12, sp[0]) if mu < self.plateau_mu() else (sp[1], 1 - 1e-12)
        return float(brentq(lambda x: self.mu(x) - mu, lo, hi, xtol=1e-14))
