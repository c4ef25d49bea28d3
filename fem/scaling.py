"""Physical units in, nondimensional inside.

Solvers work with  x^ = x / L,  t^ = t / T,  c^ = c / C,  phi^ = phi / V  where
L is a particle size, T = L^2 / D a diffusion time, C = c_max, and
V = k_B T / e the thermal voltage.  Outputs are converted back to SI.
"""

from __future__ import annotations

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
    """Reference scales: length [m], time [s], concentration [mol/m^3], potential [V]."""

    length: float
    time: float
    concentration: float = 1.0
    potential: float = 1.0

    @classmethod
    def diffusive(cls, length_m: float, diffusivity_m2_s: float, concentration_mol_m3: float = 1.0,
                  temperature_K: float = 298.15):
        """L, T = L^2/D, C, kT/e."""
        return cls(length_m, length_m**2 / diffusivity_m2_s, concentration_mol_m3,
                   thermal_voltage(temperature_K))

    @property
    def diffusivity(self) -> float:
        """D scale L^2/T [m^2/s]."""
        return self.length**2 / self.time

    @property
    def molar_flux(self) -> float:
        """Flux scale C L / T [mol/(m^2 s)]."""
        return self.concentration * self.length / self.time
