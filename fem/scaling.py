"""Physical units in, nondimensional inside.

Solvers work with  x^ = x / L,  t^ = t / T,  c^ = c / C,  phi^ = phi / V  where
L is a particle size, T = L^2 / D a diffusion time, C = c_max, and
V = k_B T / e the thermal voltage.  Outputs are converted back to SI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# CODATA 2018 exact values
FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)
BOLTZMANN = 1.380649e-23  # J/K
ELEMENTARY_CHARGE = 1.602176634e-19  # C
AVOGADRO = 6.02214076e23  # 1/mol
VACUUM_PERMITTIVITY = 8.8541878128e-12  # F/m


def thermal_voltage(temperature_K: float) -> float:
    """k_B T / e in V (25.7 mV at 298.15 K)."""
    return BOLTZMANN * temperature_K / ELEMENTARY_CHARGE


@dataclass(frozen=True)
class Scales:
    """Reference scales: length [m], time [s], concentration [mol/m^3], potential [V],
    relative permittivity [-] (the permittivity scale is eps0 * relative_permittivity)."""

    length: float
    time: float
    concentration: float = 1.0
    potential: float = 1.0
    relative_permittivity: float = 1.0

    @classmethod
    def diffusive(cls, length_m: float, diffusivity_m2_s: float, concentration_mol_m3: float = 1.0,
                  temperature_K: float = 298.15):
        """L, T = L^2/D, C, kT/e."""
        return cls(length_m, length_m**2 / diffusivity_m2_s, concentration_mol_m3,
                   thermal_voltage(temperature_K))

    @classmethod
    def debye(cls, concentration_mol_m3: float, relative_permittivity: float, diffusivity_m2_s: float,
              temperature_K: float = 298.15):
        """Debye scales of charged species (Poisson–Nernst–Planck): L = L_D =
        sqrt(eps0 eps_r kT / (e F c_ref)), T = L_D^2 / D_ref, C = c_ref, kT/e, eps_r."""
        Vt = thermal_voltage(temperature_K)
        L = math.sqrt(VACUUM_PERMITTIVITY * relative_permittivity * Vt / (FARADAY * concentration_mol_m3))
        return cls(L, L * L / diffusivity_m2_s, concentration_mol_m3, Vt, relative_permittivity)

    @property
    def diffusivity(self) -> float:
        """D scale L^2/T [m^2/s]."""
        return self.length**2 / self.time

    @property
    def molar_flux(self) -> float:
        """Flux scale C L / T [mol/(m^2 s)]."""
        return self.concentration * self.length / self.time

    @property
    def surface_charge(self) -> float:
        """Surface-charge scale F C L [C/m^2]."""
        return FARADAY * self.concentration * self.length

    @property
    def current_density(self) -> float:
        """Current-density scale F C L / T [A/m^2] (a unit-charge molar flux)."""
        return FARADAY * self.molar_flux
