"""Weak form of diffusion in one phase of a sharp-interface (Stefan) problem on a moving (ALE) mesh.

Strong form in the moving phase domain Omega_p(t) (nondimensional, see
:mod:`fem.scaling`), with an optional geometric weight rho(x) (rho = r^2 for
the 1D spherically symmetric formulation, 1 otherwise)::

    rho dc/dt = -div(rho J),   J = -D(c) grad c            in Omega_p(t)
    -rho J . n = rho j_in                                  on the flux part of its boundary
    c = c_p (equilibrium value of phase p)                 on the interface

The mesh moves with velocity w (w . n = interface normal velocity on the
interface, w = 0 on fixed boundaries).  With test functions phi that move
with the mesh (d phi/dt |_X = 0), Reynolds' transport theorem gives the
conservative ALE form

    d/dt int_{Omega(t)} c phi rho dx + int c rho w . grad phi dx
        + int rho D grad c . grad phi dx - int rho j_in phi ds = 0.

Backward Euler with the step's mesh displacement d = x^{n+1} - x^n (a P1
vector field, w = d/dt on [t^n, t^{n+1}]); the old-mesh integral is pulled
back exactly (affine P1 cells) onto the new mesh,

    int_{Omega^n} c^n phi rho dx^n = int_{Omega^{n+1}} c^n phi rho(x - d) det(I - grad d) dx.

Summing the residual over all test functions of the phase (sum phi = 1, and
grad 1 = 0) gives (M^{n+1} - M^n)/dt = inflow + (residual at the Dirichlet
interface dofs): the interface residuals ("reactions") are the exact discrete
interface fluxes, and the discrete Stefan condition is R_alpha,i + R_beta,i = 0
at every interface node i, which conserves the total moles to solver tolerance.
"""

from __future__ import annotations

import ufl

from fem.weak_forms.diffusion import fick_flux


def pulled_back_weight(weight, x, disp):
    """rho(x - d) det(I - grad d): old-configuration volume weight on the new mesh."""
    gdim = x.ufl_shape[0]
    jac = ufl.det(ufl.Identity(gdim) - ufl.grad(disp))
    rho_old = 1.0 if weight is None else weight(x - disp)
    return rho_old * jac


def ale_diffusion_residual(c, c_old, v, diffusivity, dx, dt, disp, *, weight=None, inflow=(),
                           source=None):
    """Residual of one phase, backward Euler on the moving mesh (module docstring).

    c, c_old : unknown at t^{n+1} (on the new mesh) and value at t^n (same dofs).
    v : test function.
    diffusivity : D(c) (UFL scalar or tensor, relative to D_ref).
    dx : cell measure restricted to the phase.
    dt : time step (Constant).
    disp : P1 vector displacement of the mesh over the step, x^{n+1} - x^n.
    weight : callable x -> rho(x) (e.g. ``lambda x: x[0]**2``), None for rho = 1.
    inflow : sequence of (j_in, ds): inward flux densities on boundary measures.
    source : volumetric source s (added as - int rho s v dx).
    """
    mesh = dx.ufl_domain()
    x = ufl.SpatialCoordinate(mesh)
    rho = 1.0 if weight is None else weight(x)
    rho_old = pulled_back_weight(weight, x, disp)
    J = fick_flux(c, diffusivity)
    w = disp / dt
    F = (c * rho - c_old * rho_old) / dt * v * dx
    F += c * rho * ufl.inner(w, ufl.grad(v)) * dx
    F -= rho * ufl.inner(J, ufl.grad(v)) * dx
    for j_in, ds in inflow:
        F -= rho * j_in * v * ds
    if source is not None:
        F -= rho * source * v * dx
    return F
