"""PNPModel's Jacobian assembly options (issue 13): ``preintegrate`` (the stiffness blocks from each
carrier's cell integral of c, P1 on affine simplices) and ``compress_pattern`` (the Jacobian's
pattern probed at one random state, exact zeros dropped) change how J is built, never its values.

Case: the 2D two-material bilayer of tests/test_pnp_mms.py (unit square, A | B at x = 0.5, interface
facets tagged), Li in both materials (lattice saturation in A, ideal in B) with a Butler–Volmer
interface (two carriers Li@A, Li@B, each masked in the other material) + holes in A, fixed charge,
surface charge on the interface, Dirichlet phi and eta on the outer boundary, transient BDF2.

Tolerances: about 3x the value measured on this case (measured values in comments), with a floor
of 1e-13 (Jacobians) / 1e-12 (fields) where the measured value is round-off.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from mpi4py import MPI

import dolfinx.fem

from fem.constitutive.activity import Ideal, LatticeSaturation
from fem.models.pnp import Material, PNPModel, Species, linear_solver_options
from meshes import tags as T
from test_pnp_mms import ALPHA, C_MAX_A, D_H, D_LI, EPS, K0, MU0, RHO_FIXED, SIGMA_F, unit_square_bilayer
from fem.pnp_preconditioner import inner_defaults

A, B = T.ELECTRODE, T.ELECTROLYTE
OPTIONS = [(False, False), (True, False), (False, True), (True, True)]  # (preintegrate, compress_pattern)
BULK = {"Li": {A: 0.6, B: 0.5}, "hole": {A: 1.0}}


def build(comm, n=6, degree=1, preintegrate=True, compress_pattern=True, tag="", **kw):
    dom = unit_square_bilayer(comm, n)
    li = Species("Li", +1, D=dict(D_LI), mu0=dict(MU0), activity={A: LatticeSaturation(C_MAX_A), B: Ideal()},
                 interface="butler_volmer", k0=K0, alpha=ALPHA)
    hole = Species("hole", +1, D={A: D_H})
    mats = [Material(A, EPS[A], RHO_FIXED[A]), Material(B, EPS[B], RHO_FIXED[B])]
    prefix = f"pnpasm{comm.size}{degree}{int(preintegrate)}{int(compress_pattern)}{tag}_"
    return PNPModel(dom, mats, [li, hole], mode="transient", sigma_f=SIGMA_F, interface=T.INTERFACE,
                    time_order=2, degree=degree, prefix=prefix, phi_dirichlet={T.OUTER: 0.0},
                    eta_dirichlet={(f"Li@{B}", T.OUTER): -0.7}, preintegrate=preintegrate,
                    compress_pattern=compress_pattern, **kw)


def random_state(model, seed=7):
    """u, u^n, u^{n-1} random (any eta, phi gives positive concentrations: c = c(eta - z phi)),
    BDF2 coefficients of a variable step (dt 0.1 after 0.15)."""
    rng = np.random.default_rng(seed + 1000 * model.comm.rank)
    for f in (model.u, model.u_n, model.u_nm1):
        for i, (V, m) in enumerate(model.subs):
            lo, hi = (-1.0, 1.0) if i == 0 else (-1.5, 0.5)
            f.x.array[m] = rng.uniform(lo, hi, len(m))
        f.x.scatter_forward()  # owners' values on the ghosts
    model.bdf.dt_prev = 0.15
    model.history.set_step(0.1)


def assemble(model, u=None):
    """Residual and Jacobian at ``u`` (default model.u), through the SNES callbacks' path (F first,
    as SNES does); J as this rank's rows of a scipy CSR matrix."""
    s = model.solver
    x = s.x
    (model.u if u is None else u).x.petsc_vec.copy(x)
    x.ghostUpdate()
    s._assemble_F(x, s.b)
    s._assemble_J(x, s.A)
    r0, r1 = s.A.getOwnershipRange()
    indptr, cols, vals = s.A.getValuesCSR()
    J = scipy.sparse.csr_matrix((vals, cols, indptr), shape=(r1 - r0, s.A.getSize()[1]))
    return s.b.array.copy(), J


def gmax(a, comm):
    return comm.allreduce(float(np.max(np.abs(a))) if a.size else 0.0, op=MPI.MAX)


def bcs_dofs(model):
    dofs = np.concatenate([bc.dof_indices()[0] for bc in model.bcs])
    return np.unique(dofs[dofs < model.W.dofmap.index_map.size_local * model.W.dofmap.index_map_bs])


def jacobian_fd_error(model, h):
    """max |J d - (F(u + h d) - F(u - h d)) / 2h| / max |J d| at a random state that satisfies the
    Dirichlet conditions (so that F = 0 on their rows and no lifting), d random and 0 on them."""
    comm = model.comm
    random_state(model, seed=11)
    for bc in model.bcs:
        bc.set(model.u.x.array)
    model.u.x.scatter_forward()
    rng = np.random.default_rng(5 + 1000 * comm.rank)
    d = dolfinx.fem.Function(model.W)
    nown = model.W.dofmap.index_map.size_local * model.W.dofmap.index_map_bs
    d.x.array[:nown] = rng.uniform(-1.0, 1.0, nown)
    d.x.array[bcs_dofs(model)] = 0.0
    d.x.scatter_forward()
    u0 = model.u.x.array.copy()
    _, J = assemble(model)
    # owned rows times the whole direction (J's columns are global: the ranks' owned blocks in order)
    Jd = J @ np.concatenate(comm.allgather(d.x.petsc_vec.getArray()))
    Fs = []
    for sgn in (1.0, -1.0):
        model.u.x.array[:] = u0 + sgn * h * d.x.array
        Fs.append(assemble(model)[0])
    model.u.x.array[:] = u0
    fd = (Fs[0] - Fs[1]) / (2 * h)
    return gmax(Jd - fd, comm) / gmax(Jd, comm)


# ---------------------------------------------------------------------------------------------
def _jacobians_equal(comm):
    res = {}
    for opt in OPTIONS:
        model = build(comm, preintegrate=opt[0], compress_pattern=opt[1])
        assert (len(model._cbar) > 0) == opt[0]  # the pre-integrated form is in use
        random_state(model)
        F, J = assemble(model)
        res[opt] = (F, J, model.solver.A.getInfo()["nz_used"], model.pattern_nnz)
        model.destroy()
    F0, J0, nz0, _ = res[(False, False)]
    scale, fscale = gmax(J0.data, comm), gmax(F0, comm)
    errs = {}
    for opt, (F, J, nz, pnnz) in res.items():
        errs[opt] = (gmax((J - J0).toarray(), comm) / scale, gmax(F - F0, comm) / fscale)
        if opt[1]:  # fewer stored entries, every nonzero of the full pattern among them
            assert pnnz[1] < pnnz[0]
            assert comm.allreduce(nz) < comm.allreduce(nz0)
    for opt, (eJ, eF) in errs.items():
        # measured, relative to the largest entry of J and of F: serial J 6.8e-16, F 2.8e-16 (the
        # lifting's Jacobian form); 2 ranks J 1.2e-15, F 2.2e-16; compress_pattern alone 0 / 5.5e-18
        assert eJ < 1e-13 and eF < 1e-13, (opt, eJ, eF)
    return errs


def test_jacobian_options_equal():
    """At a random, non-equilibrium state (u, its history and the bcs' values all differing) the four
    combinations of (preintegrate, compress_pattern) assemble the same residual (its lifting uses
    the Jacobian form) and the same Jacobian, entrywise."""
    _jacobians_equal(MPI.COMM_WORLD)


@pytest.mark.mpi
def test_options_distributed():
    """On 2 ranks (ghosted cell averages, off-process entries of the probed pattern): the four
    Jacobians equal, J the derivative of F, and the transient with the fieldsplit (AMG) solver
    unchanged by compress_pattern, with LU by both options."""
    comm = MPI.COMM_WORLD
    _jacobians_equal(comm)
    model = build(comm, tag="fdmpi")
    err = jacobian_fd_error(model, h=1e-4)
    model.destroy()
    assert err < 7.5e-9, err  # measured 9.8e-10 on 2 ranks
    # fieldsplit with BoomerAMG on both blocks: its hierarchy does not depend on stored zeros, so the
    # Krylov counts must agree too (the default GAMG on the species block aggregates on the stored
    # pattern: 18, 15, 15 with the compressed pattern against 18, 18, 20 with the full one, serial)
    for solver, pair in (("lu", DEFAULTS_VS_OFF), ("fieldsplit_hypre", COMPRESS_ONLY)):
        c1, c0, err = _transient(comm, solver, pair)
        # measured on 2 ranks: Krylov per step (3, 3, 3) LU, (30, 29, 29) fieldsplit; fields 2.0e-16
        assert c1 == c0 and err < 1e-12, (solver, c1, c0, err)


@pytest.mark.parametrize("opt", [(True, True), (False, False)])
def test_jacobian_is_derivative_of_residual(opt):
    """J d against a central difference of F in a random direction d."""
    model = build(MPI.COMM_WORLD, preintegrate=opt[0], compress_pattern=opt[1], tag="fd")
    err = jacobian_fd_error(model, h=1e-4)
    model.destroy()
    # measured 2.45e-9 for both; O(h^2) truncation (2.45e-7 at h = 1e-3, 2.7e-11 at 1e-5, round-off
    # below); a term of J missing (the c' term of the pre-integrated form dropped) gives 0.37
    assert err < 7.5e-9, err


def solver_options(solver):
    o = linear_solver_options("fieldsplit" if solver.startswith("fieldsplit") else solver)
    if solver == "fieldsplit_lu_inner":  # the Slotboom fieldsplit with exact inner solves
        o.update({"slotboom_fieldsplit_phi_pc_type": "lu", "slotboom_fieldsplit_species_pc_type": "lu"})
    if solver == "fieldsplit_hypre":  # BoomerAMG on the species block too (the default before session 11)
        o = {k: v for k, v in o.items() if not k.startswith("slotboom_fieldsplit_species_")}
        o.update({f"slotboom_{k}": v for k, v in inner_defaults("hypre").items()})
    return o


def _transient(comm, solver, pair):
    """3 variable BDF2 steps from the contact state with the two (preintegrate, compress_pattern)
    of ``pair``: the (Newton, Krylov) counts of each step, and the largest difference of the final
    fields relative to their largest value."""
    runs = []
    for opt in pair:
        model = build(comm, n=8, tag=f"tr{solver}", options=solver_options(solver),
                      preintegrate=opt[0], compress_pattern=opt[1])
        assert (model.pattern_nnz is not None) == opt[1] and (len(model._cbar) > 0) == opt[0]
        model.set_contact_state(BULK)
        counts = []
        t, dt = 0.0, 0.05
        for _ in range(3):
            t += dt
            st = model.step(t, dt)
            assert st.converged, st.reason
            counts.append((st.newton_iterations, st.krylov_iterations))
            model.accept(t, dt, st)
            dt *= 1.5
        runs.append((counts, model.u.x.array.copy()))
        model.destroy()
    (c1, u1), (c0, u0) = runs
    return c1, c0, gmax(u1 - u0, comm) / gmax(u0, comm)


DEFAULTS_VS_OFF = ((True, True), (False, False))
COMPRESS_ONLY = ((True, True), (True, False))


@pytest.mark.parametrize("solver,pair", [("lu", DEFAULTS_VS_OFF), ("fieldsplit_lu_inner", DEFAULTS_VS_OFF),
                                         ("fieldsplit_hypre", COMPRESS_ONLY)])
def test_transient_defaults_match_options_off(solver, pair):
    """3 BDF steps from the contact state: the defaults (pre-integrated, compressed) and both options
    off take the same Newton and Krylov iterations to the same fields, with LU and with GMRES + the
    Slotboom fieldsplit with exact inner solves (measured: identical GMRES residual histories to 7
    digits).  With the default inner BoomerAMG V-cycles only compress_pattern is compared: on this
    structured mesh (many exactly equal entries) BoomerAMG reacts to preintegrate's round-off
    differences of J (1e-15 at the first Newton iterate) -- first solve 27 vs 28 GMRES iterations,
    the residual ratio after one iteration 4.715e-2 vs 4.696e-2, identical with LU inner solves --
    so equal Krylov counts there are not a property of the options.  The compressed pattern gives
    BoomerAMG's setups the same values without the stored zeros: the same counts (the default GAMG on
    the species block aggregates on the stored pattern, so it is compared with BoomerAMG there)."""
    c1, c0, err = _transient(MPI.COMM_WORLD, solver, pair)
    assert c1 == c0, (c1, c0)
    # a nonlinear transient; measured 3 Newton iterations per step, Krylov per step (3, 3, 3) with LU,
    # (10, 9, 10) fieldsplit with LU inner solves, (28, 25, 26) fieldsplit (AMG)
    assert sum(n for n, _ in c0) >= 6, c0
    assert err < 1e-12, err  # measured 2.0e-16, 2.0e-16, 6.3e-18 (round-off floor)


def test_preintegrate_falls_back_off_p1():
    """preintegrate applies to P1 on affine simplices only: with P2 it is silently not used (no cell
    averages; the Jacobian is UFL's derivative of F, the same as with preintegrate=False)."""
    res = []
    for pre in (True, False):
        model = build(MPI.COMM_SELF, n=2, degree=2, preintegrate=pre, compress_pattern=False, tag="p2")
        assert model._cbar == [] and model.solver.before_jacobian is None
        random_state(model)
        res.append(assemble(model))
        model.destroy()
    (F1, J1), (F0, J0) = res
    assert J0.nnz > 0 and abs(J1 - J0).max() == 0 and np.max(np.abs(F1 - F0)) == 0  # measured: identical
