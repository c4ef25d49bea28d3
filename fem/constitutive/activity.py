"""Activity models of mobile charged species (ions, vacancies, electrons, holes).

Chemical potential of species i (units of kT, concentrations nondimensional,
c = c_SI / c_ref):

    mu_i / kT = mu0_i / kT + ln c_i + ln gamma_i(c_i)

and the electrochemical potential (units of kT; phi in units of kT/e)

    eta_i = mu_i / kT + z_i phi.

The Poisson–Nernst–Planck solver uses eta_i as unknowns, so each model must
invert w = ln c + ln gamma(c) (w = eta - mu0/kT - z phi) in closed form
(:meth:`concentration`, UFL or numpy):

* :class:`Ideal` (dilute / Boltzmann):   ln gamma = 0,            c = exp(w),
  thermodynamic factor Phi = d ln a / d ln c = 1.
* :class:`LatticeSaturation` (site exclusion, Fermi–Dirac-like for electronic
  carriers, Bikerman/Kornyshev for ions), x = c / c_max:
  ln gamma = -ln(1 - x),   c = c_max / (1 + c_max exp(-w)),   Phi = 1 / (1 - x).
* :class:`RegularSolution` (lattice gas with interaction Omega, reusing
  :class:`fem.constitutive.free_energy.RegularSolution`):
  ln gamma = -ln(1 - x) + (Omega/kT)(1 - 2x),
  Phi = 1/(1 - x) - 2 (Omega/kT) x.  Its inverse has no closed form: the
  numpy inverse (bisection, monotone for Omega/kT < 2) serves bulk states;
  the PNP field solver rejects it (``invertible = False``).

The Debye length of a single mobile species with a fixed background is
L = sqrt(eps kT Phi / (z^2 e^2 N_A c)); Phi enters as the linearized
response dc/d(w) = c / Phi.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from fem.constitutive.free_energy import RegularSolution as _RegularSolutionFreeEnergy
from fem.constitutive.mathops import exp, ln


class ActivityModel:
    """Interface: ln_gamma(c), concentration(w), thermodynamic_factor(c)."""

    invertible = True
    name = "abstract"

    def ln_gamma(self, c):
        raise NotImplementedError

    def chemical_potential(self, c):
        """ln c + ln gamma(c) (kT units, without mu0)."""
        return ln(c) + self.ln_gamma(c)

    def concentration(self, w):
        """Inverse of :meth:`chemical_potential` (UFL or numpy)."""
        raise NotImplementedError

    def thermodynamic_factor(self, c):
        """Phi = d ln a / d ln c = 1 + d ln gamma / d ln c."""
        raise NotImplementedError

    def dconcentration_dw(self, c):
        """dc/dw = c / Phi (linear response)."""
        return c / self.thermodynamic_factor(c)


@dataclass(frozen=True)
class Ideal(ActivityModel):
    """Dilute (Boltzmann) species: gamma = 1."""

    name = "ideal"

    def ln_gamma(self, c):
        return 0.0 * c

    def concentration(self, w):
        return exp(w)

    def thermodynamic_factor(self, c):
        return 1.0 + 0.0 * c


@dataclass(frozen=True)
class LatticeSaturation(ActivityModel):
    """Site exclusion on a lattice of c_max sites (same units as c): gamma = 1 / (1 - c/c_max)."""

    c_max: float
    name = "lattice"

    def __post_init__(self):
        if not self.c_max > 0:
            raise ValueError(f"c_max must be > 0, got {self.c_max}")

    def ln_gamma(self, c):
        return -ln(1 - c / self.c_max)

    def concentration(self, w):
        # c / (1 - c/c_max) = exp(w)  ->  c = c_max / (1 + c_max exp(-w)); no overflow for w -> +inf
        return self.c_max / (1 + self.c_max * exp(-w))

    def thermodynamic_factor(self, c):
        return 1 / (1 - c / self.c_max)


@dataclass(frozen=True)
class RegularSolution(ActivityModel):
    """Regular-solution lattice gas: ln gamma = -ln(1 - x) + a (1 - 2x), x = c / c_max, a = Omega/kT."""

    c_max: float
    a: float
    name = "regular"
    invertible = False

    @classmethod
    def from_free_energy(cls, g: _RegularSolutionFreeEnergy, c_max: float):
        """From :class:`fem.constitutive.free_energy.RegularSolution` (a = Omega_eff / kT)."""
        return cls(c_max, g.a)

    def ln_gamma(self, c):
        x = c / self.c_max
        return -ln(1 - x) + self.a * (1 - 2 * x)

    def thermodynamic_factor(self, c):
        x = c / self.c_max
        return 1 / (1 - x) - 2 * self.a * x

    def concentration(self, w):
        if self.a >= 2:
            raise ValueError("regular solution with Omega/kT >= 2 is not monotone (phase separation)")
        w = np.asarray(w, dtype=float)
        f = lambda c, wi: np.log(c) + self.ln_gamma(c) - wi  # noqa: E731
        out = np.array([brentq(f, 1e-300, self.c_max * (1 - 1e-15), args=(wi,), xtol=1e-300, rtol=1e-14)
                        for wi in w.ravel()])
        return out.reshape(w.shape)


def make(kind: str, c_max: float | None = None, omega_kT: float = 0.0) -> ActivityModel:
    """Activity model by name: 'ideal', 'lattice' (needs c_max), 'regular' (c_max, Omega/kT)."""
    if kind == "ideal":
        return Ideal()
    if kind == "lattice":
        return LatticeSaturation(float(c_max))
    if kind == "regular":
        return RegularSolution(float(c_max), float(omega_kT))
    raise ValueError(f"unknown activity model {kind!r}; allowed: ideal, lattice, regular")
