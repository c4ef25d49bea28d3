"""Cahn-Hilliard weak forms, mixed (c, mu) formulation.

Strong form (nondimensional; site fraction c in (0, 1), mu in units of the
free-energy scale, lengths in the mesh unit, time in the diffusive unit):

    dc/dt = div( M(c) grad mu ) + s_c                    in Omega
    mu    = g'(c) - kappa lap c + mu_el + s_mu           in Omega
    M grad mu . n = j_in ,  kappa grad c . n = 0         on the boundary

(j_in > 0 inserts; no flux where no inflow is given).  Weak form with test
functions (q, v):

    F_c  = int (c - c_n)/dt q + M grad(mu_theta) . grad q - s_c q dx - sum int j_in q ds
    F_mu = int (mu - g'_split - mu_el - s_mu) v - kappa grad c . grad v dx

Time discretization (backward Euler in c; the fully implicit scheme also with the variable-step
BDF2 derivative of :mod:`fem.time_schemes`, argument ``ddt``):

* ``split``   (default) convex-concave (Eyre) splitting: g' = g'_convex(c^{n+1})
  + g'_concave(c^n).  The discrete free energy
  F[c] = int g(c) + kappa/2 |grad c|^2 dx  never increases for any dt
  (Eyre 1998; Elliott & Stuart 1993), and the logarithmic (convex) part is
  implicit, so Newton needs c in (0, 1) and otherwise the step is cut.
* ``implicit`` fully implicit g'(c^{n+1}) (energy decrease only for small dt).

``mu_theta = theta mu^{n+1} + (1 - theta) mu^n`` (theta = 1 by default).
Coherency: the homogeneous term K c^2 is part of the free energy
(``RegularSolution.coherency_J``); the full chemo-mechanical coupling adds
mu_el = -eps0 tr(sigma) (see :mod:`fem.weak_forms.elasticity`).
"""

from __future__ import annotations

import ufl

SCHEMES = ("split", "implicit")


def chemical_potential(free_energy, c, c_old, scheme: str = "split"):
    """Homogeneous chemical potential g' as used in the step, as UFL.

    ``free_energy`` is a RegularSolution (units of kT per site) or a
    DoubleWell (anything with ``mu`` and either ``mu_convex``/``mu_concave``
    or ``mu_ideal`` and parameters ``a``, ``k``).
    """
    if scheme == "implicit":
        return free_energy.mu(c)
    if scheme != "split":
        raise ValueError(f"scheme {scheme!r}; allowed: {', '.join(SCHEMES)}")
    if hasattr(free_energy, "mu_convex"):
        return free_energy.mu_convex(c) + free_energy.mu_concave(c_old)
    # Regular solution: ln(c/(1-c)) + 2 k c convex (k >= 0), a (1 - 2c) concave (a >= 0).
    a, k = free_energy.a, free_energy.k
    convex = free_energy.mu_ideal(c)
    concave = 0
    if a >= 0:
        concave = concave + a * (1 - 2 * c_old)
    else:
        convex = convex + a * (1 - 2 * c)
    if k >= 0:
        convex = convex + 2 * k * c
    else:
        concave = concave + 2 * k * c_old
    return convex + concave


def flux(mu, M):
    """J = -M grad mu (M scalar or tensor)."""
    g = ufl.grad(mu)
    return -(ufl.dot(M, g) if len(ufl.shape(M)) == 2 else M * g)


def cahn_hilliard_residual(c, mu, q, v, *, c_old, dt, mobility, kappa, mu_bulk, dx,
                           mu_old=None, theta=1.0, inflow=(), source_c=None, source_mu=None,
                           mu_extra=None, dx_lumped=None, ddt=None, stiffness=True):
    """Residual F_c + F_mu of one backward-Euler step (see the module docstring).

    mu_bulk : g' evaluated as the scheme prescribes (:func:`chemical_potential`)
    inflow : list of (j_in, ds) pairs, j_in > 0 inserting
    mu_extra : additional chemical potential (e.g. the elastic -eps0 tr sigma)
    dx_lumped : measure for the zeroth-order terms (time derivative and the mu equation),
        e.g. vertex quadrature = mass lumping for P1: the mu equation then holds node by
        node, mu_i = g'(c_i) + kappa (K c)_i / m_i, which keeps c in (0, 1) with the
        logarithmic free energy (Barrett & Blowey); default ``dx``.
    ddt : UFL time derivative of c replacing the backward-Euler (c - c_old)/dt, e.g. the
        variable-step BDF2 (a0 c + a1 c^n + a2 c^{n-1})/dt of :class:`fem.time_schemes.BDF`
    stiffness : False leaves out the two gradient terms M grad mu . grad q and
        -kappa grad c . grad v (a caller that builds their Jacobian itself, e.g. pre-integrated)
    """
    dxl = dx if dx_lumped is None else dx_lumped
    mu_flux = mu if (mu_old is None or theta == 1.0) else theta * mu + (1 - theta) * mu_old
    dcdt = (c - c_old) / dt if ddt is None else ddt
    F = dcdt * q * dxl
    if stiffness:
        F -= ufl.inner(flux(mu_flux, mobility), ufl.grad(q)) * dx
    for j_in, ds in inflow:
        F -= j_in * q * ds
    if source_c is not None:
        F -= source_c * q * dxl
    rhs_mu = mu_bulk
    if mu_extra is not None:
        rhs_mu = rhs_mu + mu_extra
    if source_mu is not None:
        rhs_mu = rhs_mu + source_mu
    F += (mu - rhs_mu) * v * dxl
    if stiffness:
        F -= kappa * ufl.inner(ufl.grad(c), ufl.grad(v)) * dx
    return F


def free_energy_density(free_energy, c, kappa):
    """g(c) + kappa/2 |grad c|^2 (integrate with dx for the total free energy)."""
    return free_energy.g(c) + 0.5 * kappa * ufl.inner(ufl.grad(c), ufl.grad(c))


def growth_rate(k, d2g, mobility, kappa):
    """Linear growth rate sigma(k) = -M k^2 (g''(c0) + kappa k^2) of a mode exp(i k x)."""
    return -mobility * k**2 * (d2g + kappa * k**2)
