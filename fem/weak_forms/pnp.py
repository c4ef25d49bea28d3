"""Poisson–Nernst–Planck weak forms in electrochemical-potential unknowns.

Nondimensional (x by the Debye length L_D = sqrt(eps0 eps_ref kT / (e F c_ref)),
phi by kT/e, c by c_ref, t by L_D^2 / D_ref, eps by eps0 eps_ref):

    Poisson        -div(eps grad phi) = rho = sum_i z_i c_i + rho_fixed     in each material
                   [phi] = 0,  [eps dphi/dn] = -sigma_f on the interface
                   (D = -eps grad phi;  n(D_+ - D_-) = sigma_f)
    Nernst–Planck  dc_i/dt + div J_i = 0,
                   J_i = -D_i (grad c_i + c_i grad ln gamma_i + z_i c_i grad phi) = -D_i c_i grad eta_i
                   eta_i = mu0_i + ln c_i + ln gamma_i(c_i) + z_i phi  (electrochemical potential / kT)

Why electrochemical-potential unknowns
--------------------------------------
Across a solid|solid interface the concentrations jump (different standard
chemical potentials mu0_i and activity models on each side) while, for an
interface in local equilibrium, eta_i is continuous and the normal flux is
continuous.  Taking eta_i (continuous Lagrange) and phi as unknowns on ONE
mesh makes both conditions natural and exact: c_i = c_i(eta_i - mu0_i - z_i phi)
is evaluated cell-wise with the material's mu0 and activity model, so it is
discontinuous exactly at the interface with the ratio set by the
electrochemical-potential balance, no penalty or Lagrange multiplier is
needed, and c_i > 0 for any eta_i (positivity is built in).  The flux
-D c grad eta is the Scharfetter–Gummel-like "Slotboom" form.
Blocking or finite-rate (Butler–Volmer) interfaces need eta_i discontinuous:
there the species gets one eta field per material (each defined on the whole
mesh, its dofs strictly inside the other material fixed by Dirichlet
conditions, i.e. one function space per material coupled only on the
interface) and :func:`interface_exchange` adds the exchange flux

    j_ab = k0 (exp(alpha (eta_a - eta_b)) - exp(-(1 - alpha)(eta_a - eta_b)))   (a -> b)

(k0 = 0: blocking).  The interface surface charge enters as a dS source of the
Poisson equation.
"""

from __future__ import annotations

import ufl


def poisson_residual(phi, v, charge_terms, surface_charges=()):
    """sum_m (eps_m grad phi . grad v - rho_m v) dx_m - sigma_f avg(v) dS.

    charge_terms : iterable of (eps_m, rho_m, dx_m) per material (eps and rho UFL), optionally
        (eps_m, rho_m, dx_m, dx_rho) with a measure of its own for the charge term (e.g. vertex
        quadrature, lumped like the chemical potential it is coupled to);
    surface_charges : iterable of (sigma_f, dS) (sigma_f > 0: positive free charge).
    """
    F = 0
    for eps_m, rho_m, dx_m, *dx_rho in charge_terms:
        dx_r = dx_rho[0] if dx_rho else dx_m
        F = F + eps_m * ufl.inner(ufl.grad(phi), ufl.grad(v)) * dx_m - rho_m * v * dx_r
    for sigma, dS in surface_charges:
        F = F - sigma * ufl.avg(v) * dS
    return F


def nernst_planck_flux(c, eta, D):
    """J = -D c grad eta (nondimensional molar flux)."""
    return -D * c * ufl.grad(eta)


def nernst_planck_residual(dcdt, c, eta, v, D, dx, inflow=()):
    """(dc/dt) v + D c grad eta . grad v over dx, minus inflow j v ds (j > 0 enters).

    ``dcdt`` = None gives the steady residual.
    """
    F = -ufl.inner(nernst_planck_flux(c, eta, D), ufl.grad(v)) * dx
    if dcdt is not None:
        F = F + dcdt * v * dx
    for j, ds in inflow:
        F = F - j * v * ds
    return F


def exchange_flux(eta_a, eta_b, k0, alpha=0.5):
    """Butler–Volmer-like exchange flux a -> b driven by eta_a - eta_b (kT units)."""
    d = eta_a - eta_b
    return k0 * (ufl.exp(alpha * d) - ufl.exp(-(1 - alpha) * d))


def interface_exchange(eta_a, eta_b, v_a, v_b, k0, alpha, dS):
    """Residual of the finite-rate exchange on an interior interface measure dS.

    The two fields are continuous, so their '+' and '-' traces agree; ``avg`` is used.
    """
    j = exchange_flux(ufl.avg(eta_a), ufl.avg(eta_b), k0, alpha)
    return j * ufl.avg(v_a) * dS - j * ufl.avg(v_b) * dS


def concentration(activity, eta, mu0, z, phi):
    """c = activity^{-1}(eta - mu0 - z phi) (UFL)."""
    return activity.concentration(eta - mu0 - z * phi)
