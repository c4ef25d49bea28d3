#!/usr/bin/env python3
"""Why the 3D ball drifts from the 1D radial model under a fixed surface concentration: the P1 shell's
conductance, and the backward-Euler lag of the interface, measured separately.

    docker/run python3 tests/bench/bench_shell_conductance_3d.py [--cases 0.7,0.25,0.1 0.2,0.25,0.04 ...]
        [--grading 0.3] [--timeseries results/.../sphere_3d-h0.25] [--out results/bench/shell_conductance_3d.json]

1. Conductance.  Quasi-steady shrinking core with c = 1 on the core's surface (radius r_c) and c = 0
   on the particle surface (R = 1): the flux through the shell is Q = 4 pi D r_c R / (R - r_c)
   (Crank, *The Mathematics of Diffusion*, 1975, eq. 6.4; the quasi-steady law of the shrinking core).
   The core velocity under a fixed surface concentration is Q / (c_alpha - c_beta) / area, so a
   relative error eps of the discrete Q is a relative error of the interface velocity.  Each case
   (r_c, h, h_interface) meshes the ball as the problem does (:func:`meshes.core_shell.core_shell`,
   Gmsh size graded from h_interface at the interface to h with ``grading``, default 0.3 as
   :func:`meshes._common.size_field`), solves -div grad c = 0 in the shell (P1, LU) and takes Q from
   the residual at the surface dofs (the discrete flux the Stefan condition uses).  Reported:
   eps = Q / Q_exact(r_c) - 1 and against the volume-equivalent radius of the meshed (inscribed) core.
   ``--grading`` overrides size_field's grading for this study only (the problem does not expose it).

2. Time step.  With ``--timeseries DIR`` (a 3D run's output), the quasi-steady interface ODE
   dr/dt = -K / (r (1 - r)), K = (c_beta - c_s) / (c_alpha - c_beta) (defaults of shrinking_core:
   surface_fraction 0.005), is integrated by backward Euler on that run's own step sequence and
   compared with its exact solution F(r0) - F(r) = K t, F = r^2/2 - r^3/3: the part of the drift the
   step size alone causes.

Measured (2026-12-02, shared 2-core machine, load ~2):

    r_c   h     h_if   grading  cells    eps(r_c)   (static conductance error)
    0.70  0.25  0.10   0.3      11485    +1.7 %
    0.40  0.25  0.10   0.3       5183    +4.4 %
    0.20  0.25  0.10   0.3       2640    +9.0 %
    0.10  0.25  0.10   0.3       1938   +19.3 %
    0.20  0.25  0.04   0.3       9972    +4.5 %
    0.10  0.25  0.02   0.3      11445    +4.9 %
    0.40  0.10  0.02   0.3     121154    +1.2 %
    0.20  0.10  0.02   0.3      44792    +2.3 %
    0.40  0.25  0.04   0.3      29518    +2.4 %    (0.15: 49643 cells, +1.1 %)
    0.20  0.25  0.02   0.3      31911    +3.1 %    (0.15: 64232 cells, +1.3 %)

P2 on the same meshes (``--degrees 1,2``; 2026-12-02, session 7, load ~2; P1 rows reproduced to 4 digits):

    r_c   h     h_if   cells   P1 dofs  eps(r_c) eps(r_eq)   P2 dofs  eps(r_c)  eps(r_eq)
    0.70  0.25  0.10   11485    2208    +1.67 %  +2.51 %     16502    -0.02 %   +0.81 %
    0.40  0.25  0.10    5183     994    +4.42 %  +5.76 %      7424    -0.57 %   +0.71 %
    0.20  0.25  0.10    2640     581    +8.99 %  +13.2 %      4057    -2.66 %   +1.13 %
    0.10  0.25  0.10    1938     460   +19.3 %   +37.0 %      3107    -7.45 %   +6.34 %
    0.20  0.25  0.04    9972    1777    +4.48 %  +5.12 %     13774    -0.30 %   +0.31 %
    0.10  0.25  0.02   11445    2023    +4.85 %  +5.42 %     15739    -0.34 %   +0.20 %

With P2 the field error is gone to a few 0.1%; what is left is the geometry of the meshed core (an
inscribed polyhedron: less conductance than the sphere of radius r_c, more than the sphere of its own
volume), small once the interface is sized to the core (h_if ~ 0.2 r_c: |eps| <= 0.34 %).  The
conductance then no longer limits the 3D run; its time step does (bench_sphere_3d_vs_1d.py).

P1 overestimates the shell's conductance (Galerkin: the discrete Dirichlet energy is an upper bound),
so the 3D core shrinks faster than the 1D one; with the interface size relative to r_c the error no
longer grows as the core shrinks but is set by the grading (the cells grow ~30% per layer away from the
interface, i.e. a fixed h/rho for the 1/rho field): halving the grading halves eps at about twice the
cells.  The step-size part on the bench's h = 0.25 run (64 steps, max_move 0.3 h_min, starting at its
r_eq = 0.698 R) is 0.06% of R at t = 131 s (1D core radius 0.27 R), 0.2% at 147 s (0.20 R), 0.3% at 153 s
(0.17 R) and 0.5% at 158 s (0.14 R), against the observed 3D-1D drift of 1.5%, 2.5%, 3.2% and 4.7%: the drift is spatial (the
conductance), not the time step, and not the interface velocity estimate (the run's
moles balance to 1e-8, so the core volume follows the discrete flux exactly).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np
import ufl
from mpi4py import MPI

import dolfinx.fem
import dolfinx.fem.petsc

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CASES = ["0.7,0.25,0.1", "0.4,0.25,0.1", "0.2,0.25,0.1", "0.1,0.25,0.1", "0.2,0.25,0.04", "0.1,0.25,0.02"]


def conductance(rc: float, h: float, h_interface: float, degree: int = 1) -> dict:
    """Discrete shell flux of the ball (R = 1) with c = 1 on the core's surface, 0 on the particle's
    (Lagrange ``degree`` 1 or 2 on the P1 mesh)."""
    from meshes import tags as T
    from meshes.core_shell import core_shell
    dom = core_shell(rc, [1 - rc], h=h, h_interface=h_interface, dim=3, comm=MPI.COMM_SELF, length_scale=1.0)
    mesh = dom.mesh
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dxs = dom.dx(T.shell(0))
    zero = dolfinx.fem.Constant(mesh, 0.0)
    # a zero term on the core puts its (held) dofs into the sparsity pattern, as in TwoPhaseStefan
    a = ufl.inner(ufl.grad(u), ufl.grad(v)) * dxs + zero * u * v * dom.dx()
    idofs = dolfinx.fem.locate_dofs_topological(V, 2, dom.facets(T.interface(0)))
    sdofs = dolfinx.fem.locate_dofs_topological(V, 2, dom.facets(T.SURFACE))
    # dofs of no shell cell (P2 basis functions may integrate to 0 or less: by the cells, serial mesh)
    in_shell = np.unique(V.dofmap.list[dom.cells(T.shell(0))])
    outside = np.setdiff1d(np.arange(V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts), in_shell)
    held = np.union1d(idofs, outside).astype(np.int32)
    c = dolfinx.fem.Function(V)
    bcs = [dolfinx.fem.dirichletbc(1.0, held, V), dolfinx.fem.dirichletbc(0.0, sdofs, V)]
    dolfinx.fem.petsc.LinearProblem(a, zero * v * dxs, bcs=bcs, u=c, petsc_options={
        "ksp_type": "preonly", "pc_type": "lu"}).solve()
    res = dolfinx.fem.assemble_vector(dolfinx.fem.form(ufl.inner(ufl.grad(c), ufl.grad(v)) * dxs)).array
    Q = -float(np.sum(res[sdofs]))  # the discrete flux into the surface (residual at its dofs)
    vol = dolfinx.fem.assemble_scalar(dolfinx.fem.form(1.0 * dom.dx(T.CORE)))
    r_eq = (3 * vol / (4 * math.pi)) ** (1 / 3)
    exact = lambda r: 4 * math.pi * r / (1 - r)  # noqa: E731
    return {"r_c": rc, "h": h, "h_interface": h_interface, "r_eq": r_eq, "degree": degree,
            "dofs": int(V.dofmap.index_map.size_global),
            "cells": mesh.topology.index_map(3).size_local, "interface_facets": len(dom.facets(T.interface(0))),
            "eps": Q / exact(rc) - 1, "eps_r_eq": Q / exact(r_eq) - 1}


def backward_euler_lag(timeseries_dir: Path, c_alpha=0.9874255500150061, c_beta=0.012574449984993897,
                       c_s=0.005, length_m=1e-7, time_s=10.0) -> list[dict]:
    """Backward Euler on dr/dt = -K/(r(1-r)) with the run's step sequence vs the exact solution."""
    from scipy.optimize import brentq, minimize_scalar
    d = np.genfromtxt(timeseries_dir / "timeseries.csv", delimiter=",", names=True)
    t = d["t_s"] / time_s
    K = (c_beta - c_s) / (c_alpha - c_beta)
    r0 = float(d["core_radius_m"][0] / length_m)
    F = lambda r: r * r / 2 - r ** 3 / 3  # noqa: E731
    rows, r = [], r0
    for i in range(1, len(t)):
        dt = t[i] - t[i - 1]
        f = lambda x: x - r + dt * K / (x * (1 - x))  # noqa: E731,B023
        lo = minimize_scalar(f, bounds=(1e-6, r), method="bounded").x
        if f(lo) > 0 or F(r0) - K * t[i] <= 0:
            break  # the core vanishes within this step
        r = brentq(f, lo, r)
        r_ex = brentq(lambda x: F(r0) - F(x) - K * t[i], 0.0, r0)  # noqa: B023
        rows.append({"t_s": float(t[i] * time_s), "r_be": r, "r_exact": r_ex, "err": r - r_ex})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="*", default=DEFAULT_CASES, help="r_c,h,h_interface (relative to R)")
    ap.add_argument("--grading", type=float, default=0.3)
    ap.add_argument("--degrees", default="1", help="Lagrange degrees to compare, e.g. 1,2")
    ap.add_argument("--timeseries", default=None)
    ap.add_argument("--out", default=str(REPO / "results" / "bench" / "shell_conductance_3d.json"))
    a = ap.parse_args()
    if a.grading != 0.3:  # this study only: the problem's meshes use size_field's default
        import meshes._common as common
        import meshes.core_shell as cs
        orig = common.size_field
        cs.size_field = lambda h, h_min=None, near=(), grading=0.3, **kw: orig(h, h_min, near, grading=a.grading, **kw)
    rows = [conductance(*[float(x) for x in c.split(",")], degree=int(k)) for c in a.cases
            for k in a.degrees.split(",")]
    load = os.getloadavg()
    print(f"# static shell conductance (degrees {a.degrees}), grading {a.grading}; load average {load[0]:.1f} {load[1]:.1f} "
          f"{load[2]:.1f} (2 cores, shared)")
    print(f"{'r_c':>5} {'h':>5} {'h_if':>6} {'r_eq':>7} {'cells':>7} {'if tris':>7} {'P':>2} {'dofs':>7} "
          f"{'eps(r_c)':>9} {'eps(r_eq)':>9}")
    for r in rows:
        print(f"{r['r_c']:5.2f} {r['h']:5.3f} {r['h_interface']:6.3f} {r['r_eq']:7.4f} {r['cells']:7d} "
              f"{r['interface_facets']:7d} {r['degree']:2d} {r['dofs']:7d} {r['eps']:+9.4f} {r['eps_r_eq']:+9.4f}")
    lag = []
    if a.timeseries:
        lag = backward_euler_lag(Path(a.timeseries))
        print(f"# backward-Euler lag of the quasi-steady interface ODE on the steps of {a.timeseries}")
        print(f"{'t [s]':>8} {'r_BE/R':>7} {'r_exact/R':>9} {'err/R':>8}")
        for r in lag[::max(1, len(lag) // 15)] + lag[-1:]:
            print(f"{r['t_s']:8.2f} {r['r_be']:7.4f} {r['r_exact']:9.4f} {r['err']:+8.4f}")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"load_average": load, "grading": a.grading, "rows": rows, "lag": lag}, indent=1))


if __name__ == "__main__":
    main()
