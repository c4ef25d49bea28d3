"""Time discretization: variable-step BDF1/BDF2 as UFL expressions.

    du/dt ~ (a0 u^{n+1} + a1 u^n + a2 u^{n-1}) / dt_n

BDF1 (backward Euler): a = (1, -1, 0).  Variable-step BDF2 with
w = dt_n / dt_{n-1}:  a = ((1+2w)/(1+w), -(1+w), w^2/(1+w)); the first step
(no history) is BDF1.  Zero-stable for w < 1 + sqrt(2); callers cap growth.
The coefficients are dolfinx Constants, so forms compile once.
"""

from __future__ import annotations

import dolfinx.fem


class BDF:
    def __init__(self, mesh, order: int = 2):
        if order not in (1, 2):
            raise ValueError("BDF order must be 1 or 2")
        self.order = order
        self.dt = dolfinx.fem.Constant(mesh, 1.0)
        self.a = [dolfinx.fem.Constant(mesh, v) for v in (1.0, -1.0, 0.0)]
        self.dt_prev: float | None = None

    def coefficients(self, dt: float) -> tuple[float, float, float]:
        if self.order == 1 or self.dt_prev is None:
            return 1.0, -1.0, 0.0
        w = dt / self.dt_prev
        return (1 + 2 * w) / (1 + w), -(1 + w), w * w / (1 + w)

    def set_step(self, dt: float) -> None:
        """Set dt and the coefficients for the step about to be attempted."""
        self.dt.value = dt
        for c, v in zip(self.a, self.coefficients(dt)):
            c.value = v

    def accepted(self, dt: float) -> None:
        self.dt_prev = dt

    def ddt(self, u, u_n, u_nm1):
        """UFL time derivative of u."""
        a0, a1, a2 = self.a
        return (a0 * u + a1 * u_n + a2 * u_nm1) / self.dt

    def integrate_rate(self, Q_n: float, Q_nm1: float, rate: float, dt: float) -> float:
        """Integrate dQ/dt = rate with the same scheme (for exact discrete balances)."""
        a0, a1, a2 = self.coefficients(dt)
        return (dt * rate - a1 * Q_n - a2 * Q_nm1) / a0
