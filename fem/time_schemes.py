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
        """UFL time derivative of u (order 1: without the u^{n-1} term, whose coefficient is always 0,
        so the generated kernels do not evaluate it: for PNP's c(eta, phi) one exponential less per
        quadrature point and carrier)."""
        a0, a1, a2 = self.a
        if self.order == 1:
            return (a0 * u + a1 * u_n) / self.dt
        return (a0 * u + a1 * u_n + a2 * u_nm1) / self.dt

    def integrate_rate(self, Q_n: float, Q_nm1: float, rate: float, dt: float) -> float:
        """Integrate dQ/dt = rate with the same scheme (for exact discrete balances)."""
        a0, a1, a2 = self.coefficients(dt)
        return (dt * rate - a1 * Q_n - a2 * Q_nm1) / a0


class BDFHistory:
    """A field ``u`` with its history u^n, u^{n-1} under variable-step BDF1/2.

    Owns the history Functions and the :class:`BDF` coefficients (pass ``bdf``
    to share one set of coefficients between several fields of a model)::

        hist = BDFHistory(u, order=2)
        F = ... hist.ddt() ...            # UFL (a0 u + a1 u^n + a2 u^{n-1}) / dt
        hist.set_step(dt); solve; hist.accept(dt)   or   hist.reject()

    ``accept`` shifts the history (u^{n-1} <- u^n <- u) and records dt;
    ``reject`` restores u <- u^n; ``predict`` sets u to the linear
    extrapolation from the history (a Newton initial guess).
    """

    def __init__(self, u: dolfinx.fem.Function, order: int = 2, bdf: BDF | None = None):
        V = u.function_space
        self.u = u
        self.u_n = dolfinx.fem.Function(V, name=f"{u.name}_n")
        self.u_nm1 = dolfinx.fem.Function(V, name=f"{u.name}_nm1")
        self.bdf = bdf if bdf is not None else BDF(V.mesh, order)
        self._owns_bdf = bdf is None

    def set_all(self, values) -> None:
        """Set u, u^n and u^{n-1} to ``values`` (a number or a local array)."""
        for f in (self.u, self.u_n, self.u_nm1):
            f.x.array[:] = values

    def ddt(self):
        return self.bdf.ddt(self.u, self.u_n, self.u_nm1)

    def set_step(self, dt: float) -> None:
        self.bdf.set_step(dt)

    def accept(self, dt: float) -> None:
        self.u_nm1.x.array[:] = self.u_n.x.array
        self.u_n.x.array[:] = self.u.x.array
        if self._owns_bdf:
            self.bdf.accepted(dt)

    def reject(self) -> None:
        self.u.x.array[:] = self.u_n.x.array

    def predict(self, dt: float) -> None:
        """u = u^n + (dt / dt_prev) (u^n - u^{n-1}) when there is a history, else u^n."""
        if self.bdf.dt_prev is None:
            self.u.x.array[:] = self.u_n.x.array
        else:
            w = dt / self.bdf.dt_prev
            self.u.x.array[:] = self.u_n.x.array + w * (self.u_n.x.array - self.u_nm1.x.array)

    def checkpoint_state(self, prefix: str) -> dict:
        """Functions and values a restart needs, keys prefixed with ``prefix``."""
        state = {f"{prefix}": self.u, f"{prefix}_n": self.u_n, f"{prefix}_nm1": self.u_nm1}
        if self._owns_bdf:
            state[f"{prefix}_dt_prev"] = self.bdf.dt_prev
        return state

    def restore_state(self, prefix: str, state: dict) -> None:
        if self._owns_bdf:
            self.bdf.dt_prev = state[f"{prefix}_dt_prev"]


class BDFStepping:
    """step / reject / accept of a model whose time state is ``self.history`` (a :class:`BDFHistory`)
    solved by ``self.solver`` (a mixin for the :class:`fem.simulation.Simulation` protocol);
    a model adds its own bookkeeping by overriding :meth:`accept` and calling it."""

    def solve(self):
        return self.solver.solve()

    def step(self, t: float, dt: float):
        self.history.set_step(dt)
        return self.solver.solve()

    def reject(self) -> None:
        self.history.reject()

    def accept(self, t_new: float, dt: float, stats) -> None:
        self.history.accept(dt)
