"""Weak forms of (nonlinear, anisotropic) Fickian diffusion.

Strong form (nondimensional, x^ = x/L, t^ = t D_ref/L^2, c^ = c/c_max)::

    dc/dt = div( D(c) grad c ) + s              in Omega
    -D(c) grad c . n = -j_in                    on the flux part of the boundary

with D(c) a scalar or a symmetric positive-definite tensor (relative to
D_ref) and j_in the inward molar flux scaled by c_max D_ref / L.
"""

from __future__ import annotations

import ufl


def fick_flux(c, diffusivity):
    """J = -D grad c (D scalar or tensor)."""
    if isinstance(diffusivity, (int, float)):
        diffusivity = ufl.as_ufl(float(diffusivity))
    g = ufl.grad(c)
    if ufl.rank(diffusivity) == 2:
        return -ufl.dot(diffusivity, g)
    return -diffusivity * g


def diffusion_residual(dcdt, c, v, diffusivity, dx, *, inflow=(), source=None):
    """Residual of dc/dt = div(D grad c) + s, implicit in c.

    F = int dcdt v dx - int J(c) . grad v dx - sum_k int j_k v ds_k - int s v dx,
    J = -D grad c.

    ``dcdt`` is the discrete time derivative (e.g. :meth:`fem.time_schemes.BDF.ddt`; None: no
    storage term, e.g. the flux part of a Jacobian assembled apart);
    ``inflow`` is a sequence of (j_in, ds) pairs: inward flux densities on
    boundary measures (j_in may depend on c, e.g. Butler–Volmer).
    """
    J = fick_flux(c, diffusivity)
    F = -ufl.inner(J, ufl.grad(v)) * dx if dcdt is None else dcdt * v * dx - ufl.inner(J, ufl.grad(v)) * dx
    for j_in, ds in inflow:
        F -= j_in * v * ds
    if source is not None:
        F -= source * v * dx
    return F
