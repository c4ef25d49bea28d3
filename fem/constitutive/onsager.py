"""Linear irreversible thermodynamics of coupled ion and heat transport (Onsager).

Fluxes and forces (SI), with the *measurable* heat flux J_q' [W/m^2] and the molar flux J
[mol/(m^2 s)] of a dilute species of charge number z (de Groot & Mazur 1962, ch. IV and XI;
Kjelstrup & Bedeaux 2008, ch. 3-4)::

    sigma = J . X_1 + J_q' . X_q  >= 0                          [W/(K m^3)]
    X_1 = -(1/T) grad_T mu~   = -R (grad c / c) - (z F / T) grad phi     [J/(mol K m)]
    X_q = grad(1/T)           = -grad T / T^2                             [1/(K m)]
    J   = L_11 X_1 + L_1q X_q,      J_q' = L_q1 X_1 + L_qq X_q

(grad_T: the gradient at constant T; for an ideal dilute species mu~ = mu0 + R T ln c + z F phi.)
With J_q' as the heat flux, -(1/T) grad_T mu~ is the force conjugate to J; it is the
equivalent, for this choice of heat flux, of the force -grad(mu~/T) conjugate to the energy
flux J_u = J_q' + h J (the two descriptions differ by the enthalpy h carried by J).  Onsager:
L = [[L_11, L_1q], [L_q1, L_qq]] symmetric (L_1q = L_q1) and positive semidefinite, so that
sigma = X^T L X >= 0 for every force.

Identification with the measured coefficients
---------------------------------------------
* Fick:  at uniform T and phi, J = -L_11 R grad c / c  =>  L_11 = D c / R.
* Soret: at uniform c and phi, J = -L_1q grad T / T^2 = -D c S_T grad T defines the Soret
  coefficient S_T [1/K], so  L_1q = D c S_T T^2.  The heat of transport is the heat carried per
  mole at uniform T, Q* = (J_q' / J) at grad T = 0 = L_q1 / L_11 = L_1q / L_11 (Onsager), hence

      Q* = R T^2 S_T           [J/mol]      and     J = -D (grad c + c S_T grad T + z F c grad phi / (R T)).

* Dufour (the reciprocal effect): at uniform T and phi, J_q' = L_q1 X_1 = -L_q1 R grad c / c
  = -(D R T^2 S_T) grad c = -Q* D grad c: the Dufour heat flux per unit concentration gradient
  is Q* D = R T^2 S_T D [W m/mol], fixed by the same L_1q as the Soret coefficient.
* Fourier: L_qq = k T^2, k [W/(m K)] the conductivity at uniform electrochemical potential
  (X_1 = 0); at zero mass flux the conductivity is k_J = k - L_1q^2 / (L_11 T^2) = k - c D R S_T^2 T^2.
* Positive semidefinite: L_11 >= 0, L_qq >= 0, det L = L_11 T^2 (k - c D R S_T^2 T^2) >= 0, i.e.
  k >= c D R S_T^2 T^2 (satisfied by many orders of magnitude in solids; checked at input at the
  largest c and T of a run).

Steady Soret profile (closed bar, J = 0, no field): grad ln c = -S_T grad T, so for a constant
S_T, c(x) = c_ref exp(-S_T (T(x) - T_ref)) with c_ref from the conserved amount.

Nondimensional form used by :mod:`fem.weak_forms.thermodiffusion` (x by L, t by L^2/D, c by
c0, T by T0 (theta = T/T0), phi by R T0 / F (psi)): reduced forces
X1^ = -(grad c / c + z grad psi / theta), Xq^ = -grad theta / theta^2, reduced matrix

    M = [[gamma c, gamma S^ c theta^2], [gamma S^ c theta^2, theta^2]],
    gamma = D c0 R / k,  S^ = S_T T0,

fluxes J^ = (M_11 X1^ + M_1q Xq^) / gamma (= J L / (D c0)),  J_q^ = M_q1 X1^ + M_qq Xq^
(= J_q' L / (k T0)), entropy production sigma^ = gamma J^ . X1^ + J_q^ . Xq^ = X^T M X
(= sigma L^2 / k).  Positive semidefinite iff gamma S^2 c theta^2 <= 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fem.errors import InputError
from fem.scaling import GAS_CONSTANT


def check_onsager_matrix(L, names, rtol=1e-12):
    """Check that the square matrix ``L`` is symmetric and positive semidefinite.

    ``names[i][k]`` is the parameter (or entry) name of L[i][k]; the InputError (one line) names
    the off-diagonal entry that breaks reciprocity, or the entry of the largest |L_ik| in the
    eigenvector of the negative eigenvalue.
    """
    L = np.asarray(L, dtype=float)
    scale = max(np.max(np.abs(L)), 1e-300)
    n = L.shape[0]
    for i in range(n):
        for k in range(i + 1, n):
            if abs(L[i, k] - L[k, i]) > rtol * scale:
                raise InputError(f"parameter '{names[i][k]}' = {L[i, k]:.6g}: the Onsager matrix must be symmetric "
                                 f"(reciprocity: equal to '{names[k][i]}' = {L[k, i]:.6g})")
    # scale-free test: the congruence N = S L S, S = diag(L_ii^-1/2), keeps (semi)definiteness and makes
    # the diagonal 1 (the entries of L differ by many orders of magnitude in SI)
    d = np.diag(L)
    for i in range(n):
        if d[i] < 0:
            raise InputError(f"parameter '{names[i][i]}' = {d[i]:.6g}: a diagonal Onsager coefficient must be >= 0")
    s = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    for i in range(n):
        for k in range(n):
            if i != k and (d[i] == 0 or d[k] == 0) and L[i, k] != 0:
                raise InputError(f"parameter '{names[min(i, k)][max(i, k)]}' = {L[i, k]:.6g}: the Onsager matrix "
                                 "is not positive semidefinite (nonzero coupling to a zero diagonal entry)")
    N = s[:, None] * (0.5 * (L + L.T)) * s[None, :]
    w, v = np.linalg.eigh(N)
    if w[0] < -rtol:
        vec = np.abs(v[:, 0])
        order = np.argsort(-vec, kind="stable")
        i, k = int(order[0]), int(order[min(1, n - 1)])
        raise InputError(f"parameter '{names[min(i, k)][max(i, k)]}' = {L[min(i, k), max(i, k)]:.6g}: the Onsager "
                         f"matrix is not positive semidefinite (eigenvalue {w[0]:.3g} of the matrix scaled to a unit "
                         "diagonal); entropy production would be negative")


@dataclass(frozen=True)
class Thermodiffusion:
    """Coefficients (SI) of a dilute species with heat: D [m^2/s], Soret S_T [1/K],
    conductivity k [W/(m K)] at uniform electrochemical potential, charge number z."""

    diffusivity_m2_s: float
    soret_1_K: float
    conductivity_W_m_K: float
    z: int = 0

    def onsager_matrix(self, c, T):
        """[[L_11, L_1q], [L_q1, L_qq]] [SI] at concentration c [mol/m^3] and temperature T [K]."""
        D, S, k = self.diffusivity_m2_s, self.soret_1_K, self.conductivity_W_m_K
        L11 = D * c / GAS_CONSTANT
        L1q = D * c * S * T * T
        return np.array([[L11, L1q], [L1q, k * T * T]])

    def heat_of_transport_J_mol(self, T):
        """Q* = L_q1 / L_11 = R T^2 S_T."""
        return GAS_CONSTANT * T * T * self.soret_1_K

    def dufour_W_m_mol(self, T):
        """Heat flux per unit -grad c at uniform T: Q* D."""
        return self.heat_of_transport_J_mol(T) * self.diffusivity_m2_s

    def check(self, c_max, T_max, names=("diffusivity_m2_s", "soret_coefficient_1_K", "thermal_conductivity_W_m_K")):
        """InputError (naming the Soret coefficient) unless L(c, T) is positive semidefinite up to
        c_max, T_max (det L / L_11 = T^2 (k - c D R S_T^2 T^2) decreases with c and T)."""
        nd, ns, nk = names
        check_onsager_matrix(self.onsager_matrix(c_max, T_max), [[nd, ns], [ns, nk]])

    def reduced(self, c0, T0):
        """(gamma, S^) of the nondimensional form (module docstring)."""
        return (self.diffusivity_m2_s * c0 * GAS_CONSTANT / self.conductivity_W_m_K, self.soret_1_K * T0)


def reduced_matrix(c, theta, gamma, S):
    """Nondimensional Onsager matrix M(c, theta) (module docstring); numpy or UFL entries."""
    m1q = gamma * S * c * theta * theta
    return [[gamma * c, m1q], [m1q, theta * theta]]
