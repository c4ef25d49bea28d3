"""Block preconditioner for the PNP Jacobian in electrochemical-potential unknowns (phi, eta_1..eta_n).

Why a change of variables first
-------------------------------
In (phi, eta) unknowns (:mod:`fem.weak_forms.pnp`), with c_i = c_i(eta_i - mu0_i - z_i phi),
c_i' = dc_i/d(eta_i - z_i phi) and a lumped picture of the Newton matrix,

    Poisson        [ eps K + sum_i z_i^2 c_i' M ]  dphi   - sum_i z_i c_i' M deta_i
    Nernst-Planck  - z_i c_i'/dt M dphi  +  [ c_i'/dt M + D_i c_i K ] deta_i      (drift terms omitted)

On meshes that do not resolve the Debye length in the bulk (h >> 1 in Debye units), z^2 c' M
dominates eps K in the potential block, and it is cancelled almost exactly by the coupling to
the species (local electroneutrality): a block Gauss-Seidel or Schur preconditioner that solves
the potential block as it stands needs 50+ Krylov iterations per Newton step (measured; it
grows with the degree of under-resolution).  Writing deta_i = dxi_i + z_i dphi (xi_i = ln(c_i
gamma_i) + mu0_i: the chemical part of eta, the Slotboom / quasi-Fermi-level split used for
drift-diffusion, Bank, Rose & Fichtner, IEEE Trans. Electron Devices 30 (1983) 1031) turns the
matrix A into A T with the exact, sparse transformation T (identity plus z_i on the node-matched
(eta_i, phi) entries):

    A T = [ eps K          - z_i c_i' M        ]      phi block: the bare Laplacian (the mass
          [ z_i D_i c_i K    c_i'/dt M + D_i c_i K ]  terms cancel exactly, not approximately)

whose blocks are second-order operators with weak coupling for small dt; the potential Schur
complement S = eps K + sum_i z_i^2 c_i' M (c_i'/dt M + D_i c_i K)^-1 D_i c_i K goes from the
dielectric-plus-conductivity operator eps K + dt sum z^2 D c K (small dt) to the Debye-screened
Poisson operator eps K + sum z^2 c' M (large dt).  PETSc's 'selfp' approximation
A_pp - A_ps diag(A_ss)^-1 A_sp of it is assembled and solved by one BoomerAMG V-cycle, the species
block (the species are coupled only through phi) by one GAMG V-cycle (:func:`inner_defaults`).  P^-1 = T P'^-1 with P' this
fieldsplit of A T (T (A T)^-1 = A^-1).

Literature.  The choice of unknowns decides the conditioning of the drift-diffusion blocks
(Polak, den Heijer, Schilders & Markowich, Int. J. Numer. Meth. Eng. 24 (1987) 763: potential
vs. quasi-Fermi/Slotboom vs. concentration variables); the classical decoupling is Gummel's
(IEEE Trans. Electron Devices 11 (1964) 455): potential solve, then carrier solves, i.e. block
Gauss-Seidel; at scale, fully coupled Newton-Krylov with algebraic multilevel preconditioners on
the physics-blocked Jacobian (Lin, Shadid, Sala, Tuminaro, Hennigan & Hoekstra, J. Comput. Phys.
228 (2009) 6250; 10^8 unknowns, drift-diffusion) is what works.  Here: Newton-Krylov with a
block (Schur) factorization whose blocks are scalar second-order operators for AMG, after the
variable change that makes the potential block a Laplacian.  Measured on particle_in_electrolyte
(tests/bench/bench_pnp.py, 3D, mesh at 1-8 Debye lengths): Krylov iterations per Newton step
52-56 with block Gauss-Seidel / Schur on the untransformed (phi, eta) blocks, 13-14 with the
transformation, flat from 12k to 44k unknowns (tests/bench/README.md for the full table).

Options (under the solver's prefix, e.g. ``-pnpp_``): the outer PC is ``python`` with type
``fem.pnp_preconditioner.SlotboomPC`` (from the command line of a run whose solver is LU:
``-pnpp_ksp_type gmres -pnpp_pc_type python -pnpp_pc_python_type fem.pnp_preconditioner.SlotboomPC``);
the inner fieldsplit on A T (defaults :func:`inner_defaults`) is configured under
``<prefix>slotboom_`` (``-pnpp_slotboom_pc_fieldsplit_type multiplicative``,
``-pnpp_slotboom_fieldsplit_phi_pc_type lu`` ...); its splits are ``species`` (first: A00 of the
Schur factorization) and ``phi``.  ``-pnpp_pc_type asm`` (or ``lu``) replaces it all.
"""

from __future__ import annotations

import numpy as np
from petsc4py import PETSc


class SlotboomPC:
    """Python PC: P^-1 = T (fieldsplit of A T)^-1 (module docstring).  Configured by
    :meth:`configure` with the node-matched global dof numbers of phi and of each carrier."""

    def __init__(self):
        self.T = self.AT = self.inner = None
        self.splits = None
        self.coupling = None  # (rows eta_i, cols phi, z_i) global numbers, owned rows

    def configure(self, W, carrier_indices, valences):
        """W: the (phi, eta...) space (blocked or mixed); carrier_indices: sub-space index of each carrier; valences z_i."""
        from fem.solver import field_index_sets, global_dofs
        imap, bs = W.dofmap.index_map, W.dofmap.index_map_bs
        phi = global_dofs(W, [0], sort=False)  # node-matched: collapse() orders every sub-space alike
        rows, cols, vals = [], [], []
        for i, z in zip(carrier_indices, valences):
            rows.append(global_dofs(W, [i], sort=False))
            cols.append(phi)
            vals.append(np.full(len(phi), float(z)))
        self.coupling = (np.concatenate(rows), np.concatenate(cols), np.concatenate(vals))
        self.n_owned, self.n_global, self.comm = imap.size_local * bs, imap.size_global * bs, W.mesh.comm
        self.start = imap.local_range[0] * bs
        self.splits = field_index_sets(W, [("species", list(carrier_indices)), ("phi", [0])])

    def _build_T(self):
        n, N = self.n_owned, self.n_global
        crow, ccol, cval = self.coupling
        own = np.arange(self.start, self.start + n, dtype=np.int64)
        rl = np.concatenate([own - self.start, np.asarray(crow, dtype=np.int64) - self.start])
        cl = np.concatenate([own, np.asarray(ccol, dtype=np.int64)])
        vl = np.concatenate([np.ones(n), cval])
        order = np.lexsort((cl, rl))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rl, minlength=n))]).astype(PETSc.IntType)
        return PETSc.Mat().createAIJ(((n, N), (n, N)), csr=(indptr, cl[order].astype(PETSc.IntType), vl[order]),
                                     comm=self.comm)

    def setUp(self, pc):
        A, _ = pc.getOperators()
        if self.T is None:
            self.T = self._build_T()
        if self.AT is None:
            self.AT = A.matMult(self.T)
        else:
            A.matMult(self.T, result=self.AT)
        if self.inner is None:
            prefix = (pc.getOptionsPrefix() or "") + "slotboom_"
            db = PETSc.Options()
            species_pc = db.getString(prefix + "fieldsplit_species_pc_type", "gamg")
            for k, v in inner_defaults(species_pc).items():
                if not db.hasName(prefix + k):  # defaults; a user option under the prefix wins
                    db[prefix + k] = v
            self.inner = PETSc.PC().create(pc.comm)
            self.inner.setOptionsPrefix(prefix)
            self.inner.setType("fieldsplit")
            self.inner.setFieldSplitIS(*self.splits)
            self.inner.setFromOptions()
            self.work = self.AT.createVecRight()
        self.inner.setOperators(self.AT, self.AT)
        self.inner.setUp()

    def apply(self, pc, x, y):
        self.inner.apply(x, self.work)
        self.T.mult(self.work, y)

    def view(self, pc, viewer=None):
        if self.inner is not None and viewer is not None:
            self.inner.view(viewer)

    def destroy(self, pc):
        for obj in (self.inner, self.T, self.AT):
            if obj is not None:
                obj.destroy()


def inner_defaults(species_pc_type: str = "gamg") -> dict:
    """Default options of the fieldsplit on A T (under ``<prefix>slotboom_``): Schur factorization
    (species = A00, one V-cycle of PETSc GAMG with SSOR smoothing; potential Schur complement
    'selfp', one BoomerAMG V-cycle).  GAMG on the species block (session 11, 520k unknowns, serial):
    7.7 instead of 8.6 Krylov iterations per Newton step and 24.7 instead of 27.0 s for a 4-Newton
    step; on the potential's selfp complement its setup cost 3.6x BoomerAMG's, so phi keeps BoomerAMG.
    ``species_pc_type`` 'hypre' gives the species block the tuned BoomerAMG options instead."""
    from fem import petsc_options
    opts = {"pc_fieldsplit_type": "schur", "pc_fieldsplit_schur_fact_type": "full",
            "pc_fieldsplit_schur_precondition": "selfp",
            "fieldsplit_phi_ksp_type": "preonly", "fieldsplit_species_ksp_type": "preonly"}
    amg = {"phi": petsc_options.boomeramg(),
           "species": petsc_options.boomeramg() if species_pc_type == "hypre" else petsc_options.gamg_sor()}
    for split in ("phi", "species"):
        opts.update({f"fieldsplit_{split}_{k}": v for k, v in amg[split].items()})
    return opts


def configure(solver, W, carriers) -> bool:
    """Hand the dof layout to the solver's SlotboomPC, if that is the PC in use; True if so."""
    pc = solver.snes.getKSP().getPC()
    if pc.getType() != PETSc.PC.Type.PYTHON:
        return False
    ctx = pc.getPythonContext()
    if not isinstance(ctx, SlotboomPC):
        return False
    ctx.configure(W, [k.index for k in carriers], [k.species.z for k in carriers])
    return True
