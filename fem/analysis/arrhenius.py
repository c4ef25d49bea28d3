"""Arrhenius fit of diffusivities measured at several temperatures.

    D(T) = D0 exp(-E_a / (R T)),   ln D = ln D0 - (E_a/R) (1/T)          [D in m^2/s, T in K]

Ordinary least squares of ln D on 1/T (equal relative errors of D).  Standard uncertainties
from the residual variance s^2 = SSR/(n - 2) and (A^T A)^-1 (n >= 3); E_a in J/mol and eV.
"""

from __future__ import annotations

import numpy as np

from fem.errors import InputError
from fem.scaling import ELEMENTARY_CHARGE, GAS_CONSTANT

AVOGADRO = 6.02214076e23


def fit(T_K, D_m2_s, name="data") -> dict:
    T, D = np.asarray(T_K, dtype=float), np.asarray(D_m2_s, dtype=float)
    if len(T) < 3:
        raise InputError(f"{name}: {len(T)} points; an Arrhenius fit with an uncertainty needs >= 3")
    if np.any(T <= 0):
        raise InputError(f"{name}: column temperature_K: temperatures must be > 0 K")
    if np.any(D <= 0):
        raise InputError(f"{name}: column diffusivity_m2_s: diffusivities must be > 0")
    if np.ptp(1 / T) == 0:
        raise InputError(f"{name}: column temperature_K: all temperatures are equal")
    A = np.column_stack([np.ones_like(T), 1.0 / T])
    y = np.log(D)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = y - A @ coef
    s2 = float(r @ r) / (len(T) - 2)
    cov = np.linalg.inv(A.T @ A) * s2
    Ea = -coef[1] * GAS_CONSTANT
    u_Ea = np.sqrt(cov[1, 1]) * GAS_CONSTANT
    D0 = float(np.exp(coef[0]))
    eV = ELEMENTARY_CHARGE * AVOGADRO
    return {"D0_m2_s": D0, "D0_rel_uncertainty": float(np.sqrt(cov[0, 0])),
            "activation_energy_J_mol": float(Ea), "activation_energy_uncertainty_J_mol": float(u_Ea),
            "activation_energy_eV": float(Ea / eV), "activation_energy_uncertainty_eV": float(u_Ea / eV),
            "correlation_lnD0_Ea": float(-cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])) if s2 > 0 else 0.0,
            "residual_rms_lnD": float(np.sqrt(np.mean(r**2))), "n_points": int(len(T)),
            "_fit": lambda TT: D0 * np.exp(-Ea / (GAS_CONSTANT * np.asarray(TT)))}
