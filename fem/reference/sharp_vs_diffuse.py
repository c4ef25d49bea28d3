"""Sharp-interface (Stefan) vs diffuse-interface (Cahn-Hilliard) lithiation of a planar slab.

The same two-phase lithiation is computed (a) as a sharp-interface Stefan problem and (b) as
Cahn-Hilliard with the regular-solution free energy whose binodal gives the Stefan interface
concentrations; as the interface width w -> 0 the Cahn-Hilliard front converges to the Stefan
front.  Everything here is nondimensional: x in units of a length L0, t in L0^2 / D, the chemical
potential in kT per site, c the site fraction.

Free energy and phases (regular solution, :class:`fem.constitutive.free_energy.RegularSolution`)
-------------------------------------------------------------------------------------------------
    g(c) = c ln c + (1 - c) ln(1 - c) + a c (1 - c),   a = Omega / kT  (default 2.5)

with binodal (common tangent) c_alpha < c_beta (a = 2.5: 0.14479, 0.85521) and the plateau
mu* = g'(c_alpha) = g'(c_beta) (0 for this symmetric g).

(b) Cahn-Hilliard (:class:`fem.models.cahn_hilliard.CahnHilliard`, fully implicit backward Euler)
    dc/dt = d/dx( M(c) dmu/dx ),   mu = g'(c) - kappa d2c/dx2,   0 < x < L.
Away from the interface mu = g'(c) + O(kappa), so the bulk flux is -M(c) g''(c) dc/dx: the bulk
diffusivity is D_eff(c) = M(c) g''(c).  The mobility

    M(c) = D / max(g''(c), m0),   m0 = 0.5 min(g''(c_alpha), g''(c_beta))  (default)

makes D_eff = D exactly wherever g''(c) >= m0, i.e. for c <= 0.19 and c >= 0.81 (a = 2.5): all
bulk states of both phases (g'' grows away from the spinodal, and the bulk values lie outside the
binodal, or O(w) inside it next to a moving interface); inside the interface M = D/m0 (the
mobility there only enters the O(w) corrections).  The interface width is defined by the slope
of the planar equilibrium profile (kappa/2 c'^2 = dg(c) = g(c) - g(c_alpha) - mu* (c - c_alpha)):

    w = (c_beta - c_alpha) / max|dc/dx| = (c_beta - c_alpha) sqrt(kappa / (2 max dg)),

i.e. kappa = 2 max(dg) (w / (c_beta - c_alpha))^2  (a = 2.5: w = 2.65 sqrt(kappa)).

(a) Stefan: the sharp-interface limit of (b) on the O(1) (diffusive) time scale with O(1)
supersaturation (Pego, Proc. R. Soc. Lond. A 422 (1989) 261, "Front migration in the nonlinear
Cahn-Hilliard equation": leading-order mu continuous and equal to mu* at the interface, hence
c = c_alpha, c_beta on its two sides; no Gibbs-Thomson term for a planar front; corrections of
O(w) driven by the interface motion):

    dc/dt = D d2c/dx2 in each phase,  c = c_beta | c_alpha at x = X(t),
    (c_beta - c_alpha) dX/dt = -D dc/dx|_beta + D dc/dx|_alpha,

solved exactly by the two-phase Neumann similarity solution X(t) = 2 lambda sqrt(t)
(:class:`fem.analytic_stefan.NeumannSolution`, Crank 1975 sec. 13.2) and numerically by the ALE
model :class:`fem.models.stefan.TwoPhaseStefan` (:func:`run_stefan`).

Lithiation set-up (both models): beta (Li rich) grows from the surface x = 0 into alpha; the
alpha far field c_init (default 0.10) is below c_alpha, so alpha carries a diffusion layer too.
Both start at t0 > 0 from the similarity solution (the sharp one at its jump; the diffuse one with
the jump replaced by a tanh profile of width w centred on X(t0)), which avoids the nucleation of
beta at t = 0 that the sharp model does not describe.

Boundary conditions.  Stefan: c(0, t) = c_s (default 0.95, in the beta phase).  Cahn-Hilliard is
fourth order and takes two conditions at x = 0; here c(0, t) = c_s and mu(0, t) = g'(c_s) (a
reservoir in equilibrium with c_s; Dirichlet on both fields, so the mass-balance row and the mu
row of the surface node are replaced and the surface flux is whatever the interior requires).
Since mu = g'(c) - kappa d2c/dx2, this asks d2c/dx2 = 0 at the surface, which the outer (Stefan)
profile satisfies exactly (c_t = D c_xx with c(0) fixed), so no boundary layer forms and the
boundary is consistent with the Stefan condition to O(kappa) = O(w^2).  (Other pairs are not:
c = c_s with the natural kappa dc/dx = 0 creates a layer of width l = sqrt(kappa/g''(c_s)) ~ w
that shifts the outer surface value by -l dc/dx, O(w): it adds ~15% to the front difference below
(d/w at t = 0.2, w = 0.02: 0.434 instead of 0.378, ``surface_mu=False``); a Dirichlet mu = g'(c_s) alone replaces the
mu row of the surface node (the model tests the mass balance with the c test function), leaving
the surface without flux.)  Far end x = L: no flux (dmu/dx = 0, dc/dx = 0) in both models; L = 2
keeps the far end's effect on the front at ~1e-7 up to t = 0.2 (the image distance 2 (L - X) over
the diffusion length 2 sqrt(D t): exp(-16)), so the Neumann solution of the half space is the exact
sharp reference on the slab.

Front position of the diffuse model: where c = (c_alpha + c_beta)/2, linearly interpolated between
nodes (the inflection point of the profile).

What the comparison shows (tests/bench/bench_sharp_vs_diffuse.py): X_CH - X_S = C(t) w with
C(t) > 0 independent of w to 0.3% (first order), starting from ~0 at t0 and growing with t, i.e. a
correction driven by the interface motion, not an offset of the initial profile; C depends on the
mobility inside the interface (m0 / 4 raises it by ~24%) and not on the mesh (16 instead of 8
cells per width: -0.5%): the O(w) thin-interface correction whose coefficients are integrals of
1/M and of the profile across the interface (cf. Elder, Grant, Provatas & Kosterlitz, Phys. Rev. E
64 (2001) 021604; Almgren, SIAM J. Appl. Math. 59 (1999) 2086).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc
from scipy.optimize import minimize_scalar
from scipy.special import erf, erfc

import dolfinx.fem
import dolfinx.mesh

from fem.analytic_stefan import NeumannSolution
from fem.constitutive.free_energy import RegularSolution
from fem.scaling import BOLTZMANN

TEMPERATURE_K = 298.15


@dataclass(frozen=True)
class Case:
    """The lithiation case (nondimensional; module docstring)."""

    omega_kT: float = 2.5      # a = Omega / kT
    c_surface: float = 0.95    # surface value c_s (beta)
    c_init: float = 0.10       # alpha far field / initial value
    D: float = 1.0             # bulk diffusivity of both phases
    L: float = 2.0             # slab thickness
    t0: float = 0.03           # start (similarity solution)
    times: tuple = (0.05, 0.1, 0.2)  # comparison times
    floor_factor: float = 0.5  # m0 = floor_factor min(g''(c_alpha), g''(c_beta)) (interface mobility)

    def free_energy(self) -> RegularSolution:
        return RegularSolution(omega_J=self.omega_kT * BOLTZMANN * TEMPERATURE_K, temperature_K=TEMPERATURE_K)

    def binodal(self) -> tuple[float, float]:
        return self.free_energy().binodal()

    def neumann(self) -> NeumannSolution:
        ca, cb = self.binodal()
        return NeumannSolution(self.D, self.D, self.c_surface, cb, ca, self.c_init)

    def barrier(self) -> float:
        """max over the binodal interval of dg(c) = g(c) - g(c_alpha) - mu* (c - c_alpha) (kT)."""
        fe = self.free_energy()
        ca, cb = self.binodal()
        mu_star = float(fe.mu(ca))
        dg = lambda c: float(fe.g(c) - fe.g(ca) - mu_star * (c - ca))  # noqa: E731
        res = minimize_scalar(lambda c: -dg(c), bounds=(ca, cb), method="bounded",
                              options={"xatol": 1e-12})
        return -float(res.fun)

    def kappa(self, width: float) -> float:
        """Gradient coefficient giving the interface width ``width`` (module docstring)."""
        ca, cb = self.binodal()
        return 2 * self.barrier() * (width / (cb - ca)) ** 2

    def mobility_floor(self) -> float:
        fe = self.free_energy()
        ca, cb = self.binodal()
        return self.floor_factor * min(float(fe.d2g(ca)), float(fe.d2g(cb)))

    def mobility(self, c):
        """M(c) = D / max(g''(c), m0) (UFL): bulk diffusivity M g'' = D in both phases."""
        return self.D / ufl.max_value(self.free_energy().d2g(c), self.mobility_floor())

    def branches(self, x, t):
        """The beta and the alpha branch of the Neumann solution, each continued over all x."""
        ex = self.neumann()
        sd = math.sqrt(self.D * t)
        lam = ex.lam / math.sqrt(self.D)
        cb = ex.c0 + (ex.cb - ex.c0) * erf(x / (2 * sd)) / erf(lam)
        ca = ex.cinf + (ex.ca - ex.cinf) * erfc(x / (2 * sd)) / erfc(lam)
        return cb, ca

    def initial_diffuse(self, width: float):
        """c(x, t0): the similarity solution with its jump at X(t0) replaced by a tanh of width w."""
        X0 = float(self.neumann().position(self.t0))

        def f(x):
            cb, ca = self.branches(x[0], self.t0)
            H = 0.5 * (1 - np.tanh(2 * (x[0] - X0) / width))  # 1 in beta, 0 in alpha; slope 1/w
            return cb * H + ca * (1 - H)
        return f


def time_grid(t0: float, times, ratio: float) -> np.ndarray:
    """Steps growing geometrically (dt ~ ratio t, the similarity scaling) that hit every time."""
    ts = [t0]
    for ta, tb in zip([t0, *times[:-1]], times):
        n = max(1, math.ceil(math.log(tb / ta) / math.log1p(ratio)))
        ts.extend(ta * (tb / ta) ** (np.arange(1, n + 1) / n))
    return np.array(ts)


def level_crossing(x: np.ndarray, c: np.ndarray, level: float) -> float:
    """First x (from x = 0) where the nodal profile c drops below ``level``, linear interpolation."""
    order = np.argsort(x)
    x, c = x[order], c[order]
    i = int(np.flatnonzero(c < level)[0])
    if i == 0:
        return float(x[0])
    return float(x[i - 1] + (c[i - 1] - level) / (c[i - 1] - c[i]) * (x[i] - x[i - 1]))


def run_cahn_hilliard(case: Case, width: float, cells_per_width: float = 8.0, ratio: float = 0.0025,
                      comm=MPI.COMM_SELF, prefix: str = "svd_ch_", surface_mu: bool = True) -> dict:
    """The diffuse-interface run: front positions at ``case.times`` (serial; 1D).
    ``surface_mu=False`` holds only c at the surface (natural kappa dc/dx = 0; for comparison)."""
    from fem.models.cahn_hilliard import CahnHilliard

    tic = time.perf_counter()
    fe = case.free_energy()
    ca, cb = case.binodal()
    n = math.ceil(case.L * cells_per_width / width)
    mesh = dolfinx.mesh.create_interval(comm, n, [0.0, case.L])
    model = CahnHilliard(mesh, fe, kappa=case.kappa(width), mobility=case.mobility, scheme="implicit",
                         solver="lu", prefix=prefix)
    # the model has no Dirichlet hook: the surface conditions c(0) = c_s, mu(0) = g'(c_s) join its
    # SNES solver's conditions (applied in every residual and Jacobian assembly)
    facets = dolfinx.mesh.locate_entities_boundary(mesh, 0, lambda x: np.isclose(x[0], 0.0))
    bcs = []
    for i, value in ((0, case.c_surface), (1, float(fe.mu(case.c_surface))))[:2 if surface_mu else 1]:
        dofs = dolfinx.fem.locate_dofs_topological(model.W.sub(i), 0, facets)
        bcs.append(dolfinx.fem.dirichletbc(PETSc.ScalarType(value), dofs, model.W.sub(i)))
    model.solver.bcs.extend(bcs)
    model.set_concentration(case.initial_diffuse(width))
    for f in (model.w, model.w_old):
        for bc in bcs:
            bc.set(f.x.array)
    x = model.V.tabulate_dof_coordinates()[:, 0]
    level = 0.5 * (ca + cb)
    grid = time_grid(case.t0, case.times, ratio)
    out = {"t": [], "X": []}
    newton = 0
    for t_old, t_new in zip(grid[:-1], grid[1:]):
        st = model.step(t_old, t_new - t_old)
        if not st.converged:
            raise RuntimeError(f"Cahn-Hilliard step to t = {t_new:.4g} failed: {st.reason}")
        model.accept(t_new, t_new - t_old, st)
        newton += st.newton_iterations
        if np.any(np.isclose(t_new, case.times, rtol=1e-12)):
            out["t"].append(float(t_new))
            out["X"].append(level_crossing(x, model.concentration(), level))
    c = model.concentration()
    out.update(width=width, kappa=case.kappa(width), cells=n, h=case.L / n, steps=len(grid) - 1,
               newton=newton, ratio=ratio, c_min=float(c.min()), c_max=float(c.max()),
               c_surface=float(c[np.argmin(x)]), wall_s=time.perf_counter() - tic)
    model.destroy()
    return out


def run_stefan(case: Case, domain, *, alpha: str, beta: str, interface: str, surface: str, far_end: str,
               ratio: float = 0.0025) -> dict:
    """The sharp-interface ALE run (:class:`fem.models.stefan.TwoPhaseStefan`) on ``domain``: a 1D
    slab [0, L] with alpha for x < L - X(t0) (far end at x = 0) and beta beyond (surface at x = L),
    as built by ``meshes.two_phase.two_phase_slab``; the front position is L - x_interface."""
    from fem.models.stefan import TwoPhaseStefan

    tic = time.perf_counter()
    ca, cb = case.binodal()
    ex = case.neumann()
    L = case.L
    init = lambda X: ex.concentration(L - X[0], case.t0)  # noqa: E731
    prob = TwoPhaseStefan(domain, alpha=alpha, beta=beta, interface=interface, c_alpha=ca, c_beta=cb,
                          D_alpha=case.D, D_beta=case.D, init_alpha=init, init_beta=init,
                          fixed=[far_end, surface], dirichlet=[("beta", surface, case.c_surface)])
    prob.velocity[:] = -ex.velocity(case.t0)  # along the outward normal of alpha (+x): front moves to -x
    grid = time_grid(case.t0, case.times, ratio)
    out = {"t": [], "X": []}
    for t_old, t_new in zip(grid[:-1], grid[1:]):
        st = prob.step(t_old, t_new - t_old)
        if not st.converged:
            raise RuntimeError(f"Stefan step to t = {t_new:.4g} failed: {st.reason}")
        prob.accept(t_new, t_new - t_old, st)
        if np.any(np.isclose(t_new, case.times, rtol=1e-12)):
            out["t"].append(float(t_new))
            out["X"].append(L - prob.interface_position())
    out.update(steps=len(grid) - 1, ratio=ratio, moles_error=abs(prob.total_moles() - prob.moles0 - prob.moles_in),
               wall_s=time.perf_counter() - tic)
    prob.destroy()
    return out


def observed_orders(widths, errors) -> list[float]:
    """log(e_i / e_{i+1}) / log(w_i / w_{i+1}) for consecutive widths."""
    return [math.log(abs(errors[i]) / abs(errors[i + 1])) / math.log(widths[i] / widths[i + 1])
            for i in range(len(widths) - 1)]
