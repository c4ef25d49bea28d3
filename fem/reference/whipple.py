"""Whipple's exact solution for diffusion from a constant surface source along one grain boundary.

Fisher's geometry: a slab |x| < a (a = delta/2) of diffusivity D' = Delta D between two
semi-infinite grains of diffusivity D, the surface y = 0 held at c = c0 from t = 0,
c = 0 initially, continuity of c and of the normal flux at |x| = a.  Whipple
(R. T. P. Whipple, Phil. Mag. 45 (1954) 1225), in the form of I. Kaur, Yu. Mishin and
W. Lojkowski (Fundamentals of Grain and Interphase Boundary Diffusion, Wiley 1995, ch. 2):

    c / c0 = erfc(eta/2) + eta / (2 sqrt(pi)) int_1^Delta sigma^(-3/2) exp(-eta^2 / (4 sigma))
             erfc( 1/2 sqrt((Delta - 1)/(Delta - sigma)) (xi + (sigma - 1)/beta) ) d sigma,

    eta = y / sqrt(D t),  xi = (|x| - a) / sqrt(D t),  beta = (Delta - 1) a / sqrt(D t).

Evaluated with tau = sigma^(-1/2) (d sigma sigma^(-3/2) = -2 d tau, a smooth integrand on
[Delta^(-1/2), 1]) by adaptive quadrature.  The lateral excess over the lattice part,
int_0^inf (c - c0 erfc(eta/2)) d xi, follows in closed form in xi from
int_0^inf erfc(A (xi + b)) d xi = ierfc(A b) / A, ierfc(z) = exp(-z^2)/sqrt(pi) - z erfc(z).
Independent of the finite-element code; used to verify it.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import quad
from scipy.special import erfc


def _ierfc(z):
    return np.exp(-z * z) / np.sqrt(np.pi) - z * erfc(z)


def _terms(tau, Delta):
    sigma = 1.0 / (tau * tau)
    A = 0.5 * np.sqrt((Delta - 1.0) / max(Delta - sigma, 1e-300))
    return sigma, A


def concentration(xi: float, eta: float, beta: float, Delta: float) -> float:
    """c / c0 at (xi, eta) >= 0 (grain side of the slab edge)."""
    def f(tau):
        sigma, A = _terms(tau, Delta)
        return np.exp(-eta * eta * tau * tau / 4) * erfc(A * (xi + (sigma - 1) / beta))
    val, _ = quad(f, Delta ** -0.5, 1.0, epsabs=1e-14, epsrel=1e-11, limit=400)
    return float(erfc(eta / 2) + eta / np.sqrt(np.pi) * val)


def lateral_excess(eta: float, beta: float, Delta: float) -> float:
    """int_0^inf (c/c0 - erfc(eta/2)) d xi: the boundary's contribution to one grain of a layer at depth eta
    (in units of sqrt(D t); the slab's own content delta c is not included)."""
    def f(tau):
        sigma, A = _terms(tau, Delta)
        return np.exp(-eta * eta * tau * tau / 4) * _ierfc(A * (sigma - 1) / beta) / A
    val, _ = quad(f, Delta ** -0.5, 1.0, epsabs=1e-16, epsrel=1e-11, limit=400)
    return float(eta / np.sqrt(np.pi) * val)
