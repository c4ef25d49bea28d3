"""Newton solves through PETSc SNES (the DOLFINx 0.9 pattern).

DOLFINx 0.9 has no SNES-based ``NonlinearProblem``; following
``python/test/unit/nls/test_newton.py`` of DOLFINx 0.9, :class:`SNESSolver`
holds compiled residual and Jacobian forms and assembles them in SNES's F and
J callbacks.  Forms are compiled once; each Newton step only assembles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import ufl
from petsc4py import PETSc

import dolfinx.fem
import dolfinx.fem.petsc as fem_petsc

from fem import petsc_options


@dataclass
class SolveStats:
    """Outcome of one nonlinear solve."""

    converged: bool
    newton_iterations: int
    krylov_iterations: int
    reason: str


#: Newton defaults shared by :class:`SNESSolver` and :class:`fem.galvanostatic.BorderedNewton`
NEWTON_RTOL, NEWTON_ATOL, NEWTON_MAX_IT = 1e-10, 1e-12, 25
NON_FINITE = "non-finite iterate"


#: The ``auto`` linear solver of the block-preconditioned models (Cahn–Hilliard, PNP): LU (MUMPS)
#: up to this many unknowns, by the mesh's topological dimension, the scalable preconditioner
#: above.  Sparse LU costs ~N^1.5 (2D) but ~N^2 (3D, nested-dissection separators of N^(2/3)
#: nodes) flops.  Measured CPU seconds per step (tests/bench/bench_auto_threshold.py,
#: Cahn–Hilliard, tests/bench/README.md): in 3D LU is already 1.3x / 2.5x / 3.6x slower than the
#: factored-Schur fieldsplit at 1.5k / 3.5k / 6.8k unknowns (PNP: LU 5x slower at 12k), but the
#: iterative solver is the less robust one (large dt), so LU is kept where it costs < ~1 s/step:
#: 3D up to 5k.  In 2D LU costs 0.19 / 1.5 / 6.2 s per step at 10k / 50k / 126k unknowns: 50k.
#: 1D systems are banded: LU always.
AUTO_LU_MAX_DOFS = {1: 10**9, 2: 50_000, 3: 5_000}


def auto_lu_max_dofs(tdim: int) -> int:
    """Largest number of unknowns for which ``auto`` picks LU on a mesh of topological dimension ``tdim``."""
    return AUTO_LU_MAX_DOFS[int(tdim)]


def auto_uses_lu(ndofs: int, tdim: int) -> bool:
    """True when ``auto`` picks LU (MUMPS) for ``ndofs`` global unknowns on a ``tdim``-dimensional mesh."""
    return int(ndofs) <= auto_lu_max_dofs(tdim)


def with_quadrature_degree(form, degree: int, integral_type: str = "cell"):
    """``form`` with the quadrature degree of every integral of ``integral_type`` lowered to at most
    ``degree`` (an integral without a degree in its metadata gets ``degree``).

    For an inexact Newton Jacobian J~ = dF/du evaluated with a cheaper rule than F's: the iterates
    still converge to the root of F (the residual keeps its rule), J~ - J = O(h^2) relative on P1
    (midpoint-rule error of the nonlinear coefficient), so Newton's rate is only perturbed, not lost."""
    def lowered(itg):
        q = min(int(degree), int(itg.metadata().get("quadrature_degree", degree)))
        return itg.reconstruct(metadata={**itg.metadata(), "quadrature_degree": q})
    return ufl.Form([lowered(itg) if itg.integral_type() == integral_type else itg for itg in form.integrals()])


class CSRMatrixAssembler:
    """Assemble a bilinear form (no boundary conditions) into a PETSc matrix through DOLFINx's own
    CSR matrix: the cells' blocks are added in C++ to a :class:`dolfinx.la.MatrixCSR` (ghost rows
    sent to their owners by ``scatter_reverse``), then the owned rows go into ``A`` with one
    ``MatSetValues`` per row (global column indices, computed once; same sparsity as
    ``dolfinx.fem.petsc.create_matrix(form)``).  Equal to ``dolfinx.fem.petsc.assemble_matrix``
    to round-off (the same sums); faster because each cell block is not inserted through PETSc's
    ``MatSetValuesLocal``: measured on the 50-grain particle's Jacobian, 100 -> 89 ms at 97k cells
    (serial) and 16.3 -> 12.5 ms at 30k cells on 2 ranks.  Costs one more copy of the matrix's
    values and column indices.  Spaces of block size > 1 are assembled by
    ``dolfinx.fem.petsc.assemble_matrix``."""

    def __init__(self, form: dolfinx.fem.Form, A: PETSc.Mat, *, pattern: dolfinx.fem.Form | None = None,
                 add_values=None):
        """``pattern``: the form whose sparsity ``A`` has (default ``form``); ``add_values(data)``: adds
        values to the CSR value array (all local rows, before the reverse scatter), e.g. cell blocks
        assembled apart (:class:`fem.p1_cells.P1DiffusionCells`)."""
        self.form, self.A, self.add_values = form, A, add_values
        self.csr = dolfinx.fem.create_matrix(form if pattern is None else pattern)
        if tuple(self.csr.block_size) != (1, 1):  # blocked spaces (e.g. (c, mu) on P1^2): through PETSc
            if add_values is not None:
                raise ValueError("CSRMatrixAssembler: values added apart need a space of block size 1")
            self.csr = None
            return
        rows = self.csr.index_map(0).size_local
        self.indptr = self.csr.indptr[:rows + 1].astype(PETSc.IntType)
        nnz = int(self.indptr[-1])
        self.columns = self.csr.index_map(1).local_to_global(
            self.csr.indices[:nnz].astype(np.int32)).astype(PETSc.IntType)
        self.nnz = nnz

    def assemble(self) -> PETSc.Mat:
        if self.csr is None:
            self.A.zeroEntries()
            fem_petsc.assemble_matrix(self.A, self.form)
            self.A.assemble()
            return self.A
        data = self.csr.data
        data[:] = 0.0
        dolfinx.fem.assemble_matrix(self.csr, self.form)
        if self.add_values is not None:
            self.add_values(data)
        self.csr.scatter_reverse()
        self.A.setValuesCSR(self.indptr, self.columns, data[:self.nnz], addv=PETSc.InsertMode.INSERT)
        self.A.assemble()
        return self.A


def all_finite(u: dolfinx.fem.Function) -> bool:
    """True when every value of ``u`` (ghosts included) is finite on every rank (collective)."""
    return bool(u.function_space.mesh.comm.allreduce(bool(np.isfinite(u.x.array).all()), op=_mpi_land()))


def residual_converged(norm: float, norm0: float, rtol: float = NEWTON_RTOL, atol: float = NEWTON_ATOL,
                       floor: float = 0.0) -> bool:
    """The residual test of SNES's default convergence test, ``||F|| <= max(rtol ||F_0||, atol)``,
    with an optional round-off ``floor`` (for Newton loops written outside SNES)."""
    return norm <= max(rtol * norm0, atol, floor)


def checked_stats(u: dolfinx.fem.Function, converged: bool, its: int, kits: int, reason: str) -> SolveStats:
    """SolveStats of a finished Newton solve, failed (reason ``non-finite iterate``) unless
    ``u`` is finite on every rank (collective)."""
    finite = all_finite(u)
    return SolveStats(bool(converged) and finite, its, kits, reason if finite else NON_FINITE)


def field_index_sets(W, groups, sort: bool = True) -> list[tuple[str, PETSc.IS]]:
    """PETSc index sets (global numbers of the owned dofs) of named groups of sub-spaces of the
    mixed space ``W``: ``groups = [(name, [i, j, ...]), ...]``.

    ``sort=True``: ascending (PETSc's additive/multiplicative fieldsplit requires it).
    ``sort=False``: the dofs of a sub-space keep the order of ``W.sub(i).collapse()``, so two
    sub-spaces of the same element give index sets that correspond node by node (a Schur
    fieldsplit's off-diagonal blocks are then square matrices between matching nodes, which
    :class:`FactoredSchurPC` relies on).  Ownership is per mesh entity, so matching nodes live
    on the same rank.
    """
    return [(name, PETSc.IS().createGeneral(global_dofs(W, subs, sort), comm=W.mesh.comm)) for name, subs in groups]


def global_dofs(W, subs, sort: bool = True) -> np.ndarray:
    """Global (PETSc) numbers of the owned dofs of the sub-spaces ``subs`` of ``W`` (a mixed space,
    or a blocked one, e.g. P1^n: global number = global block * bs + component), in the order of
    ``W.sub(i).collapse()`` per sub-space (``sort=False``) or ascending."""
    imap, bs = W.dofmap.index_map, W.dofmap.index_map_bs
    parts = []
    for i in subs:
        dofs = np.asarray(W.sub(i).collapse()[1], dtype=np.int64)
        parts.append(dofs[dofs < imap.size_local * bs])
    local = np.concatenate(parts)
    glob = (imap.local_to_global((local // bs).astype(np.int32)) * bs + local % bs).astype(PETSc.IntType)
    return np.sort(glob) if sort else glob


#: :class:`FactoredSchurPC`: AMG V-cycles per application of the right factor (Richardson on its AMG;
#: 1: KSP preonly, ``-<pc prefix>r_ksp_type preonly`` restores it).  Measured (tests/bench/README.md,
#: session 13; 3D particle, dt 0.02 R^2/D, Krylov per Newton step at 92k / 400k / 1.0M unknowns): one
#: V-cycle on each factor 10.5 / 13.0 / 14.5 (+38 %); exact (LU) factors 8.0 / 8.0 (so the growth is
#: the AMG's, not the Schur approximation's); two V-cycles on the left factor 10.0 / 11.5, on the right
#: factor 9.0 / 9.5 / 11.0 (+22 %; 400k: 7.3 s per step against 7.5 s with one, back to back), on both
#: 8.0 / 9.0 / 9.5 (400k: 8.8 s).  The unit-square test at dt = 2 L^2/D (exact A00, the mobility
#: derivative dominating): 11.0 -> 13.0 (tests/test_solver_config.py).  On 2 ranks the solve is not
#: faster (400k: +25 %, 1.0M: +2 % per step, same day): fewer Krylov iterations, costlier ones
RIGHT_FACTOR_CYCLES = 2


class FactoredSchurPC:
    """Python PC (``-<prefix>fieldsplit_<1>_pc_type python -..._pc_python_type fem.solver.FactoredSchurPC``)
    for the Schur complement S = A11 - A10 A00^-1 A01 of a 2x2 system whose A00 is a (lumped)
    mass matrix over dt and A11 a mass matrix: the mixed Cahn–Hilliard Jacobian in (c, mu),

        [ M/dt          K_M ] [dc ]      M   (lumped) mass,  K_M mobility-weighted stiffness,
        [ -(G + kappa K)  M ] [dmu],     G   g''(c)-weighted mass (convex part for the split scheme),

    S = M + dt (G + kappa K) M^-1 K_M.  Following the Schur approximation (M + eps K) M^-1 (M + eps K),
    eps = sqrt(dt kappa m0), of Bosch, Stoll & Benner (Cahn–Hilliard with implicit time stepping,
    J. Comput. Phys. 2014) and of Boyanova, Do-Quang & Neytcheva ("Solution methods for the
    Cahn–Hilliard equation discretized by conforming and non-conforming finite elements"), with
    the lumped mass of Zheng, Chen, Hu, Chen, Nochetto & Xu (J. Sci. Comput. 69 (2016), fourth-order
    parabolic problems: lumped-mass preconditioners solved inexactly by multigrid), S is
    approximated by the product of two second-order operators built *from the Jacobian's blocks*

        S^ = (A11 - alpha A10) A11^-1 (A11 + beta A01) = S + (alpha (G + kappa K) + beta K_M),
        alpha beta = dt,  alpha / beta = m0 / kappa  (m0/kappa ~ sum|diag A01| / sum|diag A10|),

    i.e. (M + alpha (G + kappa K)) M^-1 (M + beta K_M); for constant mobility m0 and G = 0 this is
    exactly the Bosch–Stoll–Benner preconditioner, whose preconditioned Schur complement has its
    spectrum in [1/2, 1] for every h and dt.  Variable mobility and G >= 0 keep both factors SPD.
    dt is read off the blocks (dt = sum diag A11 / sum diag A00), G's mean g = sum(-A10 1) / sum diag A11
    (K 1 = 0), and alpha is capped at 1/g so that alpha G <= M: for large dt the G part of S is then
    matched by beta K_M (beta = dt g) instead of overestimated by alpha G.

    Large dt: A00 also holds the mobility-derivative term N (M'(c) grad mu . grad q, a conservative
    advection of c), which outgrows M/dt for dt ~ R^2/D (and at smaller dt on finer meshes).  The
    right factor and the middle operator are therefore built from the *assembled* A00 rather than
    from the mass matrix it is at small dt:

        S^ = (A11 - alpha A10) (dt A00)^-1 (dt A00 + beta A01),    dt A00 = M + dt N,

    which expands to S + alpha (G + kappa K) + beta M (M + dt N)^-1 K_M (the Bosch–Stoll–Benner
    error terms) and is the preconditioner above when N = 0 (dt A00 = M for the lumped mass).
    Measured (tests/bench/README.md, 3D particle, 7.3k dofs, dt = 2 R^2/D, exact A00 solve):
    26.5 Krylov per Newton with the assembled A00, no convergence in 150 with the mass matrix
    (``-<pc prefix>a00 mass`` restores the earlier form); at dt = 0.2 R^2/D 10 instead of 28.
    The A00 solve itself (the ``c`` split) then limits: point Jacobi fails once N matters (2D,
    h = 0.014, dt = 0.02: no convergence; 11 Krylov with ILU(0), the default now); at dt = 2 R^2/D
    in 3D only an exact A00 solve (``-<prefix>fieldsplit_c_pc_type lu``) converged (ILU(0), ILU(2),
    GMRES+ILU(0) and GMRES+BoomerAMG to rtol 1e-3 did not), and at 29k dofs dt = 0.2 R^2/D fails
    with ILU(0) (60.5 Krylov/Newton with an exact A00 solve): both the A00 solve and this Schur
    approximation degrade with h once N dominates.  These large-dt figures are first steps from a
    noisy quench, whose projected mu^0 has mesh-scale gradients (N large); after one small step
    the default (ILU(0) on A00) converges at dt = 2 R^2/D at 7.3k dofs (11 Krylov/Newton) and at
    dt = 0.2 R^2/D at 400k (16) (tests/bench/README.md, session 8).  Applying S^-1 costs three AMG
    V-cycles (sub-solvers ``<pc prefix>l_``: KSP preonly, and ``<pc prefix>r_``: two Richardson steps,
    :data:`RIGHT_FACTOR_CYCLES`; PETSc GAMG with SSOR smoothing by default,
    :func:`fem.petsc_options.gamg_sor`; ``pc_type hypre`` under either prefix
    gives BoomerAMG, the default before session 11) and one multiplication by dt A00 (by A11 with ``a00 mass``), instead
    of the AMG on the assembled fourth-order product of ``selfp``.  ``-<pc prefix>amg_lag k``: the
    two hierarchies serve up to k setups at the same dt (the Newton steps of one time step; CH
    default 2: 400k-unknown sphere, dt 0.02 R^2/D, the same 13.0 Krylov per Newton, 8.5 % less time
    per step); the factors themselves are rebuilt from the current Jacobian at every setup.

    The blocks must correspond node by node (same element for both fields; :func:`field_index_sets`).
    """

    def __init__(self):
        self.ksp_l = self.ksp_r = self.HL = self.HR = self.A11 = self.work = self.M00 = None
        self.use_a00 = None
        self._mats, self._inside = {}, {}  # the combined matrices and whether Y's pattern is inside X's
        self.amg_lag, self._uses, self._built_dt = 1, 0, None
        self.amg_builds = 0  # how many times the two hierarchies were built (for tests and benchmarks)

    def _ksp(self, pc, name):
        prefix = (pc.getOptionsPrefix() or "") + name
        db = PETSc.Options()
        if db.getString(prefix + "pc_type", "gamg") == "hypre":
            # BoomerAMG without aggressive coarsening: on these mass + Laplacian operators it cost
            # 14.3 -> 10.0 Krylov iterations per Newton step at 29k dofs (3D particle, measured)
            amg = {**petsc_options.boomeramg(), "pc_hypre_boomeramg_agg_nl": 0}
        else:
            # smoothed aggregation with SSOR smoothing (petsc_options.gamg_sor): the same Krylov counts as
            # BoomerAMG (3D particle, dt 0.02 R^2/D: 9.0 / 10.5 / 13.0 at 29k / 92k / 400k unknowns) at a
            # third of its V-cycle cost (BoomerAMG's HMIS/ext+i hierarchy had operator complexity 2.8)
            amg = petsc_options.gamg_sor()
        # the right factor dt A00 + beta A01 (with the advection N of A00) gets two V-cycles, the left one
        # (SPD) one: RIGHT_FACTOR_CYCLES
        cycles = RIGHT_FACTOR_CYCLES if name == "r_" else 1
        krylov = ({"ksp_type": "richardson", "ksp_max_it": cycles, "ksp_norm_type": "none"} if cycles > 1
                  else {"ksp_type": "preonly"})
        for k, v in {**krylov, **amg}.items():
            if not db.hasName(prefix + k):  # defaults; a user option under the prefix wins
                db[prefix + k] = v
        ksp = PETSc.KSP().create(pc.comm)
        ksp.setOptionsPrefix(prefix)
        ksp.setFromOptions()
        return ksp

    def _combine(self, name, X, a, Y, b):
        """The matrix ``name`` := a X + b Y, its pattern fixed at the first call (the Jacobian's
        sub-blocks keep theirs).  When Y's pattern is inside X's (the CH blocks: every block has the
        P1 pattern, or the lumped-mass block only its diagonal) it is X's own, and later calls are
        a copy, a scale and a sparse add of Y (MatCopy/MatAXPY with a known pattern: 0.24 -> ~0.05 s
        per step at 92k dofs instead of rebuilding the union pattern at every setup)."""
        Z = self._mats.get(name)
        SAME, SUBSET = PETSc.Mat.Structure.SAME_NONZERO_PATTERN, PETSc.Mat.Structure.SUBSET_NONZERO_PATTERN
        if Z is None:
            Z = X.duplicate(copy=True)
            Z.scale(a)
            Z.axpy(b, Y, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
            inside = Z.getInfo()["nz_used"] == X.getInfo()["nz_used"]  # this rank's rows
            self._inside[name] = X.getComm().tompi4py().allreduce(inside, op=_mpi_land())
            if self._inside[name]:  # Z with X's exact structure (MatCopy needs it)
                Z.destroy()
                Z = X.duplicate(copy=True)
                Z.scale(a)
                Z.axpy(b, Y, structure=SUBSET)
            self._mats[name] = Z
        elif self._inside[name]:
            X.copy(Z, structure=SAME)
            Z.scale(a)
            Z.axpy(b, Y, structure=SUBSET)
        else:  # Z holds the union of both patterns
            Z.zeroEntries()
            Z.axpy(a, X, structure=SUBSET)
            Z.axpy(b, Y, structure=SUBSET)
        return Z

    def setUp(self, pc):
        S, _ = pc.getOperators()
        A00, _, A01, A10, A11 = S.getSchurComplementSubMatrices()
        if self.use_a00 is None:
            db, prefix = PETSc.Options(), pc.getOptionsPrefix() or ""
            self.use_a00 = db.getString(prefix + "a00", "assembled") == "assembled"
        d00, d11, d01, d10 = (m.getDiagonal() for m in (A00, A11, A01, A10))
        g1, ones = A10.createVecLeft(), A10.createVecRight()
        ones.set(1.0)
        A10.mult(ones, g1)                   # A10 1 = -(G 1 + kappa K 1) = -G 1 (K 1 = 0)
        m_sum, g_sum = d11.sum(), -g1.sum()  # sum of the (lumped) masses, of G's row sums
        dt = m_sum / d00.sum()
        one = PETSc.NormType.NORM_1
        k_sum = max(d10.norm(one) - abs(g_sum), 1e-300)   # sum kappa diag(K)
        ratio = d01.norm(one) / k_sum                   # ~ m0 / kappa
        g = max(g_sum / m_sum, 0.0)                     # mean g'' (convex part)
        alpha = np.sqrt(dt * ratio)
        if g > 0:  # keep alpha G <= M: the G term of S is matched by beta K_M instead (large dt)
            alpha = min(alpha, 1.0 / g)
        beta = dt / alpha
        self.last = {"dt": dt, "m0_over_kappa": ratio, "g_mean": g, "alpha": alpha, "beta": beta}
        for m in (d00, d11, d01, d10, g1, ones):
            m.destroy()
        self.HL = self._combine("HL", A10, -alpha, A11, 1.0)   # A11 - alpha A10
        self.A11 = A11
        if self.use_a00:  # right factor and middle from the assembled c-block: dt A00 = M + dt N
            if self.M00 is None:
                self.M00 = A00.duplicate(copy=True)
            else:
                A00.copy(self.M00, structure=PETSc.Mat.Structure.SAME_NONZERO_PATTERN)
            self.M00.scale(dt)
            self.HR = self._combine("HR", A00, dt, A01, beta)    # dt A00 + beta A01
            self.A11 = self.M00
        else:
            self.HR = self._combine("HR", A01, beta, A11, 1.0)   # A11 + beta A01
        if self.ksp_l is None:
            self.ksp_l, self.ksp_r = self._ksp(pc, "l_"), self._ksp(pc, "r_")
            self.amg_lag = max(PETSc.Options().getInt((pc.getOptionsPrefix() or "") + "amg_lag", 1), 1)
        # amg_lag k > 1: the two AMG hierarchies serve up to k setups at the same dt (within 5 %, as
        # dt read off the blocks moves with the state through N in A00: the Newton steps of one time
        # step) and are rebuilt when dt changes (a cut or grown step moves alpha, beta and M/dt); the
        # factors' values are always the current ones, only their V-cycles are the older ones
        reuse = self._built_dt is not None and abs(dt - self._built_dt) <= 0.05 * self._built_dt \
            and self._uses < self.amg_lag
        self._uses = self._uses + 1 if reuse else 1
        if not reuse:
            self._built_dt = dt
            self.amg_builds += 1
        for ksp, H in ((self.ksp_l, self.HL), (self.ksp_r, self.HR)):
            ksp.getPC().setReusePreconditioner(reuse)
            ksp.setOperators(H)
            ksp.setUp()
        if self.work is None:
            self.work = (A11.createVecLeft(), A11.createVecLeft())

    def apply(self, pc, x, y):
        t1, t2 = self.work
        self.ksp_l.solve(x, t1)       # (A11 - alpha A10)^-1 x
        self.A11.mult(t1, t2)         # A11 (.)
        self.ksp_r.solve(t2, y)       # (A11 + beta A01)^-1 (.)

    def view(self, pc, viewer=None):
        pass

    def destroy(self, pc):
        for obj in (self.ksp_l, self.ksp_r, self.HL, self.HR, self.M00, *(self.work or ())):
            if obj is not None:
                obj.destroy()


_SNES_REASONS = {v: k for k, v in vars(PETSc.SNES.ConvergedReason).items() if isinstance(v, int)}


class SNESSolver:
    """Solve F(u; v) = 0 for ``u`` with PETSc SNES.

    Parameters
    ----------
    F : UFL residual form, linear in the test function.
    u : the unknown (any function space, mixed spaces included).
    bcs : Dirichlet conditions.
    J : Jacobian form; default is the Gateaux derivative of F.
    prefix : PETSc options prefix for this solver.
    options : default PETSc options (user options from the CLI override).
    fields : named groups of sub-spaces of a mixed ``u`` (``[("phi", [0]), ("species", [1, 2])]``):
        when the resulting preconditioner is ``fieldsplit`` (by default or by a user option), these
        become its splits (:func:`field_index_sets`), addressed as ``-<prefix>fieldsplit_<name>_...``.
    """

    before_jacobian = None  # callable run before each Jacobian assembly (u holds the state)

    def __init__(self, F, u: dolfinx.fem.Function, bcs=(), J=None, *, prefix="solidion_",
                 options=None, form_compiler_options=None, jit_options=None, fields=None):
        self.u = u
        self.bcs = list(bcs)
        V = u.function_space
        if J is None:
            J = ufl.derivative(F, u, ufl.TrialFunction(V))
        kw = dict(form_compiler_options=form_compiler_options, jit_options=jit_options)
        self.L = dolfinx.fem.form(F, **kw)
        self.a = dolfinx.fem.form(J, **kw)
        self.b = fem_petsc.create_vector(self.L)
        self.A = fem_petsc.create_matrix(self.a)
        self.x = fem_petsc.create_vector(self.L)

        comm = V.mesh.comm
        self.snes = PETSc.SNES().create(comm)
        self.snes.setOptionsPrefix(prefix)
        petsc_options.register_prefix(prefix)
        defaults = {"snes_type": "newtonls", "snes_linesearch_type": "basic",
                    "snes_rtol": NEWTON_RTOL, "snes_atol": NEWTON_ATOL, "snes_stol": 0.0,
                    "snes_max_it": NEWTON_MAX_IT, "snes_error_if_not_converged": False}
        options = dict(options or {})
        if "pc_type" not in options and "ksp_type" not in options:
            defaults.update(petsc_options.direct_lu())
        defaults.update(options)
        petsc_options.apply(prefix, defaults)
        self.snes.setFunction(self._F, self.b)
        self.snes.setJacobian(self._J, self.A)
        self.snes.setFromOptions()
        self.snes.getKSP().setFromOptions()
        self.fields = list(fields or [])
        if self.fields and self.snes.getKSP().getPC().getType() == PETSc.PC.Type.FIELDSPLIT:
            pc = self.snes.getKSP().getPC()
            pc.setFieldSplitIS(*field_index_sets(V, self.fields))
            self.snes.getKSP().setFromOptions()
        self.total_newton = 0
        self.total_krylov = 0
        self._jacobian_built = False
        self._reuse_jacobian = False
        self._callback_error: BaseException | None = None
        self._bc_work = None  # scratch array of _bcs_hold
        self._blocked = None  # (BAIJ matrix, compressed CSR rows, columns, kept entries): compress_pattern
        # wall-clock split: residual + Jacobian assembly vs the rest of SNES (linear solves)
        self.time_assembly = 0.0
        self.time_total = 0.0

    # SNES callbacks ------------------------------------------------------
    # An exception raised inside a callback (a bug, or a fault on one rank) is
    # kept and re-raised by :meth:`solve`: PETSc would report it as an error
    # code on this rank only, which must never be taken for a solver failure
    # (the step would be retried while the other ranks wait in a collective).
    def _F(self, snes, x, F):
        try:
            self._assemble_F(x, F)
        except BaseException as e:
            self._callback_error = e
            raise

    def _J(self, snes, x, J, P):
        try:
            self._assemble_J(x, J)
        except BaseException as e:
            self._callback_error = e
            raise

    def _assemble_F(self, x, F):
        tic = time.perf_counter()
        x.ghostUpdate(addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
        x.copy(self.u.x.petsc_vec)
        self.u.x.scatter_forward()
        with F.localForm() as f_local:
            f_local.set(0.0)
        self._assemble_residual(F, x)
        F.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem_petsc.set_bc(F, self.bcs, x, -1.0)
        self.time_assembly += time.perf_counter() - tic

    def _assemble_J(self, x, J):
        if self._reuse_jacobian:
            return
        self._jacobian_built = True
        tic = time.perf_counter()
        J.zeroEntries()
        self._refresh_coefficients()
        self._assemble_matrix(J)
        J.assemble()
        self.time_assembly += time.perf_counter() - tic

    # The two assembly calls; a solver with constraints (fem.periodic) replaces only these.
    def _assemble_residual(self, F, x):
        """F += residual, lifted by the Dirichlet conditions (u already holds x)."""
        fem_petsc.assemble_vector(F, self.L)
        if not self._bcs_hold():
            self._refresh_coefficients()  # the lifting assembles the Jacobian form at u
            fem_petsc.apply_lifting(F, [self.a], bcs=[self.bcs], x0=[x], alpha=-1.0)

    def _refresh_coefficients(self):
        """Before the Jacobian form is assembled (the Jacobian, the lifting, the pattern probe):
        the model's ``before_jacobian`` refreshes the coefficients it reads (e.g. cell averages)."""
        if self.before_jacobian is not None:
            self.before_jacobian()

    def compress_pattern(self, functions, seed=20261202, low=-0.5, high=0.5):
        """Replace the Jacobian matrix by one without the entries that are zero whatever the
        state: the pattern of one Jacobian assembled (with the Dirichlet conditions) at a random
        state (uniform in [low, high]) of ``functions`` (the unknown and every Function the forms
        read; restored after), its exact zeros dropped, the diagonal kept.  An entry that is zero
        at a random state is zero at every state (with probability one: entries are smooth
        functions of the state), so later assemblies drop what falls outside the pattern (cell
        contributions that cancel, to round-off) and skip exact zeros.  Matrix-vector products,
        fieldsplit sub-matrices and their AMG setups then work on the structural nonzeros only.  Returns the global nonzero counts
        (mixed pattern, kept).  Call before anything else holds ``self.A``.

        On a blocked space (``u`` in P_k^n, index_map_bs = n > 1) the Jacobian is then assembled into a
        block-CSR matrix (PETSc BAIJ, n x n blocks per pair of nodes: one insertion per block instead
        of n^2 searched scalar insertions) and its structural nonzeros are copied into the compressed
        matrix, whose CSR order is the block matrix's with the zeros left out (a gather).  Measured
        (PNP, 3 fields, 120k unknowns, serial): 0.97 s per Jacobian into the compressed AIJ matrix
        from a mixed space, 0.48 s into BAIJ plus 0.04 s for the copy; the values are the same."""
        A = self.A
        bs = self.u.function_space.dofmap.index_map_bs
        if bs > 1:
            A = fem_petsc.create_matrix(self.a, mat_type="baij")
        saved = [f.x.array.copy() for f in functions]
        rng = np.random.default_rng(seed + A.comm.rank)
        for f in functions:
            f.x.array[:] = rng.uniform(low, high, f.x.array.size)
            f.x.scatter_forward()
        try:
            self._refresh_coefficients()
            A.zeroEntries()
            fem_petsc.assemble_matrix(A, self.a, bcs=self.bcs)
            A.assemble()
        finally:
            for f, a in zip(functions, saved):
                f.x.array[:] = a
                f.x.scatter_forward()
        indptr, cols, vals = A.getValuesCSR()
        r0, r1 = A.getOwnershipRange()
        rows = np.repeat(np.arange(r0, r1, dtype=cols.dtype), np.diff(indptr))
        keep = (vals != 0) | (cols == rows)
        counts = np.bincount(rows[keep] - r0, minlength=r1 - r0)
        new_indptr = np.concatenate([[0], np.cumsum(counts)]).astype(PETSc.IntType)
        kept_cols = cols[keep].astype(PETSc.IntType)
        B = PETSc.Mat().createAIJ(A.getSizes(), bsize=bs, csr=(new_indptr, kept_cols, np.zeros(len(kept_cols))),
                                  comm=A.comm)
        B.setLGMap(*A.getLGMap())
        # cell contributions outside the pattern are dropped, not an error: a kept-out entry can be
        # a sum of nonzero cell contributions that cancel (P1 stiffness couplings on structured
        # tetrahedral meshes), and an error inside DOLFINx's (release-build) MatSetValuesLocal is
        # not checked: it would silently skip the rest of that cell's element matrix
        B.setOption(PETSc.Mat.Option.NEW_NONZERO_LOCATIONS, False)
        B.setOption(PETSc.Mat.Option.IGNORE_ZERO_ENTRIES, True)
        comm = self.u.function_space.mesh.comm
        nnz = (comm.allreduce(len(vals)), comm.allreduce(int(keep.sum())))
        self.snes.setJacobian(self._J, B)
        if bs > 1:  # keep the block matrix: assemble into it, gather the kept entries (_assemble_matrix)
            self._blocked = (A, new_indptr, kept_cols, np.flatnonzero(keep))
        self.A.destroy()  # (bs == 1: the probed matrix itself)
        self.A = B
        return nnz

    def _bcs_hold(self) -> bool:
        """True when u (= x, ghosts included) already takes every Dirichlet value exactly on this
        rank's constrained dofs: the lifting A (g - x) then adds exact zeros and is skipped (it
        costs a Jacobian kernel on every cell with a constrained dof, ~25 % of a Jacobian
        assembly for PNP's carriers fixed in whole materials).  Newton iterates started from a
        state that satisfies the conditions keep satisfying them (the bc rows of J are identity
        rows and F = x - g = 0 there; measured exact for PNP + GMRES/SlotboomPC); otherwise the
        lifting is applied as before.  Results are unchanged (0 + 0 * A)."""
        if not self.bcs:
            return True
        arr = self.u.x.array
        if self._bc_work is None or len(self._bc_work) != len(arr):
            self._bc_work = np.empty_like(arr)
        for bc in self.bcs:
            dofs = bc.dof_indices()[0]
            bc.set(self._bc_work, x0=arr, alpha=1.0)  # work[dofs] = g - x
            if np.any(self._bc_work[dofs] != 0):
                return False
        return True

    def _assemble_matrix(self, J):
        if self._blocked is None:
            fem_petsc.assemble_matrix(J, self.a, bcs=self.bcs)
            return
        Ab, indptr, cols, kept = self._blocked  # compress_pattern on a blocked space
        Ab.zeroEntries()
        fem_petsc.assemble_matrix(Ab, self.a, bcs=self.bcs)
        Ab.assemble()
        J.setValuesCSR(indptr, cols, Ab.getValuesCSR()[2][kept])

    # ---------------------------------------------------------------------
    def solve(self, reuse_jacobian: bool = False) -> SolveStats:
        """Newton solve from the current value of ``u``; ``u`` holds the result.

        ``reuse_jacobian=True`` keeps the Jacobian (and its preconditioner, e.g.
        the AMG hierarchy) of the previous solve: right for a linear problem
        whose operator has not changed (same time step); never for a
        nonlinear one.

        On divergence (or a non-finite iterate) ``u`` is left as SNES left it;
        the caller restores the previous state and cuts the step.
        """
        # An untouched matrix keeps its PETSc object state, so KSP also keeps
        # the preconditioner built for it.
        self._reuse_jacobian = bool(reuse_jacobian) and self._jacobian_built
        self.u.x.scatter_forward()
        self.u.x.petsc_vec.copy(self.x)
        tic = time.perf_counter()
        self._callback_error = None
        try:
            self.snes.solve(None, self.x)
        except PETSc.Error as e:  # e.g. a factorization failure
            if self._callback_error is not None:
                raise self._callback_error from None
            return SolveStats(False, self.snes.getIterationNumber(), 0, f"PETSc error {e.ierr}")
        finally:
            self.time_total += time.perf_counter() - tic
        if self._callback_error is not None:
            raise self._callback_error
        reason = self.snes.getConvergedReason()
        its = self.snes.getIterationNumber()
        kits = self.snes.getLinearSolveIterations()
        self.x.copy(self.u.x.petsc_vec)
        self.u.x.scatter_forward()
        self.total_newton += its
        self.total_krylov += kits
        return checked_stats(self.u, reason > 0, its, kits, _SNES_REASONS.get(reason, str(reason)))

    def timings(self) -> dict[str, float]:
        """Seconds spent in SNES: assembly (F and J) and the rest (linear solves, line search)."""
        return {"snes_s": self.time_total, "assembly_s": self.time_assembly,
                "linear_solve_s": self.time_total - self.time_assembly}

    def destroy(self):
        for obj in (self.snes, self.A, self.b, self.x) + (self._blocked[:1] if self._blocked else ()):
            obj.destroy()


def _mpi_land():
    from mpi4py import MPI
    return MPI.LAND
