"""Linear elasticity with a Vegard (compositional) eigenstrain: chemo-mechanics.

Small strain, isotropic (Lame lambda, G), eigenstrain eps0 c I (Vegard's law):

    eps(u)   = sym grad u
    sigma    = lambda tr(eps - eps0 c I) I + 2 G (eps - eps0 c I)
    div sigma = 0                     (quasi-static, solved with Cahn-Hilliard)
    W        = 1/2 (eps - eps0 c I) : sigma          (elastic energy density)
    mu_el    = dW/dc = -eps0 tr(sigma)               (enters the chemical potential)

Nondimensional: stresses and W in units of kT / V_site (the free-energy
density scale of the regular solution), displacements in the mesh unit.
In 2D the state is plane strain (eps_zz = 0): the out-of-plane stress
sigma_zz = lambda tr(eps - eps0 c I_3) - 2 G eps0 c is included in tr(sigma)
and in W, so a 1D composition wave in a film with eps_yy = 0 gives the
classical coherency curvature g'' + 2 Y eps0^2, Y = E/(1 - nu) (Cahn 1961).

Rigid-body modes of a traction-free particle are removed by a weak spring
``spring * u . w`` (nondimensional stiffness, default tiny relative to G).
"""

from __future__ import annotations

import ufl


def lame(young, poisson):
    """(lambda, G) from Young's modulus and Poisson's ratio."""
    lam = young * poisson / ((1 + poisson) * (1 - 2 * poisson))
    return lam, young / (2 * (1 + poisson))


def strain(u):
    return ufl.sym(ufl.grad(u))


def stress(u, c, eps0, lam, G):
    """In-plane stress tensor (gdim x gdim) and the trace of the full 3D stress."""
    gdim = ufl.shape(u)[0]
    e = strain(u)
    I = ufl.Identity(gdim)
    tr_el = ufl.tr(e) - 3 * eps0 * c if gdim == 2 else ufl.tr(e) - gdim * eps0 * c
    sigma = lam * tr_el * I + 2 * G * (e - eps0 * c * I)
    tr_full = ufl.tr(sigma)
    if gdim == 2:  # plane strain: sigma_zz from eps_zz = 0
        tr_full = tr_full + lam * tr_el - 2 * G * eps0 * c
    return sigma, tr_full


def elastic_energy_density(u, c, eps0, lam, G):
    """W = 1/2 sigma : (eps - eps0 c I) (plane strain in 2D)."""
    gdim = ufl.shape(u)[0]
    sigma, _ = stress(u, c, eps0, lam, G)
    e_el = strain(u) - eps0 * c * ufl.Identity(gdim)
    W = 0.5 * ufl.inner(sigma, e_el)
    if gdim == 2:
        tr_el = ufl.tr(strain(u)) - 3 * eps0 * c
        sigma_zz = lam * tr_el - 2 * G * eps0 * c
        W = W + 0.5 * sigma_zz * (-eps0 * c)
    return W


def chemical_potential_elastic(u, c, eps0, lam, G):
    """mu_el = dW/dc = -eps0 tr(sigma)."""
    _, tr_full = stress(u, c, eps0, lam, G)
    return -eps0 * tr_full


def elasticity_residual(u, w, c, eps0, lam, G, dx, spring=0.0):
    """F_u = int sigma(u, c) : eps(w) dx (+ spring u . w): quasi-static balance, traction free."""
    sigma, _ = stress(u, c, eps0, lam, G)
    F = ufl.inner(sigma, strain(w)) * dx
    if spring:
        F += spring * ufl.inner(u, w) * dx
    return F
