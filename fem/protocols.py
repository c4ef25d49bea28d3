"""Cycling protocols: a sequence of steps (constant current, voltage hold, rest), their
text and TOML forms, GITT/PITT, and exact event location for the transient driver.

Steps
-----
* :class:`CurrentStep`: constant current (``c_rate`` |I|/I_1C or ``current_density_A_m2``
  per particle surface area), ``charge`` (Li leaves the particle) or discharge, until a
  voltage ``until_voltage_V``, a mean stoichiometry ``until_x`` and/or for ``duration_s``;
* :class:`VoltageHold`: constant particle potential ``voltage_V`` until |I| falls to
  ``until_c_rate`` / ``until_current_density_A_m2`` and/or for ``duration_s``;
* :class:`Rest`: zero current for ``duration_s``.

The time series of a protocol run carries ``protocol_step`` (0, 1, ... in the expanded
list) and ``protocol_step_type`` (:data:`STEP_CODES`: 0 rest, 1 constant current,
2 voltage hold).

Text form (one step per line, case-insensitive, PyBaMM-like)::

    Discharge at 1C until 3.0 V              Charge at C/2 until 4.2 V
    Discharge at 2 A/m^2 for 10 min or until 3.0 V
    Discharge at 0.5C until x = 0.9          Rest for 1 hour
    Hold at 4.2 V until C/50                 Hold at 4.2 V for 30 min or until 0.01 A/m^2
    Repeat 10 times: Discharge at 1C for 60 s; Rest for 10 min

Times: s/sec/second(s), min/minute(s), h/hr/hour(s).  Rates: ``<r>C``, ``C/<n>``, ``<i> A/m^2``
(or A/m2).  ``Repeat n times:`` takes steps separated by ``;``.

TOML form: a list whose items are such strings or tables::

    protocol = [
      {type = "discharge", c_rate = 1.0, until_voltage_V = 3.0},
      {type = "rest", duration_s = 3600},
      {type = "hold", voltage_V = 4.2, until_c_rate = 0.02},
      {repeat = 3, steps = ["Discharge at 1C for 60 s", {type = "rest", duration_s = 600}]},
      {type = "gitt", pulse_c_rate = 1.0, pulse_s = 60, rest_s = 600, n_pulses = 5},
      {type = "pitt", voltages_V = [4.0, 3.9], step_s = 600},
    ]

Named protocols: :func:`gitt`, :func:`pitt`.

Event location (:class:`EventLocator`): a step's limit is a function g of the attempted
state with the event at g = 0, approached from g > 0.  An attempted step that crosses to
g < -tol is rejected and retried with the dt of the secant (linear interpolation of g
between the accepted and the rejected state), through the driver's acceptance checks and
``max_dt``, until a step ends with |g| <= tol: the next step starts exactly there.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from fem.errors import InputError

STEP_CODES = {"rest": 0, "current": 1, "voltage": 2}


@dataclass(frozen=True)
class CurrentStep:
    c_rate: float = 0.0
    current_density_A_m2: float = 0.0
    charge: bool = False
    until_voltage_V: float | None = None
    until_x: float | None = None
    duration_s: float | None = None
    text: str = ""
    kind = "current"


@dataclass(frozen=True)
class VoltageHold:
    voltage_V: float
    until_c_rate: float | None = None
    until_current_density_A_m2: float | None = None
    duration_s: float | None = None
    text: str = ""
    kind = "voltage"


@dataclass(frozen=True)
class Rest:
    duration_s: float
    text: str = ""
    kind = "rest"


Step = CurrentStep | VoltageHold | Rest

_NUM = r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)"
_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0, "min": 60.0, "mins": 60.0,
          "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0,
          "hours": 3600.0}
_TIME = _NUM + r"\s*([a-z]+)"
_RATE = r"(" + _NUM + r"\s*c|c\s*/\s*" + _NUM + r"|" + _NUM + r"\s*a\s*/\s*m\s*(?:\^\s*2|2|²))"
_CC = re.compile(r"(discharge|charge)\s+at\s+" + _RATE + r"(?:\s+for\s+" + _TIME + r")?"
                 r"(?:\s+(?:or\s+)?until\s+(?:" + _NUM + r"\s*v|x\s*=?\s*" + _NUM + r"))?")
_HOLD = re.compile(r"hold\s+at\s+" + _NUM + r"\s*v(?:\s+for\s+" + _TIME + r")?"
                   r"(?:\s+(?:or\s+)?until\s+" + _RATE + r")?")
_REST = re.compile(r"rest\s+for\s+" + _TIME)
_REPEAT = re.compile(r"repeat\s+([0-9]+)\s+times?\s*:\s*(.+)")


def _seconds(value: str | None, unit: str | None, text: str) -> float | None:
    if value is None:
        return None
    if unit not in _UNITS:
        raise InputError(f"protocol step {text!r}: unknown time unit {unit!r}; allowed: s, min, h (hour)")
    return float(value) * _UNITS[unit]


def _rate(groups, text: str) -> tuple[float, float]:
    """(c_rate, current_density_A_m2) of the _RATE groups (whole, r, n, i)."""
    whole, r, n, i = groups
    if whole is None:
        return 0.0, 0.0
    if r is not None:
        return float(r), 0.0
    if n is not None:
        if float(n) == 0:
            raise InputError(f"protocol step {text!r}: C/0 is not a rate")
        return 1.0 / float(n), 0.0
    return 0.0, float(i)


def parse_step(text: str) -> list[Step]:
    """The step(s) of one line of the text form (a ``Repeat`` line gives several)."""
    line = " ".join(str(text).strip().lower().split())
    m = _REPEAT.fullmatch(line)
    if m:
        n = int(m.group(1))
        inner = [s for s in re.split(r"\s*;\s*", m.group(2)) if s]
        if n < 1 or not inner:
            raise InputError(f"protocol step {text!r}: 'Repeat n times: step; step' needs n >= 1 and steps")
        steps = [s for item in inner for s in parse_step(item)]
        return steps * n
    m = _CC.fullmatch(line)
    if m:
        c_rate, density = _rate(m.groups()[1:5], text)
        g = m.groups()
        step = CurrentStep(c_rate, density, charge=g[0] == "charge", duration_s=_seconds(g[5], g[6], text),
                           until_voltage_V=None if g[7] is None else float(g[7]),
                           until_x=None if g[8] is None else float(g[8]), text=str(text).strip())
        return [_checked(step)]
    m = _HOLD.fullmatch(line)
    if m:
        g = m.groups()
        c_rate, density = _rate(g[3:7], text)
        step = VoltageHold(float(g[0]), until_c_rate=c_rate or None, until_current_density_A_m2=density or None,
                           duration_s=_seconds(g[1], g[2], text), text=str(text).strip())
        return [_checked(step)]
    m = _REST.fullmatch(line)
    if m:
        return [_checked(Rest(_seconds(m.group(1), m.group(2), text), text=str(text).strip()))]
    raise InputError(f"protocol step {text!r} is not understood; allowed forms: 'Discharge|Charge at <1C, C/2, "
                     "2 A/m^2> [for <time>] [or] [until <3.0 V | x = 0.9>]', 'Hold at <4.2 V> [for <time>] "
                     "[or] [until <C/50 | 0.01 A/m^2>]', 'Rest for <time>' (s, min, h), "
                     "'Repeat <n> times: <step>; <step>'")


def _checked(step: Step) -> Step:
    where = f"protocol step {step.text!r}"
    if step.duration_s is not None and not (math.isfinite(step.duration_s) and step.duration_s > 0):
        raise InputError(f"{where}: the duration must be > 0")
    if isinstance(step, CurrentStep):
        if (step.c_rate > 0) == (step.current_density_A_m2 > 0):
            raise InputError(f"{where}: give exactly one current: a C-rate > 0 or a current density > 0 A/m^2")
        if step.until_voltage_V is None and step.until_x is None and step.duration_s is None:
            raise InputError(f"{where}: a constant-current step needs a limit: 'for <time>' and/or "
                             "'until <voltage> V | x = <value>'")
        if step.until_voltage_V is not None and not step.until_voltage_V > 0:
            raise InputError(f"{where}: the voltage limit must be > 0 V")
        if step.until_x is not None and not 0 < step.until_x < 1:
            raise InputError(f"{where}: the stoichiometry limit x must be in (0, 1)")
    elif isinstance(step, VoltageHold):
        if not step.voltage_V > 0:
            raise InputError(f"{where}: the hold voltage must be > 0 V")
        if step.until_c_rate is None and step.until_current_density_A_m2 is None and step.duration_s is None:
            raise InputError(f"{where}: a voltage hold needs a limit: 'for <time>' and/or 'until <C/50 | "
                             "0.01 A/m^2>'")
    elif step.duration_s is None:
        raise InputError(f"{where}: a rest needs a duration")
    return step


_TABLE_KEYS = {"discharge": CurrentStep, "charge": CurrentStep, "hold": VoltageHold, "rest": Rest}


def _from_table(item: dict) -> list[Step]:
    item = dict(item)
    if "repeat" in item:
        n, steps = item.pop("repeat"), item.pop("steps", None)
        if item or not isinstance(n, int) or n < 1 or not isinstance(steps, list) or not steps:
            raise InputError(f"protocol step {dict(item, repeat=n, steps=steps)!r}: a repeat table is "
                             "{repeat = <n >= 1>, steps = [<step>, ...]}")
        return parse_protocol(steps) * n
    kind = item.pop("type", None)
    if kind in ("gitt", "pitt"):
        fn = gitt if kind == "gitt" else pitt
        try:
            return fn(**item)
        except TypeError as e:
            raise InputError(f"protocol step {dict(item, type=kind)!r}: {e}") from None
    text = f"{kind} " + ", ".join(f"{k}={v}" for k, v in item.items())
    if kind not in _TABLE_KEYS:
        raise InputError(f"protocol step {text!r}: 'type' must be one of {tuple(_TABLE_KEYS)}")
    cls = _TABLE_KEYS[kind]
    fields = set(cls.__dataclass_fields__) - {"text", "charge"}
    bad = sorted(set(item) - fields)
    if bad:
        raise InputError(f"protocol step {text!r}: unknown key(s) {bad}; allowed: {sorted(fields)}")
    for k, v in item.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(f"protocol step {text!r}: {k} must be a number")
    try:
        step = cls(**item, text=text, **({"charge": kind == "charge"} if cls is CurrentStep else {}))
    except TypeError as e:
        raise InputError(f"protocol step {text!r}: {e}") from None
    return [_checked(step)]


def parse_protocol(items) -> list[Step]:
    """The expanded list of steps of a protocol given as a list of text lines and/or TOML
    tables (a single string: one step per line)."""
    if isinstance(items, str):
        items = [s for s in items.splitlines() if s.strip()]
    steps: list[Step] = []
    for item in items:
        if isinstance(item, (CurrentStep, VoltageHold, Rest)):
            steps.append(item)
        elif isinstance(item, str):
            steps += parse_step(item)
        elif isinstance(item, dict):
            steps += _from_table(item)
        else:
            raise InputError(f"protocol step {item!r}: must be a text line or a table")
    return steps


def gitt(pulse_c_rate: float, pulse_s: float, rest_s: float, n_pulses: int, charge: bool = False) -> list[Step]:
    """Galvanostatic intermittent titration: ``n_pulses`` x (current pulse, rest)."""
    if not (pulse_c_rate > 0 and pulse_s > 0 and rest_s > 0 and n_pulses >= 1):
        raise InputError("gitt: pulse_c_rate, pulse_s, rest_s > 0 and n_pulses >= 1 are required")
    word = "Charge" if charge else "Discharge"
    pulse = _checked(CurrentStep(pulse_c_rate, charge=charge, duration_s=float(pulse_s),
                                 text=f"{word} at {pulse_c_rate:g}C for {pulse_s:g} s"))
    rest = Rest(float(rest_s), text=f"Rest for {rest_s:g} s")
    return [pulse, rest] * int(n_pulses)


def pitt(voltages_V, step_s: float, until_c_rate: float | None = None) -> list[Step]:
    """Potentiostatic intermittent titration: holds at each of ``voltages_V`` for ``step_s``
    (or until |I| falls to ``until_c_rate``)."""
    return [_checked(VoltageHold(float(v), until_c_rate=until_c_rate, duration_s=float(step_s),
                                 text=f"Hold at {v:g} V for {step_s:g} s")) for v in voltages_V]


# --- event location ----------------------------------------------------------------------

class EventLocator:
    """Land a step exactly on ``g(state) = 0`` (module docstring).

    g : callable () -> float on the model's current (attempted or accepted) state;
        the event is approached from g > 0.
    tol : |g| <= tol counts as hit.
    what : the limit in words (stop reason).

    Use ``check`` as an acceptance check, ``max_dt`` as the driver's ``max_dt`` and ``stop``
    as the first stop condition; call :meth:`start` at the beginning of the stage.
    """

    def __init__(self, g, tol: float, what: str):
        self.g, self.tol, self.what = g, float(tol), what
        self.g_old: float | None = None
        self.t_target: float | None = None

    def start(self) -> None:
        self.g_old, self.t_target = self.g(), None

    def hit(self) -> bool:
        return self.g_old is not None and self.g_old <= self.tol

    def check(self, t: float, dt: float, stats) -> str | None:
        g_new = self.g()
        if g_new >= -self.tol:
            return None
        g_old = self.g_old if self.g_old is not None else 0.0
        frac = g_old / (g_old - g_new) if g_old > 0 else 0.5
        frac = min(max(frac, 1e-3), 0.999)
        self.t_target = t + frac * dt
        return f"{self.what}: crossed within the step, retried to land on it"

    def max_dt(self, t: float) -> float:
        if self.t_target is None:
            return math.inf
        if self.t_target <= t * (1 + 1e-14) + 1e-300:
            self.t_target = None
            return math.inf
        return self.t_target - t

    def stop(self, t: float) -> str | None:
        self.g_old = self.g()
        if self.t_target is not None and self.t_target <= t * (1 + 1e-14) + 1e-300:
            self.t_target = None
        return f"{self.what} reached" if self.g_old <= self.tol else None

    def state(self) -> dict:
        return {"g_old": self.g_old, "t_target": self.t_target}

    def restore(self, state: dict) -> None:
        self.g_old, self.t_target = state["g_old"], state["t_target"]


def min_max_dt(*fns):
    """max_dt callable: the smallest of ``fns`` (None: no limit)."""
    fns = [f for f in fns if f is not None]
    if not fns:
        return None
    return lambda t: min(f(t) for f in fns)
