#!/usr/bin/env python3
"""Sharp-interface Stefan vs diffuse-interface Cahn-Hilliard: the same planar lithiation.

    docker/run python3 tests/bench/bench_sharp_vs_diffuse.py [--widths 0.02,0.01,0.005]
        [--cells-per-width 8] [--ratio 0.005] [--stefan-h 0.0025] [--floor-factor 0.5]

Case and models: :mod:`fem.reference.sharp_vs_diffuse` (a = Omega/kT = 2.5, binodal
0.1448 / 0.8552, surface c_s = 0.95, alpha far field 0.10, D = 1 in both phases, slab L = 2,
start t0 = 0.03 from the similarity solution, comparison at t = 0.05, 0.1, 0.2).

For every interface width w the Cahn-Hilliard run is made with geometric steps dt = r t and with
r/2; X(r/2) - X(r) estimates the backward-Euler error of X(r/2) (first order), and the
Richardson value 2 X(r/2) - X(r) is compared with the exact sharp front X_S(t) = 2 lambda sqrt(t)
(two-phase Neumann solution) -> difference d(w, t) = X_CH - X_S and the observed order
log(d(w1)/d(w2)) / log(w1/w2).  The ALE Stefan model (fem.models.stefan.TwoPhaseStefan) is run
on the same slab and its front compared with X_S too (the cross-check of the sharp model: it must
be far closer to X_S than the diffuse fronts are).  Prints a table and the load average and
writes results/bench/sharp_vs_diffuse.json.  Not a test: rerun and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from mpi4py import MPI

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from fem.reference.sharp_vs_diffuse import Case, observed_orders, run_cahn_hilliard, run_stefan  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="0.02,0.01,0.005")
    ap.add_argument("--cells-per-width", type=float, default=8.0)
    ap.add_argument("--ratio", type=float, default=0.005, help="dt = ratio * t (and ratio/2)")
    ap.add_argument("--stefan-h", type=float, default=0.0025)
    ap.add_argument("--floor-factor", type=float, default=0.5,
                    help="m0 = factor * min g''(binodal): sets the mobility inside the interface")
    ap.add_argument("--out", default=str(REPO / "results" / "bench" / "sharp_vs_diffuse.json"))
    args = ap.parse_args(argv)
    widths = [float(w) for w in args.widths.split(",")]
    case = Case(floor_factor=args.floor_factor)
    ca, cb = case.binodal()
    ex = case.neumann()
    times = np.array(case.times)
    X_S = ex.position(times)
    load0 = os.getloadavg()
    tic = time.perf_counter()

    # sharp: the ALE Stefan model on the same slab (surface at x = L there)
    from meshes import tags as T
    from meshes.two_phase import two_phase_slab
    dom = two_phase_slab(1, case.L, case.L - float(ex.position(case.t0)), args.stefan_h, MPI.COMM_SELF)
    st = run_stefan(case, dom, alpha=T.PHASE_ALPHA, beta=T.PHASE_BETA, interface=T.INTERFACE,
                    surface=T.SURFACE, far_end=T.CONTACT_LEFT, ratio=args.ratio / 2)
    stefan_err = (np.array(st["X"]) - X_S).tolist()

    rows = []
    for w in widths:
        coarse = run_cahn_hilliard(case, w, args.cells_per_width, args.ratio)
        fine = run_cahn_hilliard(case, w, args.cells_per_width, args.ratio / 2)
        Xc, Xf = np.array(coarse["X"]), np.array(fine["X"])
        X_R = 2 * Xf - Xc
        rows.append({"width": w, "kappa": fine["kappa"], "cells": fine["cells"], "h": fine["h"],
                     "cells_per_width": args.cells_per_width, "steps": [coarse["steps"], fine["steps"]],
                     "X_ch_ratio": Xc.tolist(), "X_ch_half_ratio": Xf.tolist(), "X_ch_richardson": X_R.tolist(),
                     "time_error_estimate": (Xf - Xc).tolist(), "difference": (X_R - X_S).tolist(),
                     "difference_over_width": ((X_R - X_S) / w).tolist(),
                     "c_surface": fine["c_surface"], "c_min": fine["c_min"], "c_max": fine["c_max"],
                     "wall_s": coarse["wall_s"] + fine["wall_s"]})
        print(f"w = {w:g}: {fine['cells']} cells, {coarse['steps']}+{fine['steps']} steps, "
              f"{rows[-1]['wall_s']:.1f} s", flush=True)
    diffs = np.array([r["difference"] for r in rows])  # (widths, times)
    orders = {f"t={t:g}": observed_orders(widths, diffs[:, k]) for k, t in enumerate(times)}
    dmax = np.max(np.abs(diffs), axis=1)
    orders["max_over_t"] = observed_orders(widths, dmax)
    load1 = os.getloadavg()

    print(f"\nSharp (Stefan) vs diffuse (Cahn-Hilliard) planar lithiation: a = {case.omega_kT}, binodal "
          f"{ca:.4f}/{cb:.4f}, c_s = {case.c_surface}, c_inf = {case.c_init}, lambda = {ex.lam:.6f}")
    print("X_S = exact sharp front 2 lambda sqrt(t); d = X_CH (Richardson in dt) - X_S")
    head = "width     cells  " + "  ".join(f"d(t={t:g})   " for t in times) + "  max|d|/w  order(max|d|)  time err"
    print(head)
    for i, r in enumerate(rows):
        order = f"{orders['max_over_t'][i - 1]:.3f}" if i else "-"
        terr = np.max(np.abs(r["time_error_estimate"]))
        print(f"{r['width']:<9g} {r['cells']:<6d} " + "  ".join(f"{d:+.4e}" for d in r["difference"])
              + f"  {dmax[i] / r['width']:.4f}    {order:<13s}  {terr:.1e}")
    print("orders per time: " + ", ".join(f"{k}: " + "/".join(f"{o:.3f}" for o in v) for k, v in orders.items()))
    print(f"Stefan ALE model (h = {args.stefan_h}, dt = {args.ratio / 2:g} t): X - X_S = "
          + ", ".join(f"{e:+.2e}" for e in stefan_err) + f"  (X_S = {', '.join(f'{x:.5f}' for x in X_S)})")
    print(f"wall {time.perf_counter() - tic:.0f} s; load average {load0} -> {load1} "
          "(2 shared cores, NOT quiet: other helpers are running)")

    out = {"case": {"omega_kT": case.omega_kT, "c_alpha": ca, "c_beta": cb, "c_surface": case.c_surface,
                    "c_init": case.c_init, "D": case.D, "L": case.L, "t0": case.t0, "times": list(case.times),
                    "lambda": ex.lam, "mobility_floor": case.mobility_floor(),
                    "floor_factor": case.floor_factor, "cells_per_width": args.cells_per_width},
           "X_sharp_exact": X_S.tolist(), "stefan_model": {**st, "h": args.stefan_h, "error": stefan_err},
           "widths": rows, "observed_order": orders, "ratio": args.ratio,
           "wall_s": time.perf_counter() - tic, "loadavg_start": load0, "loadavg_end": load1}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
