"""``solidion analyze KIND FILE``: GITT, PITT, Boltzmann–Matano and Arrhenius analyses of measured
or simulated data (:mod:`fem.analysis`).  Each writes ``results.csv``, ``summary.json`` and PNG
plots into ``--out DIR`` (default ``results/analyze-KIND-<timestamp>/``).  Bad input (missing
file/column, too few points) stops with one line naming the file and column, exit status 2.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fem.analysis import io as aio

CYCLER_COLUMNS = (f"columns: time_s ({aio.accepted('time_s')}); current_A, anodic positive = Li leaving the "
                  f"particles ({aio.accepted('current_A')}); voltage_V ({aio.accepted('voltage_V')}); or a "
                  "BioLogic .mpr file (needs the 'galvani' package)")


def add_parser(sub) -> None:
    a = sub.add_parser("analyze", help="analyse measured or simulated data: gitt, pitt, matano, arrhenius",
                       description="Analyse measured or simulated data; results.csv, summary.json and plots "
                                   "go to --out DIR.")
    kinds = a.add_subparsers(dest="kind", metavar="KIND", required=True)

    def common(p):
        p.add_argument("file", metavar="FILE", help="input data file")
        p.add_argument("--out", metavar="DIR", help="output directory (default results/analyze-KIND-<timestamp>/)")
        p.add_argument("--debug", action="store_true", help="show tracebacks")

    def particle(p):
        p.add_argument("--radius-m", type=float, required=True, help="particle radius R [m]")
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument("--c-max-mol-m3", type=float, help="maximum Li concentration c_max [mol/m^3]")
        g.add_argument("--molar-volume-m3-mol", type=float, help="molar volume V_m [m^3/mol] (c_max = 1/V_m)")
        p.add_argument("--volume-m3", type=float, default=None,
                       help="total active-material volume [m^3] (default: one sphere of radius R)")
        p.add_argument("--x0", type=float, default=0.0, help="stoichiometry x = c/c_max before the first pulse/step")

    g = kinds.add_parser("gitt", help="D(x) per pulse: Weppner-Huggins and sphere-model fit",
                         description="GITT: D per current pulse by Weppner-Huggins (with its sphere correction) "
                                     "and by least-squares fits of the 1D sphere model. " + CYCLER_COLUMNS)
    common(g)
    particle(g)
    g.add_argument("--kinetics", choices=("butler_volmer", "constant"), default="butler_volmer",
                   help="overpotential model of the fit (default butler_volmer: i0 = k0 sqrt(x(1-x)))")
    g.add_argument("--temperature-K", type=float, default=298.15, help="temperature [K] (Butler-Volmer)")
    g.add_argument("--refine", type=int, default=6,
                   help="at most this many passes accounting for D(x) within a pulse; they stop when no D "
                        "changes by more than 0.1 %% (default 6; 0: constant D per pulse)")
    p = kinds.add_parser("pitt", help="D per potential step: Cottrell, long-time exponential, full fit",
                         description="PITT: D per potential step. " + CYCLER_COLUMNS)
    common(p)
    particle(p)
    m = kinds.add_parser("matano", help="Boltzmann-Matano interdiffusivity vs composition; Darken with markers",
                         description="Boltzmann-Matano analysis of a composition profile. Columns: position_m "
                                     f"({aio.accepted('position_m')}); composition ({aio.accepted('composition')}).")
    common(m)
    m.add_argument("--time-s", type=float, required=True, help="annealing (diffusion) time t [s]")
    m.add_argument("--marker-position-m", type=float, default=None,
                   help="Kirkendall marker position [m] (same frame as the profile); with it, Darken's "
                        "intrinsic diffusivities D_A, D_B (composition = mole fraction of A)")
    r = kinds.add_parser("arrhenius", help="D0 and E_a with standard uncertainties",
                         description="Arrhenius fit ln D = ln D0 - E_a/(R T). Columns: temperature_K "
                                     f"({aio.accepted('temperature_K')}); diffusivity_m2_s "
                                     f"({aio.accepted('diffusivity_m2_s')}).")
    common(r)


def run(args) -> int:
    from fem.errors import InputError
    out = Path(args.out or f"results/analyze-{args.kind}-{time.strftime('%Y%m%d-%H%M%S')}")
    fn = {"gitt": _gitt, "pitt": _pitt, "matano": _matano, "arrhenius": _arrhenius}[args.kind]
    for name in ("radius_m", "c_max_mol_m3", "molar_volume_m3_mol", "volume_m3", "time_s", "temperature_K"):
        v = getattr(args, name, None)
        if v is not None and not v > 0:
            raise InputError(f"--{name.replace('_', '-')}: must be > 0 (got {v})")
    summary = fn(args, out)
    print(f"solidion: analyze {args.kind} -> {out}", flush=True)
    for line in summary.get("lines", []):
        print(line)
    return 0


def _particle(args):
    from fem.analysis.gitt import Particle
    c_max = args.c_max_mol_m3 or 1.0 / args.molar_volume_m3_mol
    return Particle(args.radius_m, c_max, args.volume_m3, args.x0)


def _finish(out: Path, kind, args, table: dict, summary: dict):
    out.mkdir(parents=True, exist_ok=True)
    aio.write_csv(out / "results.csv", table)
    summary = {"analysis": kind, "input": str(args.file), "options": {k: v for k, v in vars(args).items()
                                                                      if k not in ("command", "kind", "debug")},
               "outputs": ["results.csv", "summary.json"] + sorted(p.name for p in out.glob("*.png")), **summary}
    aio.write_json(out / "summary.json", _clean({k: v for k, v in summary.items() if k != "lines"}))
    return summary


def _clean(o):
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items() if not str(k).startswith("_") and not callable(v)}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, np.integer):
        return int(o)
    return o


def _table(rows):
    keys = [k for k in rows[0] if not k.startswith("_")]
    return {k: [r.get(k, np.nan) for r in rows] for k in keys}


def _gitt(args, out):
    from fem.analysis import gitt
    d = aio.read_cycler(args.file)
    P = _particle(args)
    res = gitt.analyze(d["time_s"], d["current_A"], d["voltage_V"], P, name=str(args.file), refine=args.refine,
                       kinetics=args.kinetics, temperature_K=args.temperature_K)
    rows = res["pulses"]
    out.mkdir(parents=True, exist_ok=True)
    _plot_gitt(out, d, rows)
    lines = [f"{'pulse':>5s} {'x_mid':>7s} {'D_fit [m2/s]':>13s} {'95% CI':>23s} {'D_WH [m2/s]':>12s} {'D_WH,sphere':>12s}"]
    for r in rows:
        lines.append(f"{r['pulse']:5d} {r['x_mid']:7.4f} {r['D_fit_m2_s']:13.4e} [{r['D_fit_ci95_low_m2_s']:.3e},"
                     f"{r['D_fit_ci95_high_m2_s']:.3e}] {r['D_wh_m2_s']:12.4e} {r['D_wh_sphere_m2_s']:12.4e}"
                     + ("  (k0 unidentified: held)" if r.get("kinetics_identified") is False else "")
                     + (f"  ({r['refine_fallbacks']} refinement fallbacks)" if r.get("refine_fallbacks") else ""))
    return _finish(out, "gitt", args, _table(rows), {"pulses": len(rows), "ocp": res["ocp"],
                                                     "per_pulse": rows, "lines": lines})


def _plot_gitt(out, d, rows):
    fig, ax = aio.figure(out / "gitt_fit.png", nrows=2, height_ratios=[3, 1], figsize=(8, 6))
    ax[0].plot(d["time_s"] / 3600, d["voltage_V"], ".", ms=2, color="0.6", label="data")
    for k, r in enumerate(rows):
        ax[0].plot(r["_t"] / 3600, r["_model"], "r-", lw=1, label="sphere-model fit" if k == 0 else None)
        ax[1].plot(r["_t"] / 3600, (r["_v"] - r["_model"]) * 1e3, ".", ms=2, color="C0")
    ax[0].set_ylabel("voltage [V]")
    ax[0].legend()
    ax[1].set_ylabel("residual [mV]")
    ax[1].set_xlabel("t [h]")
    aio.save(fig, out / "gitt_fit.png")
    fig, ax = aio.figure(out / "gitt_diffusivity.png")
    x = [r["x_mid"] for r in rows]
    D = np.array([r["D_fit_m2_s"] for r in rows])
    lo = np.array([r["D_fit_ci95_low_m2_s"] for r in rows])
    hi = np.array([r["D_fit_ci95_high_m2_s"] for r in rows])
    ax.errorbar(x, D, yerr=[D - lo, hi - D], fmt="o", label="sphere-model fit (95 % CI)")
    ax.plot(x, [r["D_wh_m2_s"] for r in rows], "s", mfc="none", label="Weppner-Huggins")
    ax.plot(x, [r["D_wh_sphere_m2_s"] for r in rows], "^", mfc="none", label="Weppner-Huggins, sphere-corrected")
    ax.set_yscale("log")
    ax.set_xlabel("x = c/c$_{max}$ (mid-pulse)")
    ax.set_ylabel("D [m$^2$/s]")
    ax.legend()
    aio.save(fig, out / "gitt_diffusivity.png")


def _pitt(args, out):
    from fem.analysis import pitt
    d = aio.read_cycler(args.file)
    res = pitt.analyze(d["time_s"], d["current_A"], d["voltage_V"], _particle(args), name=str(args.file))
    rows = res["steps"]
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = aio.figure(out / "pitt_fit.png", nrows=2, height_ratios=[3, 1], figsize=(8, 6))
    for k, r in enumerate(rows):
        ax[0].plot(r["_t"], np.abs(r["_i"]), ".", ms=2, color="0.6", label="|I| data" if k == 0 else None)
        ax[0].plot(r["_t"], np.abs(r["_model"]), "r-", lw=1, label="sphere-model fit" if k == 0 else None)
        ax[1].plot(r["_t"], (r["_i"] - r["_model"]), ".", ms=2, color="C0")
    ax[0].set_yscale("log")
    ax[0].set_ylabel("|current| [A]")
    ax[0].legend()
    ax[1].set_ylabel("residual [A]")
    ax[1].set_xlabel("t [s]")
    aio.save(fig, out / "pitt_fit.png")
    lines = [f"step {r['step']}: D_fit {r['D_fit_m2_s']:.4e} m2/s [{r['D_fit_ci95_low_m2_s']:.3e}, "
             f"{r['D_fit_ci95_high_m2_s']:.3e}], Cottrell {r['D_cottrell_m2_s']:.4e} (stated error "
             f"{100 * r['cottrell_error_first_order']:.1f} %), sphere-corrected Cottrell "
             f"{r['D_cottrell_sphere_m2_s']:.4e}, long-time {r['D_long_m2_s']:.4e}"
             for r in rows]
    return _finish(out, "pitt", args, _table(rows), {"steps": len(rows), "per_step": rows, "lines": lines})


def _matano(args, out):
    from fem.analysis import matano
    d = aio.read_csv(args.file, ["position_m", "composition"], min_rows=10)
    z, c = matano.prepare(d["position_m"], d["composition"], str(args.file))
    res = matano.interdiffusivity(z, c, args.time_s)
    summary = {"matano_plane_m": res["matano_plane_m"], "composition_left": c[0], "composition_right": c[-1]}
    lines = [f"Matano plane z_M = {res['matano_plane_m']:.6e} m"]
    if args.marker_position_m is not None:
        dk = matano.intrinsic(z, c, res["D_m2_s"], args.time_s, args.marker_position_m, res["matano_plane_m"])
        summary["darken"] = dk
        lines.append(f"Darken at x_A = {dk['x_A_at_marker']:.4f}: D_A = {dk['D_A_m2_s']:.4e}, "
                     f"D_B = {dk['D_B_m2_s']:.4e} m2/s")
    out.mkdir(parents=True, exist_ok=True)
    inner = (res["Y"] > 0.02) & (res["Y"] < 0.98)
    fig, ax = aio.figure(out / "matano_profile.png")
    ax.plot(z * 1e6, c, ".", ms=3, label="profile")
    ax.axvline(res["matano_plane_m"] * 1e6, color="k", ls="--", label="Matano plane")
    if args.marker_position_m is not None:
        ax.axvline(args.marker_position_m * 1e6, color="r", ls=":", label="Kirkendall markers")
    ax.set_xlabel("position [µm]")
    ax.set_ylabel("composition")
    ax.legend()
    aio.save(fig, out / "matano_profile.png")
    fig, ax = aio.figure(out / "matano_interdiffusivity.png")
    ax.semilogy(c[inner], res["D_m2_s"][inner], "o-", ms=3, label="Boltzmann-Matano D~ (2-98 % of the range)")
    ax.set_xlabel("composition")
    ax.set_ylabel("D~ [m$^2$/s]")
    ax.legend()
    aio.save(fig, out / "matano_interdiffusivity.png")
    table = {"position_m": z, "composition": c, "normalized_composition": res["Y"],
             "interdiffusivity_m2_s": res["D_m2_s"]}
    return _finish(out, "matano", args, table, {**summary, "lines": lines})


def _arrhenius(args, out):
    from fem.analysis import arrhenius
    d = aio.read_csv(args.file, ["temperature_K", "diffusivity_m2_s"], min_rows=3)
    res = arrhenius.fit(d["temperature_K"], d["diffusivity_m2_s"], str(args.file))
    T, D = d["temperature_K"], d["diffusivity_m2_s"]
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = aio.figure(out / "arrhenius.png", nrows=2, height_ratios=[3, 1], figsize=(7, 6))
    ax[0].semilogy(1000 / T, D, "o", label="data")
    TT = np.linspace(T.min(), T.max(), 100)
    ax[0].semilogy(1000 / TT, res["_fit"](TT), "r-",
                   label=f"E$_a$ = {res['activation_energy_eV']:.4f} ± {res['activation_energy_uncertainty_eV']:.2g} eV")
    ax[0].set_ylabel("D [m$^2$/s]")
    ax[0].legend()
    ax[1].plot(1000 / T, np.log(D / res["_fit"](T)), "o")
    ax[1].set_ylabel("residual ln D")
    ax[1].set_xlabel("1000 / T [1/K]")
    aio.save(fig, out / "arrhenius.png")
    table = {"temperature_K": T, "diffusivity_m2_s": D, "fit_m2_s": res["_fit"](T)}
    lines = [f"D0 = {res['D0_m2_s']:.6e} m2/s (rel. u {res['D0_rel_uncertainty']:.2g}), E_a = "
             f"{res['activation_energy_J_mol']:.6g} ± {res['activation_energy_uncertainty_J_mol']:.2g} J/mol "
             f"({res['activation_energy_eV']:.6g} eV)"]
    return _finish(out, "arrhenius", args, table, {**res, "lines": lines})
