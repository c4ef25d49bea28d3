"""Typed, documented, SI parameters loadable from TOML and ``--set key=value``.

A problem declares its parameters as a dataclass deriving from
:class:`Parameters`; every field is created with :func:`param`, which records
the unit, a one-line description and the allowed range.  Validation happens
before any PETSc work and raises :class:`fem.errors.InputError` naming the
parameter and the allowed range.

Example::

    @dataclass
    class MyParameters(Parameters):
        radius_m: float = param(5e-6, "particle radius", "m", gt=0)
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fem.errors import InputError


def param(default, doc: str, unit: str = "-", *, gt=None, ge=None, lt=None, le=None,
          choices=None):
    """A documented parameter field with unit and allowed range."""
    meta = dict(doc=doc, unit=unit, gt=gt, ge=ge, lt=lt, le=le, choices=choices)
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def _range_text(meta) -> str:
    """'(0, inf)', '[0, 1]', 'one of 1, 2' ..."""
    if meta.get("choices") is not None:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    gt, ge, lt, le = (meta.get(k) for k in ("gt", "ge", "lt", "le"))
    if all(v is None for v in (gt, ge, lt, le)):
        return "any value"
    lo = f"({gt}" if gt is not None else (f"[{ge}" if ge is not None else "(-inf")
    hi = f"{lt})" if lt is not None else (f"{le}]" if le is not None else "inf)")
    return f"{lo}, {hi}"


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
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"parameter '{name}' must be a list, got {value!r}")
        (arg, *_) = typing.get_args(tp) or (Any,)
        return [value_i if arg is Any else _coerce(name, value_i, arg) for value_i in value]
    return value


class Parameters:
    """Base class of every problem's parameter dataclass."""

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
        """Check every field against its declared range, then :meth:`check`."""
        for f in dataclasses.fields(self):
            meta = f.metadata
            v = getattr(self, f.name)
            if meta.get("choices") is not None and v not in meta["choices"]:
                raise InputError(f"parameter '{f.name}' = {v!r} is not allowed; "
                                 f"allowed: {_range_text(meta)}")
            values = v if isinstance(v, (list, tuple)) else [v]
            for x in values:
                if not isinstance(x, (int, float)) or isinstance(x, bool):
                    continue
                bad = ((meta.get("gt") is not None and not x > meta["gt"]) or
                       (meta.get("ge") is not None and not x >= meta["ge"]) or
                       (meta.get("lt") is not None and not x < meta["lt"]) or
                       (meta.get("le") is not None and not x <= meta["le"]))
                if bad:
                    unit = f" {meta['unit']}" if meta.get("unit", "-") != "-" else ""
                    raise InputError(f"parameter '{f.name}' = {x!r}{unit} is out of range; "
                                     f"allowed: {_range_text(meta)}{unit}")
        self.check()

    def check(self) -> None:
        """Cross-field checks; override in subclasses (raise InputError)."""

    def require(self, condition: bool, name: str, message: str) -> None:
        """Raise InputError for parameter ``name`` unless ``condition``."""
        if not condition:
            raise InputError(f"parameter '{name}' = {getattr(self, name)!r}: {message}")

    # ---- introspection ------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def describe(cls) -> str:
        """Table of parameters: name, default, unit, allowed range, doc."""
        lines = []
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            m = f.metadata
            lines.append(f"  {f.name:28s} = {default!r:14}  [{m.get('unit', '-')}]  "
                         f"{m.get('doc', '')} (allowed: {_range_text(m)})")
        return "\n".join(lines)


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


__all__ = ["Parameters", "param", "dataclass", "parse_assignment"]
