"""Mobility laws M(c) of the Cahn-Hilliard flux  J = -M(c) grad mu.

Nondimensional (mobility in units of D / kT with D the reference tracer
diffusivity, mu in kT): M = M0 m(c) with

* ``constant``   m = 1
* ``lattice``    m = c (1 - c)      (lattice gas: J = -D c(1-c) grad(mu/kT),
                                     the Fickian limit D grad c for Omega = 0)

and an optional anisotropy tensor A (symmetric positive definite, e.g. a
DG0 tensor field that rotates per grain): M = M0 m(c) A.  Works on UFL.
"""

from __future__ import annotations

import ufl

KINDS = ("constant", "lattice")


def mobility(c, kind: str = "lattice", m0=1.0, tensor=None):
    """M(c) as a UFL scalar (or tensor when ``tensor`` is given)."""
    if kind == "constant":
        m = m0 * 1.0
    elif kind == "lattice":
        m = m0 * c * (1 - c)
    else:
        raise ValueError(f"mobility kind {kind!r}; allowed: {', '.join(KINDS)}")
    return m if tensor is None else m * tensor


def anisotropic_tensor(principal, rotation=None):
    """A = R diag(principal) R^T as a UFL matrix (``rotation``: UFL or nested list R)."""
    d = ufl.diag(ufl.as_vector(principal))
    if rotation is None:
        return d
    R = ufl.as_matrix(rotation) if not isinstance(rotation, ufl.core.expr.Expr) else rotation
    return R * d * R.T
