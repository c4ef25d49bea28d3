"""Benchmark (issue 13, goal 3): BoomerAMG options for the 50-grain particle (strong per-grain
anisotropy of D), Krylov iterations per linear solve at several mesh sizes, one process per size.

    docker/run python3 tests/bench/bench_particle_amg.py --mesh-size 0.06 --steps 6 --dt 60
    docker/run python3 tests/bench/bench_particle_amg.py --mesh-size 0.03 --steps 6 --dt 60

For one mesh (particle_discharge defaults: 50 grains, anisotropic D(c), galvanostatic 1C with
Butler-Volmer kinetics, P1, BDF2), the model is built once; for each option set below the
initial state is restored and ``--steps`` fixed steps of ``--dt`` seconds are taken, for each
scheme of the galvanostatic constraint in ``--solves`` (``one``: one GMRES solve per Newton
iteration on the bordered system, the default; ``two``: the earlier block elimination with two
GMRES solves on J; fem.galvanostatic).  Newton per step, Krylov per Newton, linear solves per
Newton, Krylov per solve, the final voltage (the schemes must agree), the wall and CPU time of
the set and per step (all steps, the first included) are recorded
(results/bench/particle_amg.jsonl; make_report.py tabulates).  The load average is printed with
the table: on a shared machine wall times are inflated, CPU times less so.
Option sets (hypre BoomerAMG, over fem.petsc_options.boomeramg(): HMIS, ext+i, P_max 4,
strong threshold 0.5, one level of aggressive coarsening; the AMG hierarchy rebuilt at every Newton
iteration (``bordered_pc_lag`` 1) or once per Newton solve (0) as the model sets it
(fem.models.intercalation.AMG_LAG; 1 before 2026-12-02) unless the set says ``bordered_pc_lag``; NB the first set of a process pays a warm-up (measured up to 15 % CPU at
116k dofs): compare a set with ``default`` run after it):
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

import bench_common as bc  # noqa: E402

OUT = HERE.parents[1] / "results" / "bench"
P = "pc_hypre_boomeramg_"
SETS = {
    "default": {},
    "theta0.25": {P + "strong_threshold": 0.25},
    "theta0.7": {P + "strong_threshold": 0.7},
    "no-agg": {P + "agg_nl": 0},
    "theta0.7 no-agg": {P + "strong_threshold": 0.7, P + "agg_nl": 0},
    "PMIS": {P + "coarsen_type": "PMIS"},
    "Falgout no-agg": {P + "coarsen_type": "Falgout", P + "agg_nl": 0},
    # session 6 (issue 13 goal 3): thresholds for 3D anisotropy without aggressive coarsening, P_max
    "theta0.6 no-agg": {P + "strong_threshold": 0.6, P + "agg_nl": 0},
    "no-agg Pmax6": {P + "agg_nl": 0, P + "P_max": 6},
    "theta0.7 no-agg Pmax6": {P + "strong_threshold": 0.7, P + "agg_nl": 0, P + "P_max": 6},
    "agg 2 paths": {P + "agg_num_paths": 2},
    # the AMG hierarchy of the first Newton iteration kept for the whole solve (bordered_pc_lag)
    "default lag-solve": {"bordered_pc_lag": 0},
    "default lag-newton": {"bordered_pc_lag": 1},  # the AMG rebuilt at every Newton iteration
    "no-agg lag-solve": {P + "agg_nl": 0, "bordered_pc_lag": 0},
    "default lag2": {"bordered_pc_lag": 2},
    # J too (chord Newton within a solve, J rebuilt when the residual falls by less than 10x)
    "lag-solve jac-lag": {"bordered_pc_lag": 0, "bordered_jacobian_lag": 0},
    "PMIS lag-solve": {P + "coarsen_type": "PMIS", "bordered_pc_lag": 0},
    "PMIS lag-solve jac-lag": {P + "coarsen_type": "PMIS", "bordered_pc_lag": 0, "bordered_jacobian_lag": 0},
    # session 11: PETSc GAMG with SSOR smoothing (fem.petsc_options.gamg_sor), as in the CH Schur factors
    "gamg-sor": {"pc_type": "gamg", "mg_levels_ksp_type": "richardson", "mg_levels_pc_type": "sor"},
}
__doc__ += "".join(f"\n* {k}: {v or 'the defaults'}" for k, v in SETS.items()) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mesh-size", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--dt", type=float, default=60.0, help="fixed step [s]")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--solves", default="one,two", help="schemes of the galvanostatic constraint (one, two)")
    a = ap.parse_args(argv)
    from mpi4py import MPI
    from petsc4py import PETSc

    from problems import particle_discharge as pd
    comm = MPI.COMM_WORLD
    t_build = time.perf_counter()
    p = pd.ParticleDischargeParameters.from_dict({"mesh_size": a.mesh_size, "n_grains": 50})
    model, setup = pd.build(p, comm)
    dofs = model.V.dofmap.index_map.size_global
    if comm.rank == 0:
        print(f"mesh_size {a.mesh_size}: {dofs} dofs on {comm.size} rank(s), built in "
              f"{time.perf_counter() - t_build:.0f} s, load {bc.loadavg()}", flush=True)
    dt = a.dt / setup.scales.time
    state0 = model.checkpoint_state()  # Functions by reference (a restart writes them to disk): copy their values
    arrays0 = {k: v.x.array.copy() for k, v in state0.items() if hasattr(v, "x")}
    solver = model.solver
    ksp = solver.ksp_field  # the field KSP: its PC is the AMG of both schemes
    prefix = ksp.getOptionsPrefix()
    db = PETSc.Options()
    rows = []
    all_keys = {k for s in SETS.values() for k in s if not k.startswith("bordered_")}
    from fem import petsc_options
    base = petsc_options.gmres_amg()
    pcsetup = bc.PCSetupTimer()
    default_lag = solver.pc_lag  # the model's (fem.models.intercalation.AMG_LAG unless an option says)
    for name, solves in [(n, m) for n in a.sets.split(",") for m in a.solves.split(",")]:
        solver.solves = solves
        for k in all_keys:  # back to the defaults, then this set
            if k in base:
                db[prefix + k] = base[k]
            elif db.hasName(prefix + k):
                db.delValue(prefix + k)
        # BorderedNewton's attributes, not PETSc options (set by -<prefix>bordered_* when it is built)
        solver.pc_lag = int(SETS[name].get("bordered_pc_lag", default_lag))
        solver.jacobian_lag = int(SETS[name].get("bordered_jacobian_lag", 1))
        for k, v in SETS[name].items():
            if not k.startswith("bordered_"):
                db[prefix + k] = v
        ksp.getPC().reset()
        ksp.setFromOptions()
        for k, arr in arrays0.items():
            state0[k].x.array[:] = arr
        model.restore_state(state0)
        newton = krylov = 0
        ok = True
        solves0, t0, pc0, jac0 = solver.total_linear_solves, solver.timings(), pcsetup(), solver.total_jacobians
        comm.barrier()
        cpu0, w0 = time.process_time(), time.perf_counter()
        for i in range(a.steps):
            st = model.step(i * dt, dt)
            newton, krylov = newton + st.newton_iterations, krylov + st.krylov_iterations
            if not st.converged:
                ok = False
                break
            model.accept((i + 1) * dt, dt, st)
        comm.barrier()
        wall, cpu = time.perf_counter() - w0, time.process_time() - cpu0
        solves_n = solver.total_linear_solves - solves0
        t1 = solver.timings()  # rank 0's split: assembly (F, J, border) / the rest (AMG setup + Krylov)
        asm, lin = (t1[k] - t0[k] for k in ("assembly_s", "linear_solve_s"))
        pcs = pcsetup() - pc0  # PETSc's PCSetUp event: the AMG setups (inside ``lin``)
        row = {"physics": "particle_discharge", "set": name, "options": SETS[name], "solves": solves,
               "mesh_size": a.mesh_size, "ranks": comm.size,
               "dofs": dofs, "dt_s": a.dt, "steps": a.steps, "converged": ok, "newton": newton, "krylov": krylov,
               "newton_per_step": newton / a.steps, "krylov_per_newton": krylov / max(newton, 1),
               "jacobians_per_step": (solver.total_jacobians - jac0) / a.steps,
               "solves_per_newton": solves_n / max(newton, 1), "krylov_per_solve": krylov / max(solves_n, 1),
               "cpu_s": cpu, "wall_s": wall, "wall_per_step_s": wall / a.steps, "cpu_per_step_s": cpu / a.steps,
               "assembly_per_step_s": asm / a.steps, "linear_per_step_s": lin / a.steps,
               "pc_setup_per_step_s": pcs / a.steps, "krylov_time_per_step_s": (lin - pcs) / a.steps,
               "voltage_V": model.voltage_V, "loadavg": bc.loadavg(),
               # peak resident set since the start (mesh generation included): largest rank, all ranks
               "peak_rss_mb_max_rank": comm.allreduce(bc.peak_rss_mb(), op=MPI.MAX),
               "peak_rss_mb_sum": comm.allreduce(bc.peak_rss_mb(), op=MPI.SUM)}
        bc.write_row(OUT / "particle_amg.jsonl", row, comm)
        rows.append(row)
    cols = [("dofs", "dofs", "d"), ("ranks", "ranks", "d"), ("set", "AMG options", ""), ("solves", "scheme", ""),
            ("newton_per_step", "Newton/step", ".2f"), ("jacobians_per_step", "J/step", ".2f"),
            ("krylov_per_newton", "Krylov/Newton", ".2f"),
            ("solves_per_newton", "solves/Newton", ".2f"), ("krylov_per_solve", "Krylov/solve", ".2f"),
            ("wall_per_step_s", "wall/step [s]", ".2f"), ("cpu_per_step_s", "CPU/step [s]", ".2f"),
            ("assembly_per_step_s", "assembly/step [s]", ".2f"), ("pc_setup_per_step_s", "AMG setup/step [s]", ".2f"),
            ("krylov_time_per_step_s", "Krylov/step [s]", ".2f"),
            ("voltage_V", "V_end [V]", ".10f"), ("peak_rss_mb_max_rank", "peak RSS/rank [MB]", ".0f"), ("loadavg", "load avg", "")]
    if comm.rank == 0:
        print(bc.table(rows, cols))
    model.destroy()


if __name__ == "__main__":
    main()
