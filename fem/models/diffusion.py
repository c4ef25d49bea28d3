"""Fickian diffusion of one species in a solid (linear, constant D).

    dc/dt = div(D grad c)     in the domain (nondimensional)
    c = c_s                   on the ``dirichlet`` surface, or
    D dc/dn = j_in            on the ``inflow`` surface (j_in > 0 inserts)

Variable-step BDF1/2 in time (:class:`fem.time_schemes.BDFHistory`); SNES (one
Newton step for this linear law) with CG + BoomerAMG or LU.  The Jacobian and
its AMG hierarchy are reused while dt is unchanged.

The surface flux reported is the variationally consistent one (the residual
tested with a function that is 1 on the surface dofs), so it is exact for
fixed-concentration surfaces too.  The inflow is integrated in time with the
BDF formula of the field, so ``moles_in`` is what the discrete scheme put in.
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI

import dolfinx.fem

from fem import petsc_options
from fem.observables import Integral, allreduce_array
from fem.solver import SNESSolver, SolveStats
from fem.time_schemes import BDFHistory
from fem.weak_forms.diffusion import diffusion_residual


class FickianDiffusion:
    """One concentration field on ``domain`` (a :class:`meshes.tagged.TaggedMesh`).

    surface : name of the boundary region where the surface condition acts.
    c0 : initial concentration (nondimensional).
    c_surface : fixed surface concentration (nondimensional), or None for a flux condition.
    flux : inward flux density (nondimensional; used when ``c_surface`` is None).
    """

    def __init__(self, domain, surface: str, *, c0: float, c_surface: float | None = None,
                 flux: float = 0.0, degree: int = 2, time_order: int = 2, solver: str = "cg_amg",
                 prefix: str = "diffusion_"):
        self.domain = domain
        mesh = domain.mesh
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
        self.V = V
        self.c = dolfinx.fem.Function(V, name="concentration")
        self.history = BDFHistory(self.c, time_order)
        self.history.set_all(c0)
        v = ufl.TestFunction(V)
        geometry_order = mesh.geometry.cmap.degree
        # Exact quadrature for P_k on affine cells; avoids the inflated
        # estimate UFL makes for curved (order-2) geometry.
        md = {"quadrature_degree": 2 * degree + (geometry_order - 1)}
        dx = domain.dx(metadata=md)
        ds = domain.ds(surface, metadata=md)
        D = dolfinx.fem.Constant(mesh, 1.0)
        facets = domain.facets(surface)
        surface_dofs = dolfinx.fem.locate_dofs_topological(V, mesh.topology.dim - 1, facets)
        n_owned = V.dofmap.index_map.size_local
        self._owned_surface_dofs = surface_dofs[surface_dofs < n_owned]
        bcs, inflow = [], []
        self.c_surface, self.j_in = c_surface, None
        if c_surface is not None:
            bcs.append(dolfinx.fem.dirichletbc(c_surface, surface_dofs, V))
        else:
            self.j_in = dolfinx.fem.Constant(mesh, flux)
            inflow.append((self.j_in, ds))
        dcdt = self.history.ddt()
        F = diffusion_residual(dcdt, self.c, v, D, dx, inflow=inflow)
        opts = petsc_options.cg_amg() if solver == "cg_amg" else petsc_options.direct_lu()
        self.solver = SNESSolver(F, self.c, bcs, prefix=prefix, options=opts)

        self.volume = Integral(1.0 * dx)()
        self.area = Integral(1.0 * ds)()
        self.int_c = Integral(self.c * dx)
        self.int_c_surface = Integral(self.c * ds)
        v_surface = dolfinx.fem.Function(V)
        v_surface.x.array[surface_dofs] = 1.0
        v_surface.x.scatter_forward()
        self.consistent_flux = Integral(diffusion_residual(dcdt, self.c, v_surface, D, dx))
        self.moles0 = self.int_c()
        self.moles_in = self.moles_in_old = 0.0  # integrated surface inflow
        self.flux_now = 0.0
        self._last_coefficients = None

    # step / reject / accept ----------------------------------------------
    def step(self, t: float, dt: float) -> SolveStats:
        # Linear problem: the operator changes only with the BDF coefficients,
        # so the Jacobian and its AMG hierarchy are reused while they are unchanged.
        bdf = self.history.bdf
        coefficients = (dt, *bdf.coefficients(dt))
        same = coefficients == self._last_coefficients
        self._last_coefficients = coefficients
        self.history.set_step(dt)
        return self.solver.solve(reuse_jacobian=same)

    def reject(self) -> None:
        self.history.reject()
        self._last_coefficients = None

    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None:
        self.flux_now = self.consistent_flux()
        # integrate the inflow with the same BDF formula -> exact discrete balance
        self.moles_in, self.moles_in_old = (
            self.history.bdf.integrate_rate(self.moles_in, self.moles_in_old, self.flux_now, dt),
            self.moles_in)
        self.history.accept(dt)

    # restart ----------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        return {**self.history.checkpoint_state("c"), "moles_in": self.moles_in,
                "moles_in_old": self.moles_in_old, "flux_now": self.flux_now,
                "last_coefficients": self._last_coefficients}

    def restore_state(self, state: dict) -> None:
        self.history.restore_state("c", state)
        self.moles_in, self.moles_in_old = state["moles_in"], state["moles_in_old"]
        self.flux_now = state["flux_now"]
        # the Jacobian is rebuilt on the first step after a restart
        self._last_coefficients = None

    # observables (nondimensional) ----------------------------------------------
    def moles(self) -> float:
        return self.int_c()

    def surface_mean(self) -> float:
        return self.int_c_surface() / self.area

    def value_range(self) -> tuple[float, float, float, float]:
        """Nodal (min, max) over the domain, then (min, max) over the surface; global, one reduction."""
        a = self.c.x.array
        owned, surf = a[:self.V.dofmap.index_map.size_local], a[self._owned_surface_dofs]
        m = allreduce_array(self.V.mesh.comm, [-np.min(owned, initial=np.inf), np.max(owned, initial=-np.inf),
                                               -np.min(surf, initial=np.inf), np.max(surf, initial=-np.inf)],
                            MPI.MAX)
        return -m[0], m[1], -m[2], m[3]

    def destroy(self) -> None:
        self.solver.destroy()
