"""User-supplied tabulated curves, e.g. measured D(x) or OCV(x), for numpy and UFL.

A table (x_k, y_k), x strictly increasing, is interpolated by a C1 monotone
piecewise cubic (PCHIP, Fritsch–Carlson; no overshoot between data points,
so a monotone OCV stays monotone) or a C2 cubic spline (``kind="spline"``).
Beyond the table the end cubics are continued.  ``log=True`` interpolates
ln y (for diffusivities spanning decades; y > 0 required) and returns exp.

In UFL the piecewise cubic becomes a balanced binary tree of
``ufl.conditional`` nodes (depth log2(n)), each leaf a Horner polynomial in
(x - x_k); its derivative (for Newton) is the derivative of the active cubic.

CSV format: two columns (header line optional, ``#`` comments allowed), e.g.::

    # x [-], ocv [V]
    0.0, 4.3
    ...
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ufl
from scipy.interpolate import CubicSpline, PchipInterpolator

from fem.constitutive.mathops import exp, is_ufl
from fem.errors import InputError


class Tabulated:
    """Smooth interpolant of tabulated data usable on numbers and in UFL forms."""

    def __init__(self, x, y, *, kind: str = "pchip", log: bool = False, name: str = "table"):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
            raise InputError(f"table '{name}' needs two columns of equal length >= 2, got {x.shape}, {y.shape}")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise InputError(f"table '{name}' has non-finite values")
        if np.any(np.diff(x) <= 0):
            raise InputError(f"table '{name}': first column must be strictly increasing")
        if log and np.any(y <= 0):
            raise InputError(f"table '{name}': log interpolation needs positive values")
        if kind not in ("pchip", "spline"):
            raise InputError(f"table '{name}': kind {kind!r} not allowed; allowed: pchip, spline")
        self.name, self.kind, self.log = name, kind, log
        self.x, self.y = x, y
        yy = np.log(y) if log else y
        if len(x) == 2:
            self._interp = CubicSpline(x, yy, bc_type="natural")
        else:
            self._interp = PchipInterpolator(x, yy) if kind == "pchip" else CubicSpline(x, yy)
        # polynomial pieces: c[:, k] are the coefficients of (x - x_k)^3 .. ^0
        self._coef = np.asarray(self._interp.c)
        self._breaks = np.asarray(self._interp.x)

    @classmethod
    def from_csv(cls, path, *, kind="pchip", log=False, name=None, columns=(0, 1)):
        path = Path(path)
        if not path.is_file():
            raise InputError(f"table file {str(path)!r} does not exist")
        try:
            data = np.genfromtxt(path, delimiter=",", comments="#", invalid_raise=True)
        except ValueError as e:
            raise InputError(f"table file {str(path)!r} is not a two-column CSV: {e}") from None
        data = np.atleast_2d(data)
        data = data[~np.isnan(data).any(axis=1)]  # header line -> NaN row
        return cls(data[:, columns[0]], data[:, columns[1]], kind=kind, log=log, name=name or path.stem)

    # ------------------------------------------------------------------
    def __call__(self, x):
        if is_ufl(x):
            y = self._ufl(x)
            return exp(y) if self.log else y
        y = self._interp(np.asarray(x, dtype=float))
        return np.exp(y) if self.log else y

    def derivative(self, x):
        """dy/dx (numpy)."""
        d = self._interp.derivative()(np.asarray(x, dtype=float))
        return d * self(x) if self.log else d

    def _piece(self, x, k):
        c = self._coef[:, k]
        s = x - float(self._breaks[k])
        return ((float(c[0]) * s + float(c[1])) * s + float(c[2])) * s + float(c[3])

    def _ufl(self, x):
        def tree(lo, hi):  # pieces lo..hi-1
            if hi - lo == 1:
                return self._piece(x, lo)
            mid = (lo + hi) // 2
            return ufl.conditional(ufl.lt(x, float(self._breaks[mid])), tree(lo, mid), tree(mid, hi))

        return tree(0, self._coef.shape[1])
