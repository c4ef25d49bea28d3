"""Manufactured solution: nonlinear D(c) times a full rotated SPD tensor.

    -div( g(u) A grad u ) = f  in (0,1)^2,  u = u_exact on the boundary,
    A = Q(0.6) diag(1, 0.1) Q(0.6)^T  (off-diagonal entries nonzero),
    g(u) = exp(beta (u - 1/2)) (the 'exponential' model of particle_discharge),
    u_exact = 0.5 + 0.3 sin(pi x) cos(1.3 pi y) + 0.1 x y.

Observed L2 rates of P1/P2 must be within 0.1 of 2/3, H1 rates of 1/2.
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from mpi4py import MPI

import dolfinx.fem
import dolfinx.mesh

from fem import petsc_options
from fem.constitutive import diffusivity as dif
from fem.constitutive.mathops import exp
from fem.solver import SNESSolver
from fem.weak_forms.diffusion import fick_flux

BETA = -1.5


def _solve(n, degree, comm):
    mesh = dolfinx.mesh.create_unit_square(comm, n, n, dolfinx.mesh.CellType.triangle)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
    x = ufl.SpatialCoordinate(mesh)
    u_ex = 0.5 + 0.3 * ufl.sin(ufl.pi * x[0]) * ufl.cos(1.3 * ufl.pi * x[1]) + 0.1 * x[0] * x[1]
    A = ufl.as_matrix(dif.rotate_tensor(np.diag([1.0, 0.1]), dif.rotation_2d(0.6)).tolist())
    g = lambda u: exp(BETA * (u - 0.5))  # noqa: E731
    f = -ufl.div(g(u_ex) * ufl.dot(A, ufl.grad(u_ex)))
    u = dolfinx.fem.Function(V)
    u.x.array[:] = 0.5
    v = ufl.TestFunction(V)
    F = -ufl.inner(fick_flux(u, g(u) * A), ufl.grad(v)) * ufl.dx - f * v * ufl.dx
    mesh.topology.create_connectivity(1, 2)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    ubc = dolfinx.fem.Function(V)
    ubc.interpolate(dolfinx.fem.Expression(u_ex, V.element.interpolation_points()))
    bc = dolfinx.fem.dirichletbc(ubc, dolfinx.fem.locate_dofs_topological(V, 1, facets))
    solver = SNESSolver(F, u, [bc], prefix=f"mms{degree}_", options=petsc_options.direct_lu())
    stats = solver.solve()
    assert stats.converged, stats.reason
    assert stats.newton_iterations >= 2  # the problem is genuinely nonlinear
    md = {"quadrature_degree": 2 * degree + 4}
    e = u - u_ex
    l2 = np.sqrt(comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(e * e * ufl.dx(metadata=md))),
                                op=MPI.SUM))
    h1 = np.sqrt(comm.allreduce(dolfinx.fem.assemble_scalar(
        dolfinx.fem.form(ufl.inner(ufl.grad(e), ufl.grad(e)) * ufl.dx(metadata=md))), op=MPI.SUM))
    solver.destroy()
    return l2, h1


@pytest.mark.parametrize("degree", [1, 2])
def test_mms_rates_nonlinear_rotated_tensor(degree):
    ns = [8, 16, 32] if degree == 1 else [4, 8, 16]
    errs = [_solve(n, degree, MPI.COMM_SELF) for n in ns]
    l2 = np.array([e[0] for e in errs])
    h1 = np.array([e[1] for e in errs])
    r_l2 = np.log2(l2[:-1] / l2[1:])
    r_h1 = np.log2(h1[:-1] / h1[1:])
    print(f"P{degree}: L2 {l2}, rates {r_l2}; H1 {h1}, rates {r_h1}")
    assert abs(r_l2[-1] - (degree + 1)) < 0.1
    assert abs(r_h1[-1] - degree) < 0.1


@pytest.mark.mpi
def test_mms_distributed_matches_serial():
    e_world = _solve(16, 1, MPI.COMM_WORLD)
    e_self = _solve(16, 1, MPI.COMM_SELF)
    assert np.allclose(e_world, e_self, rtol=1e-8)
