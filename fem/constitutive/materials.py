"""Parameter sets of common insertion materials, with the source of every number.

A :class:`Material` holds SI values; its ``ocv_V(x)`` works on numpy and UFL
(x = c / c_max).  ``x_full`` is the stoichiometry of the charged cell (100 %
SOC) and ``x_empty`` that of the discharged cell (0 % SOC); a discharge moves
a positive electrode from x_full up to x_empty (lithiation).

Sources
-------
[Chen2020]  C.-H. Chen, F. Brosa Planella, K. O'Regan, D. Gastol, W. D. Widanage,
            E. Kendrick, "Development of experimental techniques for parameterization
            of multi-scale lithium-ion battery models", J. Electrochem. Soc. 167 (2020)
            080534, Table VII and eqs. (8)-(9) (LG M50: NMC811 / graphite-SiOx).
[SN2004]    V. Srinivasan, J. Newman, "Discharge model for the lithium iron-phosphate
            electrode", J. Electrochem. Soc. 151 (2004) A1517.
[Bai2011]   P. Bai, D. A. Cogswell, M. Z. Bazant, "Suppression of phase separation in
            LiFePO4 nanoparticles during battery discharge", Nano Lett. 11 (2011) 4890
            (Omega = 4.51 k_B T at 298 K, U0 = 3.422 V).
[Ramadass2004] P. Ramadass, B. Haran, P. M. Gomadam, R. White, B. N. Popov, J. Electrochem.
            Soc. 151 (2004) A196 (LiCoO2: c_max, D, k; OCV fit from Dualfoil, Doyle &
            Newman, as tabulated in PyBaMM's ``lico2_ocp_Dualfoil1998``).
Values marked "assumed" have no single published source and are
order-of-magnitude choices, documented as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from fem.constitutive.mathops import exp, tanh
from fem.constitutive.free_energy import RegularSolution


@dataclass(frozen=True)
class Material:
    name: str
    c_max_mol_m3: float
    diffusivity_m2_s: float
    ocv_V: Callable
    rate_constant_A_m2: float  # m = F k [A m^-2 (m^3/mol)^1.5], i0 = m c_e^0.5 c^0.5 (c_max - c)^0.5
    x_full: float
    x_empty: float
    radius_m: float
    alpha: float = 0.5
    c_electrolyte_mol_m3: float = 1000.0
    temperature_K: float = 298.15
    diffusivity_activation_eV: float | None = None
    anisotropy_out_of_plane: float | None = None  # D_c / D_ab for layered compounds
    sources: dict = field(default_factory=dict)

    @property
    def capacity_mol_m3(self) -> float:
        """Li exchanged between x_full and x_empty per unit volume [mol/m^3]."""
        return self.c_max_mol_m3 * abs(self.x_empty - self.x_full)


def nmc811_chen2020_ocv(x):
    """Chen 2020 eq. (8): U_p(x) [V], NMC811 vs Li/Li+."""
    return (-0.8090 * x + 4.4875 - 0.0428 * tanh(18.5138 * (x - 0.5542))
            - 17.7326 * tanh(15.7890 * (x - 0.3117)) + 17.5842 * tanh(15.9308 * (x - 0.3120)))


def graphite_chen2020_ocv(x):
    """Chen 2020 eq. (9): U_n(x) [V], graphite-SiOx vs Li/Li+."""
    return (1.9793 * exp(-39.3631 * x) + 0.2482 - 0.0909 * tanh(29.8538 * (x - 0.1234))
            - 0.04478 * tanh(14.9159 * (x - 0.2769)) - 0.0205 * tanh(30.4444 * (x - 0.6103)))


def lco_dualfoil_ocv(x):
    """LiCoO2 OCV [V] (Dualfoil / Ramadass 2004 fit, valid ~0.5 < x < 1)."""
    y2 = x * x
    y4, y6, y8, y10 = y2 * y2, y2**3, y2**4, y2**5
    return ((-4.656 + 88.669 * y2 - 401.119 * y4 + 342.909 * y6 - 462.471 * y8 + 433.434 * y10)
            / (-1 + 18.933 * y2 - 79.532 * y4 + 37.311 * y6 - 73.083 * y8 + 95.96 * y10))


LFP_REGULAR_SOLUTION = RegularSolution.from_eV(omega_eV=0.1159, temperature_K=298.15, u0_V=3.422)


def lfp_regular_solution_ocv(x):
    """LiFePO4 OCV [V] of a regular solution, Omega = 4.51 kT, U0 = 3.422 V [Bai2011]."""
    return LFP_REGULAR_SOLUTION.ocv_V(x)


NMC811_CHEN2020 = Material(
    name="NMC811 (Chen 2020, LG M50 positive)", c_max_mol_m3=63104.0, diffusivity_m2_s=4.0e-15,
    ocv_V=nmc811_chen2020_ocv, rate_constant_A_m2=3.42e-6, x_full=0.2661, x_empty=0.9084,
    radius_m=5.22e-6, anisotropy_out_of_plane=1e-2,
    sources={"c_max, D, m, x_full, x_empty, radius, OCV": "[Chen2020] Table VII, eq. (8)",
             "anisotropy_out_of_plane": "assumed (layered oxide: Li hops within the Li layers)"})

GRAPHITE_CHEN2020 = Material(
    name="graphite-SiOx (Chen 2020, LG M50 negative)", c_max_mol_m3=33133.0, diffusivity_m2_s=3.3e-14,
    ocv_V=graphite_chen2020_ocv, rate_constant_A_m2=6.48e-7, x_full=0.9014, x_empty=0.0279,
    radius_m=5.86e-6,
    sources={"all": "[Chen2020] Table VII, eq. (9)"})

LFP = Material(
    name="LiFePO4", c_max_mol_m3=22806.0, diffusivity_m2_s=8.0e-18, ocv_V=lfp_regular_solution_ocv,
    rate_constant_A_m2=3.0e-6, x_full=0.01, x_empty=0.99, radius_m=52e-9,
    sources={"c_max, D, radius": "[SN2004]", "OCV (regular solution)": "[Bai2011]",
             "rate_constant_A_m2, x window": "assumed"})

LCO = Material(
    name="LiCoO2", c_max_mol_m3=51554.0, diffusivity_m2_s=1.0e-14, ocv_V=lco_dualfoil_ocv,
    rate_constant_A_m2=96485.33212 * 2.334e-11, x_full=0.5, x_empty=0.99, radius_m=2e-6,
    sources={"c_max, D, k (m = F k)": "[Ramadass2004]", "OCV": "[Ramadass2004] (Dualfoil fit)",
             "x window, radius": "assumed"})

MATERIALS = {"nmc811_chen2020": NMC811_CHEN2020, "graphite_chen2020": GRAPHITE_CHEN2020,
             "lfp": LFP, "lco": LCO}
