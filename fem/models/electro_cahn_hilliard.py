"""Cahn-Hilliard coupled to electrostatics (a charged conserved species), as a model of
:class:`fem.simulation.Simulation`.

Equations (nondimensional; Guyer et al., Phys. Rev. E 69 (2004) 021603/021604; PFHub
benchmark 6)::

    dc/dt = div( M grad mu ),     mu = g'(c) - kappa lap c + k Phi
    -div( eps grad Phi ) = k c                                  (electric relaxation is instantaneous)
    F = int g(c) + kappa/2 |grad c|^2 + k c Phi / 2 dV          (the free energy PFHub reports)

with Dirichlet data for Phi on part of the boundary (Phi_D) and eps grad Phi . n = 0 elsewhere.

Lyapunov functional.  Write Phi = Phi_0 + Phi_c with Phi_0 harmonic carrying the boundary
data and Phi_c = (k/eps) G c (G: the Green operator with homogeneous data, symmetric).  Then
dF/dc = mu - k Phi_0 / 2, so F itself need not decrease; the functional whose variational
derivative is mu,

    L = F + int k c Phi_0 / 2 dV,        dL/dt = -int M |grad mu|^2 dV <= 0,

is what the dynamics dissipate (:meth:`ElectroCahnHilliard.lyapunov`,
:func:`lyapunov_decreases`).

Discretization.  :class:`fem.models.cahn_hilliard.CahnHilliard` is composed unchanged: its
``source_mu`` is ``k Phi_s`` with Phi_s a Function; the Poisson equation is the PNP code's
:func:`fem.weak_forms.pnp.poisson_residual` (linear, factored once: :class:`Electrostatics`)
with the charge on the same lumped (vertex) quadrature as the mu equation, so the discrete
L (lumped k c Phi / 2) has exactly mu as its nodal derivative.  A step solves CH with
Phi_s = Phi^n, then Poisson with c^{n+1}, and repeats the CH solve (warm start) with the new
Phi until max |Phi^{k+1} - Phi^k| <= ``picard_rtol`` max |Phi^{k+1} - Phi^n|: the coupling is
implicit (backward Euler; g' implicit or convex-concave split, CahnHilliard's ``scheme``) up
to that tolerance.  The Picard contraction factor is dt M k^2 / eps (a change dc moves mu by
k (k/eps) G dc, which changes c by dt M (k^2/eps) dc in one step), 4.5e-4 dt for the
benchmark, so one correction suffices for dt < picard_rtol / 4.5e-4.  Phi is always the
Poisson solution of the current c (for outputs and energies).
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc
import dolfinx.mesh

from fem import petsc_options
from fem.models.cahn_hilliard import CahnHilliard
from fem.observables import Integral
from fem.solver import SolveStats
from fem.weak_forms import pnp


class Electrostatics:
    """Linear solve of -div(eps grad phi) = scale * rho (Dirichlet ``bcs``, else natural) on
    ``V``, through :func:`fem.weak_forms.pnp.poisson_residual`; the matrix is assembled and
    factored once (``rho`` may depend on other Functions: only the right-hand side changes).

    ``dx_rho``: measure of the charge term (default ``dx``); ``scale`` (a Constant, 1) lets
    the same operator give the harmonic part (scale 0: boundary data only).
    """

    def __init__(self, V, rho, permittivity, bcs, dx, *, dx_rho=None, prefix="elec_"):
        self.V, self.bcs = V, list(bcs)
        self.scale = dolfinx.fem.Constant(V.mesh, 1.0)
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        term = (permittivity, self.scale * rho, dx) + ((dx_rho,) if dx_rho is not None else ())
        a, L = ufl.system(pnp.poisson_residual(u, v, [term]))
        self.a, self.L = dolfinx.fem.form(a), dolfinx.fem.form(L)
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=self.bcs)
        self.A.assemble()
        self.b = dolfinx.fem.petsc.create_vector(self.L)
        petsc_options.register_prefix(prefix)
        petsc_options.apply(prefix, petsc_options.direct_lu())
        self.ksp = PETSc.KSP().create(V.mesh.comm)
        self.ksp.setOptionsPrefix(prefix)
        self.ksp.setOperators(self.A)
        self.ksp.setFromOptions()

    def solve(self, phi, scale: float = 1.0) -> None:
        self.scale.value = scale
        with self.b.localForm() as bl:
            bl.set(0.0)
        dolfinx.fem.petsc.assemble_vector(self.b, self.L)
        dolfinx.fem.petsc.apply_lifting(self.b, [self.a], [self.bcs])
        self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(self.b, self.bcs)
        self.ksp.solve(self.b, phi.x.petsc_vec)
        phi.x.scatter_forward()

    def destroy(self):
        for o in (self.ksp, self.A, self.b):
            o.destroy()


class ElectroCahnHilliard:
    """Cahn-Hilliard (``ch``, a :class:`CahnHilliard`) + Poisson for Phi (module docstring).

    coupling_k : k (charge per unit c, and the mu coupling k Phi)
    permittivity : eps
    phi_dirichlet : list of (marker x -> bool, value x -> array) for the Dirichlet parts of Phi
    Other keywords go to :class:`CahnHilliard` (``free_energy``, ``kappa``, ``mobility``, ...).
    """

    def __init__(self, mesh, free_energy, *, coupling_k, permittivity, phi_dirichlet,
                 picard_rtol=1e-3, max_picard=8, prefix="ech_", **ch_kw):
        self.comm = mesh.comm
        self.k = dolfinx.fem.Constant(mesh, float(coupling_k))
        self.picard_rtol, self.max_picard = picard_rtol, max_picard
        degree = ch_kw.get("degree", 1)
        self.Vphi = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
        # phi: Poisson solution of the current c (attempt or accepted); phi_s: the one in mu
        self.phi = dolfinx.fem.Function(self.Vphi, name="potential")
        self.phi_old = dolfinx.fem.Function(self.Vphi, name="potential_old")
        self.phi_s = dolfinx.fem.Function(self.Vphi, name="potential_step")
        self.phi_ext = dolfinx.fem.Function(self.Vphi, name="potential_external")  # Phi_0
        self.ch = CahnHilliard(mesh, free_energy, source_mu=self.k * self.phi_s, prefix=prefix, **ch_kw)
        ch = self.ch
        fdim = mesh.topology.dim - 1
        bcs = []
        for marker, value in phi_dirichlet:
            facets = dolfinx.mesh.locate_entities_boundary(mesh, fdim, marker)
            dofs = dolfinx.fem.locate_dofs_topological(self.Vphi, fdim, facets)
            g = dolfinx.fem.Function(self.Vphi)
            g.interpolate(value)
            bcs.append(dolfinx.fem.dirichletbc(g, dofs))
        self.poisson = Electrostatics(self.Vphi, self.k * ch.c_expr, permittivity, bcs, ch.dx,
                                      dx_rho=ch.dx_lumped, prefix=prefix + "poisson_")
        self.poisson.solve(self.phi_ext, scale=0.0)
        c, dxl = ch.c_expr, ch.dx_lumped
        self.elec_form = Integral(0.5 * self.k * c * self.phi * dxl)
        self.ext_form = Integral(0.5 * self.k * c * self.phi_ext * dxl)
        self._lyap_old = None
        self.last_picard = 0

    # -- state ---------------------------------------------------------------------
    def set_concentration(self, values_or_callable):
        """c in both states, Phi its Poisson solution."""
        self.ch.set_concentration(values_or_callable)
        self.solve_potential()
        for f in (self.phi_old, self.phi_s):
            f.x.array[:] = self.phi.x.array
        self._lyap_old = self.lyapunov()

    def solve_potential(self):
        """Phi for the current c (``ch.w``)."""
        self.poisson.solve(self.phi)

    def concentration(self, which="new"):
        return self.ch.concentration(which)

    # -- observables (of the current iterate ch.w, phi) -----------------------------------
    def energy_parts(self) -> dict:
        """Chemical + gradient and electrostatic parts of F."""
        return {"chemical_gradient": self.ch.energy(), "electrostatic": self.elec_form()}

    def free_energy(self) -> float:
        """F = int g + kappa/2 |grad c|^2 + k c Phi / 2 (the benchmark's)."""
        return sum(self.energy_parts().values())

    def lyapunov(self) -> float:
        """L = F + int k c Phi_0 / 2 (non-increasing)."""
        return self.free_energy() + self.ext_form()

    def _max_abs(self, a) -> float:
        n = self.Vphi.dofmap.index_map.size_local
        return self.comm.allreduce(float(np.max(np.abs(a[:n]), initial=0.0)), op=MPI.MAX)

    # -- step / reject / accept -------------------------------------------------------------
    def step(self, t, dt) -> SolveStats:
        self.phi_s.x.array[:] = self.phi_old.x.array
        stats = self.ch.step(t, dt)
        newton, krylov = stats.newton_iterations, stats.krylov_iterations
        self.last_picard = 0
        while stats.converged:
            self.solve_potential()
            change = self._max_abs(self.phi.x.array - self.phi_s.x.array)
            if change <= max(1e-13, self.picard_rtol * self._max_abs(self.phi.x.array - self.phi_old.x.array)):
                break
            if self.last_picard >= self.max_picard:
                return SolveStats(False, newton, krylov, f"Picard coupling: |dPhi| = {change:.3g}")
            self.last_picard += 1
            self.phi_s.x.array[:] = self.phi.x.array
            stats = self.ch.solver.solve()  # warm start from the last iterate
            newton, krylov = newton + stats.newton_iterations, krylov + stats.krylov_iterations
        return SolveStats(stats.converged, newton, krylov, stats.reason)

    def reject(self):
        self.ch.reject()
        self.phi.x.array[:] = self.phi_old.x.array

    def accept(self, t_new, dt, stats):
        self._lyap_old = self.lyapunov()
        self.ch.accept(t_new, dt, stats)
        self.phi_old.x.array[:] = self.phi.x.array

    def checkpoint_state(self) -> dict:
        return {**self.ch.checkpoint_state(), "phi": self.phi, "phi_old": self.phi_old,
                "lyap_old": self._lyap_old}

    def restore_state(self, state: dict) -> None:
        self.ch.restore_state(state)
        self._lyap_old = state["lyap_old"]
        self.phi_s.x.array[:] = self.phi_old.x.array

    def destroy(self):
        self.ch.destroy()
        self.poisson.destroy()


def lyapunov_decreases(model: ElectroCahnHilliard, rtol: float = 1e-10):
    """Acceptance check: reject a step that raises L (the dissipated functional)."""
    def check(t, dt, stats):
        old, new = model._lyap_old, model.lyapunov()
        if not np.isfinite(new) or new > old + rtol * max(abs(old), 1.0):
            return f"Lyapunov functional increased ({new!r} > {old!r})"
        return None
    return check
