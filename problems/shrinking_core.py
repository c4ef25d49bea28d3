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
found by Anderson-accelerated fixed-point iteration (preconditioned by the
Jacobian (c_alpha - c_beta) M_Gamma / dt, M_Gamma the interface mass matrix,
times a secant gain) on the discrete Stefan condition R_alpha,i + R_beta,i = 0 (the
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
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc
import dolfinx.la
import dolfinx.mesh

from fem import petsc_options
from fem.ale import MeshMotion
from fem.constitutive.free_energy import RegularSolution
from fem.observables import Integral
from fem.output import FieldSchedule, RunOutput, mesh_summary
from fem.parameters import Parameters, param
from fem.scaling import FARADAY, Scales
from fem.solver import SNESSolver, SolveStats
from fem.timestepping import Progress, StepControl, integrate
from fem.weak_forms.stefan import ale_diffusion_residual
from meshes import tags as T
from meshes.tagged import TaggedMesh

NAME = "shrinking_core"
DESCRIPTION = "Two-phase (LiFePO4-like) particle with a sharp moving phase boundary (ALE Stefan problem)"

_DEBUG = False
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
                 solver="lu", ale_solver="lu", tol=1e-7, max_iterations=40, max_move=0.3,
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
        # the ALE term makes the phase operators nonsymmetric: GMRES + AMG when iterative
        opts = petsc_options.direct_lu() if solver == "lu" else petsc_options.gmres_amg()
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
                                         options={**opts, "snes_max_it": 1, "snes_convergence_test": "skip"} if linear else opts)
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
        # consistent interface mass matrix M_ij = int_Gamma rho phi_i phi_j dS (identity off the interface):
        # moving node i by delta_i along the normal changes the moles at node j by c_p M_ij delta_i
        u = ufl.TrialFunction(V)
        self.mass_form = dolfinx.fem.form(rho_avg * u("+") * v("+") * dS + zero * u * v * domain.dx())
        n_local = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
        off = np.setdiff1d(np.arange(n_local, dtype=np.int32), self.idofs)
        self.mass_bcs = [dolfinx.fem.dirichletbc(zero, off, V)]
        self.M = dolfinx.fem.petsc.create_matrix(self.mass_form)
        self.mass_ksp = PETSc.KSP().create(self.comm)
        self.mass_ksp.setType("cg")
        self.mass_ksp.getPC().setType("jacobi")
        self.mass_ksp.setTolerances(rtol=1e-8, atol=1e-300, max_it=200)  # a preconditioner only
        self.g_fun, self.y_fun = dolfinx.fem.Function(V), dolfinx.fem.Function(V)
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

    def _allreduce(self, a, op):
        """Element-wise reduction of a float array (one collective)."""
        a = np.ascontiguousarray(a, dtype=np.float64)
        out = np.empty_like(a)
        self.comm.Allreduce(a, out, op=op)
        return out

    def _gsum(self, a):
        return self.comm.allreduce(float(np.sum(a[self.owned])), op=MPI.SUM)

    def _gmax(self, a):
        return self.comm.allreduce(float(np.max(a[self.owned], initial=0.0)), op=MPI.MAX)

    def begin_step(self):
        """At the accepted configuration x^n: extension operator, nodal areas and normals."""
        t0 = time.perf_counter()
        self.ale.begin_step()
        self.area = self._assemble(self.area_form)[self.idofs].copy()
        self.M.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(self.M, self.mass_form, bcs=self.mass_bcs)
        self.M.assemble()
        self.mass_ksp.setOperators(self.M)
        nvec = self._assemble(self.normal_form).reshape(-1, self.gdim)[self.iblock]
        norm = np.linalg.norm(nvec, axis=1)
        self.normal = nvec / np.maximum(norm, 1e-300)[:, None]
        det = np.abs(self.ale._cellwise(self.ale._det_expr))
        tdim = self.mesh.topology.dim
        hloc = float(np.min(det, initial=np.inf)) ** (1.0 / tdim)
        self.h_min = self.comm.allreduce(hloc, op=MPI.MIN)
        self.ale_wall += time.perf_counter() - t0

    def solve_interface_mass(self, g):
        """y = M_Gamma^{-1} g on the interface dofs."""
        self.g_fun.x.array[:] = 0.0
        self.g_fun.x.array[self.idofs] = g
        self.mass_ksp.solve(self.g_fun.x.petsc_vec, self.y_fun.x.petsc_vec)
        self.y_fun.x.scatter_forward()
        return self.y_fun.x.array[self.idofs].copy()

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
        k = self.gain * k0  # preconditioner k M_Gamma, gain from the last step's secant estimate
        delta = self.velocity * dt
        xs, fs = [], []      # Anderson history: iterates and preconditioned residuals
        G_prev = d_prev = None
        secant = None
        krylov = 0
        w = np.where(self.owned, self.area, 0.0)  # weights of the (global) inner product
        own = self.owned
        for it in range(1, self.max_iterations + 1):
            self._move(delta)
            t0 = time.perf_counter()
            for p in ("alpha", "beta"):
                st = self.solvers[p].solve()
                krylov += st.krylov_iterations
                if not st.converged:
                    self.diffusion_wall += time.perf_counter() - t0
                    return SolveStats(False, it, krylov, f"phase {p}: {st.reason}")
            G = self.reaction("alpha") + self.reaction("beta")
            self.diffusion_wall += time.perf_counter() - t0
            # one reduction each for the max-type and the sum-type scalars (few collectives per iterate)
            local = np.array([np.max(np.abs(G[own]) / (abs(k0) * self.area[own]), initial=0.0),
                              np.max(np.abs(delta[own]), initial=0.0)])
            err, dmax = self._allreduce(local, MPI.MAX)
            if not np.isfinite(err):
                return SolveStats(False, it, krylov, "non-finite interface residual")
            # mean (conservation) mode: sum_i G_i = discrete rate of change of the total moles
            gsum, asum = self._allreduce(np.array([np.sum(G[own]), np.sum(self.area[own])]), MPI.SUM)
            mean_err = abs(gsum) / (abs(k0) * asum)
            if G_prev is not None:  # secant estimate of the mean-mode Jacobian, for the next step
                dG, dd = self._allreduce(np.array([np.sum((G - G_prev)[own]),
                                                   np.sum((self.area * (delta - d_prev))[own])]), MPI.SUM)
                if dd != 0.0 and 0.02 < (dG / dd) / k0 < 50:
                    secant = dG / dd
            if _DEBUG and self.comm.rank == 0:
                print(f"  stefan it {it}: err {err:.3e} mean {mean_err:.3e} max delta {dmax:.4e}", flush=True)
            if err < self.tol and mean_err < 1e-2 * self.tol:
                break
            if dmax > 2 * self.max_move * self.h_min:
                return SolveStats(False, it, krylov, "interface moves too far in one step")
            G_prev, d_prev = G, delta
            # Anderson acceleration (depth 5) of delta <- delta - M_Gamma^{-1} G / k
            f = -self.solve_interface_mass(G) / k
            xs.append(delta.copy())
            fs.append(f)
            if len(xs) > 6:
                xs.pop(0)
                fs.pop(0)
            step = f
            if len(xs) > 1:
                dX = np.array([xs[j + 1] - xs[j] for j in range(len(xs) - 1)])
                dF = np.array([fs[j + 1] - fs[j] for j in range(len(fs) - 1)])
                m = len(dF)
                local = np.concatenate([(dF * w) @ dF.T, ((dF * w) @ f)[:, None]], axis=1)
                glob = self._allreduce(local, MPI.SUM)
                M, rhs = glob[:, :m], glob[:, m]
                gamma = np.linalg.lstsq(M + 1e-14 * np.trace(M) * np.eye(m), rhs, rcond=None)[0]
                step = f - gamma @ (dX + dF)
            delta = delta + step
        else:
            return SolveStats(False, self.max_iterations, krylov, f"interface iteration: residual {err:.3g}")
        if secant is not None:
            self.gain = min(max(secant / k0, 0.1), 10.0)
        if dmax > self.max_move * self.h_min:
            return SolveStats(False, it, krylov, "interface moves too far in one step")
        q = self.ale.quality()
        if q.inverted:
            return SolveStats(False, it, krylov, "mesh would invert")
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
        for obj in (self.M, self.mass_ksp):
            obj.destroy()


# ---------------------------------------------------------------------------------------
# the problem
# ---------------------------------------------------------------------------------------

@dataclass
class ShrinkingCoreParameters(Parameters):
    geometry: str = param("sphere_1d", "geometry: 1D radial sphere (r^2 weight), 2D axisymmetric section, 3D "
                          "ball, or planar slab (1D/2D/3D; alpha at the centre x=0, surface at x=L)",
                          choices=SPHERICAL + PLANAR)
    radius_m: float = param(100e-9, "particle radius R (slab: thickness L)", "m", gt=0)
    initial_core_fraction: float = param(0.95, "initial core radius / R (slab: alpha thickness / L)", "-",
                                         gt=0, lt=1)
    process: str = param("delithiation", "delithiation: Li-rich core (alpha) -> Li-poor shell (beta); "
                         "lithiation: the reverse", choices=("delithiation", "lithiation"))
    c_max_mol_m3: float = param(22806.0, "maximum Li concentration", "mol/m^3", gt=0)
    omega_eV: float = param(0.115, "regular-solution interaction Omega (binodal -> interface concentrations)",
                            "eV", gt=0)
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    ocv_reference_V: float = param(3.42, "U0 of the regular-solution OCV U = U0 - mu/e", "V")
    D_core_m2_s: float = param(1e-15, "diffusivity in the core phase", "m^2/s", gt=0)
    D_shell_m2_s: float = param(1e-15, "diffusivity in the shell phase", "m^2/s", gt=0)
    surface_condition: str = param("current", "particle surface condition",
                                   choices=("current", "concentration", "butler_volmer"))
    c_rate: float = param(1.0, "constant current as C-rate (1C = c_max V F per hour)", "1/h", gt=0)
    surface_fraction: float = param(0.005, "surface site fraction c/c_max (surface_condition='concentration'); "
                                    "below the shell binodal value for delithiation, above for lithiation",
                                    "-", gt=0, lt=1)
    rate_constant_A_m2: float = param(1e-5, "Butler-Volmer rate constant m (i0 = m c_e^0.5 c^0.5 (c_max-c)^0.5)",
                                      "A m^-2 (m^3/mol)^1.5", gt=0)
    c_electrolyte_mol_m3: float = param(1000.0, "electrolyte concentration", "mol/m^3", gt=0)
    electrode_potential_V: float = param(3.45, "applied electrode potential (surface_condition='butler_volmer')",
                                         "V")
    t_end_s: float = param(7200.0, "end time (the run ends earlier when the core vanishes)", "s", gt=0)
    dt_s: float = param(0.5, "initial time step", "s", gt=0)
    dt_max_s: float = param(60.0, "largest time step", "s", gt=0)
    mesh_size: float = param(0.02, "element size relative to R", "-", gt=0, le=0.5)
    interface_mesh_size: float = param(0.0, "element size near the interface relative to R (0: mesh_size)",
                                       "-", ge=0, le=0.5)
    max_move_cells: float = param(0.3, "largest interface displacement per step in units of the smallest cell",
                                  "-", gt=0, le=1)
    min_core_volume_fraction: float = param(1e-3, "end the run when the core volume fraction drops below this",
                                            "-", gt=0, lt=1)
    mesh_stiffening: float = param(1.0, "Jacobian-stiffening exponent chi of the mesh-motion extension "
                                   "(k = (|K_0|/|K|)^chi; 0: plain harmonic)", "-", ge=-3, le=3)
    min_mesh_quality: float = param(0.25, "end the run when the shape quality (relative to the initial mesh) "
                                    "drops below this", "-", gt=0, lt=1)
    interface_tolerance: float = param(1e-7, "Stefan iteration tolerance: nodal interface displacement error / R "
                                       "(the mean, i.e. conservation, mode to 1e-2 of it)", "-", gt=0)
    solver: str = param("lu", "linear solvers: lu (MUMPS) or amg (GMRES+BoomerAMG for the phases, CG+BoomerAMG "
                        "for the mesh motion; for large 3D runs)", choices=("lu", "amg"))
    fields_every: int = param(25, "write fields every N steps (0: only first and last)", ge=0)

    def check(self):
        xa, xb = self.phase_fractions()
        if self.surface_condition == "concentration":
            ok = self.surface_fraction < xb if self.process == "delithiation" else self.surface_fraction > xb
            self.require(ok, "surface_fraction",
                         f"allowed range {'(0, ' + format(xb, '.4g') + ')' if self.process == 'delithiation' else '(' + format(xb, '.4g') + ', 1)'} "
                         f"(beyond the shell's binodal fraction {xb:.4g}, so that the core converts)")
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}]")
        self.require(self.dt_max_s >= self.dt_s, "dt_max_s", f"allowed range [dt_s = {self.dt_s}, inf)")
        self.require(self.mesh_size < min(self.initial_core_fraction, 1 - self.initial_core_fraction) or
                     self.geometry in ("sphere_1d", "slab_1d", "slab_2d", "slab_3d"), "mesh_size",
                     f"allowed range (0, {min(self.initial_core_fraction, 1 - self.initial_core_fraction):.3g}) "
                     "(smaller than the core radius and the shell thickness)")
        if self.omega_eV / (8.617333262e-5 * self.temperature_K) <= 2:
            self.require(False, "omega_eV", f"allowed range (2 k_B T = {2 * 8.617333262e-5 * self.temperature_K:.4g}"
                         ", inf) eV: the regular solution must phase-separate")

    def free_energy(self) -> RegularSolution:
        return RegularSolution.from_eV(self.omega_eV, self.temperature_K, u0_V=self.ocv_reference_V)

    def phase_fractions(self) -> tuple[float, float]:
        """(core, shell) interface site fractions from the binodal."""
        if self.omega_eV / (8.617333262e-5 * self.temperature_K) <= 2:
            return 0.5, 0.5
        lo, hi = self.free_energy().binodal()
        return (hi, lo) if self.process == "delithiation" else (lo, hi)


Parameters = ShrinkingCoreParameters


def build_domain(p: ShrinkingCoreParameters, comm) -> tuple[TaggedMesh, dict]:
    """Mesh (unit outer radius / thickness) and the geometry description for TwoPhaseStefan."""
    xi0, h = p.initial_core_fraction, p.mesh_size
    hi = p.interface_mesh_size or None
    if p.geometry == "sphere_1d":
        dom = radial_domain(xi0, min(h, hi or h), comm, p.radius_m)
        geo = dict(alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), weight=lambda x: x[0] ** 2,
                   fixed=[T.SYMMETRY, T.SURFACE], solid_angle=4 * math.pi)
    elif p.geometry in ("axisymmetric_2d", "sphere_3d"):
        from meshes.core_shell import core_shell
        dim = 2 if p.geometry == "axisymmetric_2d" else 3
        dom = core_shell(xi0 * p.radius_m, [(1 - xi0) * p.radius_m], h=h, h_interface=hi, dim=dim, comm=comm,
                         length_scale=p.radius_m)
        geo = dict(alpha=T.CORE, beta=T.shell(0), interface=T.interface(0), fixed=[T.SURFACE],
                   weight=(lambda x: x[0]) if dim == 2 else None, solid_angle=2 * math.pi if dim == 2 else 1.0,
                   slip=[(T.SYMMETRY, 0)] if dim == 2 else [])
    else:
        dim = int(p.geometry[5])
        dom = slab_domain(dim, 1.0, xi0, min(h, hi or h), comm, p.radius_m)
        geo = dict(alpha=T.PHASE_ALPHA, beta=T.PHASE_BETA, interface=T.INTERFACE, weight=None,
                   fixed=[T.CONTACT_LEFT, T.SURFACE], components=(0,) if dim > 1 else None, solid_angle=1.0)
    return dom, geo


def solve(p: ShrinkingCoreParameters, out: RunOutput) -> None:
    from fem.constitutive.kinetics import ButlerVolmer
    comm = out.comm
    s = Scales.diffusive(p.radius_m, p.D_shell_m2_s, p.c_max_mol_m3, p.temperature_K)
    fe = p.free_energy()
    xa, xb = p.phase_fractions()
    spherical = p.geometry in SPHERICAL
    dom, geo = build_domain(p, comm)
    mesh = dom.mesh
    omega = geo.pop("solid_angle")
    bv = ButlerVolmer(p.rate_constant_A_m2, p.c_max_mol_m3, p.c_electrolyte_mol_m3,
                      temperature_K=p.temperature_K)

    # surface condition on the shell (beta) phase
    one = dolfinx.fem.Constant(mesh, 1.0)
    x = ufl.SpatialCoordinate(mesh)
    rho = 1.0 if geo["weight"] is None else geo["weight"](x)
    volume_w = Integral(rho * dom.dx())()  # weighted volume, mesh units
    area_w = Integral(rho * one * dom.ds(T.SURFACE))()
    sign = 1.0 if p.process == "delithiation" else -1.0   # anodic current (Li out) is positive
    dirichlet, inflow = [], []
    current_density = 0.0  # A/m^2, anodic positive
    if p.surface_condition == "current":
        # I = c_rate F c_max V / 3600 s;  j_in = -sign I / (F A)
        current_density = sign * p.c_rate * FARADAY * p.c_max_mol_m3 * (volume_w / area_w) * p.radius_m / 3600.0
        j_in = dolfinx.fem.Constant(mesh, -current_density / FARADAY / s.molar_flux)
        inflow.append(("beta", T.SURFACE, j_in))
    elif p.surface_condition == "concentration":
        dirichlet.append(("beta", T.SURFACE, p.surface_fraction))
    else:
        def j_bv(c):
            eta = p.electrode_potential_V - fe.ocv_V(c)
            return -bv.current(c, eta) / FARADAY / s.molar_flux
        inflow.append(("beta", T.SURFACE, j_bv))

    prob = TwoPhaseStefan(dom, c_alpha=xa, c_beta=xb, D_alpha=p.D_core_m2_s / p.D_shell_m2_s, D_beta=1.0,
                          dirichlet=dirichlet, inflow=inflow, solver=p.solver, ale_solver="lu" if p.solver == "lu" else "cg_amg",
                          tol=p.interface_tolerance, max_move=p.max_move_cells,
                          stiffening=p.mesh_stiffening, **geo)
    c_beta = prob.c["beta"]
    c_surface = Integral(rho * c_beta * dom.ds(T.SURFACE))
    surface_dofs = dolfinx.fem.locate_dofs_topological(prob.V, mesh.topology.dim - 1, dom.facets(T.SURFACE))
    surface_owned = surface_dofs[surface_dofs < prob.V.dofmap.index_map.size_local]

    def inflow_rate():
        """Inflow (nondimensional weighted moles per unit time) consistent with the discrete balance."""
        if p.surface_condition == "concentration":
            R = prob._assemble(prob.R_forms["beta"])
            return comm.allreduce(float(np.sum(R[surface_owned])), op=MPI.SUM)
        return prob.inflow_rate()

    L3 = p.radius_m ** 3
    mol = omega * s.concentration * L3  # nondim weighted moles -> mol
    if not spherical:
        cross = {1: 1.0, 2: None, 3: None}[mesh.topology.dim]
        if cross is None:
            cross = Integral(one * dom.ds(T.SURFACE))()
        mol = s.concentration * p.radius_m / cross  # -> mol per m^2 of cross-section
    moles0 = prob.total_moles()
    state = dict(moles_in=0.0, iterations=0)
    V0_core = prob.volume["alpha"]()

    def voltage(xs):
        if p.surface_condition == "butler_volmer":
            return p.electrode_potential_V
        eta = float(bv.overpotential(current_density, xs)) if current_density != 0 else 0.0
        return float(fe.ocv_V(xs)) + eta

    def observables(t):
        moles = prob.total_moles()
        flux = state.get("flux", inflow_rate() if t > 0 else 0.0)
        xs = c_surface() / area_w
        vol_core = prob.volume["alpha"]()
        row = {"t_s": t * s.time}
        if spherical:
            row["core_radius_m"] = (3 * omega * vol_core / (4 * math.pi)) ** (1 / 3) * p.radius_m
            if p.geometry == "sphere_1d":
                row["core_radius_m"] = prob.interface_radius() * p.radius_m
        else:
            row["interface_position_m"] = prob.interface_position() * p.radius_m
        i_A = -flux * mol / s.time * FARADAY  # anodic (Li out) positive
        row.update({
            "core_volume_fraction": vol_core / volume_w,
            "voltage_V": voltage(min(max(xs, 1e-12), 1 - 1e-12)),
            "c_surface_mol_m3": xs * s.concentration,
            ("current_A" if spherical else "current_A_m2"): i_A,
            ("moles_mol" if spherical else "moles_mol_m2"): moles * mol,
            "mass_balance_rel_error": abs(moles - moles0 - state["moles_in"]) / abs(moles0),
            "stefan_iterations": state["iterations"],
            "min_mesh_quality": prob.last_quality.min_shape_ratio,
            "min_cell_size_ratio": prob.last_quality.min_size_ratio,
        })
        state["last"] = row
        return row

    V = prob.V
    fields = [dolfinx.fem.Function(V, name="c_core_mol_m3"), dolfinx.fem.Function(V, name="c_shell_mol_m3")]
    vtx = out.vtx("concentration", fields, p.radius_m)

    def write_fields(t):
        fields[0].x.array[:] = prob.c["alpha"].x.array * s.concentration
        fields[1].x.array[:] = prob.c["beta"].x.array * s.concentration
        vtx.write(t * s.time)

    field_schedule = FieldSchedule(p.fields_every, write_fields)

    class Driver:
        def step(self, t, dt):
            return prob.step(t, dt)

        def reject(self):
            prob.reject()

        def accept(self, t_new, dt, stats):
            state["flux"] = inflow_rate()
            state["moles_in"] += dt * state["flux"]
            state["iterations"] = stats.newton_iterations
            prob.accept(t_new, dt, stats)
            out.timeseries.add(observables(t_new))
            field_schedule.step(t_new)

    def stop(t):
        row = state["last"]
        if row["core_volume_fraction"] < p.min_core_volume_fraction:
            return f"core converted: core volume fraction {row['core_volume_fraction']:.3g} < {p.min_core_volume_fraction}"
        if prob.last_quality.min_shape_ratio < p.min_mesh_quality:
            return (f"mesh quality limit: shape ratio {prob.last_quality.min_shape_ratio:.3g} < "
                    f"{p.min_mesh_quality} (core volume fraction {row['core_volume_fraction']:.3g})")
        xs = row["c_surface_mol_m3"] / s.concentration
        if p.surface_condition == "current" and not (0 < xs < 1):
            return f"surface concentration left (0, c_max): {row['c_surface_mol_m3']:.4g} mol/m^3"
        return None

    out.update(mesh=mesh_summary(mesh, [V, V]),
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               interface_fractions={"core": xa, "shell": xb},
               plateau_voltage_V=float(fe.ocv_V(xa)), current_density_A_m2=current_density,
               volume_m3=omega * volume_w * p.radius_m ** 3 if spherical else None)
    out.timeseries.add(observables(0.0))
    field_schedule.write(0.0)
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.25, easy_newton=10)
    res = integrate(Driver(), control, stop=stop,
                    progress=Progress(comm, control.t_end, s.time, quiet=out.quiet))
    field_schedule.final(res.t)
    vtx.close()
    last = state["last"]
    stats = dict(steps=res.steps, rejected_steps=res.rejected, stefan_iterations=res.newton,
                 krylov_iterations=res.krylov, solve_wall_s=res.wall_s, t_final_s=res.t * s.time,
                 mesh_motion_wall_s=prob.ale_wall, diffusion_wall_s=prob.diffusion_wall,
                 mesh_motion_share=prob.ale_wall / max(prob.ale_wall + prob.diffusion_wall, 1e-300),
                 final_core_volume_fraction=last["core_volume_fraction"],
                 max_mass_balance_rel_error=float(np.max(out.timeseries.column("mass_balance_rel_error"))),
                 initial_core_volume_fraction=V0_core / volume_w)
    _plot(out, p, spherical, xa, xb)
    reason = res.reason or f"t_end reached (core volume fraction {last['core_volume_fraction']:.3g})"
    out.finish(res.status, reason, **stats)
    prob.destroy()


def _plot(out: RunOutput, p: ShrinkingCoreParameters, spherical: bool, xa: float, xb: float):
    if out.comm.rank != 0:
        return
    ts = out.timeseries
    t = ts.column("t_s")
    col = "core_radius_m" if spherical else "interface_position_m"
    with out.figure("interface") as (fig, ax):
        ax.plot(t, ts.column(col) * 1e9, label="ALE FEM")
        if p.surface_condition == "concentration" and p.geometry in SPHERICAL:
            from fem.analytic_stefan import shrinking_core_radius
            r = shrinking_core_radius(t, p.radius_m, p.D_shell_m2_s, xa * p.c_max_mol_m3, xb * p.c_max_mol_m3,
                                      p.surface_fraction * p.c_max_mol_m3, p.initial_core_fraction)
            ax.plot(t, r * 1e9, "k:", label="quasi-steady shrinking core")
        elif p.surface_condition == "current" and spherical:
            from fem.analytic_stefan import shrinking_core_constant_current_radius
            current_mol_s = abs(ts.column("current_A")[-1]) / FARADAY
            r = shrinking_core_constant_current_radius(t, p.radius_m, ts.column(col)[0], current_mol_s,
                                                       abs(xa - xb) * p.c_max_mol_m3, 0.0)
            ax.plot(t, r * 1e9, "k:", label="all current from core conversion")
        ax.set_xlabel("t [s]")
        ax.set_ylabel(("core radius" if spherical else "interface position") + " [nm]")
        ax.legend()
    with out.figure("voltage") as (fig, ax):
        ax.plot(t, ts.column("voltage_V"))
        ax.set_xlabel("t [s]")
        ax.set_ylabel("voltage [V]")
