"""Compare two sets of run directories (summary.json, timeseries.csv) to a relative tolerance.

    python3 tests/tools/compare_runs.py BEFORE_DIR AFTER_DIR [--rtol 1e-8]

Each of BEFORE_DIR/AFTER_DIR holds one sub-directory per problem (as written by
``solidion run NAME --out DIR/NAME``).  Compared: every time-series column
present in both (same number of rows required) and every numeric summary entry
present in both, except timings, memory, versions and dates.  Prints one line
per problem with the largest relative difference; exit 1 if any exceeds rtol.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

SKIP = ("time", "wall", "share", "_s_per", "memory", "versions", "started", "finished", "timings",
        "output_dir", "seconds", "elapsed", "snes_s", "assembly_s", "linear_solve_s", "setup")


def _flat(d, prefix=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            out.update(_flat(v, f"{prefix}{i}."))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        out[prefix[:-1]] = float(d)
    return out


def _rel(a, b):
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def _csv(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    cols = rows[0]
    return {c: [float(r[i]) for r in rows[1:]] for i, c in enumerate(cols)}


def compare(before: Path, after: Path, atol_scale=1e-12):
    worst, where, notes = 0.0, "", []
    sb, sa = (json.loads((d / "summary.json").read_text()) for d in (before, after))
    if sb.get("status") != sa.get("status"):
        notes.append(f"status {sb.get('status')} -> {sa.get('status')}")
    fb, fa = _flat(sb), _flat(sa)
    for k in sorted(set(fb) & set(fa)):
        if any(s in k.lower() for s in SKIP):
            continue
        # round-off sized error measures are compared absolutely
        r = abs(fb[k] - fa[k]) if ("error" in k or "rel_change" in k) else _rel(fb[k], fa[k])
        if r > worst:
            worst, where = r, f"summary:{k}"
    if (before / "timeseries.csv").exists():
        tb, ta = _csv(before / "timeseries.csv"), _csv(after / "timeseries.csv")
        missing = set(tb) - set(ta)
        if missing:
            notes.append(f"columns missing after: {sorted(missing)}")
        for c in tb:
            if c not in ta:
                continue
            if len(tb[c]) != len(ta[c]):
                notes.append(f"rows {len(tb[c])} -> {len(ta[c])}")
                worst, where = math.inf, f"timeseries rows"
                break
            # error columns are round-off sized numbers themselves: compared absolutely
            scale = 1.0 if ("error" in c or "rel_change" in c) else max((abs(x) for x in tb[c]), default=0.0)
            for x, y in zip(tb[c], ta[c]):
                # relative to the column's magnitude: columns crossing zero
                r = abs(x - y) / max(scale, 1e-300) if x != y else 0.0
                if r > worst:
                    worst, where = r, f"timeseries:{c}"
    return worst, where, notes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--only", nargs="*", help="problem names to compare (default: all in BEFORE_DIR)")
    a = ap.parse_args(argv)
    bad = 0
    print(f"{'problem':26s} {'max rel diff':>12s}  where")
    for d in sorted(p for p in a.before.iterdir() if (p / "summary.json").exists()):
        if a.only and d.name not in a.only:
            continue
        other = a.after / d.name
        if not (other / "summary.json").exists():
            print(f"{d.name:26s} {'missing':>12s}")
            bad += 1
            continue
        worst, where, notes = compare(d, other)
        flag = "" if worst <= a.rtol and not notes else "  <-- FAIL"
        bad += bool(flag)
        print(f"{d.name:26s} {worst:12.3e}  {where} {'; '.join(notes)}{flag}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
