"""Boltzmann–Matano analysis of a diffusion-couple composition profile, and Darken's intrinsic
diffusivities from the Kirkendall marker shift.

Profile c(z) after annealing for t [s] (c in any unit, e.g. mole fraction; z [m]), ends c_L
(z -> -inf) and c_R.  Matano plane z_M: int_{c_L}^{c_R} (z - z_M) dc = 0.  Interdiffusivity
(C. Matano, Jpn. J. Phys. 8 (1933) 109; L. Boltzmann, Ann. Phys. 53 (1894) 959)

    D~(c*) = -1/(2t) (dz/dc)|_{c*} int_{c_L}^{c*} (z - z_M) dc              [m^2/s]

(integrals by the trapezoid rule on the data, dc/dz by central differences).  Valid for a
semi-infinite couple (both ends still at their initial values) with constant molar volume.

Markers (Kirkendall plane at z_K, initially at the Matano plane, i.e. the initial interface):
the marker velocity v_K = (z_K - z_M)/(2t) (parabolic motion) and Darken's
v_K = (D_A - D_B) dx_A/dz, D~ = x_B D_A + x_A D_B at the marker composition give

    D_A - D_B = v_K / (dx_A/dz)_K,   D_A = D~ + x_A (D_A - D_B),   D_B = D~ - x_B (D_A - D_B)

with c the mole fraction x_A of the component A (L. S. Darken, Trans. AIME 175 (1948) 184).
"""

from __future__ import annotations

import numpy as np

from fem.errors import InputError


def prepare(z, c, name="data"):
    z, c = np.asarray(z, dtype=float), np.asarray(c, dtype=float)
    if len(z) < 10:
        raise InputError(f"{name}: {len(z)} points; a Matano analysis needs >= 10")
    o = np.argsort(z)
    z, c = z[o], c[o]
    if np.any(np.diff(z) <= 0):
        raise InputError(f"{name}: column position_m: repeated positions")
    if c[0] == c[-1]:
        raise InputError(f"{name}: column composition: both ends have the same composition (no couple)")
    return z, c


def matano_plane(z, c) -> float:
    """z_M with int (z - z_M) dc = 0 (trapezoid in c)."""
    zm = 0.5 * (z[1:] + z[:-1])
    return float(np.sum(zm * np.diff(c)) / (c[-1] - c[0]))


def interdiffusivity(z, c, time_s: float) -> dict:
    """D~ at every interior point (module docstring): {'c', 'z_m', 'D_m2_s', 'matano_plane_m', 'Y'}."""
    zM = matano_plane(z, c)
    zm = 0.5 * (z[1:] + z[:-1])
    integral = np.concatenate([[0.0], np.cumsum((zm - zM) * np.diff(c))])  # int_{c_L}^{c_i} (z - z_M) dc
    dcdz = np.gradient(c, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        D = -integral / (2.0 * time_s * dcdz)
    Y = (c - c[0]) / (c[-1] - c[0])
    return {"z_m": z, "c": c, "D_m2_s": D, "matano_plane_m": zM, "Y": Y, "dc_dz": dcdz}


def intrinsic(z, c, D_tilde, time_s: float, marker_m: float, z_M: float) -> dict:
    """Darken: D_A, D_B at the marker plane; c must be the mole fraction x_A of A.

    v_K = (z_K - z_M)/(2t);  D_A - D_B = v_K / (dx_A/dz)_K;  D~ = x_B D_A + x_A D_B
    =>  D_A = D~ + x_A (D_A - D_B),  D_B = D~ - x_B (D_A - D_B).
    """
    if not (z[0] < marker_m < z[-1]):
        raise InputError(f"marker position {marker_m} m is outside the profile [{z[0]}, {z[-1]}] m")
    xK = float(np.interp(marker_m, z, c))
    dxdz = float(np.interp(marker_m, z, np.gradient(c, z)))
    ok = np.isfinite(D_tilde)
    Dt = float(np.interp(marker_m, z[ok], D_tilde[ok]))
    v = (marker_m - z_M) / (2.0 * time_s)
    diff = v / dxdz
    return {"marker_position_m": marker_m, "marker_velocity_m_s": v, "x_A_at_marker": xK,
            "interdiffusivity_at_marker_m2_s": Dt, "D_A_m2_s": Dt + xK * diff, "D_B_m2_s": Dt - (1 - xK) * diff}
