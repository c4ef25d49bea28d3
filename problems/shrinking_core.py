"""Shrinking core: a two-phase (LiFePO4-like) particle with a sharp, moving phase boundary.

Physics (nondimensional inside: x^ = x/R, t^ = t D_beta/R^2, c^ = c/c_max)
-------------------------------------------------------------------------
Phase alpha (the core, cells ``core``) and phase beta (the shell, cells
``shell_0``) each obey Fickian diffusion

    rho dc/dt = div(rho D_p grad c)               in Omega_p(t),  p = alpha, beta

(rho = r^2 for the 1D spherically symmetric model, 2 pi r for the 2D
axisymmetric section, 1 otherwise).  On the sharp interface Gamma(t) the
concentrations take the coexistence (binodal) values of a regular solution,
c = c_alpha on the alpha side and c = c_beta on the beta side, and the
interface moves by the Stefan condition (n from alpha into beta, v normal
velocity along -n, i.e. v > 0 when beta grows; J = -D grad c [mol/(m^2 s)])

    v (c_beta - c_alpha) = J_alpha . n - J_beta . n                     [mol/(m^2 s)]

Particle surface (beta): fixed concentration, constant current (C-rate), or
potentiostatic Butler–Volmer (:class:`fem.constitutive.kinetics.ButlerVolmer`,
OCV of the regular solution).  Voltage: V = U(c_surface) + eta
(eta > 0 anodic, delithiation).

Numerics
--------
Arbitrary Lagrangian–Eulerian: the mesh is conforming to the interface;
interface nodes move along their normals, the step displacement is extended
into both phases by a stiffened harmonic extension (:mod:`fem.ale`), and each
phase is solved with the conservative ALE backward-Euler form of
:mod:`fem.weak_forms.stefan` (P1).  The interface displacement of a step is
found by a quasi-Newton (diagonal Jacobian (c_alpha - c_beta) A_i / dt with a
secant gain) on the discrete Stefan condition R_alpha,i + R_beta,i = 0 (the
interface-dof residuals of the two phases), which conserves the total moles to
the iteration tolerance.  The run stops cleanly when a phase vanishes (core
volume fraction below ``min_core_volume_fraction``), when the mesh quality
drops below ``min_mesh_quality`` (before any cell inverts), or when the surface
concentration leaves [0, c_max] at constant current.

Outputs: ``timeseries.csv`` (t_s, core_radius_m or interface_position_m,
voltage_V, c_surface_mol_m3, current_A, moles_mol, mass_balance_rel_error,
stefan_iterations, min_mesh_quality), ``fields/concentration.bp``,
``plots/interface.png``, ``plots/voltage.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import ufl
from mpi4py import MPI

import dolfinx.fem
import dolfinx.la
import dolfinx.mesh

from fem import petsc_options
from fem.ale import MeshMotion
from fem.constitutive.free_energy import RegularSolution
from fem.observables import Integral
from fem.output import RunOutput, mesh_summary
from fem.parameters import Parameters, param
from fem.scaling import FARADAY, Scales
from fem.solver import SNESSolver, SolveStats
from fem.timestepping import Progress, StepControl, integrate
from fem.weak_forms.stefan import ale_diffusion_residual
from meshes import tags as T
from meshes.tagged import TaggedMesh

NAME = "shrinking_core"
DESCRIPTION = "Two-phase (LiFePO4-like) particle with a sharp moving phase boundary (ALE Stefan problem)"

SPHERICAL = ("sphere_1d", "axisymmetric_2d", "sphere_3d")
PLANAR = ("slab_1d", "slab_2d", "slab_3d")


# ---------------------------------------------------------------------------------------
# meshes
# ---------------------------------------------------------------------------------------

def interval_domain(nodes, comm, cell_groups, facet_groups, length_scale=1.0) -> TaggedMesh:
    """1D mesh on the sorted ``nodes`` (rank 0's copy is used) with cell groups
    (name, a, b) and vertex (facet) groups (name, x); names from :mod:`meshes.tags`."""
    import basix.ufl
    if comm.rank == 0:
        x = np.asarray(nodes, dtype=np.float64).reshape(-1, 1)
        n = x.shape[0] - 1
        cells = np.stack([np.arange(n), np.arange(1, n + 1)], axis=1).astype(np.int64)
    else:
        x, cells = np.empty((0, 1)), np.empty((0, 2), dtype=np.int64)
    mesh = dolfinx.mesh.create_mesh(comm, cells, x, ufl.Mesh(basix.ufl.element("Lagrange", "interval", 1,
                                                                                 shape=(1,))))
    mesh.topology.create_connectivity(0, 1)
    span = comm.bcast(float(np.ptp(nodes)) if comm.rank == 0 else None, root=0)
    eps = 1e-9 * span
    return _tag(mesh, [(nm, lambda X, a=a, b=b: (X[0] >= a - eps) & (X[0] <= b + eps)) for nm, a, b in cell_groups],
                [(nm, lambda X, xf=xf: np.abs(X[0] - xf) <= eps) for nm, xf in facet_groups], length_scale)


def _tag(mesh, cell_markers, facet_markers, length_scale) -> TaggedMesh:
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)

    def tags(dim, markers, ids):
        idx, val, names = [], [], {}
        for nm, marker in markers:
            if dim == tdim:
                ent = dolfinx.mesh.locate_entities(mesh, dim, marker)
            else:
                ent = dolfinx.mesh.locate_entities(mesh, dim, marker)
            idx.append(ent)
            val.append(np.full(len(ent), ids(nm), dtype=np.int32))
            names[nm] = ids(nm)
        idx, val = np.concatenate(idx), np.concatenate(val)
        order = np.argsort(idx, kind="stable")
        idx, first = np.unique(idx[order], return_index=True)
        return dolfinx.mesh.meshtags(mesh, dim, idx.astype(np.int32), val[order][first]), names

    ct, cn = tags(tdim, cell_markers, T.cell_id)
    ft, fn = tags(tdim - 1, facet_markers, T.facet_id)
    return TaggedMesh(mesh, ct, ft, cn, fn, length_scale)


def slab_domain(dim, thickness, interface_at, h, comm, length_scale=1.0, width=None) -> TaggedMesh:
    """Planar slab [0, L] x [0, W]^(dim-1): alpha (``phase_alpha``) for x < s, beta
    (``phase_beta``) for x > s; facets contact_left (x=0), surface (x=L), interface, lateral."""
    L, s = thickness, interface_at
    n_a = max(2, math.ceil(s / h))
    n_b = max(2, math.ceil((L - s) / h))
    eps = 1e-9 * L
    if dim == 1:
        nodes = np.concatenate([np.linspace(0, s, n_a + 1), np.linspace(s, L, n_b + 1)[1:]])
        return interval_domain(nodes, comm, [(T.PHASE_ALPHA, 0, s), (T.PHASE_BETA, s, L)],
                               [(T.CONTACT_LEFT, 0), (T.INTERFACE, s), (T.SURFACE, L)], length_scale)
    # structured mesh with a grid plane at x = s: map a uniform grid piecewise linearly
    W = width if width is not None else 2 * h
    nw = max(1, round(W / h))
    n = n_a + n_b
    if dim == 2:
        mesh = dolfinx.mesh.create_rectangle(comm, [[0, 0], [1, W]], [n, nw], dolfinx.mesh.CellType.triangle)
    else:
        mesh = dolfinx.mesh.create_box(comm, [[0, 0, 0], [1, W, W]], [n, nw, nw], dolfinx.mesh.CellType.tetrahedron)
    x = mesh.geometry.x
    xi = x[:, 0] * n
    x[:, 0] = np.where(xi <= n_a, xi / n_a * s, s + (xi - n_a) / n_b * (L - s))
    lateral = (lambda X: (np.abs(X[1]) < eps) | (np.abs(X[1] - W) < eps)) if dim == 2 else \
        (lambda X: (np.abs(X[1]) < eps) | (np.abs(X[1] - W) < eps) | (np.abs(X[2]) < eps) | (np.abs(X[2] - W) < eps))
    return _tag(mesh, [(T.PHASE_ALPHA, lambda X: X[0] <= s + eps), (T.PHASE_BETA, lambda X: X[0] >= s - eps)],
                [(T.CONTACT_LEFT, lambda X: np.abs(X[0]) < eps), (T.SURFACE, lambda X: np.abs(X[0] - L) < eps),
                 (T.INTERFACE, lambda X: np.abs(X[0] - s) < eps), (T.LATERAL, lateral)], length_scale)


def radial_domain(core_radius, h, comm, length_scale=1.0) -> TaggedMesh:
    """1D radial mesh of the unit ball's radius: core [0, r_c], shell_0 [r_c, 1]."""
    n_c = max(2, math.ceil(core_radius / h))
    n_s = max(2, math.ceil((1 - core_radius) / h))
    nodes = np.concatenate([np.linspace(0, core_radius, n_c + 1), np.linspace(core_radius, 1, n_s + 1)[1:]])
    return interval_domain(nodes, comm, [(T.CORE, 0, core_radius), (T.shell(0), core_radius, 1)],
                           [(T.SYMMETRY, 0), (T.interface(0), core_radius), (T.SURFACE, 1)], length_scale)


# ---------------------------------------------------------------------------------------
# the two-phase ALE Stefan solver
# ---------------------------------------------------------------------------------------

class TwoPhaseStefan:
    """Two phases with a sharp interface on a moving, interface-conforming P1 mesh.

    Parameters (nondimensional)
    ---------------------------
    domain : TaggedMesh with cell groups ``alpha``, ``beta`` and interior facet group ``interface``.
    c_alpha, c_beta : interface (equilibrium) concentrations of each phase.
    D_alpha, D_beta : float or callable c -> UFL diffusivity.
    init_alpha, init_beta : float or callable X -> values (X of shape (3, n)).
    weight : callable x -> rho(x) (``lambda x: x[0]**2`` for 1D spheres) or None.
    fixed : facet names where the mesh does not move; slip : (facet name, component) pairs.
    components : mesh displacement components that may be nonzero (None: all).
    dirichlet : (phase, facet name, value) with value a float or Constant.
    inflow : (phase, facet name, j_in) with j_in a UFL expression (may depend on c of that phase;
             pass a callable c -> UFL for that).
    """

    def __init__(self, domain: TaggedMesh, *, alpha: str, beta: str, interface: str,
                 c_alpha: float, c_beta: float, D_alpha=1.0, D_beta=1.0, init_alpha=None, init_beta=None,
                 weight=None, fixed=(), slip=(), components=None, dirichlet=(), inflow=(),
                 solver="lu", ale_solver="lu", tol=1e-10, max_iterations=40, max_move=0.3,
                 stiffening=1.0):
        self.domain = domain
        mesh = domain.mesh
        self.mesh = mesh
        self.comm = mesh.comm
        tdim = mesh.topology.dim
        gdim = mesh.geometry.dim
        self.gdim = gdim
        fdim = tdim - 1
        self.weight = weight
        self.tol, self.max_iterations, self.max_move = tol, max_iterations, max_move
        self.c_eq = {"alpha": float(c_alpha), "beta": float(c_beta)}
        self.names = {"alpha": alpha, "beta": beta}
        fixed_facets = np.unique(np.concatenate([domain.facets(f) for f in fixed])) if fixed else []
        self.ale = MeshMotion(mesh, domain.facets(interface), fixed_facets, components=components,
                              slip=[(domain.facets(f), i) for f, i in slip], solver=ale_solver,
                              stiffening=stiffening, prefix="stefan_ale_")
        V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        self.V = V
        self.dt = dolfinx.fem.Constant(mesh, 1.0)
        disp = self.ale.disp
        x = ufl.SpatialCoordinate(mesh)
        rho = 1.0 if weight is None else weight(x)
        v = ufl.TestFunction(V)
        self.idofs = dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(interface))
        nown = V.dofmap.index_map.size_local
        self.owned = self.idofs < nown
        opts = petsc_options.direct_lu() if solver == "lu" else petsc_options.cg_amg()
        opts = {**opts, "snes_atol": 1e-11, "snes_rtol": 1e-10}

        zero = dolfinx.fem.Constant(mesh, 0.0)
        self.c, self.c_old, self.solvers, self.R_forms, self.moles, self.volume = {}, {}, {}, {}, {}, {}
        self.bcs, self.inflow_forms = {}, {}
        for p in ("alpha", "beta"):
            dxp = domain.dx(self.names[p])
            c = dolfinx.fem.Function(V, name=f"c_{p}")
            c_old = dolfinx.fem.Function(V)
            ind = dolfinx.fem.assemble_vector(dolfinx.fem.form(v * dxp))
            ind.scatter_reverse(dolfinx.la.InsertMode.add)
            ind.scatter_forward()
            outside = np.flatnonzero(ind.array == 0.0).astype(np.int32)
            ceq = dolfinx.fem.Constant(mesh, self.c_eq[p])
            bcs = [dolfinx.fem.dirichletbc(ceq, self.idofs, V), dolfinx.fem.dirichletbc(ceq, outside, V)]
            for ph, fname, value in dirichlet:
                if ph == p:
                    dofs = dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(fname))
                    val = value if isinstance(value, dolfinx.fem.Constant) else dolfinx.fem.Constant(mesh, float(value))
                    bcs.append(dolfinx.fem.dirichletbc(val, dofs, V))
            flows = []
            for ph, fname, j in inflow:
                if ph == p:
                    flows.append((j(c) if callable(j) else j, domain.ds(fname)))
            init = (init_alpha if p == "alpha" else init_beta)
            init = self.c_eq[p] if init is None else init
            if callable(init):
                c.interpolate(init)
            else:
                c.x.array[:] = init
            c.x.array[self.idofs] = self.c_eq[p]
            c.x.array[outside] = self.c_eq[p]
            c_old.x.array[:] = c.x.array
            Dp = D_alpha if p == "alpha" else D_beta
            Dp = Dp(c) if callable(Dp) else dolfinx.fem.Constant(mesh, float(Dp))
            F = ale_diffusion_residual(c, c_old, v, Dp, dxp, self.dt, disp, weight=weight, inflow=flows)
            # A zero term over the whole mesh puts the (Dirichlet) dofs outside the phase into the
            # sparsity pattern, so their unit diagonal can be inserted.
            F += zero * c * v * domain.dx()
            # linear (constant D, no c-dependent inflow): one exact linear solve per iterate
            linear = not callable(D_alpha if p == "alpha" else D_beta) and not any(
                callable(j) for ph, _, j in inflow if ph == p)
            self.solvers[p] = SNESSolver(F, c, bcs, prefix=f"stefan_{p}_",
                                         options={**opts, "snes_type": "ksponly"} if linear else opts)
            self.R_forms[p] = dolfinx.fem.form(F)
            self.moles[p] = Integral(rho * c * dxp)
            self.volume[p] = Integral(rho * dxp)
            self.inflow_forms[p] = [Integral(rho * j * ds) for j, ds in flows]
            self.c[p], self.c_old[p], self.bcs[p] = c, c_old, bcs

        # interface geometry: lumped (weighted) area and outward normal of alpha at each node
        Q = dolfinx.fem.functionspace(mesh, ("DG", 0))
        chi = dolfinx.fem.Function(Q)
        chi.x.array[domain.cells(alpha)] = 1.0
        n = ufl.FacetNormal(mesh)
        n_alpha = chi("+") * n("+") + chi("-") * n("-")
        dS = domain.dS(interface)
        rho_avg = 1.0 if weight is None else ufl.avg(rho)
        self.area_form = dolfinx.fem.form(rho_avg * v("+") * dS)
        psi = ufl.TestFunction(self.ale.W)
        self.normal_form = dolfinx.fem.form(ufl.inner(n_alpha, psi("+")) * dS)
        self.interface_measure = Integral(1.0 * dS)
        self.interface_mean_x = Integral(ufl.avg(x[0]) * dS)
        self.interface_mean_r = Integral(ufl.avg(ufl.sqrt(ufl.inner(x, x))) * dS)
        vmap, wmap = V.dofmap.list, self.ale.W.dofmap.list
        s2b = np.empty(V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts, dtype=np.int64)
        s2b[vmap.ravel()] = wmap.ravel()
        self.iblock = s2b[self.idofs]

        self.delta = np.zeros(len(self.idofs))     # normal displacement of the step (along n_alpha)
        self.velocity = np.zeros(len(self.idofs))  # last accepted normal velocity (along n_alpha)
        self.gain = 1.0
        self.iterations = 0
        self.ale_wall = 0.0
        self.diffusion_wall = 0.0
        self.last_quality = self.ale.quality()
        self.begin_step()

    # ------------------------------------------------------------------
    def _assemble(self, form):
        vec = dolfinx.fem.assemble_vector(form)
        vec.scatter_reverse(dolfinx.la.InsertMode.add)
        vec.scatter_forward()
        return vec.array

    def _gsum(self, a):
        return self.comm.allreduce(float(np.sum(a[self.owned])), op=MPI.SUM)

    def _gmax(self, a):
        return self.comm.allreduce(float(np.max(a[self.owned], initial=0.0)), op=MPI.MAX)

    def begin_step(self):
        """At the accepted configuration x^n: extension operator, nodal areas and normals."""
        t0 = time.perf_counter()
        self.ale.begin_step()
        self.area = self._assemble(self.area_form)[self.idofs].copy()
        nvec = self._assemble(self.normal_form).reshape(-1, self.gdim)[self.iblock]
        norm = np.linalg.norm(nvec, axis=1)
        self.normal = nvec / np.maximum(norm, 1e-300)[:, None]
        det = np.abs(self.ale._cellwise(self.ale._det_expr))
        tdim = self.mesh.topology.dim
        hloc = float(np.min(det, initial=np.inf)) ** (1.0 / tdim)
        self.h_min = self.comm.allreduce(hloc, op=MPI.MIN)
        self.ale_wall += time.perf_counter() - t0

    def reaction(self, p):
        """Residual of phase p at the interface dofs (its discrete interface flux)."""
        return self._assemble(self.R_forms[p])[self.idofs]

    def _move(self, delta):
        t0 = time.perf_counter()
        bd = self.ale.boundary_disp.x.array.reshape(-1, self.gdim)
        bd[self.iblock] = delta[:, None] * self.normal
        self.ale.extend()
        self.ale.move()
        self.ale_wall += time.perf_counter() - t0

    # TimeDependent protocol ------------------------------------------------
    def step(self, t, dt) -> SolveStats:
        self.dt.value = dt
        ca, cb = self.c_eq["alpha"], self.c_eq["beta"]
        k0 = (ca - cb) / dt
        k = self.gain * k0
        delta = self.velocity * dt
        G_prev = d_prev = None
        krylov = 0
        for it in range(1, self.max_iterations + 1):
            self._move(delta)
            q = self.ale.quality()
            if q.inverted:
                return SolveStats(False, it, krylov, "mesh would invert")
            t0 = time.perf_counter()
            for p in ("alpha", "beta"):
                st = self.solvers[p].solve()
                krylov += st.krylov_iterations
                if not st.converged:
                    self.diffusion_wall += time.perf_counter() - t0
                    return SolveStats(False, it, krylov, f"phase {p}: {st.reason}")
            G = self.reaction("alpha") + self.reaction("beta")
            self.diffusion_wall += time.perf_counter() - t0
            err = self._gmax(np.abs(G) / (abs(k0) * self.area))
            if not np.isfinite(err):
                return SolveStats(False, it, krylov, "non-finite interface residual")
            if err < self.tol:
                break
            if G_prev is not None:
                dG = self._gsum(G - G_prev)
                dd = self._gsum(self.area * (delta - d_prev))
                if dd != 0.0 and 0.02 < (dG / dd) / k0 < 50:
                    k = dG / dd
            G_prev, d_prev = G, delta
            delta = delta - G / (k * self.area)
            if self._gmax(np.abs(delta)) > 2 * self.max_move * self.h_min:
                return SolveStats(False, it, krylov, "interface moves too far in one step")
        else:
            return SolveStats(False, self.max_iterations, krylov, f"interface iteration: residual {err:.3g}")
        if self._gmax(np.abs(delta)) > self.max_move * self.h_min:
            return SolveStats(False, it, krylov, "interface moves too far in one step")
        self.gain = min(max(k / k0, 0.1), 10.0)
        self.delta = delta
        self.last_quality = q
        self.iterations = it
        return SolveStats(True, it, krylov, "interface converged")

    def reject(self):
        self.ale.reset()
        for p in ("alpha", "beta"):
            self.c[p].x.array[:] = self.c_old[p].x.array

    def accept(self, t_new, dt, stats):
        self.velocity = self.delta / dt
        for p in ("alpha", "beta"):
            self.c_old[p].x.array[:] = self.c[p].x.array
        self.begin_step()

    # observables ------------------------------------------------------------
    def total_moles(self) -> float:
        return self.moles["alpha"]() + self.moles["beta"]()

    def inflow_rate(self) -> float:
        """Prescribed-flux inflow (weighted), nondimensional moles per unit time."""
        return sum(f() for p in ("alpha", "beta") for f in self.inflow_forms[p])

    def interface_position(self) -> float:
        """Mean x over the interface."""
        return self.interface_mean_x() / self.interface_measure()

    def interface_radius(self) -> float:
        """Mean |x| over the interface."""
        return self.interface_mean_r() / self.interface_measure()

    def destroy(self):
        for s in self.solvers.values():
            s.destroy()
        self.ale.destroy()
