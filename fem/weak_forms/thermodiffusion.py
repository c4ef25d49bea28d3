"""Weak forms of coupled ion and heat transport with Onsager cross terms (Soret, Dufour).

Nondimensional (see :mod:`fem.constitutive.onsager` for the thermodynamics, the Onsager
matrix M and the scales: x by L, t by L^2/D, c by c0, theta = T/T0, psi = F phi/(R T0))::

    dc/dt + div J = s_c,                          J   = (M_11 X1 + M_1q Xq) / gamma
    Le dtheta/dt + div Jq = q_joule + s_T,        Jq  = M_q1 X1 + M_qq Xq
    X1 = -(grad c / c + z grad psi / theta),      Xq  = -grad theta / theta^2
    q_joule = -gamma z J . grad psi               (= z F J . E L^2 / (k T0))

Le = rho c_p D / k.  Boundary terms: inward molar flux j_in (ds) and inward heat flux q_in (ds).
The concentration enters the forces as grad c / c only through c X1 = -(grad c + z c grad psi / theta),
so the forms stay regular at c -> 0 (the reduced matrix carries the factor c).
"""

from __future__ import annotations

import ufl

from fem.constitutive.onsager import reduced_matrix


def forces(c, theta, psi_grad, z):
    """c X1 and Xq (c X1 rather than X1: regular as c -> 0)."""
    cX1 = -(ufl.grad(c) + z * c * psi_grad / theta)
    Xq = -ufl.grad(theta) / theta ** 2
    return cX1, Xq


def fluxes(c, theta, psi_grad, z, gamma, S):
    """(J, Jq): the molar and heat fluxes J_i = sum_k M_ik X_k (nondimensional).

    The species row and column of M(c) are proportional to c (dilute species), so M_i1 X1 is
    evaluated as M_i1(c = 1) (c X1) and M_1q Xq as c M_1q(c = 1) Xq.
    """
    cX1, Xq = forces(c, theta, psi_grad, z)
    M1 = reduced_matrix(1.0, theta, gamma, S)
    J = (M1[0][0] * cX1 + c * M1[0][1] * Xq) / gamma
    Jq = M1[1][0] * cX1 + M1[1][1] * Xq
    return J, Jq


def entropy_production(c, theta, psi_grad, z, gamma, S):
    """sigma^ = gamma J . X1 + Jq . Xq (= sigma L^2 / k); with c X1: gamma J . (c X1) / c."""
    J, Jq = fluxes(c, theta, psi_grad, z, gamma, S)
    cX1, Xq = forces(c, theta, psi_grad, z)
    return gamma * ufl.inner(J, cX1) / c + ufl.inner(Jq, Xq)


def residual(dcdt, dthetadt, c, theta, vc, vT, psi_grad, z, gamma, S, lewis, dx, *,
             inflow_c=(), inflow_q=(), source_c=None, source_T=None):
    """F = int (dc/dt vc - J . grad vc) + (Le dtheta/dt vT - Jq . grad vT - q_joule vT) dx
           - sum j_in vc ds - sum q_in vT ds - int (s_c vc + s_T vT) dx.

    ``dcdt``/``dthetadt`` None: steady.  inflow_c / inflow_q: (value, ds) pairs of inward fluxes.
    """
    J, Jq = fluxes(c, theta, psi_grad, z, gamma, S)
    q_joule = -gamma * z * ufl.inner(J, psi_grad)
    F = (-ufl.inner(J, ufl.grad(vc)) - ufl.inner(Jq, ufl.grad(vT)) - q_joule * vT) * dx
    if dcdt is not None:
        F = F + (dcdt * vc + lewis * dthetadt * vT) * dx
    for j, ds in inflow_c:
        F = F - j * vc * ds
    for q, ds in inflow_q:
        F = F - q * vT * ds
    if source_c is not None:
        F = F - source_c * vc * dx
    if source_T is not None:
        F = F - source_T * vT * dx
    return F
