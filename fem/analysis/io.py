"""Reading data tables for the analyses, and writing their results.

CSV files: a header row, comma (or semicolon/tab) separated; column names are matched
case-insensitively after removing spaces, and unit variants are converted to SI
(:data:`COLUMNS`).  BioLogic ``.mpr`` files are read with the ``galvani`` package
(``pip install galvani``) when it is importable.  Every problem with the input (missing file,
missing column, non-numeric or too few rows) raises :class:`fem.errors.InputError` with one
line naming the file and the column.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from fem.errors import InputError

#: canonical column -> accepted header names (lower case, no spaces) with their factor to SI
COLUMNS: dict[str, dict[str, float]] = {
    "time_s": {"time_s": 1.0, "t_s": 1.0, "time/s": 1.0, "time": 1.0, "t": 1.0, "test_time_s": 1.0,
               "time_min": 60.0, "time_h": 3600.0, "test_time(s)": 1.0, "time(s)": 1.0},
    "current_A": {"current_a": 1.0, "i_a": 1.0, "i/a": 1.0, "current": 1.0, "i": 1.0, "current(a)": 1.0,
                  "current_ma": 1e-3, "i_ma": 1e-3, "i/ma": 1e-3, "<i>/ma": 1e-3, "current(ma)": 1e-3},
    "voltage_V": {"voltage_v": 1.0, "ewe/v": 1.0, "e_v": 1.0, "potential_v": 1.0, "voltage": 1.0,
                  "v": 1.0, "ecell/v": 1.0, "u_v": 1.0, "voltage(v)": 1.0, "<ewe>/v": 1.0, "ewe_v": 1.0},
    "position_m": {"x_m": 1.0, "z_m": 1.0, "position_m": 1.0, "distance_m": 1.0, "x_um": 1e-6,
                   "z_um": 1e-6, "position_um": 1e-6, "distance_um": 1e-6, "x_nm": 1e-9, "z_nm": 1e-9},
    "composition": {"c": 1.0, "c_mol_m3": 1.0, "concentration": 1.0, "concentration_mol_m3": 1.0,
                    "x_frac": 1.0, "x_a_frac": 1.0, "x_a": 1.0, "composition": 1.0, "fraction": 1.0,
                    "mole_fraction": 1.0, "at_frac": 1.0, "at_percent": 1.0, "c_at_percent": 1.0},
    "marker_m": {"marker_m": 1.0, "marker_position_m": 1.0},
    "temperature_K": {"t_k": 1.0, "temperature_k": 1.0, "temp_k": 1.0, "temperature": 1.0},
    "diffusivity_m2_s": {"d_m2_s": 1.0, "diffusivity_m2_s": 1.0, "d": 1.0, "diffusivity": 1.0,
                         "d_cm2_s": 1e-4, "diffusivity_cm2_s": 1e-4},
}
#: columns whose unit is an offset, not a factor (degrees Celsius)
OFFSETS = {"temperature_K": {"t_c": 273.15, "temperature_c": 273.15}}


def accepted(name: str) -> str:
    """The accepted header names of a canonical column, for messages and --help."""
    return ", ".join(list(COLUMNS[name]) + list(OFFSETS.get(name, {})))


def _key(h: str) -> str:
    return "".join(str(h).split()).lower()


def read_csv(path, columns: list[str], optional: tuple[str, ...] = (), min_rows: int = 2) -> dict[str, np.ndarray]:
    """The canonical ``columns`` (SI arrays) of the CSV ``path``; ``optional`` ones when present."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    text = path.read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"{path}: empty file")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(lines, dialect))
    header = [_key(h) for h in rows[0]]
    out: dict[str, np.ndarray] = {}
    for name in list(columns) + list(optional):
        found = None
        for alias, factor in COLUMNS[name].items():
            if alias in header:
                found = (header.index(alias), factor, 0.0)
                break
        if found is None:
            for alias, offset in OFFSETS.get(name, {}).items():
                if alias in header:
                    found = (header.index(alias), 1.0, offset)
                    break
        if found is None:
            if name in optional:
                continue
            raise InputError(f"{path}: no column for {name} (accepted names: {accepted(name)}; header: "
                             f"{', '.join(rows[0])})")
        j, factor, offset = found
        vals = []
        for i, r in enumerate(rows[1:], start=2):
            try:
                v = float(r[j])
            except (IndexError, ValueError):
                raise InputError(f"{path}: line {i}, column {rows[0][j]!r}: not a number") from None
            if not math.isfinite(v):
                raise InputError(f"{path}: line {i}, column {rows[0][j]!r}: not a finite number")
            vals.append(v * factor + offset)
        out[name] = np.array(vals)
    n = len(rows) - 1
    if n < min_rows:
        raise InputError(f"{path}: {n} data rows; at least {min_rows} are needed")
    return out


def read_cycler(path) -> dict[str, np.ndarray]:
    """time_s, current_A (anodic positive: Li leaves the working electrode), voltage_V of a
    CSV or a BioLogic ``.mpr`` file (through ``galvani``)."""
    path = Path(path)
    if path.suffix.lower() == ".mpr":
        return read_mpr(path)
    return read_csv(path, ["time_s", "current_A", "voltage_V"], min_rows=3)


def read_mpr(path) -> dict[str, np.ndarray]:
    """A BioLogic .mpr file via ``galvani.BioLogic.MPRfile``: columns 'time/s', 'Ewe/V' and
    'I/mA' (or 'control/V/mA', '<I>/mA'); BioLogic's current is anodic positive like ours."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        from galvani import BioLogic
    except ImportError:
        raise InputError(f"{path}: reading BioLogic .mpr files needs the 'galvani' package "
                         "(pip install galvani), or export the data as CSV") from None
    try:
        data = BioLogic.MPRfile(str(path)).data
    except Exception as e:  # noqa: BLE001 - any parse failure is bad input
        raise InputError(f"{path}: galvani could not read it ({e})") from None
    names = data.dtype.names or ()

    def pick(options, what):
        for o, f in options:
            if o in names:
                return np.asarray(data[o], dtype=float) * f
        raise InputError(f"{path}: no column for {what} (looked for {', '.join(o for o, _ in options)}; "
                         f"has {', '.join(names)})")

    out = {"time_s": pick([("time/s", 1.0)], "time_s"),
           "current_A": pick([("I/mA", 1e-3), ("<I>/mA", 1e-3), ("control/V/mA", 1e-3)], "current_A"),
           "voltage_V": pick([("Ewe/V", 1.0), ("<Ewe>/V", 1.0), ("<Ewe/V>", 1.0)], "voltage_V")}
    if len(out["time_s"]) < 3:
        raise InputError(f"{path}: {len(out['time_s'])} data rows; at least 3 are needed")
    return out


def write_csv(path, columns: dict[str, list | np.ndarray]) -> None:
    """Columns (names with units) to ``path``."""
    names = list(columns)
    n = len(next(iter(columns.values()))) if columns else 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([_fmt(columns[k][i]) for k in names])


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else repr(float(v))
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def write_json(path, data: dict) -> None:
    def conv(o):
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, (np.floating, np.integer)):
            return o.item()
        raise TypeError(type(o))
    Path(path).write_text(json.dumps(data, indent=2, default=conv, allow_nan=False) + "\n")


def figure(path, nrows=1, height_ratios=None, figsize=(7, 5)):
    """(fig, axes) of a matplotlib figure to be saved with :func:`save`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(nrows, 1, figsize=figsize, sharex=nrows > 1,
                           gridspec_kw={"height_ratios": height_ratios} if height_ratios else None)
    return fig, ax


def save(fig, path) -> None:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
