"""Polynomial (double-well) free energy of the PFHub phase-field benchmarks.

    f(c) = rho_s (c - c_alpha)^2 (c_beta - c)^2                (energy per volume)

PFHub benchmark 1 (Jokisaari et al., Comput. Mater. Sci. 126 (2017) 139):
rho_s = 5, c_alpha = 0.3, c_beta = 0.7 (nondimensional benchmark units).

With s = c - c_m, c_m = (c_alpha + c_beta)/2, d = (c_beta - c_alpha)/2:

    f = rho_s (d^2 - s^2)^2 = rho_s (s^4 + d^4)  +  (-2 rho_s d^2 s^2)
                              convex part           concave part

which is the convex-concave (Eyre) split used for energy-stable time stepping.
Binodal (common tangent): c_alpha, c_beta (plateau chemical potential 0).
Spinodal: f'' = 0 at s = +- d / sqrt(3).
A flat equilibrium interface between the phases (mu = kappa-weighted):

    c(x) = c_alpha + (c_beta - c_alpha) (1 + tanh(x / (2 lambda))) / 2,
    lambda = sqrt(kappa / (2 rho_s)) / (c_beta - c_alpha).

The interface energy is sigma = sqrt(2 kappa rho_s) (c_beta - c_alpha)^3 / 6.
Methods take numpy arrays or UFL expressions (the same interface as
:class:`fem.constitutive.free_energy.RegularSolution`: g, mu, d2g, mu_convex,
mu_concave, spinodal, binodal, plateau_mu).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.constitutive.mathops import tanh


@dataclass(frozen=True)
class DoubleWell:
    """f(c) = rho_s (c - c_alpha)^2 (c_beta - c)^2."""

    rho_s: float = 5.0
    c_alpha: float = 0.3
    c_beta: float = 0.7

    @property
    def c_mid(self) -> float:
        return 0.5 * (self.c_alpha + self.c_beta)

    @property
    def half_gap(self) -> float:
        return 0.5 * (self.c_beta - self.c_alpha)

    def g(self, c):
        return self.rho_s * (c - self.c_alpha) ** 2 * (self.c_beta - c) ** 2

    def mu(self, c):
        """f'(c) = 2 rho_s (c - c_a)(c_b - c)(c_a + c_b - 2c)."""
        return 2 * self.rho_s * (c - self.c_alpha) * (self.c_beta - c) * (self.c_alpha + self.c_beta - 2 * c)

    def d2g(self, c):
        s = c - self.c_mid
        return self.rho_s * (12 * s * s - 4 * self.half_gap ** 2)

    def mu_convex(self, c):
        """Derivative of the convex part rho_s (s^4 + d^4): 4 rho_s s^3."""
        s = c - self.c_mid
        return 4 * self.rho_s * s ** 3

    def mu_concave(self, c):
        """Derivative of the concave part -2 rho_s d^2 s^2: -4 rho_s d^2 s."""
        return -4 * self.rho_s * self.half_gap ** 2 * (c - self.c_mid)

    def spinodal(self):
        d = self.half_gap / np.sqrt(3.0)
        return self.c_mid - d, self.c_mid + d

    def binodal(self):
        return self.c_alpha, self.c_beta

    def plateau_mu(self) -> float:
        return 0.0

    # -- flat interface -------------------------------------------------
    def interface_length(self, kappa: float) -> float:
        """lambda of the tanh profile (the 10-90 % width is 2 ln(9) lambda)."""
        return np.sqrt(kappa / (2 * self.rho_s)) / (self.c_beta - self.c_alpha)

    def interface_profile(self, x, kappa: float):
        lam = self.interface_length(kappa)
        return self.c_alpha + (self.c_beta - self.c_alpha) * 0.5 * (1 + tanh(x / (2 * lam)))

    def interface_energy(self, kappa: float) -> float:
        return np.sqrt(2 * kappa * self.rho_s) * (self.c_beta - self.c_alpha) ** 3 / 6
