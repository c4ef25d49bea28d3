"""Cell terms of nonlinear diffusion for P1 on affine simplices, assembled in numpy from element
matrices computed once (the galvanostatic particle's Newton, issue 13 goal 3).

For  dx/dt = div( g(x) T grad x )  with T constant on each cell (the per-grain rotated tensor, a DG0
field) and P1 on an affine cell K (vertices' basis gradients G, constant on K)::

    int_K dcdt v_i dx              = sum_j M_K,ij dcdt_j,          M_K = |K| M_ref (the P1 mass)
    int_K g(x) T grad x . grad v_i = gbar_K (S_K x_K)_i,           S_K = |K| G T G^T
    gbar_K = (1/|K|) int_K g(x) dx   (the residual's own quadrature rule, degree 2p + 1 = 3)

so the residual needs, per Newton iteration, x at the rule's points, g there, and S_K x_K; the
Jacobian with the one-point flux rule (fem.models.intercalation.JACOBIAN_QUADRATURE_DEGREE = 1; the
centroid, where x = mean of the vertex values xbar_K) is

    J_K = (a0/dt) M_K + g(xbar_K) S_K + g'(xbar_K) (S_K x_K) 1^T / (d + 1).

These are the integrals the generated kernels compute (same rules, same sums up to their order:
equal to round-off, tests/test_solver_config.py), without DOLFINx's per-cell work (packing the
coefficients, the geometry, the insertion of each cell block): the blocks are added to the CSR
value array (``np.add.at``, in chunks of cells) at positions found once.  Measured on the 50-grain
particle at 18k unknowns (97k cells), per assembly, against the generated forms through DOLFINx
(with the blocks summed by one ``np.bincount``, ~20 ms faster per Jacobian at 663k cells but with
temporaries of ~0.2 kB per cell): cell terms of F 10.5 vs 25.2 ms serially and 4.9 vs 12.4 ms on 2
ranks; the Jacobian (with its surface terms) 34 vs 58 ms and 15 vs 50 ms.  The 491k discharge on 2
ranks: README.  Storage: S_K (float64) and the positions (int32), ~0.2 kB per tetrahedron.

Applies when the field is P1 on affine simplices (no curved geometry), T is a constant or DG0 tensor
and g has a numpy derivative (``constant``/``exponential`` laws); else the model keeps the generated
forms (:func:`applicable`).
"""

from __future__ import annotations

from typing import Callable

import basix
import numpy as np
from mpi4py import MPI

import dolfinx.fem


def applicable(V, tensor) -> bool:
    """P1 Lagrange on an affine simplex mesh, and ``tensor`` a numpy matrix or a DG0 tensor Function."""
    import dolfinx.mesh
    mesh = V.mesh
    el = V.ufl_element()
    ok_space = (el.degree == 1 and V.dofmap.index_map_bs == 1 and mesh.geometry.cmap.degree == 1
                and mesh.topology.cell_type in (dolfinx.mesh.CellType.triangle, dolfinx.mesh.CellType.tetrahedron))
    ok_tensor = isinstance(tensor, np.ndarray) or (
        isinstance(tensor, dolfinx.fem.Function)
        and tensor.function_space.ufl_element().degree == 0)
    return bool(mesh.comm.allreduce(ok_space and ok_tensor, op=MPI.LAND))


#: cells per chunk of the set-up and of the Jacobian's blocks
CHUNK = 200_000


class P1DiffusionCells:
    """The cell terms (module docstring) of the owned cells of ``V``'s mesh.

    tensor : (d, d) numpy matrix or DG0 tensor Function T; g, dg : numpy x -> g(x), g'(x);
    history : the field's :class:`fem.time_schemes.BDFHistory` (u, u^n, u^{n-1} and the BDF's a0, a1,
        a2, dt, read at each assembly);
    residual_degree : quadrature degree of the residual's flux term (the generated form's).
    """

    def __init__(self, V, tensor, g: Callable, dg: Callable, history, residual_degree: int):
        mesh = V.mesh
        d = mesh.topology.dim
        n = mesh.topology.index_map(d).size_local  # owned cells: DOLFINx integrates over these
        self.g, self.dg, self.history = g, dg, history
        self.cells = V.dofmap.list[:n].astype(np.int64)  # (n, d + 1) local dofs
        self.n_local = V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts
        cell_type = basix.CellType.triangle if d == 2 else basix.CellType.tetrahedron
        # S_K and |det J_K| from the vertex coordinates (affine P1 geometry), in chunks of cells (bounded
        # temporaries at millions of cells)
        self.S = np.empty((n, d + 1, d + 1))
        self.abs_det = np.empty(n)
        ref_grad = np.vstack([-np.ones(d), np.eye(d)])  # (d + 1, d) reference gradients
        ref_volume = 1.0 / (2.0 if d == 2 else 6.0)
        for lo in range(0, n, CHUNK):
            hi = min(n, lo + CHUNK)
            x = mesh.geometry.x[:, :d][mesh.geometry.dofmap[lo:hi]]  # (m, d + 1, d)
            E = x[:, 1:, :] - x[:, :1, :]  # rows are edge vectors: E = J^T
            self.abs_det[lo:hi] = np.abs(np.linalg.det(E))
            G = np.einsum("kr,nsr->nks", ref_grad, np.linalg.inv(E))  # physical gradients J^-T grad_ref
            self.S[lo:hi] = (self.abs_det[lo:hi] * ref_volume)[:, None, None] * np.einsum(
                "nks,nst,nlt->nkl", G, self._cell_tensors(tensor, lo, hi, d), G)
        # the P1 mass on the reference cell (degree 2 rule: exact), scaled by |detJ|
        pts, wts = basix.make_quadrature(cell_type, 2)
        phi = basix.create_element(basix.ElementFamily.P, cell_type, 1).tabulate(0, pts)[0, :, :, 0]
        self.M_ref = np.einsum("q,qi,qj->ij", wts, phi, phi)  # M_K = |det J_K| M_ref
        # the residual's rule for gbar: points' basis values and normalised weights
        pts, wts = basix.make_quadrature(cell_type, residual_degree)
        self.phi_q = basix.create_element(basix.ElementFamily.P, cell_type, 1).tabulate(0, pts)[0, :, :, 0]
        self.w_q = wts / wts.sum()
        self.csr_positions = None

    @staticmethod
    def _cell_tensors(tensor, lo, hi, d) -> np.ndarray:
        """T on the cells lo..hi-1, (hi - lo, d, d)."""
        if isinstance(tensor, np.ndarray):
            return np.broadcast_to(np.asarray(tensor, dtype=float).reshape(d, d), (hi - lo, d, d))
        Q = tensor.function_space
        bs = Q.dofmap.index_map_bs
        dofs = Q.dofmap.list[lo:hi, 0]
        return tensor.x.array.reshape(-1, bs)[dofs].reshape(hi - lo, d, d)

    @staticmethod
    def _values(f, x) -> np.ndarray:
        v = f(x)
        return np.full_like(x, v) if np.ndim(v) == 0 else v

    def _coefficients(self):
        bdf = self.history.bdf
        a0, a1, a2 = (float(c.value) for c in bdf.a)
        return a0, a1, a2, float(bdf.dt.value)

    def add_residual(self, F_local: np.ndarray) -> None:
        """F_local (owned and ghost entries, before the reverse ghost update) += the cell terms.  A far
        Newton iterate may overflow g: the residual is then not finite, and the Newton solve fails
        (and the step is cut) as with the generated kernels, without numpy's warnings."""
        with np.errstate(over="ignore", invalid="ignore"):
            self._add_residual(F_local)

    def _add_residual(self, F_local: np.ndarray) -> None:
        h = self.history
        a0, a1, a2, dt = self._coefficients()
        x = h.u.x.array
        dcdt = (a0 * x + a1 * h.u_n.x.array + a2 * h.u_nm1.x.array) / dt
        xe = x[self.cells]
        gbar = self._values(self.g, xe @ self.phi_q.T) @ self.w_q  # (n,)
        Sx = np.einsum("nij,nj->ni", self.S, xe)
        Fe = gbar[:, None] * Sx + self.abs_det[:, None] * (dcdt[self.cells] @ self.M_ref)  # M_ref symmetric
        F_local += np.bincount(self.cells.ravel(), Fe.ravel(), minlength=self.n_local)[:len(F_local)]

    def set_csr(self, csr) -> None:
        """Find once where each cell block's entries go in ``csr`` (a dolfinx MatrixCSR whose sparsity
        holds the cells' couplings; local row and column indices)."""
        indptr, indices = csr.indptr, csr.indices
        rows = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        ncols = int(indices.max()) + 1 if len(indices) else 1
        keys = rows * ncols + indices[:len(rows)]
        if np.any(np.diff(keys) <= 0):
            raise ValueError("P1DiffusionCells: the CSR columns are not sorted within rows")
        n, k = self.cells.shape
        pos = np.empty(n * k * k, dtype=np.int32 if len(keys) < 2**31 else np.int64)
        for lo in range(0, n, CHUNK):  # bounded temporaries
            hi = min(n, lo + CHUNK)
            cells = self.cells[lo:hi]
            wanted = (cells[:, :, None] * ncols + cells[:, None, :]).ravel()
            at = np.searchsorted(keys, wanted)
            if np.any(at >= len(keys)) or np.any(keys[np.minimum(at, len(keys) - 1)] != wanted):
                raise ValueError("P1DiffusionCells: the CSR sparsity lacks some cell couplings")
            pos[lo * k * k:hi * k * k] = at
        self.csr_positions = pos
        self.csr_size = len(csr.data)

    def add_jacobian(self, data: np.ndarray) -> None:
        """CSR values (owned and ghost rows, before the reverse scatter) += the cells' Jacobian blocks."""
        with np.errstate(over="ignore", invalid="ignore"):
            self._add_jacobian(data)

    def _add_jacobian(self, data: np.ndarray) -> None:
        a0, _, _, dt = self._coefficients()
        x = self.history.u.x.array
        k = self.cells.shape[1]
        block = k * k
        for lo in range(0, len(self.cells), CHUNK):  # bounded temporaries; np.add.at takes int32 positions as
            hi = min(len(self.cells), lo + CHUNK)     # they are (np.bincount would copy them to int64)
            xe = x[self.cells[lo:hi]]
            xbar = xe.mean(axis=1)
            g, dg = self._values(self.g, xbar), self._values(self.dg, xbar)
            S = self.S[lo:hi]
            Je = g[:, None, None] * S + ((a0 / dt) * self.abs_det[lo:hi])[:, None, None] * self.M_ref
            Je += (dg / k)[:, None, None] * np.einsum("nij,nj->ni", S, xe)[:, :, None]
            np.add.at(data, self.csr_positions[lo * block:hi * block], Je.ravel())
