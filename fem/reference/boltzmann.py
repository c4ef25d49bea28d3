"""Boltzmann–Matano similarity reference for 1D interdiffusion on an infinite couple.

With eta = z / sqrt(t), dx/dt = d/dz(D~(x) dx/dz) becomes the ODE

    -eta/2 dx/deta = d/deta( D~(x) dx/deta ),   x(-inf) = x_left, x(+inf) = x_right,

solved here with scipy's collocation BVP solver on a truncated eta range.
Independent of the finite-element code; used to verify it.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_bvp
from scipy.special import erf


class BoltzmannSolution:
    """x(eta) of the similarity ODE for a given D~(x) (vectorized callable) [m^2/s]."""

    def __init__(self, interdiffusivity, x_left: float, x_right: float, d_scale: float,
                 span: float = 12.0, nodes: int = 2001):
        self.D = interdiffusivity
        self.xl, self.xr = x_left, x_right
        self.s = np.sqrt(d_scale)  # eta = xi * sqrt(d_scale); solve in xi (order one)
        Dh = lambda x: interdiffusivity(x) / d_scale  # noqa: E731
        self._Dh = Dh
        xi = np.linspace(-span, span, nodes)
        guess_x = x_left + (x_right - x_left) * 0.5 * (1 + erf(xi / 2))
        guess_q = Dh(guess_x) * (x_right - x_left) * np.exp(-xi**2 / 4) / (2 * np.sqrt(np.pi))

        def rhs(e, y):
            x, q = y  # q = D^ dx/dxi
            return np.vstack([q / Dh(x), -e / 2 * q / Dh(x)])

        def bc(ya, yb):
            return np.array([ya[0] - x_left, yb[0] - x_right])

        sol = solve_bvp(rhs, bc, xi, np.vstack([guess_x, guess_q]), tol=1e-9, max_nodes=500000)
        if not sol.success:
            raise RuntimeError(f"Boltzmann BVP did not converge: {sol.message}")
        self.sol = sol

    def x(self, z, t):
        """x at position z [m] (relative to the initial interface) and time t [s]."""
        return self.sol.sol(np.asarray(z) / np.sqrt(t) / self.s)[0]

    def dx_deta(self, eta):
        """dx/deta [sqrt(s)/m]."""
        y = self.sol.sol(np.asarray(eta) / self.s)
        return y[1] / self._Dh(y[0]) / self.s

    def marker_parameter(self, diffusivity_difference) -> float:
        """lambda_K of the Kirkendall plane z_K = lambda_K sqrt(t), from
        lambda/2 = (D_A - D_B)(x(lambda)) dx/deta(lambda) (marker velocity = dz_K/dt).

        ``diffusivity_difference(x)`` is D_A - D_B [m^2/s]."""
        eta = self.sol.x * self.s
        f = eta / 2 - diffusivity_difference(self.sol.sol(self.sol.x)[0]) * self.dx_deta(eta)
        # the marker plane starts at the interface: the sign change closest to eta = 0
        idx = np.where(np.sign(f[:-1]) != np.sign(f[1:]))[0]
        if len(idx) == 0:
            raise RuntimeError("no Kirkendall plane found")
        i = idx[np.argmin(np.abs(eta[idx]))]
        from scipy.optimize import brentq
        g = lambda e: e / 2 - diffusivity_difference(self.sol.sol(e / self.s)[0]) * self.dx_deta(e)  # noqa: E731
        return float(brentq(g, eta[i], eta[i + 1], xtol=1e-14))
