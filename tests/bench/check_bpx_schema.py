"""BPX files through the official ``bpx`` package (schema + parsed values) and through solidion's reader.

Host-only (not collected by pytest; ``bpx`` is not in the image): ``pip install --user bpx`` (or a venv),
then, from the repository root,

    python3 tests/bench/check_bpx_schema.py [FILE.json ...]      (default: examples/bpx_chen2020.json)

For each file:

1. ``bpx.parse_bpx_file`` validates it against the package's pydantic schema (BPX v1; v0.x files are
   converted by the package with a warning); schema errors and the package's warnings (e.g. its check
   that OCP_p(x_p) - OCP_n(x_n) at the stoichiometry limits gives the cell's voltage cut-offs to 1 mV)
   are printed.
2. solidion's reader (fem/bpx.py) reads the same file in the image (this script re-runs itself there
   through ``docker/run ... --ours FILE``, which prints JSON) for the positive and the negative
   electrode, and every quantity the particle uses is compared with what ``bpx`` parsed:
   radius, c_max, stoichiometry window (x at SOC 1 and SOC 0 against ``bpx.get_electrode_stoichiometries``),
   initial x, D(x) and OCP(x) (and dU/dT(x)) on the window (expressions: 11 points; tables: at their nodes,
   where any interpolant must return the node value), both activation energies, the exchange current
   i0(x) = F k sqrt(x (1 - x)) at c_e = c_e0 (BPX's normalised k; PyBaMM's conversion) against ours,
   m sqrt(c_e0) c_max sqrt(x (1 - x)) with m = Material.rate_constant_A_m2, and the nominal capacity per
   m^2 of particle surface Q / (a L A_el N).
3. Coverage: every entry of the file (Section/Subsection/key) must be either used by the reader or named
   in its ``unused`` list (itself, or its section named as a whole): nothing is dropped silently.

Tables ``{"x", "y"}``: the reader interpolates by monotone PCHIP (D in log); simulators differ between
nodes (PyBaMM: linear or cubic), so only node values are compared.  Exit status 1 if a comparison fails.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FARADAY = 96485.33212
ELECTRODES = ("positive", "negative")


def ours(path: str) -> dict:
    """In the image: what fem/bpx.py reads, evaluated on the grids the host compares at."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from fem import bpx as ourbpx
    from fem.errors import InputError

    raw = json.loads(Path(path).read_text())
    out = {}
    for electrode in ELECTRODES:
        try:
            b = ourbpx.read(path, electrode)
        except InputError as e:
            out[electrode] = {"error": str(e)}
            continue
        el = raw["Parameterisation"][f"{electrode.capitalize()} electrode"]
        lo, hi = sorted((b.x_full, b.x_empty))

        def grid(entry):
            v = el.get(entry)
            if isinstance(v, dict) and set(v) == {"x", "y"}:
                return [float(x) for x in v["x"]]
            return [float(x) for x in np.linspace(lo, hi, 11)]

        m = b.material(b.T_ref_K)
        xi = np.array(grid("OCP [V]"))
        xd = np.array(grid("Diffusivity [m2.s-1]"))
        xg = np.linspace(lo, hi, 11)
        rec = {"radius_m": b.radius_m, "c_max_mol_m3": b.c_max_mol_m3, "x_full": b.x_full, "x_empty": b.x_empty,
               "x0": None if b.initial_soc is None else b.x_of_soc(b.initial_soc),
               "diffusivity_activation_J_mol": b.diffusivity_activation_J_mol,
               "reaction_activation_J_mol": b.reaction_activation_J_mol, "T_ref_K": b.T_ref_K,
               "c_electrolyte_mol_m3": b.c_electrolyte_mol_m3, "nominal_capacity_Ah_m2": b.nominal_capacity_Ah_m2,
               "D_m2_s": {"x": xd.tolist(), "y": np.asarray(b.diffusivity(xd), float).tolist()},
               "OCP_V": {"x": xi.tolist(), "y": np.asarray(m.ocv_V(xi), float).tolist()},
               "i0_A_m2": {"x": xg.tolist(), "y": (m.rate_constant_A_m2 * math.sqrt(b.c_electrolyte_mol_m3)
                                                   * b.c_max_mol_m3 * np.sqrt(xg * (1 - xg))).tolist()},
               "used": b.used, "unused": b.unused}
        if b.entropic is not None:
            xe = np.array(grid("Entropic change coefficient [V.K-1]"))
            rec["dUdT_V_K"] = {"x": xe.tolist(), "y": np.broadcast_to(np.asarray(b.entropic(xe), float),
                                                                      xe.shape).tolist()}
        out[electrode] = rec
    return out


def _evaluate(f, xs):
    """A bpx FloatFunctionTable at xs (tables only at their nodes)."""
    if f is None:
        return None
    if isinstance(f, (int, float)):
        return [float(f)] * len(xs)
    if hasattr(f, "to_python_function"):
        py = f.to_python_function()
        return [float(py(x)) for x in xs]
    nodes = dict(zip(map(float, f.x), map(float, f.y)))
    return [nodes[x] for x in xs]


def _leaves(data: dict) -> list[str]:
    """Section/Subsection/key of every entry (Header excluded: metadata)."""
    out = []
    for sec, body in data.items():
        if sec == "Header":
            continue
        if not isinstance(body, dict):
            out.append(sec)
            continue
        for sub, entries in body.items():
            if isinstance(entries, dict) and sec in ("Parameterisation", "State"):
                out += [f"{sec}/{sub}/{k}" for k in entries]
            else:
                out.append(f"{sec}/{sub}")
    return out


def _covered(leaf: str, used: list, unused: list) -> bool:
    if leaf in used or leaf in unused:
        return True
    parts = leaf.split("/")
    return any(f"{'/'.join(parts[:i])} (section)" in unused for i in range(1, len(parts)))


def compare(path: Path) -> bool:
    import bpx

    print(f"\n=== {path}  (bpx {bpx.__version__})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parsed = bpx.parse_bpx_file(path)
        except Exception as e:  # the schema's own message
            print(f"SCHEMA REJECTS: {e}")
            return False
    seen = set()
    for w in caught:
        if str(w.message) not in seen:
            seen.add(str(w.message))
            print(f"bpx warning: {str(w.message)[:300]}")
    print(f"schema: OK ({type(parsed.parameterisation).__name__}, model {parsed.header.model})")

    rel = os.path.relpath(path, ROOT)
    res = subprocess.run([str(ROOT / "docker/run"), "python3", "tests/bench/check_bpx_schema.py", "--ours", rel],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    our = json.loads(res.stdout.strip().splitlines()[-1])
    raw = json.loads(path.read_text())
    par, cell = parsed.parameterisation, parsed.parameterisation.cell
    state = parsed.state
    init = state.initial_conditions if state is not None else None
    soc0 = None if init is None else init.initial_soc
    # a v0.x file has no initial SOC: bpx's conversion synthesises SOC = 1, solidion keeps its own x0
    legacy = bpx.is_legacy_bpx(raw)
    ok = True
    for electrode in ELECTRODES:
        e = getattr(par, f"{electrode}_electrode")
        o = our[electrode]
        print(f"--- {electrode} electrode")
        if "error" in o:
            print(f"  solidion refuses: {o['error']}")
            if getattr(e, "particle", None) is None:
                ok = False
            continue
        k = 0 if electrode == "negative" else 1

        def sto(soc):  # bpx.get_electrode_stoichiometries (it needs both electrodes single-material)
            if not any(getattr(x, "particle", None) for x in (par.negative_electrode, par.positive_electrode)):
                return bpx.get_electrode_stoichiometries(soc, parsed)[k]
            lo, hi = e.minimum_stoichiometry, e.maximum_stoichiometry
            return lo + soc * (hi - lo) if electrode == "negative" else hi - soc * (hi - lo)

        c_e0 = (init.initial_electrolyte_concentration if init is not None
                and init.initial_electrolyte_concentration is not None else 1000.0)
        nominal = cell.nominal_cell_capacity / (e.surface_area_per_unit_volume * e.thickness * cell.electrode_area
                                                * cell.number_of_electrodes)
        xs = o["i0_A_m2"]["x"]
        ref = {"radius_m": e.particle_radius, "c_max_mol_m3": e.maximum_concentration, "x_full": sto(1.0),
               "x_empty": sto(0.0), "x0": None if soc0 is None or legacy else sto(soc0),
               "diffusivity_activation_J_mol": e.diffusivity_activation_energy or 0.0,
               "reaction_activation_J_mol": e.reaction_rate_constant_activation_energy or 0.0,
               "T_ref_K": cell.reference_temperature or 298.15, "c_electrolyte_mol_m3": c_e0,
               "nominal_capacity_Ah_m2": nominal,
               "D_m2_s": _evaluate(e.diffusivity, o["D_m2_s"]["x"]),
               "OCP_V": _evaluate(e.ocp, o["OCP_V"]["x"]),
               "i0_A_m2": [FARADAY * e.reaction_rate_constant * math.sqrt(x * (1 - x)) for x in xs]}
        if e.dudt is not None or "dUdT_V_K" in o:
            ref["dUdT_V_K"] = _evaluate(e.dudt, o["dUdT_V_K"]["x"]) if "dUdT_V_K" in o else "given"
        print(f"  {'quantity':30s} {'bpx':>14s} {'solidion':>14s} {'max rel diff':>12s}")
        for key, r in ref.items():
            mine = o.get(key)
            if isinstance(mine, dict):
                mine = mine["y"]
            if r is None and mine is None:
                print(f"  {key:30s} {'-':>14s} {'-':>14s}")
                continue
            if r is None or mine is None or isinstance(r, str):
                print(f"  {key:30s} {r!s:>14.14s} {mine!s:>14.14s}  MISMATCH")
                ok = False
                continue
            rs, ms = (r, mine) if isinstance(r, list) else ([r], [mine])
            d = max(abs(a - b) / max(abs(a), 1e-300) if a != b else 0.0 for a, b in zip(rs, ms))
            flag = "" if d <= 1e-12 else "  MISMATCH"
            ok &= not flag
            label = f"{key}[{len(rs)}]" if isinstance(r, list) else key
            print(f"  {label:30s} {rs[0]:14.6g} {ms[0]:14.6g} {d:12.1e}{flag}")
        missing = [leaf for leaf in _leaves(raw) if not _covered(leaf, o["used"], o["unused"])]
        print(f"  used {len(o['used'])} entries; reported unused {len(o['unused'])}; silently dropped: "
              f"{missing or 'none'}")
        ok &= not missing
    return ok


if __name__ == "__main__":
    if sys.argv[1:2] == ["--ours"]:
        print(json.dumps(ours(sys.argv[2])))
        sys.exit(0)
    print(f"load average {os.getloadavg()} (2 cores shared with other helpers)")
    files = [Path(a).resolve() for a in sys.argv[1:]] or [ROOT / "examples" / "bpx_chen2020.json"]
    results = {str(f): compare(f) for f in files}
    print("\nsummary:", json.dumps({os.path.relpath(k, ROOT): v for k, v in results.items()}))
    sys.exit(0 if all(results.values()) else 1)
