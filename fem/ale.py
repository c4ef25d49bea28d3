"""Mesh motion for arbitrary Lagrangian-Eulerian (ALE) moving-interface problems.

The displacement of the mesh over one time step, d = x^{n+1} - x^n, is
prescribed on the moving facets (the interface) and extended into the domain
by a Jacobian-stiffened harmonic extension (Stein, Tezduyar & Benney, J. Appl.
Mech. 70 (2003) 58):

    -div( k grad d ) = 0       in Omega^n,   k = (|K_ref| / |K|)^chi  (per cell)
    d = d_Gamma                on the moving facets
    d = 0                      on the fixed facets
    d_i = 0  everywhere        for every component i not in ``components``
    d_i = 0                    on the ``slip`` facets of component i (symmetry planes, axis)

(natural, i.e. sliding, conditions elsewhere).  Small cells are stiffer, so
they move rigidly and keep their shape.  The extension is solved on the
configuration x^n (one matrix per step, one solve per interface iterate), one
scalar solve per displacement component: the components are uncoupled, so the
operator is the scalar stiffened Laplacian (one per distinct set of Dirichlet
dofs: one in 3D), a third of the unknowns and a ninth of the nonzeros of the
vector operator in 3D.  After each solve the Dirichlet values are set exactly,
so the interface and the fixed boundaries are where they must be whatever the
Krylov tolerance.

Quality monitoring (per cell, relative to the initial mesh):

    size ratio   det J / det J_0                       (<= 0: inverted)
    shape ratio  q / q_0,  q = d (det J)^(2/d) / |J|_F^2  (mean-ratio quality, d = tdim >= 2)

Only P1 (affine) geometry is supported: the displacement is a P1 vector
field whose dofs coincide with the geometry nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc as fem_petsc

from fem import petsc_options


# solver="auto": MUMPS up to this many mesh vertices, CG + BoomerAMG above.  Measured
# (tests/bench/bench_stefan_ale_solver.py, a step = set-up + 6 extensions, CPU): 6.2k vertices
# 0.27 s (MUMPS) vs 0.33 s (AMG), ~30k vertices 1.75 s vs 1.87 s; in the default 3D shrinking-core
# run the mesh-motion share fell from 26% to 15% of the time loop with MUMPS.
AUTO_LU_MAX_VERTICES = 30_000


@dataclass
class MeshQuality:
    min_size_ratio: float   # min over cells of det J / det J_0 (<= 0: inverted)
    min_shape_ratio: float  # min over cells of q / q_0 (1 in 1D)
    max_size_ratio: float = float("inf")  # max over cells of det J / det J_0 (1D remeshing trigger)

    @property
    def inverted(self) -> bool:
        return self.min_size_ratio <= 0.0


def _node_to_dof(mesh, W) -> np.ndarray:
    """Geometry node index -> block dof of the P1 vector space W."""
    if mesh.geometry.cmap.degree != 1:
        raise ValueError("ALE mesh motion needs affine (order 1) geometry")
    gmap = mesh.geometry.dofmap
    vmap = W.dofmap.list
    node2dof = np.full(mesh.geometry.x.shape[0], -1, dtype=np.int64)
    node2dof[gmap.ravel()] = vmap.ravel()
    return node2dof


class MeshMotion:
    """Move a mesh so that the moving facets follow a prescribed displacement.

    Parameters
    ----------
    mesh : dolfinx mesh with P1 geometry (it is moved in place).
    moving_facets, fixed_facets : local facet indices.
    components : displacement components that may be nonzero (default: all).
    slip : sequence of (facets, i): component i is zero on those facets.
    stiffening : exponent chi of the Jacobian stiffening (0: plain Laplace).
    solver : "lu", "cg_amg" or "auto" (MUMPS up to AUTO_LU_MAX_VERTICES mesh vertices, else CG + AMG) for the extension.
    """

    def __init__(self, mesh, moving_facets, fixed_facets=(), *, components=None, slip=(),
                 stiffening=1.0, solver="lu", prefix="ale_"):
        self.mesh = mesh
        gdim, tdim = mesh.geometry.dim, mesh.topology.dim
        self.gdim, self.tdim = gdim, tdim
        W = dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (gdim,)))
        self.W = W
        self.disp = dolfinx.fem.Function(W, name="mesh_displacement")  # d = x^{n+1} - x^n
        self.boundary_disp = dolfinx.fem.Function(W)                   # values on moving facets
        fdim = tdim - 1
        mesh.topology.create_connectivity(fdim, tdim)
        comps = range(gdim) if components is None else components
        self.components = tuple(comps)

        # cell size and shape measures
        Q = dolfinx.fem.functionspace(mesh, ("DG", 0))
        Jac = ufl.Jacobian(mesh)
        detJ = ufl.JacobianDeterminant(mesh)
        pts = Q.element.interpolation_points()
        self._det_expr = dolfinx.fem.Expression(detJ, pts)
        self._shape_expr = None
        if tdim >= 2 and gdim == tdim:
            q = tdim * abs(detJ) ** (2.0 / tdim) / ufl.inner(Jac, Jac)
            self._shape_expr = dolfinx.fem.Expression(q, pts)
        self._work = dolfinx.fem.Function(Q)
        self.det0 = self._cellwise(self._det_expr)
        self.shape0 = self._cellwise(self._shape_expr) if self._shape_expr is not None else None

        # Stiffened Laplace operator, assembled on x^n at each begin_step().  The extension is the
        # same scalar problem for every displacement component; only the Dirichlet dofs may differ
        # (slip facets, frozen components).  It is solved per component with a scalar operator (one
        # per distinct Dirichlet set: one in 3D), so the factorization / AMG hierarchy is that of a
        # matrix with 1/gdim of the unknowns and 1/gdim^2 of the nonzeros of the coupled vector one.
        self.stiffness = dolfinx.fem.Function(Q)
        self.chi = float(stiffening)
        S = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        self.S = S
        # scalar dof -> block of W (every local dof, ghosts included, lies in a local cell)
        self._sblock = np.empty(S.dofmap.index_map.size_local + S.dofmap.index_map.num_ghosts, dtype=np.int64)
        self._sblock[S.dofmap.list.ravel()] = W.dofmap.list.ravel()
        u, v = ufl.TrialFunction(S), ufl.TestFunction(S)
        self.a = dolfinx.fem.form(self.stiffness * ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx)
        moving_s = dolfinx.fem.locate_dofs_topological(S, fdim, np.asarray(moving_facets, np.int32))
        fixed_s = dolfinx.fem.locate_dofs_topological(S, fdim, np.asarray(fixed_facets, np.int32))
        slip_s = {i: [] for i in range(gdim)}
        for facets, i in slip:
            slip_s[i].append(dolfinx.fem.locate_dofs_topological(S, fdim, np.asarray(facets, np.int32)))
        self._solves = []   # per moving component: (component, boundary values, solution, bcs, group)
        self._groups = {}   # Dirichlet set -> [matrix, KSP, bcs]
        if solver == "auto":  # MUMPS for small meshes (cheaper per step), else CG + BoomerAMG
            solver = "lu" if mesh.topology.index_map(0).size_global <= AUTO_LU_MAX_VERTICES else "cg_amg"
        self.solver = solver
        if solver == "lu":
            defaults = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
        else:
            defaults = {"ksp_type": "cg", "pc_type": "hypre", "pc_hypre_type": "boomeramg",
                        "ksp_rtol": 1e-12, "ksp_atol": 1e-14}
        # defaults, then the user's options (``-stefan_ale_ksp_type`` ..., or unprefixed ones)
        petsc_options.register_prefix(prefix)
        petsc_options.apply(prefix, defaults)
        for i in self.components:
            # precedence: slip (d_i = 0 on a symmetry plane / the axis) over moving over fixed
            slip_i = np.unique(np.concatenate([np.zeros(0, np.int32), *slip_s[i]])).astype(np.int32)
            moving_i = np.setdiff1d(moving_s, slip_i).astype(np.int32)
            held = np.union1d(np.setdiff1d(fixed_s, moving_s), slip_i).astype(np.int32)
            g = dolfinx.fem.Function(S)    # component i of the interface displacement
            sol = dolfinx.fem.Function(S)  # component i of the extension
            bcs = [dolfinx.fem.dirichletbc(PETSc.ScalarType(0), held, S), dolfinx.fem.dirichletbc(g, moving_i)]
            key = held.tobytes() + b"|" + moving_i.tobytes()
            if key not in self._groups:
                A = fem_petsc.create_matrix(self.a)
                ksp = PETSc.KSP().create(mesh.comm)
                ksp.setOptionsPrefix(prefix)
                # iterative extension: the previous interface iterate's displacement starts CG (the
                # iterates of one step differ little); the first solve of a step starts from zero, as
                # a restart does (-<prefix>ksp_initial_guess_nonzero 0 turns it off)
                ksp.setInitialGuessNonzero(solver != "lu")
                ksp.setFromOptions()
                self._groups[key] = [A, ksp, bcs]
            self._solves.append((i, g, sol, bcs, key))
        self.b = fem_petsc.create_vector(dolfinx.fem.form(dolfinx.fem.Constant(mesh, 0.0) * v * ufl.dx))
        self._fresh = True

        self.node2dof = _node_to_dof(mesh, W)
        self.x_ref = mesh.geometry.x.copy()  # x^n
        self._reference = dolfinx.fem.Function(W, name="mesh_reference")  # x^n for checkpoints
        self.krylov_iterations = 0
        self.solves = 0

    # ------------------------------------------------------------------
    def _cellwise(self, expr) -> np.ndarray:
        self._work.interpolate(expr)
        return self._work.x.array.copy()

    def jacobian_determinants(self) -> np.ndarray:
        """det J of every local cell (ghosts included) in the current configuration."""
        return self._cellwise(self._det_expr)

    def min_cell_size(self) -> float:
        """Smallest cell size |det J|^(1/tdim) over all ranks, current configuration (collective)."""
        det = np.abs(self.jacobian_determinants())
        local = float(np.min(det, initial=np.inf)) ** (1.0 / self.tdim)
        return self.mesh.comm.allreduce(local, op=MPI.MIN)

    def begin_step(self) -> None:
        """Record x^n and assemble the extension operator on it."""
        self.x_ref[:] = self.mesh.geometry.x
        det = np.abs(self._cellwise(self._det_expr))
        self.stiffness.x.array[:] = (np.abs(self.det0) / np.maximum(det, 1e-300)) ** self.chi
        for A, ksp, bcs in self._groups.values():
            A.zeroEntries()
            fem_petsc.assemble_matrix(A, self.a, bcs=bcs)
            A.assemble()
            ksp.setOperators(A)
        self._fresh = True

    def reference_function(self) -> dolfinx.fem.Function:
        """x^n (the configuration of the last :meth:`begin_step`) as a P1 vector Function, for
        checkpoints: the mesh coordinates themselves may carry round-off from output scaling."""
        self._reference.x.array.reshape(-1, self.gdim)[self.node2dof] = self.x_ref[:, : self.gdim]
        return self._reference

    def restore_reference(self) -> None:
        """Back to the x^n held by :meth:`reference_function` (filled by a restart); call
        :meth:`begin_step` next."""
        self.x_ref[:, : self.gdim] = self._reference.x.array.reshape(-1, self.gdim)[self.node2dof]
        self.reset()

    def reset(self) -> None:
        """Back to x^n (zero step displacement)."""
        self.mesh.geometry.x[:] = self.x_ref
        self.disp.x.array[:] = 0.0
        self._fresh = True

    def extend(self) -> None:
        """d := extension of ``boundary_disp`` (computed on x^n), one scalar solve per moving component."""
        self.mesh.geometry.x[:] = self.x_ref
        bd = self.boundary_disp.x.array.reshape(-1, self.gdim)
        d = self.disp.x.array.reshape(-1, self.gdim)
        for i, g, sol, bcs, key in self._solves:
            A, ksp, _ = self._groups[key]
            g.x.array[:] = bd[self._sblock, i]
            with self.b.localForm() as bl:
                bl.set(0.0)
            fem_petsc.apply_lifting(self.b, [self.a], bcs=[bcs])
            self.b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            fem_petsc.set_bc(self.b, bcs)
            if self._fresh:
                sol.x.array[:] = 0.0
            ksp.solve(self.b, sol.x.petsc_vec)
            # the Dirichlet values exactly, whatever the Krylov tolerance: the interface and the fixed
            # boundary are where they must be (moles and the Stefan condition see only those)
            fem_petsc.set_bc(sol.x.petsc_vec, bcs)
            sol.x.scatter_forward()
            d[self._sblock, i] = sol.x.array
            self.krylov_iterations += ksp.getIterationNumber()
        self._fresh = False
        self.solves += 1

    def move(self) -> None:
        """x := x^n + d at every geometry node."""
        d = self.disp.x.array.reshape(-1, self.gdim)
        self.mesh.geometry.x[:, : self.gdim] = self.x_ref[:, : self.gdim] + d[self.node2dof]

    def quality(self) -> MeshQuality:
        """Size and shape ratios of the current mesh relative to the initial one (global minima)."""
        det = self._cellwise(self._det_expr)
        size = det / self.det0
        local_size = float(size.min()) if size.size else np.inf
        local_max = float(size.max()) if size.size else 0.0
        local_shape = 1.0
        if self._shape_expr is not None and size.size:
            shape = self._cellwise(self._shape_expr) / self.shape0
            shape = np.where(size > 0, shape, 0.0)
            local_shape = float(shape.min())
        comm = self.mesh.comm
        lo = np.empty(3)
        comm.Allreduce(np.array([local_size, local_shape, -local_max], dtype=np.float64), lo, op=MPI.MIN)
        return MeshQuality(float(lo[0]), float(lo[1]), float(-lo[2]))

    def destroy(self):
        for A, ksp, _ in self._groups.values():
            ksp.destroy()
            A.destroy()
        self.b.destroy()
