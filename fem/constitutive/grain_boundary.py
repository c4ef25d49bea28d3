"""Grain-boundary fast paths: thin-layer conductance, Hart's effective medium, Whipple/Le Claire analysis.

A grain boundary is a slab of width delta [m] with diffusivity D_gb [m^2/s] between
grains of (bulk, lattice) diffusivity D [m^2/s].  Resolved (:mod:`fem.weak_forms.grain_boundary`)
it becomes a facet term with the tangential conductance [m^3/s]

    K = delta (D_gb - D),

the excess over the bulk that the mesh already puts in the slab's volume (the
facet has no thickness), so that a stack of slabs parallel to the flux carries
exactly Hart's effective-medium flux (below).  Storage in the slab and the
resistance across it are O(delta / grain size) and neglected (thin-layer limit).

Homogenised alternative (E. W. Hart, Acta Metall. 5 (1957) 597): a polycrystal with
a grain-boundary volume fraction f diffuses with

    D_eff = f D_gb + (1 - f) D,       f = q delta / d

(d the grain size, q a shape factor: 1 for parallel lamellae of width d, ~3 for
cubic grains).  Exact for parallel lamellae and a flux along them; the Harrison
type-A limit (sqrt(D t) >> d) for general polycrystals.

Harrison type-B kinetics (L. G. Harrison, Trans. Faraday Soc. 57 (1961) 1191),
sqrt(D t) << d, is described by Whipple's exact solution for one boundary
(R. T. P. Whipple, Phil. Mag. 45 (1954) 1225; :mod:`fem.reference.whipple`) with the
parameter

    beta = (Delta - 1) a / sqrt(D t),  Delta = D_gb / D, a = delta / 2,

and, in its tail, Le Claire's relation between the slope of the layer-averaged
concentration c_avg(y) (y the depth from the source surface) and the triple
product (segregation factor s = 1 here) (A. D. Le Claire, Br. J. Appl. Phys. 14
(1963) 351; I. Kaur, Yu. Mishin, W. Lojkowski, Fundamentals of Grain and
Interphase Boundary Diffusion, Wiley 1995, ch. 2):

    delta D_gb = 1.322 sqrt(D / t) (-d ln c_avg / d y^(6/5))^(-5/3)   [m^3/s],  beta >~ 10.
"""

from __future__ import annotations

import numpy as np

LE_CLAIRE_CONSTANT_WHIPPLE = 1.322


def excess_conductance(width, gb_diffusivity, bulk_diffusivity):
    """K = delta (D_gb - D): tangential conductance of the facet term [m^3/s] (or nondimensional)."""
    return width * (gb_diffusivity - bulk_diffusivity)


def gb_volume_fraction(width, grain_size, shape_factor: float = 1.0):
    """f = q delta / d (q = 1: parallel lamellae of width d)."""
    return shape_factor * width / grain_size


def hart_effective_diffusivity(volume_fraction, gb_diffusivity, bulk_diffusivity):
    """Hart (1957): D_eff = f D_gb + (1 - f) D [m^2/s]."""
    return volume_fraction * gb_diffusivity + (1 - volume_fraction) * bulk_diffusivity


def whipple_beta(width, gb_diffusivity, bulk_diffusivity, time):
    """beta = (D_gb/D - 1) (delta/2) / sqrt(D t) (Whipple 1954; Le Claire's analysis needs beta >~ 10)."""
    return (gb_diffusivity / bulk_diffusivity - 1) * 0.5 * width / np.sqrt(bulk_diffusivity * time)


def le_claire_triple_product(slope, bulk_diffusivity, time, constant: float = LE_CLAIRE_CONSTANT_WHIPPLE):
    """delta D_gb [m^3/s] from the slope d ln c_avg / d y^(6/5) [m^(-6/5)] of the tail (Le Claire 1963)."""
    return constant * np.sqrt(bulk_diffusivity / time) * (-np.asarray(slope)) ** (-5.0 / 3.0)


def le_claire_slope(y, c_avg):
    """Least-squares slope of ln c_avg against y^(6/5) (y [m] > 0, c_avg > 0)."""
    return float(np.polyfit(np.asarray(y) ** 1.2, np.log(np.asarray(c_avg)), 1)[0])
