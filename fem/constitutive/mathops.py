"""Elementary functions that work on numpy values and on UFL expressions."""

from __future__ import annotations

import numpy as np
import ufl
from ufl.core.expr import Expr


def is_ufl(*xs) -> bool:
    return any(isinstance(x, Expr) for x in xs)


def ln(x):
    return ufl.ln(x) if is_ufl(x) else np.log(x)


def exp(x):
    return ufl.exp(x) if is_ufl(x) else np.exp(x)


def sinh(x):
    return ufl.sinh(x) if is_ufl(x) else np.sinh(x)


def sqrt(x):
    return ufl.sqrt(x) if is_ufl(x) else np.sqrt(x)


def tanh(x):
    return ufl.tanh(x) if is_ufl(x) else np.tanh(x)


def cosh(x):
    return ufl.cosh(x) if is_ufl(x) else np.cosh(x)


def asinh(x):
    """Inverse hyperbolic sine, ln(x + sqrt(x^2 + 1)) in UFL."""
    if is_ufl(x):
        return ufl.ln(x + ufl.sqrt(x * x + 1))
    return np.arcsinh(x)


def max_value(x, y):
    return ufl.max_value(x, y) if is_ufl(x, y) else np.maximum(x, y)


def min_value(x, y):
    return ufl.min_value(x, y) if is_ufl(x, y) else np.minimum(x, y)
