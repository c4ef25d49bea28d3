"""Two phases with a sharp, moving phase boundary (Stefan problem) on an ALE mesh.

Each phase p = alpha, beta obeys Fickian diffusion in its moving domain
(nondimensional; rho = r^2 for 1D spheres, 2 pi r -> r for 2D axisymmetric
sections, 1 otherwise)

    rho dc/dt = div(rho D_p grad c)                 in Omega_p(t)

with the equilibrium values c = c_alpha, c = c_beta on the two sides of the
interface Gamma(t), which moves by the Stefan condition

    v (c_beta - c_alpha) = J_alpha . n - J_beta . n     (n from alpha into beta).

Arbitrary Lagrangian-Eulerian: the mesh conforms to the interface; interface
nodes move along their normals, the step displacement is extended into both
phases by a stiffened harmonic extension (:class:`fem.ale.MeshMotion`), and
each phase is solved with the conservative ALE backward-Euler form of
:mod:`fem.weak_forms.stefan` (P1, or P2 with ``degree=2``).  The interface displacement of a step is
found by Anderson-accelerated fixed-point iteration on the discrete Stefan
condition G_i = R_alpha,i + R_beta,i = 0 (the interface-dof residuals of the two
phases), which conserves the total moles to the iteration tolerance.  The
preconditioner approximates the interface Jacobian dG/d(delta):

    P = k (M_Gamma + diag(d) - d d^T / sum(d)),   k = g (c_alpha - c_beta) / dt,   d = a / |k|

with M_Gamma the interface mass matrix, g a secant gain of the mean (conservation) mode carried
from step to step, and a_i = s int_Gamma rho sum_p |n . D_p grad c_p| / h_p phi_i dS the flux
response of phase p to moving vertex i (a Dirichlet-to-Neumann map of the mesh-scale modes,
~ D |dc/dn| / h; s = ``sensitivity``, measured from an exact interface Jacobian, see
SENSITIVITY_DEFAULT); the rank-one term leaves the mean mode to the secant gain.  On the default
3D ball this halves the iterations' cost of the time loop (9.4 -> ~6 iterations per attempted
step together with ``max_dt``, which keeps the extrapolated move within the move limit).  Further
(session 10; default 3D run 6.1 -> 4.4 iterations per attempted step): the first iterate extrapolates
the interface velocity of the last two accepted steps to second order; the mean mode is taken out
of the Anderson least squares and set instead by a model of the sum row of the Jacobian,
d(sum G) = b . d(delta), b = k a_Gamma (nodal areas) at the start of the step with one Broyden update
per iterate, so each update is shifted uniformly to make the modelled sum of G vanish (sum G is the
discrete rate of change of the total moles minus the boundary inflow); the gain g is the secant of
the iterate pair with the largest mean move (the first, not the last and noisiest); and the non-mean
part of the preconditioned step is damped by ``damping`` (3D).  Session 11 (default 3D run 4.40 ->
3.80 iterations per attempted step; the steps after a remesh took 6-7; all four in 3D only): (i) the Anderson pairs of the
last accepted step on the same mesh seed the next step's least squares (ANDERSON_CARRY), so the first
update already uses a multisecant model of the non-mean modes; (ii) the first iterate (3D) splits
the velocity into a smooth part (area-weighted least-squares fit of the real spherical harmonics of
degree <= 2 about the interface centroid), whose coefficient history survives a remesh and is
extrapolated linearly, and the rough mesh-scale rest, whose change is extrapolated damped
(ROUGH_DAMPING): after a remesh the rough part relaxes over ~5 steps roughly geometrically, so the
linear extrapolation overshot it (measured: first-iterate error of steps 3-6 after a remesh 6.6e-4 ->
2.1e-4 R on average, ordinary steps unchanged); on a fresh mesh the transferred rough part (the old
mesh's pattern) is dropped; (iii) the mean mode of the first iterate is the quadratic extrapolation of
the area-weighted mean velocities (MEAN_PREDICTOR_ORDER; also across remeshes): its first-iterate
error 9e-5 -> 1.5e-5 R; (iv) the secant gain is taken only from a pair whose mean move exceeds
SECANT_MIN_MOVE mean tolerances: with a good predictor the early steps' mean moves were ~1e-8 R, the
secant noise drove the gain to its clip 10 and the next step took 11 iterations.  A step
fails (and is cut by the driver) when the iteration does not converge, when
the interface moves more than ``max_move`` of the smallest cell, or when a
cell would invert.

Degree 2 (``degree=2``): the phase concentrations live in P2 (their Dirichlet conditions hold every P2
dof on the interface, on the Dirichlet facets and outside the phase), while everything geometric
stays on the P1 vertex space ``V1``: interface dofs, nodal areas and normals, the interface mass
matrix, the displacement delta and the velocity.  The interface residual of vertex i is the SAME ALE
residual form, with the P2 solution, tested with the P1 hat phi_i.  Conservation: on the cells of a
phase, sum_i phi_i (P1 hats of the interface vertices) minus the sum of the P2 basis functions of
the P2 interface dofs is a combination of P2 basis functions of free dofs only (midpoints of edges
with one or two interface vertices that do not lie in the interface), whose residuals vanish at
convergence, so sum_i G_i is still the discrete rate of change of the total moles.  P2 matters where
P1 over-conducts: a thin 3D shell around a small core (tests/bench/bench_shell_conductance_3d.py).

:class:`TwoPhaseStefan` offers the step/reject/accept and checkpoint protocol
of :class:`fem.simulation.Simulation`; region names are arguments.
"""

from __future__ import annotations

import time

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc
import dolfinx.la

from fem import petsc_options
from fem.ale import MeshMotion, MeshQuality
from fem.observables import Integral, allreduce_array
from fem.solver import SNESSolver, SolveStats
from fem.weak_forms.stefan import ale_diffusion_residual

_DEBUG = False
PHASES = ("alpha", "beta")
# Scale of the flux-sensitivity diagonal in the interface preconditioner.  Measured: the exact
# interface Jacobian J = dG/d(delta) of a default 3D ball (2194 interface vertices, step 20, dt 35 s;
# one finite-difference column per vertex, session 8) is k0 M_Gamma + A with diag(A) / a = 4.9-12.3
# (5th-95th percentile, median 7.6), a the sensitivity form below; the generalized eigenvalues of
# J against the preconditioner span [0.99, 4.16] with k0 M_Gamma alone (the stiff modes are the
# mesh-scale oscillations: their flux responds like a Dirichlet-to-Neumann map, ~1/h) and
# [0.76, 2.32] with 7 a added (exact diag(A): [0.70, 1.45]).
SENSITIVITY_DEFAULT = 7.0
# Damping of the non-mean part of the preconditioned step (3D, with the flux-sensitivity term): the
# spectrum above, [0.76, 2.32], is centred by ~2 / (0.76 + 2.32) = 0.65.  Measured on the default 3D
# run (session 10, with the other changes of that session but the moles-defect target): 0.45 / 0.55 /
# 0.7 -> 4.64 / 4.38 / 4.59 interface iterations per attempted step (undamped, before the mean-mode
# model and the non-mean least squares: 5.45 against 5.11 at 0.7).
DAMPING_DEFAULT = 0.55
# Session 11, measured on the default 3D run (serial; iterations per attempted step, the rest on):
# Anderson pairs carried from the last step (0 / 5 pairs: 4.20 / 3.80); the split predictor
# (off / on: 3.99 / 3.80; damping of the rough part 0.2 / 0.3 / 0.4 / 0.5 offline: mean first-iterate
# error of steps 3-6 after a remesh 2.7 / 2.1 / 2.1 / 2.7e-4 R, ordinary steps 1.12 / 1.07 / 1.03 /
# 0.97e-4; rough part kept after a remesh (1) / dropped (0): 3.92 / 3.80, within the noise of the
# remesh timing); mean-mode extrapolation order 0 (off) / 2 (3.86 / 3.80; order 3 was not better);
# secant guard off / on (4.01 / 3.80: one 11-iteration step at a clipped gain of 10).
MEAN_PREDICTOR_ORDER = 2   # order of the extrapolation of the mean velocity (0: off)
ANDERSON_DEPTH = 6         # iterates in the Anderson history of a step
ANDERSON_CARRY = 5         # Anderson pairs carried into the next step on the same mesh (0: none)
SPLIT_PREDICTOR = True     # 3D: smooth (spherical harmonics) / rough split of the first iterate
ROUGH_DAMPING = 0.4        # factor of the extrapolated change of the rough part
ROUGH_AFTER_REMESH = 0.0   # factor of the transferred rough part in the first step on a new mesh
SECANT_MIN_MOVE = 100.0    # smallest mean move of a secant pair, in mean tolerances


def assembled(form) -> np.ndarray:
    """Assemble a vector form; owned and ghost values consistent."""
    vec = dolfinx.fem.assemble_vector(form)
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    vec.scatter_forward()
    return vec.array


def _cell_dof_marker(V, cells) -> np.ndarray:
    """1 at the dofs (owned and ghost) of V that belong to a cell of ``cells`` on any rank, else 0."""
    vec = dolfinx.la.vector(V.dofmap.index_map, V.dofmap.index_map_bs)
    vec.array[:] = 0.0
    vec.array[np.unique(V.dofmap.list[np.asarray(cells, dtype=np.int32)])] = 1.0
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    vec.scatter_forward()
    return vec.array


def _constant_on(mesh, value):
    """``value`` as a Constant on ``mesh`` (a Constant of another (pre-remesh) mesh is copied)."""
    if isinstance(value, dolfinx.fem.Constant):
        if value.ufl_domain() is mesh.ufl_domain():
            return value
        return dolfinx.fem.Constant(mesh, value.value.copy())
    if isinstance(value, (int, float)):
        return dolfinx.fem.Constant(mesh, float(value))
    return value


class TwoPhaseStefan:
    """Two phases with a sharp interface on a moving, interface-conforming P1 mesh (P1 or P2 fields).

    Parameters (nondimensional)
    ---------------------------
    domain : :class:`meshes.tagged.TaggedMesh`.
    alpha, beta, interface : names of the two cell groups and of the interior facet group between them.
    c_alpha, c_beta : interface (equilibrium) concentrations of each phase.
    D_alpha, D_beta : float, constant (gdim, gdim) tensor (array) or callable c -> UFL diffusivity.
    init_alpha, init_beta : float or callable X -> values (X of shape (3, n)).
    weight : callable x -> rho(x) (``lambda x: x[0]**2`` for 1D spheres) or None.
    fixed : facet names where the mesh does not move; slip : (facet name, component) pairs.
    components : mesh displacement components that may be nonzero (None: all).
    dirichlet : (phase, facet name, value) with value a float or Constant.
    inflow : (phase, facet name, j_in) with j_in a UFL expression (may depend on c of that phase;
             pass a callable c -> UFL for that).
    solver : "lu" (MUMPS) or "amg" (GMRES + BoomerAMG) for the phases; ale_solver : "lu", "cg_amg" or "auto" (by mesh size, fem.ale).
    tol : interface iteration tolerance (nodal displacement error); mean_tol : that of the mean
          (conservation) mode (default 1e-2 tol).
    max_move : largest interface displacement per step in units of the smallest cell.
    stiffening : Jacobian-stiffening exponent of the mesh-motion extension.
    degree : Lagrange degree of the phase concentrations (1 or 2; the mesh and the interface stay P1).
    sensitivity : scale s of the preconditioner's flux-sensitivity term (None: SENSITIVITY_DEFAULT in
          3D, 0 in 1D (the interface has only the mean mode) and 2D; 0: the mass matrix alone).
    damping : factor of the non-mean part of the preconditioned interface step (None: DAMPING_DEFAULT
          in 3D, 1 in 1D and 2D, where it was not measured).

    After each accepted step ``flux_now`` is the total inflow rate (prescribed inflows plus the
    discrete fluxes through the Dirichlet boundaries, weighted, nondimensional) and ``moles_in``
    its time integral (backward Euler, as the scheme), so that
    ``total_moles() - moles0 == moles_in`` to the iteration tolerance.
    """

    def __init__(self, domain, *, alpha: str, beta: str, interface: str,
                 c_alpha: float, c_beta: float, D_alpha=1.0, D_beta=1.0, init_alpha=None, init_beta=None,
                 weight=None, fixed=(), slip=(), components=None, dirichlet=(), inflow=(),
                 solver="lu", ale_solver="lu", tol=1e-7, mean_tol=None, max_iterations=40, max_move=0.3,
                 stiffening=1.0, remesher=None, remesh_quality=0.0, degree=1, sensitivity=None, damping=None):
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, not {degree!r}")
        self.degree = int(degree)
        self.weight = weight
        self.tol, self.max_iterations, self.max_move = tol, max_iterations, max_move
        # the mean (conservation) mode: the total moles follow the boundary fluxes to this tolerance
        self.mean_tol = 1e-2 * tol if mean_tol is None else float(mean_tol)
        self.c_eq = {"alpha": float(c_alpha), "beta": float(c_beta)}
        self.names = {"alpha": alpha, "beta": beta}
        self._config = dict(interface=interface, D_alpha=D_alpha, D_beta=D_beta, fixed=fixed, slip=slip,
                            components=components, dirichlet=dirichlet, inflow=inflow, solver=solver,
                            ale_solver=ale_solver, stiffening=stiffening)
        # remeshing (fem/remesh.py): remesher(model) -> new TaggedMesh of the current geometry, called
        # when the shape ratio (2D/3D) or the size ratio (1D: outside [q, 1/q]) falls below q
        self.remesher, self.remesh_quality = remesher, float(remesh_quality)
        self.remesh_count = 0
        self.remesh_failure = ""
        self.remesh_wall = 0.0
        self.remesh_log: list[dict] = []  # per remesh: t, cells before/after, quality, moles correction
        self.ale_wall = 0.0
        self.diffusion_wall = 0.0
        self._build(domain, init_alpha, init_beta)
        self.mean_hist: list[tuple[float, float]] = []  # (dt, area-weighted mean velocity) of the last accepted steps
        self.smooth_hist: list = []  # (dt, smooth-part coefficients) of the last two accepted steps
        # flux-sensitivity scale of the preconditioner (see step()); measured in 3D only (1D has only
        # the mean mode; axisymmetric 2D: 3.2 -> 2.2 iterations per step but 8% more steps)
        self.sensitivity = float(SENSITIVITY_DEFAULT if self.mesh.topology.dim == 3 else 0.0) \
            if sensitivity is None else float(sensitivity)
        self.damping = float(DAMPING_DEFAULT if self.mesh.topology.dim == 3 else 1.0) \
            if damping is None else float(damping)
        # the session-11 predictor and iteration changes in 3D only (1D and 2D as before: the default
        # axisymmetric run took 4458 iterations in 1567 attempted steps with them, 4530 in 1500 without;
        # 1D the same steps, 2280 against 2265 iterations)
        three_d = self.mesh.topology.dim == 3
        self.mean_order = MEAN_PREDICTOR_ORDER if three_d else 0
        self.carry = ANDERSON_CARRY if three_d else 0
        self.secant_min_move = SECANT_MIN_MOVE if three_d else 0.0
        self.moles0 = self.total_moles()
        self.flux_now = 0.0  # total inflow rate during the last accepted step
        self.moles_in = 0.0  # its time integral

    def _build(self, domain, init_alpha, init_beta):
        """Everything that lives on the mesh (spaces, fields, forms, solvers, mesh motion)."""
        cfg = self._config
        interface, D_alpha, D_beta = cfg["interface"], cfg["D_alpha"], cfg["D_beta"]
        fixed, slip, components = cfg["fixed"], cfg["slip"], cfg["components"]
        dirichlet, inflow, solver, ale_solver = cfg["dirichlet"], cfg["inflow"], cfg["solver"], cfg["ale_solver"]
        stiffening = cfg["stiffening"]
        weight, alpha = self.weight, self.names["alpha"]
        self.domain = domain
        mesh = domain.mesh
        self.mesh = mesh
        self.comm = mesh.comm
        tdim = mesh.topology.dim
        gdim = mesh.geometry.dim
        self.gdim = gdim
        fdim = tdim - 1
        fixed_facets = np.unique(np.concatenate([domain.facets(f) for f in fixed])) if fixed else []
        self.ale = MeshMotion(mesh, domain.facets(interface), fixed_facets, components=components,
                              slip=[(domain.facets(f), i) for f, i in slip], solver=ale_solver,
                              stiffening=stiffening, prefix="stefan_ale_")
        # V1: the P1 vertex space of everything interface-geometric; V: the phase concentrations
        V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        V = V1 if self.degree == 1 else dolfinx.fem.functionspace(mesh, ("Lagrange", self.degree))
        self.V1, self.V = V1, V
        self.dt = dolfinx.fem.Constant(mesh, 1.0)
        disp = self.ale.disp
        x = ufl.SpatialCoordinate(mesh)
        rho = 1.0 if weight is None else weight(x)
        v = ufl.TestFunction(V)
        v1 = ufl.TestFunction(V1)
        # interface vertices (V1) and all concentration dofs on the interface (V; = idofs for P1)
        self.idofs = dolfinx.fem.locate_dofs_topological(V1, fdim, domain.facets(interface))
        self.owned = self.idofs < V1.dofmap.index_map.size_local
        self.idofs_c = self.idofs if V is V1 else dolfinx.fem.locate_dofs_topological(
            V, fdim, domain.facets(interface))
        nown = V.dofmap.index_map.size_local
        # the ALE term makes the phase operators nonsymmetric: GMRES + AMG when iterative
        opts = petsc_options.direct_lu() if solver == "lu" else petsc_options.gmres_amg()
        opts = {**opts, "snes_atol": 1e-11, "snes_rtol": 1e-10}

        zero = dolfinx.fem.Constant(mesh, 0.0)
        self.c, self.c_old, self.solvers, self.R_forms, self.moles, self.volume = {}, {}, {}, {}, {}, {}
        diffusivity = {}  # the phases' diffusivities (UFL), for the flux-sensitivity term of the preconditioner
        self.G_forms = {}  # interface residuals: the residual form tested with the P1 hats
        self.bcs, self.inflow_forms = {}, {}
        self.dirichlet_dofs = []  # (phase, owned non-interface dofs) of each Dirichlet boundary
        self.free_dofs, self.free_weight = {}, {}  # per phase: dofs not held by a Dirichlet condition
        for p in PHASES:
            dxp = domain.dx(self.names[p])
            c = dolfinx.fem.Function(V, name=f"c_{p}")
            c_old = dolfinx.fem.Function(V)
            if V is V1:
                ind = assembled(dolfinx.fem.form(v * dxp))
            else:  # P2 basis functions may integrate to <= 0: mark the dofs of the phase's cells instead
                ind = _cell_dof_marker(V, domain.cells(self.names[p]))
            outside = np.flatnonzero(ind == 0.0).astype(np.int32)
            ceq = dolfinx.fem.Constant(mesh, self.c_eq[p])
            bcs = [dolfinx.fem.dirichletbc(ceq, self.idofs_c, V), dolfinx.fem.dirichletbc(ceq, outside, V)]
            held = [self.idofs_c, outside]
            for ph, fname, value in dirichlet:
                if ph == p:
                    dofs = dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(fname))
                    held.append(dofs)
                    self.dirichlet_dofs.append((p, dofs[(dofs < nown) & ~np.isin(dofs, self.idofs_c)]))
                    val = _constant_on(mesh, value)
                    bcs.append(dolfinx.fem.dirichletbc(val, dofs, V))
            flows = []
            for ph, fname, j in inflow:
                if ph == p:
                    flows.append((j(c) if callable(j) else _constant_on(mesh, j), domain.ds(fname)))
            init = (init_alpha if p == "alpha" else init_beta)
            init = self.c_eq[p] if init is None else init
            if callable(init):
                c.interpolate(init)
            else:
                c.x.array[:] = init
            c.x.array[self.idofs_c] = self.c_eq[p]
            c.x.array[outside] = self.c_eq[p]
            free = np.setdiff1d(np.arange(len(ind), dtype=np.int32), np.concatenate(held))
            self.free_dofs[p] = free
            self.free_weight[p] = dolfinx.fem.form(rho * v * dxp)
            c_old.x.array[:] = c.x.array
            Dp = D_alpha if p == "alpha" else D_beta
            # a scalar, or a constant (gdim, gdim) tensor (anisotropic phase: J = -D grad c)
            Dp = Dp(c) if callable(Dp) else dolfinx.fem.Constant(
                mesh, float(Dp) if np.ndim(Dp) == 0 else np.asarray(Dp, dtype=float))
            diffusivity[p] = Dp
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
            self.G_forms[p] = self.R_forms[p] if V is V1 else dolfinx.fem.form(
                ale_diffusion_residual(c, c_old, v1, Dp, dxp, self.dt, disp, weight=weight, inflow=flows))
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
        self.area_form = dolfinx.fem.form(rho_avg * v1("+") * dS)
        # flux sensitivity of the interface residual (the preconditioner's shape term, see step()):
        # a_i = int_Gamma rho sum_p |n . D_p grad c_p| / h_p phi_i dS, each phase's trace and cell size
        hcell = ufl.CellDiameter(mesh)
        sens = 0
        for p, w in (("alpha", chi), ("beta", 1.0 - chi)):
            Dp = diffusivity[p]
            flux_n = ufl.dot(n, Dp * ufl.grad(self.c[p]) if ufl.rank(Dp) == 0 else ufl.dot(Dp, ufl.grad(self.c[p])))
            trace = w("+") * flux_n("+") / hcell("+") + w("-") * flux_n("-") / hcell("-")
            sens = sens + abs(trace)
        self.sensitivity_form = dolfinx.fem.form(rho_avg * sens * v1("+") * dS)
        psi = ufl.TestFunction(self.ale.W)
        self.normal_form = dolfinx.fem.form(ufl.inner(n_alpha, psi("+")) * dS)
        # consistent interface mass matrix M_ij = int_Gamma rho phi_i phi_j dS (identity off the interface):
        # moving node i by delta_i along the normal changes the moles at node j by c_p M_ij delta_i
        u = ufl.TrialFunction(V1)
        self.mass_form = dolfinx.fem.form(rho_avg * u("+") * v1("+") * dS + zero * u * v1 * domain.dx())
        n_local = V1.dofmap.index_map.size_local + V1.dofmap.index_map.num_ghosts
        off = np.setdiff1d(np.arange(n_local, dtype=np.int32), self.idofs)
        self.mass_bcs = [dolfinx.fem.dirichletbc(zero, off, V1)]
        self.M = dolfinx.fem.petsc.create_matrix(self.mass_form)
        self.mass_ksp = PETSc.KSP().create(self.comm)
        self.mass_ksp.setType("cg")
        self.mass_ksp.getPC().setType("jacobi")
        self.mass_ksp.setTolerances(rtol=1e-8, atol=1e-300, max_it=200)  # a preconditioner only
        self.g_fun, self.y_fun = dolfinx.fem.Function(V1), dolfinx.fem.Function(V1)
        self.interface_measure = Integral(1.0 * dS)
        self.interface_mean_x = Integral(ufl.avg(x[0]) * dS)
        self.interface_mean_r = Integral(ufl.avg(ufl.sqrt(ufl.inner(x, x))) * dS)
        self._moments = None  # second moments of the core (built on first use; per mesh)
        vmap, wmap = V1.dofmap.list, self.ale.W.dofmap.list
        s2b = np.empty(V1.dofmap.index_map.size_local + V1.dofmap.index_map.num_ghosts, dtype=np.int64)
        s2b[vmap.ravel()] = wmap.ravel()
        self.iblock = s2b[self.idofs]

        self.delta = np.zeros(len(self.idofs))     # normal displacement of the step (along n_alpha)
        self.velocity = np.zeros(len(self.idofs))  # last accepted normal velocity (along n_alpha)
        self._velocity_fun = dolfinx.fem.Function(V1)  # its checkpoint copy (on the interface dofs)
        # the accepted velocity before (None: fewer than two accepted steps on this mesh) and the last
        # two accepted dt: the second-order predictor of the first iterate
        self.velocity_prev = None
        self._velocity_prev_fun = dolfinx.fem.Function(V1)  # its checkpoint copy
        self.dt_hist = (0.0, 0.0)
        self.accepted_on_mesh = 0  # accepted steps since the last (re)build
        # the Anderson pairs (d delta, d f, d mean f) of the last accepted step on this mesh, and
        # their checkpoint copies
        self.anderson_carry = self._anderson_try = None
        self._carry_funs = [(dolfinx.fem.Function(V1), dolfinx.fem.Function(V1)) for _ in range(ANDERSON_DEPTH - 1)]
        self.gain = 1.0      # secant gain of the preconditioner, carried from step to step
        self.iterations = 0  # interface iterations of the last accepted step
        self.last_quality = self.ale.quality()
        self._quality_try = self.last_quality
        self.begin_step()

    # ------------------------------------------------------------------
    def _allreduce(self, a, op):
        return allreduce_array(self.comm, a, op)

    def begin_step(self):
        """At the accepted configuration x^n: extension operator, nodal areas and normals."""
        t0 = time.perf_counter()
        self.ale.begin_step()
        self.area = assembled(self.area_form)[self.idofs].copy()
        self.M.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(self.M, self.mass_form, bcs=self.mass_bcs)
        self.M.assemble()
        self.mass_diag = self.M.getDiagonal()
        self.mass_ksp.setOperators(self.M)
        nvec = assembled(self.normal_form).reshape(-1, self.gdim)[self.iblock]
        norm = np.linalg.norm(nvec, axis=1)
        self.normal = nvec / np.maximum(norm, 1e-300)[:, None]
        self.h_min = self.ale.min_cell_size()
        self._basis = self._smooth_basis() if self.gdim == 3 else None
        self.ale_wall += time.perf_counter() - t0

    def set_flux_sensitivity(self, d):
        """Make the interface operator P = M_Gamma + diag(d) (d >= 0 per interface dof); begin_step
        reassembles M_Gamma alone."""
        diag = self.mass_diag.copy()
        vals = diag.getArray(readonly=True).copy()  # the owned entries (a plain MPI vector, no ghosts)
        vals[self.idofs[self.owned]] += d[self.owned]
        diag.setArray(vals)
        self.M.setDiagonal(diag)
        diag.destroy()
        self.mass_ksp.setOperators(self.M)

    def solve_interface_mass(self, g):
        """y = P^{-1} g on the interface dofs (P = M_Gamma, or with the diagonal of set_flux_sensitivity)."""
        self.g_fun.x.array[:] = 0.0
        self.g_fun.x.array[self.idofs] = g
        self.mass_ksp.solve(self.g_fun.x.petsc_vec, self.y_fun.x.petsc_vec)
        self.y_fun.x.scatter_forward()
        return self.y_fun.x.array[self.idofs].copy()

    def reaction(self, p):
        """Residual of phase p at the interface vertices (its discrete interface flux; P2: the
        residual form tested with the P1 hats of the interface vertices)."""
        return assembled(self.G_forms[p])[self.idofs]

    def _move(self, delta):
        t0 = time.perf_counter()
        bd = self.ale.boundary_disp.x.array.reshape(-1, self.gdim)
        bd[self.iblock] = delta[:, None] * self.normal
        self.ale.extend()
        self.ale.move()
        self.ale_wall += time.perf_counter() - t0

    # step / reject / accept ------------------------------------------------
    def step(self, t, dt) -> SolveStats:
        self.dt.value = dt
        ca, cb = self.c_eq["alpha"], self.c_eq["beta"]
        k0 = (ca - cb) / dt
        k = self.gain * k0  # preconditioner k M_Gamma, gain from the last step's secant estimate
        own = self.owned
        sens = None
        if self.sensitivity > 0:
            # P = k (M_Gamma + diag(d) - d d^T / sum(d)), d = a / |k|: the flux-sensitivity diagonal a
            # with the mean mode removed (d d^T / sum d: P 1 = k M_Gamma 1), so the secant gain still
            # fits the mean mode; applied by Sherman-Morrison with z = (M_Gamma + diag d)^{-1} d.
            d = self.sensitivity * assembled(self.sensitivity_form)[self.idofs] / abs(k)
            self.set_flux_sensitivity(d)
            z = self.solve_interface_mass(d)
            d_sum, dz = self._allreduce(np.array([np.sum(d[own]), np.sum((d * z)[own])]), MPI.SUM)
            if d_sum > 0 and d_sum - dz > 1e-12 * d_sum:
                sens = (d, z, d_sum - dz)
        delta = self.velocity * dt
        if SPLIT_PREDICTOR and self.smooth_hist:
            delta = dt * self._split_predictor(dt)
        elif self.velocity_prev is not None:
            # second order: the last two accepted (mean) velocities belong to the midpoints of their
            # steps; extrapolate linearly to the midpoint of this one
            dt1, dt0 = self.dt_hist
            delta = dt * (self.velocity + (self.velocity - self.velocity_prev) * (dt + dt1) / (dt1 + dt0))
        delta = self._mean_predictor(delta, dt)
        if _DEBUG and self.comm.rank == 0:
            print(f" stefan step t {t:.5g} dt {dt:.4g} gain {self.gain:.4f} interface dofs {len(self.idofs)}", flush=True)
        xs, fs, fmean = [], [], []  # Anderson history: iterates, preconditioned residuals, their means
        G_prev = d_prev = None
        secant, secant_dd = None, 0.0
        krylov = 0
        w = np.where(self.owned, self.area, 0.0)  # weights of the (global) inner product
        # model of the sum row of the interface Jacobian, d(sum G) = b . d(delta): k a_Gamma to begin
        # with (the preconditioner's, P 1 = k M_Gamma 1), one Broyden update per iterate pair
        b = k * self.area
        # conservation: sum G = (moles^{n+1} - moles^n) / dt - inflow, so the moles balance after the step
        # is the defect so far plus dt sum G; the mean mode aims at cancelling that defect (within mean_tol
        # the defects of successive steps would otherwise add up, all of one sign with a lagging predictor)
        defect_rate = (self.total_moles() - self.moles0 - self.moles_in) / dt
        for it in range(1, self.max_iterations + 1):
            self._move(delta)
            t0 = time.perf_counter()
            for p in PHASES:
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
            # (minus the moles defect of the steps so far, so that the defects do not add up)
            gsum, asum = self._allreduce(np.array([np.sum(G[own]), np.sum(self.area[own])]), MPI.SUM)
            gsum += defect_rate
            mean_err = abs(gsum) / (abs(k0) * asum)
            if G_prev is not None:
                # secant estimate of the mean-mode Jacobian, for the next step: from the pair with the
                # largest mean move (the later pairs are small and carry the non-mean modes' coupling)
                dx = delta - d_prev
                dG, dd, bdx, xax = self._allreduce(np.array([
                    np.sum((G - G_prev)[own]), np.sum((self.area * dx)[own]), np.sum((b * dx)[own]),
                    np.sum((self.area * dx * dx)[own])]), MPI.SUM)
                if abs(dd) > self.secant_min_move * self.mean_tol * asum and 0.02 < (dG / dd) / k0 < 50 \
                        and abs(dd) > secant_dd:
                    secant, secant_dd = dG / dd, abs(dd)
                if xax > 0:  # Broyden: b . dx = d(sum G) with the least change of b (area-weighted)
                    b = b + ((dG - bdx) / xax) * self.area * dx
            if _DEBUG and self.comm.rank == 0:
                print(f"  stefan it {it}: err {err:.3e} mean {mean_err:.3e} max delta {dmax:.4e}", flush=True)
            if err < self.tol and mean_err < self.mean_tol:
                break
            if dmax > 2 * self.max_move * self.h_min:
                return SolveStats(False, it, krylov, "interface moves too far in one step")
            G_prev, d_prev = G, delta
            # Anderson acceleration (depth 5) of delta <- delta - P^{-1} G / k on the non-mean part
            f = -self.solve_interface_mass(G) / k
            if sens is not None:
                d, z, denom = sens
                f = f + z * (self._allreduce(np.array([np.sum((d * f)[own])]), MPI.SUM)[0] / denom)
            fbar = self._allreduce(np.array([np.sum(w * f)]), MPI.SUM)[0] / asum  # area-weighted mean
            f = fbar + self.damping * (f - fbar)
            xs.append(delta.copy())
            fs.append(f)
            fmean.append(fbar)
            if len(xs) > ANDERSON_DEPTH:
                xs.pop(0)
                fs.pop(0)
                fmean.pop(0)
            step = f
            pairs = [(xs[j + 1] - xs[j], fs[j + 1] - fs[j], fmean[j + 1] - fmean[j]) for j in range(len(xs) - 1)]
            if self.anderson_carry and self.carry > 0:
                pairs = (list(self.anderson_carry) + pairs)[-max(self.carry, len(pairs)):]
            if pairs:
                dX = np.array([q[0] for q in pairs])
                dF = np.array([q[1] for q in pairs])
                # least squares on the non-mean parts (the mean mode is set below)
                dFn = dF - np.array([q[2] for q in pairs])[:, None]
                fn = f - fbar
                m = len(dF)
                local = np.concatenate([(dFn * w) @ dFn.T, ((dFn * w) @ fn)[:, None]], axis=1)
                glob = self._allreduce(local, MPI.SUM)
                M, rhs = glob[:, :m], glob[:, m]
                gamma = np.linalg.lstsq(M + 1e-14 * np.trace(M) * np.eye(m), rhs, rcond=None)[0]
                step = f - gamma @ (dX + dF)
            # the mean mode: shift the update uniformly so that the modelled sum of G vanishes
            bs, b1 = self._allreduce(np.array([np.sum((b * step)[own]), np.sum(b[own])]), MPI.SUM)
            if b1 != 0.0:
                step = step - (gsum + bs) / b1
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
        self._quality_try = q
        self._anderson_try = [(xs[j + 1] - xs[j], fs[j + 1] - fs[j], fmean[j + 1] - fmean[j])
                              for j in range(len(xs) - 1)]
        return SolveStats(True, it, krylov, "interface converged")

    def _smooth_basis(self):
        """Real spherical harmonics of degree <= 2 of the direction of each interface vertex from the
        area-weighted interface centroid (at x^n): the smooth part of the interface velocity."""
        x = self.V1.tabulate_dof_coordinates()[self.idofs]
        own = self.owned
        sums = self._allreduce(np.concatenate([(self.area[own, None] * x[own]).sum(axis=0), [self.area[own].sum()]]),
                               MPI.SUM)
        u = x - sums[:3] / max(sums[3], 1e-300)
        u = u / np.maximum(np.linalg.norm(u, axis=1), 1e-300)[:, None]
        ux, uy, uz = u[:, 0], u[:, 1], u[:, 2]
        return np.stack([np.ones_like(ux), ux, uy, uz, ux * uy, ux * uz, uy * uz, ux * ux - uy * uy,
                         3 * uz * uz - 1], axis=1)

    def _smooth_fit(self, values) -> np.ndarray:
        """Coefficients of the area-weighted least-squares fit of ``values`` in _smooth_basis."""
        B, own = self._basis, self.owned
        Bw = B[own] * self.area[own, None]
        m = B.shape[1]
        glob = self._allreduce(np.concatenate([(Bw.T @ B[own]).ravel(), Bw.T @ values[own]]), MPI.SUM)
        A = glob[:m * m].reshape(m, m)  # (singular for a planar interface: the minimum-norm fit)
        return np.linalg.lstsq(A, glob[m * m:], rcond=1e-10)[0]

    def _split_predictor(self, dt) -> np.ndarray:
        """Velocity of the first iterate: the smooth part (spherical harmonics, a history that
        survives remeshes) extrapolated linearly, the rough (mesh-scale) rest with the damped
        difference ROUGH_DAMPING; on a fresh mesh the transferred rough part is dropped."""
        B = self._basis
        (dt1, c1), prev = self.smooth_hist[-1], (self.smooth_hist[-2] if len(self.smooth_hist) > 1 else None)
        S1 = B @ c1
        r1 = self.velocity - S1
        if self.accepted_on_mesh == 0 and self.remesh_count:
            r1 = ROUGH_AFTER_REMESH * r1
        if prev is None:
            return S1 + r1
        dt0, c0 = prev
        ratio = (dt + dt1) / (dt1 + dt0)
        S0 = B @ c0
        v = S1 + (S1 - S0) * ratio + r1
        if self.velocity_prev is not None:
            v = v + ROUGH_DAMPING * (r1 - (self.velocity_prev - S0)) * ratio
        return v

    def _area_mean(self, values) -> float:
        """Area-weighted mean of interface values (the mean mode, on the current x^n)."""
        own = self.owned
        num, den = self._allreduce(np.array([np.sum((self.area * values)[own]), np.sum(self.area[own])]), MPI.SUM)
        return num / den if den > 0 else 0.0

    def _mean_predictor(self, delta, dt):
        """Shift the first iterate uniformly so that its mean mode is the extrapolation (order
        MEAN_PREDICTOR_ORDER (3D), in the midpoints of the accepted steps) of the last accepted area-weighted
        mean velocities, a history that survives remeshes."""
        n = min(self.mean_order + 1, len(self.mean_hist))
        if n < 2 or self.mean_order < 1:
            return delta
        hist = self.mean_hist[-n:]
        taus, tau = [], 0.0  # midpoints relative to t^n, most recent first
        for h, _ in reversed(hist):
            taus.append(tau - h / 2)
            tau -= h
        vals = [v for _, v in reversed(hist)]
        target = dt / 2
        vbar = 0.0
        for i in range(n):
            li = 1.0
            for j in range(n):
                if j != i:
                    li *= (target - taus[j]) / (taus[i] - taus[j])
            vbar += li * vals[i]
        return delta + (dt * vbar - self._area_mean(delta))

    def max_dt(self, t=None) -> float:
        """Largest next step that keeps the extrapolated interface move (last accepted velocity x dt)
        within 0.9 ``max_move`` of the smallest cell: a step the move check would reject after its
        whole interface iteration is not attempted (``Simulation(max_dt=...)``).  The first step on a
        remeshed mesh keeps it within half that: the discrete interface velocity of the new mesh differs
        from the transferred one (measured on the default 3D run: up to ~30 % at single nodes, relaxing
        over ~5 steps), and at 0.9 the first step after each of its 7 remeshes moved too far."""
        vmax = self._allreduce(np.array([np.max(np.abs(self.velocity[self.owned]), initial=0.0)]), MPI.MAX)[0]
        share = 0.45 if self.remesh_count and not self.accepted_on_mesh else 0.9
        return np.inf if vmax <= 0 else share * self.max_move * self.h_min / vmax

    def reject(self):
        self.ale.reset()
        for p in PHASES:
            self.c[p].x.array[:] = self.c_old[p].x.array

    def accept(self, t_new, dt, stats):
        # the boundary fluxes of the step (residuals on x^{n+1} with c^n): before c_old moves on
        self.flux_now = self._boundary_inflow()
        self.moles_in += dt * self.flux_now
        self.iterations = stats.newton_iterations
        self.last_quality = self._quality_try
        self.velocity_prev = self.velocity if self.accepted_on_mesh > 0 else None
        self.accepted_on_mesh += 1
        self.dt_hist = (dt, self.dt_hist[0])
        self.velocity = self.delta / dt
        self.anderson_carry = self._anderson_try
        self.mean_hist = (self.mean_hist + [(dt, self._area_mean(self.velocity))])[-5:]
        if self._basis is not None:
            self.smooth_hist = (self.smooth_hist + [(dt, self._smooth_fit(self.velocity))])[-2:]
        for p in PHASES:
            self.c_old[p].x.array[:] = self.c[p].x.array
        self.begin_step()
        if self.needs_remesh():
            try:
                self.remesh(t_new)
            except Exception as e:  # noqa: BLE001 - mesh generation failed on rank 0 (re-raised on all ranks) (before any state changed): go on unremeshed
                self.remesh_failure = f"remesh failed at remesh {self.remesh_count + 1}: {e}"
                self.remesher = None

    # remeshing -------------------------------------------------------------------
    def needs_remesh(self) -> bool:
        """Shape ratio (2D/3D) below ``remesh_quality`` q, or (1D) a size ratio outside [q, 1/q]."""
        if self.remesher is None or self.remesh_quality <= 0:
            return False
        q, r = self.last_quality, self.remesh_quality
        if self.mesh.topology.dim == 1:
            return q.min_size_ratio < r or q.max_size_ratio > 1 / r
        return q.min_shape_ratio < r

    def _global_cells(self) -> int:
        return self.mesh.topology.index_map(self.mesh.topology.dim).size_global

    def _global_interface_facets(self) -> int:
        """Number of interface facets (owned ones summed over ranks): the interface resolution a remesher keeps."""
        fdim = self.mesh.topology.dim - 1
        self.mesh.topology.create_entities(fdim)
        nown = self.mesh.topology.index_map(fdim).size_local
        facets = np.asarray(self.domain.facets(self._config["interface"]))
        return int(self.comm.allreduce(int(np.count_nonzero(facets < nown)), op=MPI.SUM))

    def remesh(self, t=None) -> dict:
        """Replace the mesh by ``remesher(self)`` (same geometry, same tags) and carry the state over:
        both phase fields by non-matching interpolation (:func:`fem.remesh.transfer`), then one additive
        correction per phase on its free dofs that restores the phase's (weighted) moles exactly
        (:func:`fem.remesh.restore_moles`); the interface velocity likewise (interface nodes are kept)."""
        from fem.remesh import restore_moles, transfer
        t0 = time.perf_counter()
        quality, cells_before = self.last_quality, self._global_cells()
        new_domain = self.remesher(self)
        moles = {p: self.moles[p]() for p in PHASES}
        old_c = {p: self.c[p] for p in PHASES}
        vel = self._velocity_fun
        vel.x.array[:] = 0.0
        vel.x.array[self.idofs] = self.velocity
        old = (list(self.solvers.values()), self.ale, self.M, self.mass_ksp)
        gain, iterations = self.gain, self.iterations
        self._build(new_domain, None, None)
        self.gain, self.iterations = gain, iterations
        data = None  # interpolation data of the concentration space, then of V1 (the velocity)
        for p in PHASES:
            data = transfer(old_c[p], self.c[p], data)
            for bc in self.bcs[p]:
                bc.set(self.c[p].x.array)
        transfer(vel, self._velocity_fun, data if self.V is self.V1 else None)
        self.velocity = self._velocity_fun.x.array[self.idofs].copy()
        corrections = {}
        for p in PHASES:
            corrections[p] = restore_moles(self.c[p], self.moles[p], moles[p], self.free_dofs[p],
                                           self.free_weight[p])
            self.c_old[p].x.array[:] = self.c[p].x.array
        for s in old[0]:
            s.destroy()
        old[1].destroy()
        old[2].destroy()
        old[3].destroy()
        self.remesh_count += 1
        wall = time.perf_counter() - t0
        self.remesh_wall += wall
        entry = {"t": t, "cells_before": cells_before, "cells_after": self._global_cells(),
                 "min_shape_ratio": quality.min_shape_ratio, "min_size_ratio": quality.min_size_ratio,
                 "moles_correction_rel": max(abs(corrections[p]) for p in PHASES), "wall_s": wall,
                 "moles_rel_error": max(abs(self.moles[p]() - moles[p]) / max(abs(moles[p]), 1e-300)
                                        for p in PHASES)}
        self.remesh_log.append(entry)
        return entry

    def _boundary_inflow(self) -> float:
        """Prescribed inflows plus the discrete (residual) fluxes through the Dirichlet boundaries."""
        rate = self.inflow_rate()
        R = {}
        for p, dofs in self.dirichlet_dofs:
            if p not in R:
                R[p] = assembled(self.R_forms[p])
            rate += self.comm.allreduce(float(np.sum(R[p][dofs])), op=MPI.SUM)
        return rate

    # restart -------------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        """The moving mesh (and its exact accepted configuration x^n), both phase fields (new and
        old), the interface velocity and the one before with their dt (the first iterate of the next
        step), the Anderson pairs of the last step and the mean-velocity and smooth-velocity histories
        of the predictor, the preconditioner gain and the observables' memory."""
        for fun, values in ((self._velocity_fun, self.velocity), (self._velocity_prev_fun, self.velocity_prev)):
            fun.x.array[:] = 0.0
            if values is not None:
                fun.x.array[self.idofs] = values
        # after a remesh the mesh is no longer the one a restart rebuilds: a distinct key lets the
        # problem refuse such a restart up front (see problems/shrinking_core.py)
        mesh_key = f"mesh_after_remesh_{self.remesh_count}" if self.remesh_count else "mesh"
        state = {mesh_key: self.mesh, "mesh_reference": self.ale.reference_function(),
                 "interface_velocity": self._velocity_fun, "interface_velocity_prev": self._velocity_prev_fun}
        for p in PHASES:
            state[f"c_{p}"], state[f"c_old_{p}"] = self.c[p], self.c_old[p]
        carry = self.anderson_carry or []
        for i, (fx, ff) in enumerate(self._carry_funs):
            for fun, j in ((fx, 0), (ff, 1)):
                fun.x.array[:] = 0.0
                if i < len(carry):
                    fun.x.array[self.idofs] = carry[i][j]
            state[f"anderson_dx_{i}"], state[f"anderson_df_{i}"] = fx, ff
        q = self.last_quality
        return {**state, "anderson_dfmean": [float(c[2]) for c in carry],
                "mean_hist": [tuple(map(float, h)) for h in self.mean_hist],
                "smooth_hist": [(float(h), [float(c) for c in cs]) for h, cs in self.smooth_hist],
                "gain": self.gain, "iterations": self.iterations, "flux_now": self.flux_now,
                "dt_hist": tuple(self.dt_hist), "accepted_on_mesh": self.accepted_on_mesh,
                "moles_in": self.moles_in, "min_size_ratio": q.min_size_ratio,
                "min_shape_ratio": q.min_shape_ratio, "ale_wall": self.ale_wall,
                "diffusion_wall": self.diffusion_wall, "remesh_count": self.remesh_count}

    def restore_state(self, state: dict) -> None:
        """Python values back; mesh and Functions are already restored: rebuild the step operators."""
        if state.get("remesh_count", 0):
            from fem.errors import InputError
            raise InputError(f"cannot restart after a remesh ({state['remesh_count']} so far): checkpoints "
                             "store fields on the cells of the initial mesh")
        self.velocity = self._velocity_fun.x.array[self.idofs].copy()
        self.accepted_on_mesh = int(state.get("accepted_on_mesh", 0))
        self.dt_hist = tuple(state.get("dt_hist", (0.0, 0.0)))
        self.velocity_prev = self._velocity_prev_fun.x.array[self.idofs].copy() if self.accepted_on_mesh > 1 else None
        self.gain, self.iterations = state["gain"], state["iterations"]
        self.flux_now, self.moles_in = state["flux_now"], state["moles_in"]
        self.last_quality = self._quality_try = MeshQuality(state["min_size_ratio"], state["min_shape_ratio"])
        self.mean_hist = [tuple(h) for h in state.get("mean_hist", [])]
        self.smooth_hist = [(h, np.array(cs)) for h, cs in state.get("smooth_hist", [])]
        dfmean = state.get("anderson_dfmean", [])
        self.anderson_carry = [(fx.x.array[self.idofs].copy(), ff.x.array[self.idofs].copy(), dfm)
                               for (fx, ff), dfm in zip(self._carry_funs, dfmean)] or None
        self.ale.restore_reference()  # x^n exactly (not the written coordinates), then begin_step there
        self.begin_step()
        self.ale_wall, self.diffusion_wall = state["ale_wall"], state["diffusion_wall"]

    # observables ------------------------------------------------------------
    def total_moles(self) -> float:
        return self.moles["alpha"]() + self.moles["beta"]()

    def inflow_rate(self) -> float:
        """Prescribed-flux inflow (weighted), nondimensional moles per unit time."""
        return sum(f() for p in PHASES for f in self.inflow_forms[p])

    def interface_position(self) -> float:
        """Mean x over the interface."""
        return self.interface_mean_x() / self.interface_measure()

    def interface_radius(self) -> float:
        """Mean |x| over the interface."""
        return self.interface_mean_r() / self.interface_measure()

    def second_moments(self, phase: str = "alpha") -> np.ndarray:
        """M_ij = int_{Omega_p} x_i x_j dx (gdim x gdim, weight 1, about the origin)."""
        if self._moments is None:
            x = ufl.SpatialCoordinate(self.mesh)
            self._moments = {p: {(i, j): Integral(x[i] * x[j] * self.domain.dx(self.names[p]))
                                 for i in range(self.gdim) for j in range(i, self.gdim)} for p in PHASES}
        M = np.zeros((self.gdim, self.gdim))
        for (i, j), m in self._moments[phase].items():
            M[i, j] = M[j, i] = m()
        return M

    def equivalent_semi_axes(self, phase: str = "alpha", directions=None) -> np.ndarray:
        """Semi-axes of the ellipsoid with the phase's second moments (gdim 3, weight 1) along the unit
        vectors ``directions`` (rows; None: x, y, z): a_d = sqrt(5 d.M.d / |Omega_p|) (exact for an
        ellipsoid centred at the origin with d along one of its axes)."""
        M = self.second_moments(phase)
        d = np.eye(self.gdim) if directions is None else np.atleast_2d(np.asarray(directions, dtype=float))
        return np.sqrt(5 * np.einsum("ki,ij,kj->k", d, M, d) / max(self.volume[phase](), 1e-300))

    def diagnostics(self) -> dict:
        """Per-step row: mass balance, interface iterations, mesh quality, remeshes, cells."""
        return {"mass_balance_rel_error": abs(self.total_moles() - self.moles0 - self.moles_in) / abs(self.moles0),
                "stefan_iterations": self.iterations, "min_mesh_quality": self.last_quality.min_shape_ratio,
                "min_cell_size_ratio": self.last_quality.min_size_ratio, "remesh_count": self.remesh_count,
                "cells": self._global_cells()}

    def summary(self) -> dict:
        """Run totals: wall-time split, remeshes and their moles restoration."""
        return dict(mesh_motion_wall_s=self.ale_wall, diffusion_wall_s=self.diffusion_wall,
                    mesh_motion_wall_share=self.ale_wall / max(self.ale_wall + self.diffusion_wall, 1e-300),
                    remesh_count=self.remesh_count, remesh_wall_s=self.remesh_wall, final_cells=self._global_cells(),
                    final_interface_facets=self._global_interface_facets(),
                    max_remesh_moles_rel_error=max((e["moles_rel_error"] for e in self.remesh_log), default=0.0),
                    max_remesh_moles_correction_rel=max((abs(e["moles_correction_rel"]) for e in self.remesh_log),
                                                        default=0.0))

    def destroy(self):
        for s in self.solvers.values():
            s.destroy()
        self.ale.destroy()
        for obj in (self.M, self.mass_ksp):
            obj.destroy()
