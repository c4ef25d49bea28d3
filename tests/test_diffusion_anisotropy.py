"""Anisotropic diffusion with a rotated tensor: Gaussian spreading (analytic) and
invariance under a joint rotation of the geometry and the tensor.

A Gaussian pulse in free space under dc/dt = div(D grad c), D constant SPD, stays
Gaussian with covariance Sigma(t) = Sigma_0 + 2 D t and peak M / (2 pi sqrt(det Sigma)).
On [-1, 1]^2 with no-flux walls the boundary is 1e-8 away in value, so the
Galerkin moments obey the same law (x_i x_j lies in P2: exact for any time
scheme up to the boundary term).
"""

from __future__ import annotations

import numpy as np
import pytest
import ufl
from mpi4py import MPI

import dolfinx.fem
import dolfinx.mesh

from claims import bound
from fem import petsc_options
from fem.constitutive import diffusivity as dif
from fem.solver import SNESSolver
from fem.time_schemes import BDF
from fem.weak_forms.diffusion import diffusion_residual

D_CRYST = np.diag([1.0, 0.2])
SIGMA0 = np.diag([0.012, 0.006])
T_END, STEPS = 0.01, 20


def _integral(expr, comm):
    return comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(expr)), op=MPI.SUM)


def run(angle_tensor, angle_geometry, comm=MPI.COMM_SELF, n=40):
    """Diffuse a Gaussian; tensor rotated by angle_tensor, geometry + tensor + pulse by angle_geometry.
    Returns (mass, covariance in the geometry's frame rotated back, peak value at the pulse centre)."""
    mesh = dolfinx.mesh.create_rectangle(comm, [[-1, -1], [1, 1]], [n, n], dolfinx.mesh.CellType.triangle)
    Qg = dif.rotation_2d(angle_geometry)
    mesh.geometry.x[:, :2] = mesh.geometry.x[:, :2] @ Qg.T
    D_lab = dif.rotate_tensor(D_CRYST, Qg @ dif.rotation_2d(angle_tensor))
    S0 = Qg @ SIGMA0 @ Qg.T
    S0inv = np.linalg.inv(S0)
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 2))
    c, c_n, c_nm1 = (dolfinx.fem.Function(V) for _ in range(3))

    def gauss(x):
        y = x[:2]
        q = np.einsum("ik,ij,jk->k", y, S0inv, y)
        return np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(S0)))

    for f in (c, c_n, c_nm1):
        f.interpolate(gauss)
    bdf = BDF(mesh, 2)
    F = diffusion_residual(bdf.ddt(c, c_n, c_nm1), c, ufl.TestFunction(V), ufl.as_matrix(D_lab.tolist()), ufl.dx)
    solver = SNESSolver(F, c, [], prefix="gauss_", options=petsc_options.direct_lu())
    x = ufl.SpatialCoordinate(mesh)

    def moments():
        m0 = _integral(c * ufl.dx, comm)
        m1 = np.array([_integral(c * x[i] * ufl.dx, comm) for i in range(2)]) / m0
        m2 = np.array([[_integral(c * x[i] * x[j] * ufl.dx, comm) for j in range(2)] for i in range(2)]) / m0
        return m0, m2 - np.outer(m1, m1)

    m0_0, S_fe0 = moments()
    dt = T_END / STEPS
    for _ in range(STEPS):
        bdf.set_step(dt)
        st = solver.solve()
        assert st.converged
        bdf.accepted(dt)
        c_nm1.x.array[:] = c_n.x.array
        c_n.x.array[:] = c.x.array
    m0, S = moments()
    from fem.probes import PointProbe
    peak = float(PointProbe(mesh, [[0.0, 0.0]])(c)[0])
    solver.destroy()
    return dict(m0=m0, m0_0=m0_0, S=Qg.T @ S @ Qg, S_fe0=Qg.T @ S_fe0 @ Qg, D=Qg.T @ D_lab @ Qg, peak=peak)


def test_gaussian_covariance_grows_by_2Dt_with_rotated_tensor():
    r = run(angle_tensor=0.7, angle_geometry=0.0)
    D = r["D"]
    assert abs(D[0, 1]) > 0.3  # genuinely off-diagonal
    growth = r["S"] - r["S_fe0"]
    expected = 2 * D * T_END
    rel = np.max(np.abs(growth - expected)) / np.max(np.abs(expected))
    print("covariance growth", growth.tolist(), "expected", expected.tolist(), "rel err", rel)
    assert rel < bound("gaussian_covariance")
    # principal axes of the growth are the rotated crystal axes
    w, vecs = np.linalg.eigh(growth)
    assert abs(abs(vecs[:, 1] @ dif.rotation_2d(0.7)[:, 0]) - 1) < 1e-3
    # peak value of the analytic Gaussian, mass conserved
    S_an = SIGMA0 + 2 * D * T_END
    peak_an = 1.0 / (2 * np.pi * np.sqrt(np.linalg.det(S_an)))
    print("peak", r["peak"], "analytic", peak_an)
    assert abs(r["peak"] - peak_an) / peak_an < bound("gaussian_peak")
    assert abs(r["m0"] - r["m0_0"]) / r["m0_0"] < 1e-10


def test_rotating_geometry_and_tensor_leaves_observables_unchanged():
    a = run(angle_tensor=0.7, angle_geometry=0.0, n=24)
    b = run(angle_tensor=0.7, angle_geometry=1.1, n=24)
    assert abs(a["m0"] - b["m0"]) / a["m0"] < 1e-10
    assert np.allclose(a["S"], b["S"], rtol=0, atol=1e-10)
    assert abs(a["peak"] - b["peak"]) / a["peak"] < 1e-8


def test_non_spd_tensor_is_rejected():
    from fem.errors import InputError
    with pytest.raises(InputError, match="positive definite"):
        dif.rotate_tensor(np.diag([1.0, -0.1]), dif.rotation_2d(0.3))
