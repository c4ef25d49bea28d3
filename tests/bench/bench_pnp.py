"""Benchmark: 3D particle_in_electrolyte (PNP, phi + eta_Li + eta_hole).

Times one Poisson–Boltzmann equilibrium solve (phi only) and a short contact
transient (all species + potential) for a given mesh resolution and linear
solver, printing dofs, wall times, Newton and Krylov iterations as one JSON line.

    docker/run python3 tests/bench/bench_pnp.py --h-interface 1.0 --h-bulk 8 --solver lu
    docker/run mpirun -n 2 python3 tests/bench/bench_pnp.py --solver gmres_asm

Measured on the shared 2-core development machine (load average 6-8, so wall
times are ~3x the CPU times), R = 30 nm, box half-width 60 nm, Debye length 3.4 nm:

  ranks solver     h_int/h_bulk  PB dofs  PB s (Newton/Krylov)  PNP dofs  s/step (Newton/Krylov per 2 steps)
  1     lu         1.0 / 8         2801     0.8 (5/5)             8403     7.3  (16/16 per 5 steps)
  1     gmres_asm  1.0 / 8         2801     0.5 (5/30)            8403     1.9  (16/258 per 5 steps)
  2     lu         1.0 / 8         2801    16.8 (5/5)             8403    16.4  (16/16 per 5 steps)
  1     gmres_asm  0.5 / 4        10113     1.5 (5/46)           30339     7.0  (9/211 per 3 steps)
  1     gmres_asm  0.12 / 1.0    167456    75   (5/31)          502368   248    (8/337)
  2     gmres_asm  0.12 / 1.0    254252   151   (5/35)          762756   203    (8/390)

(the 2-rank Gmsh mesh came out larger for the same sizes).  PB: CG + BoomerAMG
(SPD Jacobian), 6-7 CG its per Newton step.  PNP: GMRES + additive Schwarz /
ILU(1) on the monolithic (phi, eta_Li, eta_hole) Jacobian, 40-50 its per
Newton step, 4 Newton steps per time step; LU (MUMPS) is the robust option for
small runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mpi4py import MPI  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--h-interface", type=float, default=1.0, help="element size at the surface / Debye length")
    ap.add_argument("--h-bulk", type=float, default=8.0, help="element size in the bulk / Debye length")
    ap.add_argument("--solver", default="lu", choices=("lu", "gmres_asm"))
    ap.add_argument("--steps", type=int, default=5, help="transient steps (fixed dt)")
    ap.add_argument("--dt", type=float, default=1e-6, help="time step [s]")
    ap.add_argument("--out", default="results/bench_pnp")
    a = ap.parse_args()
    comm = MPI.COMM_WORLD
    from fem.models import pnp
    from fem.output import mesh_summary
    from meshes import tags as T
    from problems import particle_in_electrolyte as pie
    from problems import space_charge as sc
    p = pie.ParticleInElectrolyteParameters.from_dict(
        {"h_interface_debye": a.h_interface, "h_bulk_debye": a.h_bulk, "solver": a.solver})
    s, materials, species, bulk = sc.build_model_description(p, cathode=T.PARTICLE, electrolyte=T.MATRIX)
    t0 = time.perf_counter()
    dom = pie.make_mesh(p, s, comm)
    t_mesh = time.perf_counter() - t0
    opts = pnp.linear_solver_options(p.solver)
    t0 = time.perf_counter()
    pb, etas, phi_bulk = pnp.solve_equilibrium_pb(dom, materials, species, bulk, 0.0, T.MATRIX, opts, prefix="bpb_",
                                                  interface=T.INTERFACE)
    t_pb = time.perf_counter() - t0
    row = {"ranks": comm.size, "solver": a.solver, "mesh_s": t_mesh,
           "pb_dofs": mesh_summary(dom.mesh, [pb.W])["dofs"], "pb_s": t_pb,
           "pb_newton": pb.solver.total_newton, "pb_krylov": pb.solver.total_krylov}
    pb.destroy()
    t0 = time.perf_counter()
    m = pnp.PNPModel(dom, materials, species, mode="transient", options=opts, phi_dirichlet={T.OUTER: 0.0},
                     time_order=1, prefix="bpnp_", interface=T.INTERFACE)
    m.set_contact_state(bulk)
    t_setup = time.perf_counter() - t0
    newton = krylov = 0
    t0 = time.perf_counter()
    ok = True
    for i in range(a.steps):
        st = m.step(i * a.dt / s.time, a.dt / s.time)
        ok &= st.converged
        newton += st.newton_iterations
        krylov += st.krylov_iterations
        m.accept((i + 1) * a.dt / s.time, a.dt / s.time, st)
    t_tr = time.perf_counter() - t0
    row.update({"pnp_dofs": mesh_summary(dom.mesh, [m.W])["dofs"], "pnp_setup_s": t_setup, "steps": a.steps,
                "converged": bool(ok), "pnp_s_per_step": t_tr / a.steps, "pnp_newton": newton,
                "pnp_krylov": krylov})
    m.destroy()
    if comm.rank == 0:
        print(json.dumps(row))
        Path(a.out).mkdir(parents=True, exist_ok=True)
        with open(Path(a.out) / "bench.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
