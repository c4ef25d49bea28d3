"""The regular-solution (LiFePO4-like) parameter block shared by the Cahn-Hilliard particle problems.

``phase_separating_charge``, ``platelet_intercalation`` and ``particle_spinodal`` all describe
the material by the free energy per site of :class:`fem.constitutive.free_energy.RegularSolution`
(units of kT, x = c / c_max)::

    g(x)/kT = x ln x + (1 - x) ln(1 - x) + (Omega - T s1) x (1 - x)/kT + K x^2/kT

and an interface length lambda = sqrt(kappa / Omega_eff), which on the problem's length scale L
gives the nondimensional gradient coefficient kappa~ = a (lambda / L)^2, a = Omega_eff / kT
(Cahn & Hilliard, J. Chem. Phys. 28 (1958) 258; Bazant, Acc. Chem. Res. 46 (2013) 1144).
The mixins below hold those parameters once (names, defaults, units and ranges as the problems
had them); a problem derives from one of them and from :class:`fem.parameters.Parameters`, as the
particle problems do with :class:`fem.particle.ParticleParameters`.  The defaults are
LiFePO4's: Omega = 0.1159 eV (4.51 kT at 298 K), c_max = 22806 mol/m^3.
"""

from __future__ import annotations

from dataclasses import dataclass

from fem.constitutive.free_energy import RegularSolution
from fem.parameters import Parameters, param


@dataclass
class RegularSolutionParameters(Parameters):
    """Omega, s1, K, T, lambda and c_max of a regular-solution compound (a mixin)."""

    omega_eV: float = param(0.1159, "regular-solution interaction Omega (4.51 kT at 298 K)", "eV", ge=0)
    s1_eV_K: float = param(0.0, "vibrational entropy coefficient s1 (Omega_eff = Omega - T s1)", "eV/K")
    coherency_eV: float = param(0.0, "homogeneous coherency-strain energy K (term K c^2)", "eV", ge=0)
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    interface_length_m: float = param(3e-9, "interface length lambda = sqrt(kappa / Omega_eff)", "m", gt=0)
    c_max_mol_m3: float = param(22806.0, "site (maximum) concentration", "mol/m^3", gt=0)

    def free_energy(self) -> RegularSolution:
        """g(x) per site; its open-circuit reference U0 = ``u0_V`` where the problem has one."""
        return RegularSolution.from_eV(self.omega_eV, self.temperature_K, self.s1_eV_K, self.coherency_eV,
                                       getattr(self, "u0_V", 0.0))

    def gradient_coefficient(self, length_m: float) -> float:
        """kappa~ = a (lambda / L)^2 [-], a = Omega_eff / kT, on the length scale L = ``length_m``."""
        return self.free_energy().a * (self.interface_length_m / length_m) ** 2


@dataclass
class ElectrodeRegularSolutionParameters(RegularSolutionParameters):
    """The same with the open-circuit voltage U(x) = U0 - mu(x)/e of an electrode particle."""

    u0_V: float = param(3.422, "reference potential U0 (plateau of the symmetric solution)", "V")
