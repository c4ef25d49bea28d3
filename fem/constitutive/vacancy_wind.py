"""Manning's vacancy-wind correction of Darken's intrinsic diffusivities (random binary alloy).

Darken (:mod:`fem.constitutive.interdiffusion`) takes the intrinsic diffusivities
as D_i = D_i* Phi, i.e. it neglects the off-diagonal Onsager coefficient L_AB.
In a substitutional alloy that diffuses by vacancies the net vacancy flux
J_V = -(J_A + J_B) "blows" atoms against it: the vacancy wind.  Manning's random
alloy model (atoms A, B randomly distributed, each with its own jump frequency,
the correlation of a vacancy's successive jumps described by the correlation
factor f0 of the pure lattice) gives, with x = x_A, x_B = 1 - x, tracer
diffusivities D_A*, D_B* [m^2/s] and M0 = 2 f0 / (1 - f0):

    L_AA kT / c = x_A D_A* (1 + 2 x_A D_A* / (M0 S*)),
    L_AB kT / c = 2 x_A x_B D_A* D_B* / (M0 S*),       S* = x_A D_A* + x_B D_B*,

and with Gibbs–Duhem and grad mu_A = kT Phi grad x_A / x_A the intrinsic diffusivities

    D_A = D_A* Phi r_A,   r_A = 1 + 2 x_A (D_A* - D_B*) / (M0 S*),
    D_B = D_B* Phi r_B,   r_B = 1 - 2 x_B (D_A* - D_B*) / (M0 S*).

Consequences used in the model and in the tests:

* interdiffusion coefficient D~ = x_B D_A + x_A D_B = (x_B D_A* + x_A D_B*) Phi S with
  Manning's factor  S = 1 + 2 x_A x_B (D_A* - D_B*)^2 / (M0 S* (x_B D_A* + x_A D_B*))  >= 1;
* Kirkendall velocity v = (D_A - D_B) grad x = (D_A* - D_B*) Phi / f0 * grad x, i.e. the
  wind raises the marker-velocity factor by exactly 1/f0 (1 + 2/M0 = 1/f0) at a given
  composition gradient (the marker shift changes by less: the wind also flattens the
  profile through S);
* all factors are 1 when D_A* = D_B* (no net vacancy flux, no wind).

Correlation factors f0 (Compaan and Haven): fcc 0.7815 (M0 = 7.15), bcc 0.7272 (M0 = 5.33),
simple cubic 0.6531 (M0 = 3.77), diamond 0.5 (M0 = 2).

References: J. R. Manning, Acta Metall. 15 (1967) 817; J. R. Manning, Diffusion Kinetics for
Atoms in Crystals (Van Nostrand, 1968), ch. 5; J. R. Manning, Metall. Trans. 1 (1970) 499;
A. Paul, T. Laurila, V. Vuorinen, S. V. Divinski, Thermodynamics, Diffusion and the Kirkendall
Effect in Solids (Springer, 2014), ch. 6; M. J. H. van Dal, M. C. L. P. Pleumeekers, A. A.
Kodentsov, F. J. J. van Loo, Acta Mater. 48 (2000) 385 (vacancy wind in Kirkendall-plane analysis).

Every function takes numpy values or UFL expressions.
"""

from __future__ import annotations

CORRELATION_FACTORS = {"fcc": 0.7815, "bcc": 0.7272, "sc": 0.6531, "diamond": 0.5}


def manning_m0(correlation_factor):
    """M0 = 2 f0 / (1 - f0) (7.15 for fcc)."""
    return 2 * correlation_factor / (1 - correlation_factor)


def vacancy_wind_factors(x, tracer_A, tracer_B, correlation_factor):
    """(r_A, r_B): D_i = D_i* Phi r_i (Manning, random alloy; module docstring), x = x_A."""
    m0 = manning_m0(correlation_factor)
    s_star = x * tracer_A + (1 - x) * tracer_B
    w = 2 * (tracer_A - tracer_B) / (m0 * s_star)
    return 1 + x * w, 1 - (1 - x) * w


def manning_intrinsic_diffusivities(x, tracer_A, tracer_B, thermodynamic_factor, correlation_factor):
    """(D_A, D_B) = (D_A* Phi r_A, D_B* Phi r_B) [m^2/s] with Manning's vacancy wind."""
    r_A, r_B = vacancy_wind_factors(x, tracer_A, tracer_B, correlation_factor)
    return tracer_A * thermodynamic_factor * r_A, tracer_B * thermodynamic_factor * r_B


def manning_interdiffusion_factor(x, tracer_A, tracer_B, correlation_factor):
    """S = D~ / ((x_B D_A* + x_A D_B*) Phi) = 1 + 2 x_A x_B (D_A* - D_B*)^2 / (M0 S* (x_B D_A* + x_A D_B*))."""
    m0 = manning_m0(correlation_factor)
    s_star = x * tracer_A + (1 - x) * tracer_B
    darken = (1 - x) * tracer_A + x * tracer_B
    return 1 + 2 * x * (1 - x) * (tracer_A - tracer_B) ** 2 / (m0 * s_star * darken)
