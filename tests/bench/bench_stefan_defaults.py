#!/usr/bin/env python3
"""shrinking_core defaults to full conversion: the 1D sphere against the quasi-steady shrinking-core law
and an independent front-fixing solution, and the remeshed axisymmetric / 3D runs (cells, remeshes,
moles error across remeshes, wall time).

    docker/run python3 tests/bench/bench_stefan_defaults.py [--cases 1d,2d,3d] [--ranks 1]

1d: ``surface_condition=concentration`` (the quasi-steady law's setting), all else default; the
conversion time t(r_c = 0.1 R) (core volume fraction 0.001) and the core radius over r_c >= 0.2 R
are compared with :func:`fem.analytic_stefan.shrinking_core_time` (classical, Levenspiel) and
:func:`fem.analytic_stefan.shrinking_core_front_fixing` (n = 400, converged to 2e-4 in t).
2d/3d: the default constant-current run (1C on the two-phase window).  Prints a table (with the
load average: the machine is shared) and writes results/bench/stefan_defaults.json.  Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def run_case(name: str, sets: list[str], ranks: int, outroot: Path) -> tuple[dict, np.ndarray]:
    out = outroot / f"stefan_defaults-{name}-n{ranks}"
    cmd = [sys.executable, "-m", "solidion", "run", "shrinking_core", "--quiet", "--overwrite", "--out", str(out),
           "--set", "fields_every=0"]
    for s in sets:
        cmd += ["--set", s]
    if ranks > 1:
        cmd = ["mpirun", "-n", str(ranks), *cmd]
    subprocess.run(cmd, check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    s = json.loads((out / "summary.json").read_text())
    return s, np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)


def compare_1d(s: dict, a: np.ndarray) -> dict:
    from fem.analytic_stefan import shrinking_core_front_fixing, shrinking_core_time
    p = s["parameters"]
    R, D, cm = p["radius_m"], p["D_shell_m2_s"], p["c_max_mol_m3"]
    ca, cb = s["interface_fractions"]["core"] * cm, s["interface_fractions"]["shell"] * cm
    cs, xi0 = p["surface_fraction"] * cm, s["resolved"]["initial_core_fraction"]
    t, r = a["t_s"], a["core_radius_m"]
    t_fe = float(np.interp(0.1 * R, r[::-1], t[::-1]))
    t_law = float(shrinking_core_time(0.1, R, D, ca, cb, cs, xi0))
    # front fixing in nondimensional units (R = 1, D = 1; t in R^2/D)
    tau = R**2 / D
    rff, t_ff = shrinking_core_front_fixing(t / tau, 1.0, 1.0, ca / cm, cb / cm, cs / cm, xi0, n=400)
    t_ff *= tau
    m = (r >= 0.2 * R) & np.isfinite(rff)
    law_t = shrinking_core_time(r[m] / R, R, D, ca, cb, cs, xi0)
    return {"t_convert_fe_s": t_fe, "t_convert_law_s": t_law, "t_convert_front_fixing_s": t_ff,
            "t_rel_vs_law": t_fe / t_law - 1, "t_rel_vs_front_fixing": t_fe / t_ff - 1,
            "law_vs_front_fixing": t_law / t_ff - 1,
            "max_r_err_vs_front_fixing_R": float(np.max(np.abs(r[m] / R - rff[m]))),
            "max_t_rel_vs_law_r_ge_0.2R": float(np.max(np.abs(t[m][1:] / law_t[1:] - 1)))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="1d,2d,3d")
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--out", default="results/bench")
    a = ap.parse_args()
    outroot = REPO / a.out
    cases = {"1d": ["surface_condition=concentration", "t_end_s=1e6"],
             "1d_old": ["surface_condition=concentration", "t_end_s=1e6", "shell_cells=1", "remesh_quality=0",
                        "max_move_cells=0.3"],
             "2d": ["geometry=axisymmetric_2d"], "3d": ["geometry=sphere_3d"]}
    rows = []
    for name in a.cases.split(","):
        s, ts = run_case(name, cases[name], a.ranks, outroot)
        row = {"case": name, "ranks": a.ranks, "status": s["status"], "reason": s["reason"], "steps": s["steps"],
               "cells_initial": s["mesh"]["cells"], "cells_final": s["final_cells"], "remeshes": s["remesh_count"],
               "final_core_fraction": s["final_core_volume_fraction"],
               "max_mass_balance_rel_error": s["max_mass_balance_rel_error"],
               "max_remesh_moles_rel_error": s["max_remesh_moles_rel_error"], "wall_s": s["wall_time_s"],
               "remesh_wall_s": s["remesh_wall_s"], "load": os.getloadavg()[0]}
        if name.startswith("1d"):
            row.update(compare_1d(s, ts))
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\nload average {os.getloadavg()} (shared machine: wall times are not quiet-machine numbers)")
    print(f"{'case':>7} {'st':>3} {'steps':>6} {'cells0':>7} {'cells1':>7} {'remesh':>6} {'f_end':>8} "
          f"{'mass err':>9} {'remesh err':>10} {'wall s':>8}")
    for r in rows:
        print(f"{r['case']:>7} {r['status'][:3]:>3} {r['steps']:6d} {r['cells_initial']:7d} {r['cells_final']:7d} "
              f"{r['remeshes']:6d} {r['final_core_fraction']:8.2e} {r['max_mass_balance_rel_error']:9.1e} "
              f"{r['max_remesh_moles_rel_error']:10.1e} {r['wall_s']:8.1f}")
        if "t_rel_vs_law" in r:
            print(f"        conversion time vs classical law {100 * r['t_rel_vs_law']:+.2f}%, vs front fixing "
                  f"{100 * r['t_rel_vs_front_fixing']:+.2f}% (law vs front fixing {100 * r['law_vs_front_fixing']:+.2f}%); "
                  f"core radius vs front fixing (r_c >= 0.2 R) {100 * r['max_r_err_vs_front_fixing_R']:.2f}% of R")
    outroot.mkdir(parents=True, exist_ok=True)
    (outroot / "stefan_defaults.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
