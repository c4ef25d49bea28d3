"""Typed, documented, SI parameters loadable from TOML and ``--set key=value``.

A problem declares its parameters as a dataclass deriving from
:class:`Parameters`; every field is created with :func:`param`, which records
the unit, a one-line description and the allowed range.  Validation happens
before any mesh or PETSc work and raises :class:`fem.errors.InputError` naming
the parameter and the allowed range, on one line, e.g.::

    parameter 'radius_m' = 1e+300 m is out of range; allowed: (0, 1] m

Example::

    @dataclass
    class MyParameters(Parameters):
        radius_m: float = param(5e-6, "particle radius", "m", gt=0)
        ocv_table: str = param("", "CSV (x, U [V]) of the OCV (optional)", table=True)

Default upper bounds by unit.  A numeric parameter that declares no upper
bound (``lt``/``le``) gets the sanity bound of its unit below (and, when it
declares no lower bound either, the same bound on its magnitude), so that
absurd values (``radius_m=1e300``) are refused up front instead of overflowing
somewhere in the solve.  ``solidion params PROBLEM`` shows the effective ranges.

==================  ==========  ==========================================
unit                bound       for
==================  ==========  ==========================================
m                   1           lengths (particles, layers, grains)
m^2/s               1e-2        diffusivities (solids 1e-20..1e-8)
s                   1e10        times (~317 years)
mol/m^3             1e6         concentrations (solids <= ~1e5)
K                   5000        temperatures, temperature differences
A/m^2               1e6         current densities
mol/(m^2 s)         1e3         molar flux densities
V                   100         potentials, voltages
eV                  100         energies per particle
eV/K                1           entropies per particle
J/mol               1e7         molar energies
1/h                 1e4         C-rates
deg                 360         angles
C/m^2               10          surface charge densities
==================  ==========  ==========================================

Other units (``-`` included) get no default bound.  Non-finite numbers are
always refused.

Tables: ``param(..., table=True)`` -- and by convention any string parameter
named ``*_table`` -- holds the path of a CSV table (x, y; ``#`` comments and
one header line allowed; "" = no table);
a non-empty value is checked at validation (the file exists, is readable text,
has >= 2 numeric rows of >= 2 columns, finite values, strictly increasing x;
``table="positive"`` also requires y > 0).  :func:`require_table` does the same
check for use in :meth:`Parameters.check`.

Cell limit: every parameter set has ``max_cells`` (keyword-only field of the
base class, default ``SOLIDION_MAX_CELLS`` or 2e7, sized for one node);
validation makes it the limit :func:`max_cells` that the mesh generators
(:mod:`meshes.limits`) check their cell estimate against before meshing.
Problems that build their mesh without Gmsh (``create_rectangle``...) check
their cell count in :meth:`Parameters.check` with :meth:`Parameters.require_cells`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem.errors import InputError


UNIT_BOUNDS: dict[str, float] = {
    "m": 1.0, "m^2/s": 1e-2, "s": 1e10, "mol/m^3": 1e6, "K": 5000.0, "A/m^2": 1e6,
    "mol/(m^2 s)": 1e3, "V": 100.0, "eV": 100.0, "eV/K": 1.0, "J/mol": 1e7, "1/h": 1e4,
    "deg": 360.0, "C/m^2": 10.0,
}

DEFAULT_MAX_CELLS = 20_000_000
MAX_TABLE_BYTES = 100 * 2 ** 20


def param(default, doc: str, unit: str = "-", *, gt=None, ge=None, lt=None, le=None,
          choices=None, table: bool | str = False):
    """A documented parameter field with unit and allowed range.

    ``table=True``: the value is the path of a CSV table checked at validation
    (``"positive"``: its second column must be > 0); "" means no table.
    """
    meta = dict(doc=doc, unit=unit, gt=gt, ge=ge, lt=lt, le=le, choices=choices, table=table)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def effective_range(meta, numeric: bool = True) -> dict:
    """The declared bounds plus the default bound of the unit (see the module docstring)."""
    rng = {k: meta.get(k) for k in ("gt", "ge", "lt", "le")}
    bound = UNIT_BOUNDS.get(meta.get("unit", "-"))
    if (numeric and bound is not None and meta.get("choices") is None
            and rng["lt"] is None and rng["le"] is None):
        rng["le"] = bound
        if rng["gt"] is None and rng["ge"] is None:
            rng["ge"] = -bound
    return rng


def _num(v) -> str:
    """Short form of a bound: 1, 0.5, 1e+10 (repr when %g would round)."""
    if isinstance(v, float):
        g = f"{v:g}"
        return g if float(g) == v else repr(v)
    return str(v)


def table_kind(name: str, meta) -> bool | str:
    """False, True or "positive": the declared ``table=``, else True for a parameter
    named ``*_table`` (the convention of the problems' CSV table paths)."""
    kind = meta.get("table")
    if kind is None or kind is False:
        return name.endswith("_table")
    return kind


def _range_text(meta, numeric: bool = True, name: str = "") -> str:
    """'(0, inf)', '[0, 1]', 'one of 1, 2' ..."""
    if meta.get("choices") is not None:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    kind = table_kind(name, meta)
    if kind and not numeric:
        return "path of a CSV table (x, y" + (" > 0" if kind == "positive" else "") + "), or ''"
    r = effective_range(meta, numeric)
    gt, ge, lt, le = (r[k] for k in ("gt", "ge", "lt", "le"))
    if all(v is None for v in (gt, ge, lt, le)):
        return "any value"
    lo = f"({_num(gt)}" if gt is not None else (f"[{_num(ge)}" if ge is not None else "(-inf")
    hi = f"{_num(lt)})" if lt is not None else (f"{_num(le)}]" if le is not None else "inf)")
    return f"{lo}, {hi}"


def _in_range(x, r) -> bool:
    return not ((r["gt"] is not None and not x > r["gt"]) or
                (r["ge"] is not None and not x >= r["ge"]) or
                (r["lt"] is not None and not x < r["lt"]) or
                (r["le"] is not None and not x <= r["le"]))


# --- the cell limit (read by meshes.limits) ---------------------------------------------

def _env_max_cells() -> int:
    raw = os.environ.get("SOLIDION_MAX_CELLS", "").strip()
    if not raw:
        return DEFAULT_MAX_CELLS
    try:
        v = float(raw)
        ok = math.isfinite(v) and v >= 1 and v.is_integer()
    except ValueError:
        ok = False
    if not ok:
        raise InputError(f"environment variable SOLIDION_MAX_CELLS = {raw!r}: "
                         "allowed: an integer >= 1 (e.g. 2e7)")
    return int(v)


_MAX_CELLS: list[int] = []


def max_cells() -> int:
    """Current cell limit of the mesh generators: ``max_cells`` of the last validated
    parameters, else ``SOLIDION_MAX_CELLS``, else ``DEFAULT_MAX_CELLS``."""
    return _MAX_CELLS[-1] if _MAX_CELLS else _env_max_cells()


def set_max_cells(n: int | None) -> None:
    """Set (``None``: reset to the environment/default) the cell limit."""
    _MAX_CELLS.clear()
    if n is not None:
        _MAX_CELLS.append(int(n))


# --- tables -----------------------------------------------------------------------------

def require_table(path, name: str, *, positive: bool = False, x_range=None):
    """Check the CSV table ``path`` given as parameter ``name``; return (x, y) arrays.

    Two or more comma-separated columns (x, y, ...), ``#`` comments, one optional
    header line; >= 2 rows, finite numbers, x strictly increasing, y > 0 if
    ``positive``, x within ``x_range`` = (lo, hi) if given.  InputError (one line
    naming the parameter and the file) otherwise.
    """
    import numpy as np
    from pathlib import Path as _Path

    def bad(msg):
        return InputError(f"parameter '{name}' = {str(path)!r}: {msg}")

    p = _Path(path)
    if not str(path):
        raise bad("a CSV table path is required")
    try:
        if not p.exists():
            raise bad("no such file")
        if not p.is_file():
            raise bad("not a regular file")
        if p.stat().st_size > MAX_TABLE_BYTES:
            raise bad(f"file larger than {MAX_TABLE_BYTES // 2 ** 20} MB; not a table")
        text = p.read_bytes().decode("utf-8")
    except InputError:
        raise
    except UnicodeDecodeError:
        raise bad("not a text (CSV) file") from None
    except OSError as e:
        raise bad(f"not readable ({e.strerror or e})") from None
    rows, header_seen = [], False
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in line.split(",")]
        try:
            vals = [float(c) for c in cells]
        except ValueError:
            if not rows and not header_seen:
                header_seen = True  # one header line
                continue
            raise bad(f"line {lineno} is not numeric: {line[:40]!r}") from None
        if len(vals) < 2:
            raise bad(f"line {lineno} has {len(vals)} column; two comma-separated columns (x, y) expected")
        rows.append(vals[:2])
    if len(rows) < 2:
        raise bad(f"{len(rows)} data row{'s' if len(rows) != 1 else ''}; at least 2 rows (x, y) needed")
    data = np.array(rows, dtype=float)
    x, y = data[:, 0], data[:, 1]
    if not np.all(np.isfinite(data)):
        raise bad("holds non-finite values (nan/inf)")
    if np.any(np.diff(x) <= 0):
        k = int(np.argmax(np.diff(x) <= 0))
        raise bad(f"the first column must be strictly increasing (x = {x[k]:g} then {x[k + 1]:g})")
    if positive and np.any(y <= 0):
        raise bad(f"the second column must be > 0 (found {y[y <= 0][0]:g})")
    if x_range is not None and (x[0] < x_range[0] or x[-1] > x_range[1]):
        raise bad(f"x spans [{x[0]:g}, {x[-1]:g}]; allowed within [{x_range[0]:g}, {x_range[1]:g}]")
    return x, y


def _coerce(name: str, value: Any, tp) -> Any:
    """Convert ``value`` to the declared type ``tp`` or raise InputError."""
    origin = typing.get_origin(tp)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"parameter '{name}' must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise InputError(f"parameter '{name}' must be finite, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not (isinstance(value, int) or
                                           (isinstance(value, float) and value.is_integer())):
            raise InputError(f"parameter '{name}' must be an integer, got {value!r}")
        return int(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"parameter '{name}' must be true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"parameter '{name}' must be a string, got {value!r}")
        return value
    if tp is dict:  # an element of a list of tables (TOML [[name]] / inline tables)
        if not isinstance(value, dict):
            raise InputError(f"parameter '{name}' must be a list of tables, got an element {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"parameter '{name}' must be a list, got {value!r}")
        (arg, *_) = typing.get_args(tp) or (Any,)
        return [value_i if arg is Any else _coerce(name, value_i, arg) for value_i in value]
    return value


@dataclass
class Parameters:
    """Base class of every problem's parameter dataclass.

    ``max_cells`` (keyword-only, listed last by ``solidion params``): the cell
    limit of the mesh generators for this run (see :mod:`meshes.limits`).
    ``output_times_s`` (keyword-only): times [s] the transient driver lands on
    exactly (:class:`fem.simulation.Simulation` reads them from the run output).
    """

    output_times_s: list[float] = field(default_factory=list, kw_only=True, metadata=dict(
        doc="times at which a time step must end, with a time-series row and a field write "
            "(e.g. for comparison with PyBaMM or experiments); [] for none",
        unit="s", gt=None, ge=0, lt=None, le=1e10, choices=None, table=False))
    max_cells: int = field(default_factory=_env_max_cells, kw_only=True, metadata=dict(
        doc="refuse to mesh when the estimated cell count exceeds this (default: "
            f"SOLIDION_MAX_CELLS or {DEFAULT_MAX_CELLS:.0e}, sized for one node)",
        unit="-", gt=None, ge=1, lt=None, le=None, choices=None, table=False))

    # ---- construction -------------------------------------------------
    @classmethod
    def fields(cls):
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """Build and validate from a (flat) dict; unknown keys are errors."""
        known = cls.fields()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise InputError(
                f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"valid parameters: {', '.join(sorted(known))}")
        hints = typing.get_type_hints(cls)
        kwargs = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
        obj = cls(**kwargs)
        obj.validate()
        return obj

    @classmethod
    def load(cls, config: str | Path | None = None, overrides: list[str] | None = None):
        """Parameters from an optional TOML file, then ``key=value`` overrides."""
        values: dict[str, Any] = {}
        if config is not None:
            path = Path(config)
            if not path.is_file():
                raise InputError(f"config file '{config}' not found")
            try:
                data = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as e:
                raise InputError(f"config file '{config}' is not valid TOML: {e}") from None
            # Accept either a flat table or one [parameters] table.
            values.update(data.get("parameters", data))
        for item in overrides or []:
            key, value = parse_assignment(item)
            values[key] = value
        return cls.from_dict(values)

    # ---- validation ---------------------------------------------------
    def validate(self) -> None:
        """Check every field against its range (declared, else the unit's default bound)
        and its table file, then :meth:`check`; make ``max_cells`` the meshing limit."""
        for f in dataclasses.fields(self):
            meta = f.metadata
            v = getattr(self, f.name)
            if meta.get("choices") is not None and v not in meta["choices"]:
                raise InputError(f"parameter '{f.name}' = {v!r} is not allowed; "
                                 f"allowed: {_range_text(meta)}")
            kind = table_kind(f.name, meta)
            if kind and isinstance(v, str) and v:
                require_table(v, f.name, positive=kind == "positive")
            values = v if isinstance(v, (list, tuple)) else [v]
            for x in values:
                if not _is_number(x):
                    continue
                if not _in_range(x, effective_range(meta)):
                    unit = f" {meta['unit']}" if meta.get("unit", "-") not in ("-", "") else ""
                    raise InputError(f"parameter '{f.name}' = {x!r}{unit} is out of range; "
                                     f"allowed: {_range_text(meta)}{unit}")
        self.check()
        set_max_cells(self.max_cells)

    def check(self) -> None:
        """Cross-field checks; override in subclasses (raise InputError)."""

    def require(self, condition: bool, name: str, message: str) -> None:
        """Raise InputError for parameter ``name`` unless ``condition``."""
        if not condition:
            raise InputError(f"parameter '{name}' = {getattr(self, name)!r}: {message}")

    def refuse_unused(self, names, why: str) -> None:
        """InputError for a parameter of ``names`` set away from its default: it would be ignored
        ``why`` (e.g. "without mesh_file"), and a silently ignored setting is a wrong result."""
        for f in dataclasses.fields(self):
            if f.name in names:
                default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
                if getattr(self, f.name) != default:
                    raise InputError(f"parameter '{f.name}' = {getattr(self, f.name)!r} is not used {why}; "
                                     f"leave it at its default {default!r}")

    def require_cells(self, n: float, name: str) -> None:
        """InputError for parameter ``name`` when the mesh it sets would have more than
        ``max_cells`` cells (``n``: the cell count or an estimate; for meshes built
        without Gmsh, e.g. ``create_rectangle``; call it in :meth:`check`)."""
        if not n <= self.max_cells:
            raise InputError(f"parameter '{name}' = {getattr(self, name)!r}: about {n:.3g} cells, above the "
                             f"limit max_cells = {self.max_cells:.3g}; use fewer cells, or raise the limit "
                             "(--set max_cells=N or SOLIDION_MAX_CELLS=N)")

    # ---- introspection ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def describe(cls) -> str:
        """Table of parameters: name, default, unit, allowed range, doc (the base
        class's fields last)."""
        own = [f for f in dataclasses.fields(cls) if f.name not in _BASE_FIELDS]
        base = [f for f in dataclasses.fields(cls) if f.name in _BASE_FIELDS]
        lines = []
        for f in own + base:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            m = f.metadata
            numeric = _is_number(default) or isinstance(default, (list, tuple))
            lines.append(f"  {f.name:28s} = {default!r:14}  [{m.get('unit', '-')}]  "
                         f"{m.get('doc', '')} (allowed: {_range_text(m, numeric, f.name)})")
        return "\n".join(lines)


_BASE_FIELDS = frozenset(f.name for f in dataclasses.fields(Parameters))


def parse_assignment(item: str) -> tuple[str, Any]:
    """Parse ``key=value`` where value is a TOML literal (bare words are strings)."""
    if "=" not in item:
        raise InputError(f"--set expects key=value, got {item!r}")
    key, raw = item.split("=", 1)
    key = key.strip()
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


__all__ = ["Parameters", "param", "dataclass", "parse_assignment", "require_table", "max_cells",
           "set_max_cells", "UNIT_BOUNDS", "DEFAULT_MAX_CELLS"]
