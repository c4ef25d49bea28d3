"""Benchmark: 3D particle_in_electrolyte (PNP, phi + eta_Li + eta_hole), linear solvers side by side.

For each mesh resolution (h_interface_debye, h_bulk_debye pairs) and linear solver, optionally
one Poisson-Boltzmann equilibrium solve (phi only), then a short contact transient (all species +
potential) at fixed dt: dofs, per-step assembly / PC setup / solve / wall time, Newton per step,
Krylov per Newton, peak memory per dof, load average.  Prints a table; appends JSON lines to
results/bench/pnp_solvers.jsonl (tests/bench/make_report.py turns them into tests/bench/README.md).

    docker/run python3 tests/bench/bench_pnp.py --h-interface 1.0,0.5,0.3 --h-bulk 8,4,2.4 --solver fieldsplit
    docker/run python3 tests/bench/bench_pnp.py --h-interface 0.5 --h-bulk 4 --solver gmres_asm,lu
    docker/run python3 tests/bench/bench_pnp.py --solver fieldsplit --petsc "-bpnp_slotboom_pc_fieldsplit_type multiplicative"
    docker/run mpirun -n 2 python3 tests/bench/bench_pnp.py --h-interface 0.3 --h-bulk 2.4 --solver fieldsplit

Solvers: lu (MUMPS), gmres_asm (GMRES + ASM/ILU(1), the earlier iterative option), fieldsplit
(GMRES + fem.pnp_preconditioner.SlotboomPC), auto.  The model's options prefix is ``bpnp_``.
Measured numbers: tests/bench/README.md.  Earlier (issue 13, load 6-8): gmres_asm at 502 368
dofs 248 s/step (4 Newton, ~42 Krylov each); 2 ranks 203 s/step at 762 756 dofs.  Session 8
(fieldsplit, load 4): 762 756 dofs 145 s wall / 95.5 s CPU per step, of which assembly 76 s
(4 Jacobians, FFCx kernel the larger part).  ``--full-pattern`` keeps the mixed element's full
Jacobian pattern (the A/B of PNPModel's compress_pattern); the rows record both nonzero counts.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mpi4py import MPI  # noqa: E402

import bench_common as bc  # noqa: E402

OUT = Path("results/bench")
COLS = [("pnp_dofs", "PNP dofs", "d"), ("ranks", "ranks", "d"), ("solver", "solver", ""),
        ("pnp_setup_s", "setup s", ".1f"), ("assembly_per_step_s", "assembly s/step", ".2f"),
        ("pc_setup_per_step_s", "PC setup s/step", ".2f"), ("solve_per_step_s", "solve s/step", ".2f"),
        ("wall_per_step_s", "wall s/step", ".2f"), ("newton_per_step", "Newton/step", ".1f"),
        ("krylov_per_newton", "Krylov/Newton", ".1f"), ("krylov_max_step", "max Krylov/Newton", ".1f"),
        ("bytes_per_dof", "B/dof", ".0f"), ("loadavg", "load avg", "")]


def run(h_int, h_bulk, solver, steps, dt_s, extra, pb=True, tag="", full_pattern=False, preintegrate=True):
    """PB equilibrium (optional) and ``steps`` fixed contact-transient steps of dt_s."""
    comm = MPI.COMM_WORLD
    from fem import petsc_options
    from fem.models import pnp
    from fem.output import mesh_summary
    from meshes import tags as T
    from problems import particle_in_electrolyte as pie
    from problems import space_charge as sc
    petsc_options.set_user_options(shlex.split(extra))
    p = pie.ParticleInElectrolyteParameters.from_dict({"h_interface_debye": h_int, "h_bulk_debye": h_bulk})
    s, materials, species, bulk = sc.build_model_description(p, cathode=T.PARTICLE, electrolyte=T.MATRIX)
    t0 = time.perf_counter()
    dom = pie.make_mesh(p, s, comm)
    t_mesh = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    opts = pnp.linear_solver_options(solver)
    row = {"physics": "pnp_3d", "tag": tag, "ranks": comm.size, "solver": solver, "petsc_extra": extra,
           "full_pattern": full_pattern, "preintegrate": preintegrate,
           "h_interface_debye": h_int, "h_bulk_debye": h_bulk, "mesh_s": t_mesh}
    if pb:
        t0 = time.perf_counter()
        pbm, etas, phi_bulk = pnp.solve_equilibrium_pb(dom, materials, species, bulk, 0.0, T.MATRIX, opts,
                                                       prefix="bpb_", interface=T.INTERFACE)
        row.update(pb_dofs=mesh_summary(dom.mesh, [pbm.W])["dofs"], pb_s=time.perf_counter() - t0,
                   pb_newton=pbm.solver.total_newton, pb_krylov=pbm.solver.total_krylov)
        pbm.destroy()
    bc.reset_peak()
    rss0 = bc.rss_mb()
    t0 = time.perf_counter()
    m = pnp.PNPModel(dom, materials, species, mode="transient", options=opts, phi_dirichlet={T.OUTER: 0.0},
                     time_order=1, prefix="bpnp_", interface=T.INTERFACE, compress_pattern=not full_pattern,
                     preintegrate=preintegrate)
    m.set_contact_state(bulk)
    t_setup = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    ndofs = mesh_summary(dom.mesh, [m.W])["dofs"]
    if comm.rank == 0:
        print(f"[bench_pnp] dofs={ndofs} mesh {t_mesh:.1f} s, setup {t_setup:.1f} s wall, "
              f"{time.process_time():.1f} s CPU so far, load {bc.loadavg()}", flush=True)
    timer = bc.StepTimer(m.solver, comm)
    dt = dt_s / s.time
    for i in range(steps):
        with timer:
            st = m.step(i * dt, dt)
            r = timer.record(st)
        if comm.rank == 0:
            print(f"[bench_pnp] step {i}: wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, Newton {r['newton']}, "
                  f"Krylov {r['krylov']}, converged {r['converged']}, load {bc.loadavg()}", flush=True)
        if not st.converged:
            break
        m.accept((i + 1) * dt, dt, st)
    nnz = m.pattern_nnz or (None, None)
    row.update({"pnp_dofs": ndofs, "pnp_setup_s": t_setup, "jacobian_nnz_mixed": nnz[0], "jacobian_nnz": nnz[1],
                "steps": len(timer.rows), "dt_s": dt_s,
                "pnp_pc": m.linear_solver, **bc.summarize(timer.rows), **bc.memory_per_dof(comm, rss0, ndofs),
                "loadavg": bc.loadavg()})
    m.destroy()
    bc.write_row(OUT / "pnp_solvers.jsonl", row, comm)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--h-interface", default="1.0", help="element size at the surface / Debye length (list)")
    ap.add_argument("--h-bulk", default="8.0", help="element size in the bulk / Debye length (list, paired)")
    ap.add_argument("--solver", default="fieldsplit", help="lu, gmres_asm, fieldsplit, auto (comma separated)")
    ap.add_argument("--steps", type=int, default=3, help="transient steps (fixed dt)")
    ap.add_argument("--dt", type=float, default=1e-6, help="time step [s]")
    ap.add_argument("--petsc", default="", help="extra PETSc options, e.g. '-bpnp_pc_fieldsplit_type additive'")
    ap.add_argument("--no-pb", action="store_true", help="skip the Poisson-Boltzmann solve")
    ap.add_argument("--tag", default="")
    ap.add_argument("--no-preintegrate", action="store_true",
                    help="Jacobian = derivative of F as generated (PNPModel(preintegrate=False))")
    ap.add_argument("--full-pattern", action="store_true",
                    help="keep the mixed element's full Jacobian pattern (PNPModel(compress_pattern=False))")
    a = ap.parse_args()
    rows = []
    for hi, hb in zip(a.h_interface.split(","), a.h_bulk.split(",")):
        for solver in a.solver.split(","):
            rows.append(run(float(hi), float(hb), solver, a.steps, a.dt, a.petsc, not a.no_pb, a.tag,
                            a.full_pattern, not a.no_preintegrate))
    if MPI.COMM_WORLD.rank == 0:
        print(bc.table(rows, COLS))


if __name__ == "__main__":
    main()
