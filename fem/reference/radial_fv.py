"""Fine 1D radial finite-volume reference for nonlinear diffusion in a sphere.

    dx/dt = (1/r^2) d/dr ( r^2 D(x) dx/dr ),   0 < r < R,   x = c / c_max
    D(x) dx/dr = j_in(t) / c_max   at r = R   (j_in [mol/(m^2 s)] inward),  dx/dr = 0 at r = 0

Cell-centred finite volumes on a uniform radial grid (N cells, exact shell
volumes (r_{i+1/2}^3 - r_{i-1/2}^3)/3 and face areas r^2, so moles are conserved
to round-off), face diffusivity D((x_i + x_{i+1})/2), fixed-step BDF2 (first
step backward Euler), Newton with the exact tridiagonal Jacobian
(scipy.linalg.solve_banded).  Second order in h and dt.  The surface value is
extrapolated from the last cell with the prescribed gradient.

Independent of the FEM code: it is the "single-particle model" (SPM) solid
phase used to check the 3D runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg import solve_banded


@dataclass
class RadialSolution:
    t_s: np.ndarray          # times [s]
    x_mean: np.ndarray       # volume-averaged x
    x_surface: np.ndarray    # surface x (extrapolated)
    x_center: np.ndarray     # x of the innermost cell
    r_m: np.ndarray          # cell centres [m]
    x_final: np.ndarray      # profile at the last time


def solve_sphere(radius_m: float, diffusivity: Callable[[np.ndarray], np.ndarray], x0: float,
                 flux_in: Callable[[float], float] | float, c_max_mol_m3: float, t_end_s: float, *,
                 n_cells: int = 400, n_steps: int = 4000, stop: Callable[[float, float, float], bool] | None = None
                 ) -> RadialSolution:
    """Integrate to ``t_end_s`` (or until ``stop(t, x_mean, x_surface)`` is true).

    ``diffusivity(x)`` [m^2/s] (vectorized), ``flux_in(t)`` [mol/(m^2 s)] or a constant.
    """
    R, N = radius_m, n_cells
    h = 1.0 / N
    rf = np.arange(N + 1) * h                  # faces (nondimensional r/R)
    rc = 0.5 * (rf[1:] + rf[:-1])
    vol = (rf[1:] ** 3 - rf[:-1] ** 3) / 3.0   # per steradian
    area = rf[1:-1] ** 2                        # interior faces
    fin = flux_in if callable(flux_in) else (lambda t, v=float(flux_in): v)
    Dn = lambda x: np.asarray(diffusivity(x), dtype=float) / R**2  # noqa: E731  [1/s]

    def face_flux(x):
        m = 0.5 * (x[1:] + x[:-1])
        dx = x[1:] - x[:-1]
        d = Dn(m)
        eps = 1e-7
        dd = (Dn(m + eps) - Dn(m - eps)) / (2 * eps)
        F = d * dx / h
        return F, (0.5 * dd * dx - d) / h, (0.5 * dd * dx + d) / h  # F, dF/dx_i, dF/dx_{i+1}

    def rhs(x, t):
        """Net inflow per steradian of each cell, and its tridiagonal Jacobian."""
        F, dFl, dFr = face_flux(x)
        q = np.zeros(N)
        q[:-1] += area * F
        q[1:] -= area * F
        q[-1] += 1.0 * fin(t) / c_max_mol_m3 / R  # r = 1 face, j / (c_max R) [1/s]
        diag = np.zeros(N)
        lower = np.zeros(N - 1)  # d q_{i+1} / d x_i
        upper = np.zeros(N - 1)  # d q_i / d x_{i+1}
        diag[:-1] += area * dFl
        upper += area * dFr
        diag[1:] -= area * dFr
        lower -= area * dFl
        return q, diag, lower, upper

    def surface(x, t):
        g = fin(t) / c_max_mol_m3 / R  # D dx/dr at r = 1 (nondimensional r)
        xs = x[-1]
        for _ in range(20):
            xs_new = x[-1] + 0.5 * h * g / Dn(np.array([xs]))[0]
            if abs(xs_new - xs) < 1e-14:
                break
            xs = xs_new
        return xs

    x = np.full(N, float(x0))
    x_old = x.copy()
    dt = t_end_s / n_steps
    ts, xm, xsurf, xc = [0.0], [x0], [x0], [x0]
    t = 0.0
    for n in range(n_steps):
        tn = t + dt
        a0, a1, a2 = (1.0, -1.0, 0.0) if n == 0 else (1.5, -2.0, 0.5)
        hist = a1 * x + a2 * x_old
        y = x.copy()
        for _ in range(30):
            q, diag, lower, upper = rhs(y, tn)
            res = vol * (a0 * y + hist) - dt * q
            ab = np.zeros((3, N))
            ab[0, 1:] = -dt * upper
            ab[1, :] = a0 * vol - dt * diag
            ab[2, :-1] = -dt * lower
            dy = solve_banded((1, 1), ab, -res)
            y += dy
            if np.max(np.abs(dy)) < 1e-13:
                break
        x_old, x, t = x, y, tn
        ts.append(t)
        xm.append(float(np.sum(vol * x) * 3.0))
        xsurf.append(surface(x, t))
        xc.append(float(x[0]))
        if stop is not None and stop(t, xm[-1], xsurf[-1]):
            break
    return RadialSolution(np.array(ts), np.array(xm), np.array(xsurf), np.array(xc), rc * R, x)
