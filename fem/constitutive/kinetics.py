"""Butler–Volmer surface kinetics with a concentration-dependent exchange current.

Sign convention: current density i [A/m^2] positive is anodic (Li+ leaves the
solid, delithiation); the molar flux of Li into the solid is j_in = -i / F.
Overpotential eta = phi_s - phi_e - U(x) [V]; with f = F/(R T) = e/(k_B T):

    i = i0(x) [exp(alpha_a f eta) - exp(-alpha_c f eta)]                       [A/m^2]
    i0(x) = F k c_e^(alpha_c) (c_max x)^(alpha_a) (c_max (1 - x))^(alpha_c)     [A/m^2]
      (Doyle–Fuller–Newman form; Chen et al. 2020 write i0 = m c_e^0.5 c^0.5 (c_max - c)^0.5,
       i.e. m = F k with m in A m^-2 (m^3/mol)^1.5)

Symmetric case alpha_a = alpha_c = 1/2:  i = 2 i0 sinh(f eta / 2), inverted by
eta = (2/f) asinh(i / (2 i0)) (:meth:`ButlerVolmer.overpotential`).

Works on numpy values and UFL expressions.  Near the bounds the powers are
regularized, y^a -> y (y^2 + delta^2)^((a-1)/2) (y = x or 1 - x, delta = ``x_regularization``):
equal to y^a up to a relative (a-1)/2 (delta/y)^2 for y >> delta, linear in y with
a bounded slope delta^(a-1) at y = 0, and odd, so an iterate with x > 1 gets a
reversed (restoring) current instead of a NaN or a square-root singularity in
the Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass

from fem.constitutive.mathops import asinh, exp
from fem.errors import InputError
from fem.scaling import FARADAY, GAS_CONSTANT


def regularized_power(y, a, delta):
    """y (y^2 + delta^2)^((a - 1)/2): ~ y^a for y >> delta, odd and smooth through 0."""
    return y * (y * y + delta * delta) ** ((a - 1) / 2)


@dataclass(frozen=True)
class ButlerVolmer:
    """rate_constant_A_m2 : m = F k [A m^-2 (m^3/mol)^(alpha_a+alpha_c)] (Chen 2020's m_ref)
    c_max_mol_m3 : maximum solid concentration; c_electrolyte_mol_m3 : electrolyte c_e
    alpha_a, alpha_c : transfer coefficients; temperature_K : T."""

    rate_constant_A_m2: float
    c_max_mol_m3: float
    c_electrolyte_mol_m3: float = 1000.0
    alpha_a: float = 0.5
    alpha_c: float = 0.5
    temperature_K: float = 298.15
    x_regularization: float = 1e-4

    def __post_init__(self):
        for k in ("rate_constant_A_m2", "c_max_mol_m3", "c_electrolyte_mol_m3", "alpha_a", "alpha_c",
                  "temperature_K"):
            if not getattr(self, k) > 0:
                raise InputError(f"parameter '{k}' = {getattr(self, k)!r} is out of range; allowed: (0, inf)")

    @property
    def f(self) -> float:
        """F/(R T) [1/V]."""
        return FARADAY / (GAS_CONSTANT * self.temperature_K)

    def exchange_current(self, x):
        """i0(x) [A/m^2], x = c/c_max."""
        cm = self.c_max_mol_m3
        return (self.rate_constant_A_m2 * self.c_electrolyte_mol_m3**self.alpha_c
                * cm ** (self.alpha_a + self.alpha_c)
                * regularized_power(x, self.alpha_a, self.x_regularization)
                * regularized_power(1 - x, self.alpha_c, self.x_regularization))

    def current(self, x, eta_V):
        """i(x, eta) [A/m^2] (anodic positive)."""
        return self.current_from_i0(self.exchange_current(x), eta_V)

    def current_from_i0(self, i0, eta_V):
        f = self.f
        return i0 * (exp(self.alpha_a * f * eta_V) - exp(-self.alpha_c * f * eta_V))

    def overpotential(self, i_A_m2, x):
        """eta [V] that drives current density i at site fraction x.

        Closed form for alpha_a = alpha_c = alpha: eta = asinh(i / (2 i0)) / (alpha f);
        otherwise a scalar Newton solve (numpy only)."""
        i0 = self.exchange_current(x)
        if abs(self.alpha_a - self.alpha_c) < 1e-14:
            return asinh(i_A_m2 / (2 * i0)) / (self.alpha_a * self.f)
        import numpy as np
        from scipy.optimize import brentq
        i0 = float(i0)
        g = lambda e: self.current_from_i0(i0, e) - i_A_m2  # noqa: E731
        lo, hi = -1.0, 1.0
        while g(lo) > 0:
            lo *= 2
        while g(hi) < 0:
            hi *= 2
        return float(brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))
