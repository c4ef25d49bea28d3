"""Thin-layer (facet) transport along grain boundaries.

A grain boundary Gamma of width delta and diffusivity D_gb, collapsed onto the interior
facets that carry it, adds to div(D grad c) the surface divergence (nondimensional)

    div_G( K grad_G c ) delta_Gamma,     K = delta (D_gb - D)   (fem.constitutive.grain_boundary)

with the tangential gradient grad_G u = grad u - (grad u . n) n.  Its weak form, for a
continuous c, is

    + int_Gamma K grad_G c . grad_G v dS,

added to the bulk residual.  The strong form in each grain is the bulk equation; on
Gamma the normal fluxes of the two sides jump by the boundary's tangential divergence,

    D grad c+ . n+ + D grad c- . n- = div_G( K grad_G c ) (+ a facet source g),

and where Gamma meets the outer boundary K grad_G c . m = 0 (m the in-plane outward
normal), unless c is prescribed there.  Fisher's model (J. C. Fisher, J. Appl. Phys. 22
(1951) 74) without the slab's storage; the continuous-Galerkin field makes the tangential
gradient single-valued on Gamma, so the '+' and '-' traces agree (the average is taken).
"""

from __future__ import annotations

import ufl


def tangential_gradient(u, n):
    """grad u - (grad u . n) n on facets; ``n`` a restricted normal, e.g. FacetNormal(mesh)('+')."""
    g = ufl.avg(ufl.grad(u))
    return g - ufl.dot(g, n) * n


def grain_boundary_residual(c, v, conductance, dS, *, source=None):
    """int_Gamma K grad_G c . grad_G v dS (- int_Gamma g v dS): the facet term of a residual
    F = ... for dc/dt = div(D grad c) + div_G(K grad_G c) delta_Gamma + g delta_Gamma.

    ``conductance`` K is a scalar (float, Constant or UFL expression evaluable on facets;
    a facet-restricted expression must already be restricted); ``dS`` the interior-facet
    measure of the boundaries (e.g. ``TaggedMesh.dS("grain_boundary")``).
    """
    mesh = c.function_space.mesh
    n = ufl.FacetNormal(mesh)("+")
    F = conductance * ufl.inner(tangential_gradient(c, n), tangential_gradient(v, n)) * dS
    if source is not None:
        F -= source * ufl.avg(v) * dS
    return F
