"""Binary substitutional interdiffusion with the Kirkendall effect (Darken).

A-B solid at constant molar volume, x = x_A.  Laboratory frame (nondimensional)

    dx/dt = div( D~(x) grad x ),   D~ = (1 - x) D_A + x D_B,   D_i = D_i* Phi(x)

with the regular-solution thermodynamic factor Phi = 1 - 2 (Omega/RT) x (1 - x)
(:mod:`fem.constitutive.interdiffusion`), closed (zero-flux) boundaries.  With a
``correlation_factor`` f0 the intrinsic diffusivities carry Manning's vacancy wind,
D_A = D_A* Phi r_A, D_B = D_B* Phi r_B (:mod:`fem.constitutive.vacancy_wind`), which
multiplies D~ by Manning's S >= 1 and D_A - D_B by 1/f0.  Inert
markers ride on the lattice with the Kirkendall velocity

    v = (D_A - D_B)(x) grad x,

mass-lumped onto a P1 vector field after each accepted step; the markers move
along the first axis (the stacking direction of a couple) by Heun's method
(predictor with the velocity of the previous state, corrector with the new one).
Variable-step BDF2 (:class:`fem.time_schemes.BDFHistory`), SNES with LU (1D) or
GMRES + AMG.
"""

from __future__ import annotations

import numpy as np
import ufl

import dolfinx.fem
import dolfinx.geometry
import dolfinx.la

from fem import petsc_options
from fem.constitutive.interdiffusion import (interdiffusion_coefficient, intrinsic_diffusivities,
                                             kirkendall_velocity, regular_solution_thermodynamic_factor)
from fem.constitutive.vacancy_wind import manning_intrinsic_diffusivities
from fem.observables import Integral
from fem.probes import PointProbe
from fem.solver import SNESSolver, SolveStats
from fem.time_schemes import BDFHistory
from fem.weak_forms.diffusion import diffusion_residual


class DarkenInterdiffusion:
    """x_A on ``domain`` (a :class:`meshes.tagged.TaggedMesh`, nondimensional coordinates).

    x_initial : callable X -> x_A(X) (interpolated into the degree-``degree`` space).
    tracer_A, tracer_B : tracer diffusivities D_A*, D_B* (nondimensional).
    omega_over_RT : regular-solution interaction Omega/RT (Phi > 0 needs < 2).
    markers : initial marker positions, shape (n, gdim); moved along axis 0.
    correlation_factor : f0 of Manning's vacancy wind (0.7815 fcc), or None for Darken (no wind).
    solver : "lu" or "gmres_amg".
    """

    def __init__(self, domain, *, x_initial, tracer_A: float, tracer_B: float, omega_over_RT: float = 0.0,
                 markers=(), correlation_factor: float | None = None, degree: int = 2, solver: str = "lu",
                 prefix: str = "interdiffusion_"):
        self.domain = domain
        mesh = domain.mesh
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
        self.x = dolfinx.fem.Function(self.V, name="x_A")
        self.x.interpolate(x_initial)
        self.history = BDFHistory(self.x, 2)
        self.history.set_all(self.x.x.array)

        phi = regular_solution_thermodynamic_factor(self.x, omega_over_RT)
        # Constants (not floats): keeps D_A - D_B a form even when the tracers are equal
        DA_star, DB_star = (dolfinx.fem.Constant(mesh, float(tracer_A)), dolfinx.fem.Constant(mesh, float(tracer_B)))
        if correlation_factor is None:
            D_A, D_B = intrinsic_diffusivities(self.x, DA_star, DB_star, phi)
        else:
            D_A, D_B = manning_intrinsic_diffusivities(self.x, DA_star, DB_star, phi, float(correlation_factor))
        D_tilde = interdiffusion_coefficient(self.x, D_A, D_B)
        dx = domain.dx(metadata={"quadrature_degree": 2 * degree + 2})
        F = diffusion_residual(self.history.ddt(), self.x, ufl.TestFunction(self.V), D_tilde, dx)
        opts = petsc_options.direct_lu() if solver == "lu" else petsc_options.gmres_amg()
        self.solver = SNESSolver(F, self.x, [], prefix=prefix, options=opts)

        # Kirkendall velocity v = (D_A - D_B) grad x, mass-lumped onto P1 vectors
        gdim = mesh.geometry.dim
        self.W = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (gdim,)))
        w = ufl.TestFunction(self.W)
        self.velocity = dolfinx.fem.Function(self.W, name="kirkendall_velocity")
        self.velocity_old = dolfinx.fem.Function(self.W)
        self.v_form = dolfinx.fem.form(ufl.inner(kirkendall_velocity(self.x, D_A, D_B), w) * dx)
        lumped = dolfinx.fem.assemble_vector(
            dolfinx.fem.form(ufl.inner(ufl.as_vector([1.0] * gdim), w) * ufl.dx))
        lumped.scatter_reverse(dolfinx.la.InsertMode.add)
        lumped.scatter_forward()  # ghosts too (no 0/0 on ghost entries)
        self.lumped_mass = lumped.array.copy()
        self.tree = dolfinx.geometry.bb_tree(mesh, mesh.topology.dim)
        self.markers = np.array(markers, dtype=float).reshape(-1, gdim)
        self.marker_velocity = np.zeros(len(self.markers))
        self.update_velocity()
        self.velocity_old.x.array[:] = self.velocity.x.array

        self.volume = Integral(1.0 * ufl.dx(domain=mesh))()
        self.int_x = Integral(self.x * ufl.dx(domain=mesh))
        self.amount0 = self.int_x()

    def update_velocity(self) -> None:
        b = dolfinx.fem.assemble_vector(self.v_form)
        b.scatter_reverse(dolfinx.la.InsertMode.add)
        self.velocity.x.array[:] = b.array / self.lumped_mass
        self.velocity.x.scatter_forward()

    def velocity_at(self, f, points) -> np.ndarray:
        """Axis-0 component of the vector field ``f`` at ``points``, shape (n, 1), on every rank."""
        vals = PointProbe(self.domain.mesh, points, tree=self.tree)(f)
        return np.asarray(vals).reshape(len(points), -1)[:, 0:1]

    # step / reject / accept ----------------------------------------------
    def step(self, t: float, dt: float) -> SolveStats:
        self.history.set_step(dt)
        return self.solver.solve()

    def reject(self) -> None:
        self.history.reject()

    def accept(self, t_new: float, dt: float, stats: SolveStats) -> None:
        self.update_velocity()
        if len(self.markers):
            # Heun: predictor with the old velocity, corrector with the new one (axis 0 only)
            z = self.markers.copy()
            v0 = self.velocity_at(self.velocity_old, z)
            zp = z.copy()
            zp[:, 0:1] = z[:, 0:1] + dt * v0
            v1 = self.velocity_at(self.velocity, zp)
            self.markers[:, 0:1] = z[:, 0:1] + 0.5 * dt * (v0 + v1)
            self.marker_velocity = v1[:, 0].copy()
        self.velocity_old.x.array[:] = self.velocity.x.array
        self.history.accept(dt)

    # restart ----------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        return {**self.history.checkpoint_state("x"), "velocity": self.velocity,
                "velocity_old": self.velocity_old, "markers": self.markers.copy(),
                "marker_velocity": self.marker_velocity.copy(), "amount0": self.amount0}

    def restore_state(self, state: dict) -> None:
        self.history.restore_state("x", state)
        self.markers = np.array(state["markers"], dtype=float)
        self.marker_velocity = np.array(state["marker_velocity"], dtype=float)
        self.amount0 = state["amount0"]

    # observables (nondimensional) ----------------------------------------------
    def amount(self) -> float:
        """Integral of x_A over the domain."""
        return self.int_x()

    def sample(self, points) -> np.ndarray:
        """x_A at ``points`` (shape (n, gdim)), on every rank."""
        return PointProbe(self.domain.mesh, points, tree=self.tree)(self.x)

    def destroy(self) -> None:
        self.solver.destroy()
