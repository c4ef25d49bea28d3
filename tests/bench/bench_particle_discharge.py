"""Benchmark: particle_discharge on a 50-grain polycrystal, serial and 2 ranks.

    docker/run python3 tests/bench/bench_particle_discharge.py [--mesh-sizes 0.2,0.1] [--ranks 1,2]
        [--grains 50] [--t-end 0] [--degree 1]

Each case is one ``solidion run particle_discharge`` (optionally under ``mpirun -n``)
with P1 elements, 1C constant current, the default anisotropic D(c) and
Butler–Volmer kinetics, to the cut-off (``--t-end 0``) or a fixed time.
Reports dofs, wall time (total and time loop), steps, rejected steps, Newton
iterations per step, Krylov iterations per Newton iteration (the bordered Newton does one
GMRES solve per iteration by default, two with ``--petsc '-particle_bordered_solves two'``,
the scheme before 2026-12-02: the table below has Krylov per solve = Krylov / (2 Newton)),
the peak resident set of the largest process (rank) and the load average, and writes
results/bench/particle_discharge.{md,json}.
Goal from the issue: < 10 min on 2 ranks at ~500k dofs (mesh size ~0.03),
Krylov iterations per solve independent of the mesh size within 30 %.

Measured 2026-11-21 (2 cores shared with ~5 other jobs, so wall times are
inflated and noisy; 50 grains, P1, 1C, to surface saturation at x_surface_min >= 0.98):

| mesh_size | ranks | dofs | loop [s] | steps | rejected | Newton/step | Krylov/solve | t_final [s] | V_final [V] |
|---|---|---|---|---|---|---|---|---|---|
| 0.2  | 1 | 1520  | 8.7   | 76 | 7 | 3.39 | 6.9  | 2964 | 3.398 |
| 0.1  | 1 | 5488  | 54.8  | 75 | 6 | 3.32 | 7.3  | 2919 | 3.409 |
| 0.1  | 2 | 5488  | 330.0 | 75 | 6 | 3.32 | 7.8  | 2919 | 3.409 |
| 0.06 | 1 | 18259 | 84.5  | 75 | 7 | 3.44 | 8.6  | 2912 | 3.396 |
| 0.06 | 2 | 18259 | 31.2  | 75 | 7 | 3.44 | 8.9  | 2912 | 3.396 |
| 0.04 | 2 | 52700 | 611.3 | 75 | 7 | 3.47 | 10.1 | 2904 | 3.399 |

(the 0.1/2-rank and 0.04 runs coincided with heavy load from other jobs.)
Serial and 2-rank voltages agree to 1e-13 V.  The ~500k-dof case (mesh_size ~0.02)
was not run: at ~1.5-2.5 us per cell per P1 matrix assembly on this machine it
needs roughly 6 s of assembly per Newton iteration x 260 iterations.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_case(h: float, ranks: int, grains: int, t_end: float, degree: int, petsc: str = "", tag: str = "") -> dict:
    out = REPO / "results" / "bench" / f"particle_discharge_h{h}_g{grains}_np{ranks}{'_' + tag if tag else ''}"
    cmd = [sys.executable, "-m", "solidion", "run", "particle_discharge", "--quiet",
           "--set", f"mesh_size={h}", "--set", f"n_grains={grains}", "--set", f"element_degree={degree}",
           "--set", "fields_every=0", "--set", "section_plot=false", "--set", f"t_end_s={t_end}",
           "--out", str(out)]
    if petsc:
        cmd += ["--", *shlex.split(petsc)]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)  # all ranks, load-independent-ish
    if r.returncode != 0:
        return {"h": h, "ranks": ranks, "error": (r.stderr or r.stdout)[-500:]}
    s = json.loads((out / "summary.json").read_text())
    newton = s["newton_iterations"]
    scheme = "two" if "bordered_solves two" in petsc else "one"
    return {"physics": "particle_discharge", "tag": tag, "petsc_extra": petsc, "grains": grains,
            "t_end_s": t_end, "cpu_s": cpu, "loadavg": [round(x, 2) for x in os.getloadavg()],
            "newton": newton, "krylov": s["krylov_iterations"],
            "h": h, "ranks": ranks, "dofs": s["mesh"]["dofs"], "cells": s["mesh"]["cells"],
            "wall_s": wall, "loop_s": s["time_loop_s"], "steps": s["steps"], "rejected": s["rejected_steps"],
            "newton_per_step": newton / max(s["steps"], 1), "bordered_solves": scheme,
            "krylov_per_newton": s["krylov_iterations"] / max(newton, 1),
            "krylov_per_solve": s["krylov_iterations"] / max((2 if scheme == "two" else 1) * newton, 1),
            "peak_rss_mb_max_rank": ru1.ru_maxrss / 1024.0,  # the largest child process (Linux: kB)
            "t_final_s": s["t_final_s"], "final_voltage_V": s["final_voltage_V"],
            "capacity_mAh": s["capacity_mAh"], "reason": s["stop_reason"] or s["reason"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mesh-sizes", default="0.2,0.1")
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--grains", type=int, default=50)
    ap.add_argument("--t-end", type=float, default=0.0, help="end time [s]; 0: to the cut-off")
    ap.add_argument("--degree", type=int, default=1)
    ap.add_argument("--petsc", default="", help="extra PETSc options (the model's prefix is particle_), e.g. "
                    "'-particle_pc_hypre_boomeramg_strong_threshold 0.7'")
    ap.add_argument("--tag", default="")
    a = ap.parse_args(argv)
    rows = []
    for h in [float(x) for x in a.mesh_sizes.split(",")]:
        for n in [int(x) for x in a.ranks.split(",")]:
            row = run_case(h, n, a.grains, a.t_end, a.degree, a.petsc, a.tag)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if "error" not in row:
                dest = REPO / "results" / "bench"
                dest.mkdir(parents=True, exist_ok=True)
                with open(dest / "particle_solvers.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")
    head = ("| mesh_size | ranks | dofs | solves/Newton | wall [s] | loop [s] | steps | rejected | Newton/step "
            "| Krylov/Newton | peak RSS/rank [MB] | t_final [s] | V_final [V] | load avg |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['h']} | {r['ranks']} | error: {r['error'][:80]!r} |")
            continue
        lines.append(f"| {r['h']} | {r['ranks']} | {r['dofs']} | {r['bordered_solves']} | {r['wall_s']:.1f} "
                     f"| {r['loop_s']:.1f} | {r['steps']} | {r['rejected']} | {r['newton_per_step']:.2f} "
                     f"| {r['krylov_per_newton']:.1f} | {r['peak_rss_mb_max_rank']:.0f} | {r['t_final_s']:.0f} "
                     f"| {r['final_voltage_V']:.3f} | {r['loadavg']} |")
    table = head + "\n".join(lines) + "\n"
    print(table)
    dest = REPO / "results" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "particle_discharge.md").write_text(table)
    (dest / "particle_discharge.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
