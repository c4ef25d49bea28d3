"""CahnHilliard's Jacobian assembly option (issue 13): ``preintegrate`` (the stiffness blocks
M(c) grad(dmu) . grad(q) and kappa grad(dc) . grad(v) from M's cell integrals, P1 with lumped mass on
affine simplices, plus the Jacobian pattern without its structural zeros) changes how J is built,
never its values.

Case: regular solution (a = 3, the spinodal), lattice mobility c(1 - c), kappa = 1e-3, on the unit
cube (6^3 cells x 6 tetrahedra) and the unit square, at a random state (c, mu, c^n in (0.1, 0.9)).
Tolerances: about 3x the measured value (in comments), floor 1e-13 where it is round-off.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

import dolfinx.fem
import dolfinx.mesh

from fem.constitutive.free_energy import RegularSolution
from fem.constitutive.mobility import mobility
from fem.models.cahn_hilliard import CahnHilliard
from fem.scaling import BOLTZMANN
from test_pnp_assembly import assemble as assemble_at
from test_pnp_assembly import gmax

KAPPA = 1e-3
T = 298.15


def spinodal_solution():
    return RegularSolution(3.0 * BOLTZMANN * T, T)  # Omega / kT = 3


def unit_mesh(comm, dim, n=6):
    return (dolfinx.mesh.create_unit_cube(comm, n, n, n) if dim == 3
            else dolfinx.mesh.create_unit_square(comm, 3 * n, 3 * n))


def build(comm, dim=3, preintegrate=None, solver="fieldsplit", tag="", mesh=None):
    mesh = mesh if mesh is not None else unit_mesh(comm, dim)
    prefix = f"chasm{comm.size}{dim}{preintegrate}{solver}{tag}_"
    return CahnHilliard(mesh, spinodal_solution(), kappa=KAPPA, mobility=lambda c: mobility(c, "lattice"),
                        solver=solver, prefix=prefix, preintegrate=preintegrate)


def random_state(model, seed=3):
    rng = np.random.default_rng(seed + 1000 * model.comm.rank)
    for f in (model.w, model.w_old):
        f.x.array[:] = rng.uniform(0.1, 0.9, f.x.array.size)
        f.x.scatter_forward()
    model.dt.value = 0.01


def assemble(model):
    """Residual and Jacobian at model.w through the SNES callbacks' path."""
    return assemble_at(model, model.w)


def jacobians(comm, dim):
    out = {}
    mesh = unit_mesh(comm, dim)  # one partition for both (their rows are compared)
    for pre in (False, True):
        model = build(comm, dim, preintegrate=pre, mesh=mesh)
        assert (model._mbar is not None) == pre and (model.pattern_nnz is not None) == pre
        random_state(model)
        out[pre] = (*assemble(model), model.pattern_nnz)
        model.destroy()
    (F0, J0, _), (F1, J1, nnz) = out[False], out[True]
    return (gmax((J1 - J0).toarray(), comm) / gmax(J0.data, comm), gmax(F1 - F0, comm) / gmax(F0, comm),
            nnz, comm.allreduce(J0.nnz), comm.allreduce(J1.nnz))


@pytest.mark.parametrize("dim", [2, 3])
def test_preintegrated_jacobian_equals_generated(dim):
    """Same residual and Jacobian entrywise; the kept pattern drops (at least) the mu-mu block's
    off-diagonal entries (the lumped mass is diagonal)."""
    comm = MPI.COMM_WORLD
    eJ, eF, (nnz_mixed, nnz_kept), n0, n1 = jacobians(comm, dim)
    # measured: J 2.2e-16 (3D) / 3.4e-16 (2D) serial, 2.2e-16 / 4.5e-16 on 2 ranks; F 0 (the
    # residual form is not touched); kept nonzeros 10494 of 16204 (3D), 6196 of 9508 (2D)
    assert eJ < 1e-13 and eF < 1e-13, (eJ, eF)
    assert n0 == nnz_mixed and n1 == nnz_kept
    # at least the mu-mu block's off-diagonal entries go (the mixed pattern is 4 copies of the scalar
    # P1 pattern); more on meshes where P1 stiffness couplings vanish (right triangles' hypotenuses:
    # 1296 more in 2D); any dropped entry that is not zero would have failed the comparison above
    n_nodes = build(comm, dim, tag="n").W.dofmap.index_map.size_global
    assert nnz_mixed - nnz_kept >= nnz_mixed // 4 - n_nodes


def test_preintegrated_jacobian_is_derivative_of_residual():
    """J d against a central difference of F in a random direction (independent of the generated J)."""
    comm = MPI.COMM_WORLD
    model = build(comm, 3, preintegrate=True, tag="fd")
    random_state(model, seed=11)
    rng = np.random.default_rng(5 + 1000 * comm.rank)
    d = dolfinx.fem.Function(model.W)
    d.x.array[:] = rng.uniform(-1.0, 1.0, d.x.array.size)
    d.x.scatter_forward()
    w0 = model.w.x.array.copy()
    _, J = assemble(model)
    Jd = J @ np.concatenate(comm.allgather(d.x.petsc_vec.getArray()))
    h = 1e-5
    Fs = []
    for sgn in (1.0, -1.0):
        model.w.x.array[:] = w0 + sgn * h * d.x.array
        Fs.append(assemble(model)[0])
    err = gmax(Jd - (Fs[0] - Fs[1]) / (2 * h), comm) / gmax(Jd, comm)
    model.destroy()
    # measured 9.7e-11 (O(h^2) and round-off); without the M'(c) dc grad mu . grad q term: 6.1e-2
    assert err < 3e-10, err


def test_default_only_with_the_block_solver():
    model = build(MPI.COMM_WORLD, 2, preintegrate=None, solver="lu", tag="dflt")
    assert model._mbar is None and model.pattern_nnz is None
    model.destroy()
    with pytest.raises(ValueError, match="preintegrate"):
        mesh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 4, 4)
        CahnHilliard(mesh, spinodal_solution(), kappa=KAPPA, mobility=lambda c: mobility(c, "lattice"),
                     degree=2, solver="lu", prefix="chasm_p2_", preintegrate=True)


def transient(comm, pre, mesh):
    """4 steps of the spinodal from a perturbed c = 0.5 with the block solver: per-step (Newton,
    Krylov) counts and the final state."""
    model = build(comm, 3, preintegrate=pre, tag="tr", mesh=mesh)
    model.set_concentration(lambda X: 0.5 + 0.05 * np.sin(3 * X[0]) * np.cos(2 * X[1] + X[2]))
    model.initialize_mu()
    counts, t = [], 0.0
    for _ in range(4):
        st = model.step(t, 1e-3)
        assert st.converged, st.reason
        counts.append((st.newton_iterations, st.krylov_iterations))
        t += 1e-3
        model.accept(t, 1e-3, st)
    w = model.w.x.array.copy()
    model.destroy()
    return counts, w


def _transients_equal(comm):
    mesh = unit_mesh(comm, 3)
    (c0, w0), (c1, w1) = transient(comm, False, mesh), transient(comm, True, mesh)
    err = gmax(w1 - w0, comm) / gmax(w0, comm)
    # measured: counts equal step by step ((2, 7) serial, (2, 8) on 2 ranks), fields 7.6e-17 / 1.3e-17
    assert c1 == c0 and err < 1e-12, (c0, c1, err)


def test_transient_unchanged():
    _transients_equal(MPI.COMM_WORLD)


@pytest.mark.mpi
def test_preintegrated_distributed():
    """On 2 ranks (ghosted DG0 averages, off-process pattern entries): the same Jacobian and transient."""
    comm = MPI.COMM_WORLD
    eJ, eF, *_ = jacobians(comm, 3)
    assert eJ < 1e-13 and eF < 1e-13, (eJ, eF)
    _transients_equal(comm)
