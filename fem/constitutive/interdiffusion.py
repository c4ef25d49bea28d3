"""Binary interdiffusion in a substitutional solid: Darken's equations and the Kirkendall effect.

A-B alloy, constant molar volume (total concentration c_t [mol/m^3]),
x = x_A the site fraction of A.  Intrinsic (lattice-frame) fluxes

    J_A = -c_t D_A grad x,   J_B = +c_t D_B grad x,    D_i = D_i* Phi(x)   (Darken)

with tracer diffusivities D_i* [m^2/s] and the thermodynamic factor
Phi = 1 + dln(gamma_A)/dln(x_A) (the same for both species by Gibbs–Duhem).
Unequal intrinsic fluxes move the lattice relative to the laboratory frame
with the Kirkendall (marker) velocity [m/s]

    v = -(J_A + J_B) / c_t = (D_A - D_B) grad x,

and the laboratory-frame flux of A is J~_A = J_A + c_t x v = -c_t D~ grad x
with Darken's interdiffusion coefficient [m^2/s]

    D~ = (1 - x) D_A + x D_B = x_B D_A + x_A D_B.

Every function takes numpy values or UFL expressions.
"""

from __future__ import annotations

import ufl

from fem.constitutive.mathops import is_ufl


def intrinsic_diffusivities(x, tracer_A, tracer_B, thermodynamic_factor=1.0):
    """(D_A, D_B) = (D_A* Phi, D_B* Phi) [m^2/s]."""
    return tracer_A * thermodynamic_factor, tracer_B * thermodynamic_factor


def interdiffusion_coefficient(x, diffusivity_A, diffusivity_B):
    """Darken: D~ = (1 - x) D_A + x D_B, x = x_A [m^2/s]."""
    return (1 - x) * diffusivity_A + x * diffusivity_B


def kirkendall_velocity(x, diffusivity_A, diffusivity_B):
    """Lattice velocity relative to the laboratory v = (D_A - D_B) grad x [m/s] (UFL),
    or, for numpy input, the factor (D_A - D_B) multiplying dx/dz."""
    if is_ufl(x):
        return (diffusivity_A - diffusivity_B) * ufl.grad(x)
    return diffusivity_A - diffusivity_B


def regular_solution_thermodynamic_factor(x, omega_over_kT):
    """Phi = 1 - 2 (Omega/kT) x (1 - x) for a regular solution (Phi = x(1-x) g''/kT).

    Positive (downhill interdiffusion) for Omega/kT < 2; at larger Omega the
    alloy phase-separates and needs a Cahn–Hilliard model instead.
    """
    return 1 - 2 * omega_over_kT * x * (1 - x)
