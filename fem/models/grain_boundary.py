"""Diffusion in a polycrystal with grain-boundary fast paths (thin-layer facet term).

Nondimensional (x^ = x/L, t^ = t D/L^2 with D the bulk diffusivity, c^ = c/c_ref):

    dc/dt = div(D grad c) + div_G(K grad_G c) delta_Gamma    in the grains, on the boundaries Gamma
    c = c_s on ``surface`` (constant source), zero flux elsewhere,

K = delta (D_gb - D) / (D L) the boundaries' excess tangential conductance
(:mod:`fem.constitutive.grain_boundary`, :mod:`fem.weak_forms.grain_boundary`); ``conductance``
None leaves them out (then ``diffusivity`` may be Hart's D_eff / D, the homogenised
alternative).  Variable-step BDF2, SNES with LU or CG + AMG; the linear operator
(Jacobian) is reused while the BDF coefficients are unchanged.  The uptake through
the surface is the variationally consistent flux (residual tested with the indicator
of the surface dofs; it includes what the boundaries carry in), integrated in time
with the field's BDF formula, so amount - amount0 = uptake is a discrete identity.
"""

from __future__ import annotations

import ufl

import dolfinx.fem

from fem import petsc_options
from fem.observables import Integral
from fem.solver import SNESSolver, SolveStats
from fem.time_schemes import BDFHistory
from fem.weak_forms.diffusion import diffusion_residual
from fem.weak_forms.grain_boundary import grain_boundary_residual


class GrainBoundaryDiffusion:
    """c on ``domain`` (a :class:`meshes.tagged.TaggedMesh`, nondimensional coordinates).

    surface : facet group held at ``c_surface``.
    c0 : initial concentration; diffusivity : bulk D (relative to the time scale's D).
    conductance : K of the boundaries (nondimensional), or None for none.
    gb : facet group (or alias) of the boundaries.
    """

    def __init__(self, domain, surface: str, *, gb: str, c0: float, c_surface: float,
                 diffusivity: float = 1.0, conductance: float | None = None,
                 degree: int = 1, time_order: int = 2, solver: str = "lu", prefix: str = "gb_diffusion_"):
        self.domain = domain
        mesh = domain.mesh
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
        self.c = dolfinx.fem.Function(self.V, name="concentration")
        self.history = BDFHistory(self.c, time_order)
        self.history.set_all(c0)
        md = {"quadrature_degree": 2 * degree}
        dx = domain.dx(metadata=md)
        D = dolfinx.fem.Constant(mesh, float(diffusivity))
        dcdt = self.history.ddt()

        def residual(v):
            F = diffusion_residual(dcdt, self.c, v, D, dx)
            if conductance is not None:
                F += grain_boundary_residual(self.c, v, dolfinx.fem.Constant(mesh, float(conductance)),
                                             domain.dS(gb, metadata=md))
            return F

        sdofs = dolfinx.fem.locate_dofs_topological(self.V, mesh.topology.dim - 1, domain.facets(surface))
        bc = dolfinx.fem.dirichletbc(float(c_surface), sdofs, self.V)
        opts = petsc_options.direct_lu() if solver == "lu" else petsc_options.cg_amg()
        self.solver = SNESSolver(residual(ufl.TestFunction(self.V)), self.c, [bc], prefix=prefix, options=opts)
        indicator = dolfinx.fem.Function(self.V)
        indicator.x.array[sdofs] = 1.0
        indicator.x.scatter_forward()
        self.consistent_flux = Integral(residual(indicator))
        self.volume = Integral(1.0 * dx)()
        self.int_c = Integral(self.c * dx)
        self.amount0 = self.int_c()
        self.uptake = self.uptake_old = 0.0
        self.flux_now = 0.0
        self._last = None

    # step / reject / accept ----------------------------------------------
    def step(self, t: float, dt: float) -> SolveStats:
        coefficients = (dt, *self.history.bdf.coefficients(dt))
        same = coefficients == self._last
        self._last = coefficients
        self.history.set_step(dt)
        return self.solver.solve(reuse_jacobian=same)

    def reject(self) -> None:
        self.history.reject()
        self._last = None

    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None:
        self.flux_now = self.consistent_flux()
        self.uptake, self.uptake_old = (
            self.history.bdf.integrate_rate(self.uptake, self.uptake_old, self.flux_now, dt), self.uptake)
        self.history.accept(dt)

    # restart ----------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        return {**self.history.checkpoint_state("c"), "uptake": self.uptake, "uptake_old": self.uptake_old,
                "flux_now": self.flux_now, "amount0": self.amount0}

    def restore_state(self, state: dict) -> None:
        self.history.restore_state("c", state)
        self.uptake, self.uptake_old = state["uptake"], state["uptake_old"]
        self.flux_now, self.amount0 = state["flux_now"], state["amount0"]
        self._last = None

    # observables (nondimensional) ---------------------------------------------
    def amount(self) -> float:
        return self.int_c()

    def destroy(self) -> None:
        self.solver.destroy()
