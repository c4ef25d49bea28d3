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
    GITT at C/10 for 10 min, rest 1 hour, 20 pulses        (Charge GITT at ...: charging pulses)
    PITT from 4.0 V to 3.8 V in 50 mV steps of 10 min or until C/50

A GITT line is n x (the pulse, the rest); a PITT line holds at start, start +- step, ..., end
(the first hold brings the particle to the start potential).

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

Named protocols: :func:`gitt`, :func:`pitt`.  Their steps carry ``group`` 'gitt'/'pitt':
:func:`write_transients` writes ``gitt_transients.csv`` (per pulse: time since the pulse started
[s], voltage [V], current [A], through the pulse and its rest) and ``pitt_transients.csv``
(per potential step: time since the step started, current, voltage).

Event location (:class:`EventLocator`): a step's limit is a function g of the attempted
state with the event at g = 0, approached from g > 0.  An attempted step that crosses to
g < -tol is rejected and retried with the dt of the secant (linear interpolation of g
between the accepted and the rejected state), through the driver's acceptance checks and
``max_dt``, until a step ends with |g| <= tol: the next step starts exactly there.  A limit
crossed by a step no longer than ``dt_floor`` (the switch itself jumps past it, e.g. a charge
starting above its voltage limit) is accepted and reported as such.
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
    group: str = ""  # "gitt": a pulse of a GITT (per-pulse transient file)
    kind = "current"


@dataclass(frozen=True)
class VoltageHold:
    voltage_V: float
    until_c_rate: float | None = None
    until_current_density_A_m2: float | None = None
    duration_s: float | None = None
    text: str = ""
    group: str = ""  # "pitt": a potential step of a PITT
    kind = "voltage"


@dataclass(frozen=True)
class Rest:
    duration_s: float
    text: str = ""
    group: str = ""  # "gitt": the relaxation after a GITT pulse
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
_GITT = re.compile(r"(?:(discharge|charge)\s+)?gitt\s+at\s+" + _RATE + r"\s+for\s+" + _TIME
                   + r"\s*,?\s*(?:then\s+)?rest\s+(?:for\s+)?" + _TIME + r"\s*,?\s*(?:x\s*)?([0-9]+)\s+pulses?")
_PITT = re.compile(r"pitt\s+from\s+" + _NUM + r"\s*v\s+to\s+" + _NUM + r"\s*v\s+in\s+" + _NUM
                   + r"\s*(mv|v)\s+steps?\s+(?:of|for)\s+" + _TIME + r"(?:\s+(?:or\s+)?until\s+" + _RATE + r")?")


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
    m = _GITT.fullmatch(line)
    if m:
        g = m.groups()
        c_rate, density = _rate(g[1:5], text)
        return gitt(c_rate, _seconds(g[5], g[6], text), _seconds(g[7], g[8], text), int(g[9]),
                    charge=g[0] == "charge", pulse_current_density_A_m2=density)
    m = _PITT.fullmatch(line)
    if m:
        g = m.groups()
        step_V = float(g[2]) * (1e-3 if g[3] == "mv" else 1.0)
        c_rate, density = _rate(g[6:10], text)
        try:
            volts = pitt_voltages(float(g[0]), float(g[1]), step_V)
        except InputError as e:
            raise InputError(f"protocol step {text!r}: {e}") from None
        return pitt(volts, _seconds(g[4], g[5], text), until_c_rate=c_rate or None,
                    until_current_density_A_m2=density or None)
    m = _REST.fullmatch(line)
    if m:
        return [_checked(Rest(_seconds(m.group(1), m.group(2), text), text=str(text).strip()))]
    raise InputError(f"protocol step {text!r} is not understood; allowed forms: 'Discharge|Charge at <1C, C/2, "
                     "2 A/m^2> [for <time>] [or] [until <3.0 V | x = 0.9>]', 'Hold at <4.2 V> [for <time>] "
                     "[or] [until <C/50 | 0.01 A/m^2>]', 'Rest for <time>' (s, min, h), "
                     "'Repeat <n> times: <step>; <step>', '[Charge] GITT at <rate> for <time>, rest <time>, "
                     "<n> pulses', 'PITT from <4.0 V> to <3.8 V> in <50 mV> steps of <time> [or until <C/50>]'")


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
    fields = set(cls.__dataclass_fields__) - {"text", "charge", "group"}
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


def gitt(pulse_c_rate: float = 0.0, pulse_s: float = 0.0, rest_s: float = 0.0, n_pulses: int = 0,
         charge: bool = False, pulse_current_density_A_m2: float = 0.0) -> list[Step]:
    """Galvanostatic intermittent titration (Weppner & Huggins, J. Electrochem. Soc. 124 (1977)
    1569): ``n_pulses`` x (a current pulse of ``pulse_s`` at ``pulse_c_rate`` or
    ``pulse_current_density_A_m2``, then a rest of ``rest_s``); the steps carry group 'gitt'."""
    if not ((pulse_c_rate > 0) != (pulse_current_density_A_m2 > 0) and pulse_s > 0 and rest_s > 0
            and int(n_pulses) >= 1):
        raise InputError("gitt: exactly one of pulse_c_rate, pulse_current_density_A_m2 > 0, pulse_s > 0, "
                         "rest_s > 0 and n_pulses >= 1 are required")
    word = "Charge" if charge else "Discharge"
    rate = f"{pulse_c_rate:g}C" if pulse_c_rate > 0 else f"{pulse_current_density_A_m2:g} A/m^2"
    pulse = _checked(CurrentStep(pulse_c_rate, pulse_current_density_A_m2, charge=charge, duration_s=float(pulse_s),
                                 text=f"{word} at {rate} for {pulse_s:g} s", group="gitt"))
    rest = Rest(float(rest_s), text=f"Rest for {rest_s:g} s", group="gitt")
    return [pulse, rest] * int(n_pulses)


def pitt(voltages_V, step_s: float, until_c_rate: float | None = None,
         until_current_density_A_m2: float | None = None) -> list[Step]:
    """Potentiostatic intermittent titration (Wen, Boukamp, Huggins & Weppner, J. Electrochem.
    Soc. 126 (1979) 2258): holds at each of ``voltages_V`` for ``step_s`` (or until |I| falls to
    ``until_c_rate`` / ``until_current_density_A_m2``); the steps carry group 'pitt'."""
    if not (step_s > 0 and len(voltages_V) >= 1):
        raise InputError("pitt: step_s > 0 and at least one voltage are required")
    return [_checked(VoltageHold(float(v), until_c_rate=until_c_rate,
                                 until_current_density_A_m2=until_current_density_A_m2, duration_s=float(step_s),
                                 text=f"Hold at {v:g} V for {step_s:g} s", group="pitt")) for v in voltages_V]


def pitt_voltages(start_V: float, end_V: float, step_V: float) -> list[float]:
    """start, start +- step, ..., end (|end - start| a whole number of steps)."""
    n = abs(end_V - start_V) / step_V if step_V > 0 else math.nan
    if not (math.isfinite(n) and abs(n - round(n)) <= 1e-6 * max(n, 1.0)):
        raise InputError(f"pitt: {start_V} V to {end_V} V is not a whole number of {step_V} V steps")
    sign = 1.0 if end_V >= start_V else -1.0
    return [start_V + sign * k * step_V for k in range(int(round(n)) + 1)]


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

    def __init__(self, g, tol: float, what: str, dt_floor: float = 0.0):
        self.g, self.tol, self.what, self.dt_floor = g, float(tol), what, float(dt_floor)
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
        if dt <= self.dt_floor:  # crossed at the switch itself (a jump, e.g. the overpotential): accept
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
        if self.g_old < -self.tol:
            return f"{self.what} reached (passed at the step's start by {-self.g_old:.3g}: a jump at the switch)"
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


# --- running a protocol: one driver stage per step -------------------------------------------

class StageFields:
    """A :class:`fem.simulation.FieldOutput` shared by the stages of a protocol run.

    The driver writes fields at the start of every stage and finishes them at its end; here the
    first stage's start is written, a later stage's start (= the previous stage's end) only when
    ``restate`` and not yet written (VTX: each step's end state once; pictures: never), and
    :meth:`finish` does the final write and close once, after the last stage.
    """

    def __init__(self, inner, restate: bool = True):
        self.inner, self.restate = inner, restate
        self.every = inner.every
        self.at_start, self.first, self.last = False, True, None

    @property
    def pending(self):
        return self.inner.pending

    @pending.setter
    def pending(self, value):
        self.inner.pending = value

    def begin_stage(self) -> None:
        self.at_start = True

    def write(self, t: float) -> None:
        if self.at_start:
            self.at_start, first, self.first = False, self.first, False
            if not first and (not self.restate or (self.last is not None and t <= self.last)):
                return
        self.inner.write(t)
        self.last = t

    def step(self, t: float) -> None:
        self.at_start = self.first = False
        self.inner.step(t)
        if self.inner.pending == 0:
            self.last = t

    def final(self, t: float) -> None:  # deferred to finish()
        pass

    def close(self) -> None:
        pass

    def finish(self, t: float) -> None:
        self.inner.final(t)
        self.inner.close()


class _StageModel:
    """The model of a protocol stage: the problem's model plus the protocol's state in its
    checkpoints (``protocol`` entry), so that a restart continues inside the right step."""

    def __init__(self, model, get_state, set_state):
        self.model, self._get, self._set = model, get_state, set_state

    def step(self, t, dt):
        return self.model.step(t, dt)

    def reject(self):
        self.model.reject()

    def accept(self, t_new, dt, stats):
        self.model.accept(t_new, dt, stats)

    def checkpoint_state(self) -> dict:
        return {**self.model.checkpoint_state(), "protocol": self._get()}

    def restore_state(self, state: dict) -> None:
        self.model.restore_state(state)
        self._set(state["protocol"])

    def __getattr__(self, name):
        return getattr(self.model, name)


def first_stage(out) -> int:
    """Index of the protocol step a restart continues (0 for a new run)."""
    if out is None or getattr(out, "mode", "new") != "restart":
        return 0
    stage = str(out.checkpointer.meta.get("stage", ""))
    if not stage.startswith("step_"):
        raise InputError(f"{out.checkpointer.run_dir}: the checkpoint is not one of a protocol run (stage "
                         f"{stage!r}); restart it with the parameters it was run with")
    return int(stage.split("_", 1)[1])


_COUNTERS = ("steps", "rejected", "newton", "krylov", "wall_s")


def run_protocol(steps, control, make_simulation, *, time_scale: float, duration_s, fields=(), out=None):
    """Run ``steps`` (:func:`parse_protocol`) as one :class:`fem.simulation.Simulation` stage
    ``step_<i>`` each, on the same model; returns (combined SimulationResult, summary entries).

    control : the protocol controller of the problem (e.g.
        :class:`fem.models.intercalation.ProtocolControl`): ``apply(i, step, t)`` switches the
        model to step i at model time t, ``limits()`` gives the step's :class:`EventLocator`
        objects, ``record(t)`` the protocol columns, ``checkpoint_state()``/``restore_state()``.
    make_simulation : ``(step, recorders, fields) -> Simulation`` with the problem's
        observables and the stops/checks that apply to the step (e.g. surface saturation);
        the limits' stops, checks and ``max_dt`` are added here.
    duration_s : ``step -> float``: the longest the step may last [s].
    fields : FieldOutput objects (wrapped in :class:`StageFields`; pictures: ``restate=False``
        by giving ``(field_output, False)``).
    out : the RunOutput (restart: the checkpoint's stage says where to continue).

    A restart (``out.mode == 'restart'``) skips the steps before the checkpoint's stage; the
    stage's start time, the totals of the earlier steps and the limits' state come back from
    the checkpoint (model entry ``protocol``).
    """
    from fem.simulation import SimulationResult
    staged = [StageFields(*f) if isinstance(f, tuple) else StageFields(f) for f in fields]
    total, ends = SimulationResult(0.0), []
    t, first = 0.0, first_stage(out)
    for i, step in enumerate(steps):
        if i < first:
            continue
        control.apply(i, step, t)
        limits = control.limits()
        for lim in limits:
            lim.start()
        for f in staged:
            f.begin_stage()
        sim = make_simulation(step, [control.record], staged)
        sim.name = f"step_{i}"
        sim.control.t_end = t + duration_s(step) / time_scale
        sim.stops = [lim.stop for lim in limits] + list(sim.stops)
        sim.checks = [lim.check for lim in limits] + list(sim.checks)
        sim.max_dt = min_max_dt(sim.max_dt, *(lim.max_dt for lim in limits))
        for lim in limits:
            lim.dt_floor = 10 * sim.control.dt_min

        def get_state(limits=limits):
            return {"control": control.checkpoint_state(), "limits": [lim.state() for lim in limits],
                    "totals": {k: getattr(total, k) for k in _COUNTERS}, "ends": list(ends)}

        def set_state(state, sim=sim, limits=limits, step=step):
            control.restore_state(state["control"])
            for lim, st in zip(limits, state["limits"]):
                lim.restore(st)
            for k, v in state["totals"].items():
                setattr(total, k, v)
            ends[:] = state["ends"]
            sim.control.t_end = control.t0 + duration_s(step) / time_scale  # this step's start time

        sim.model = _StageModel(sim.model, get_state, set_state)
        r = sim.run(t)
        t = r.t
        for k in _COUNTERS:
            setattr(total, k, getattr(total, k) + getattr(r, k))
        ends.append(f"{i}: {step.text}: {r.reason or 'time limit'}")
        if r.status != "ok":
            total.status, total.signal = r.status, r.signal
            total.reason = f"protocol step {i} ({step.text}): {r.reason}"
            break
    else:
        total.reason = f"protocol finished ({len(steps)} steps)"
    total.t = t
    for f in staged:
        f.finish(t)
    return total, {"protocol_steps": len(steps), "protocol_step_ends": ends,
                   "protocol_step_codes": dict(STEP_CODES)}


def write_transients(out, steps) -> dict:
    """``gitt_transients.csv`` / ``pitt_transients.csv`` from the run's time series (rank 0):
    one block of rows per GITT pulse (the pulse and its rest) or PITT potential step, columns
    ``pulse, protocol_step, t_since_pulse_start_s, voltage_V, current_A``.  Returns the summary
    entries (file names and pulse counts)."""
    import csv
    import io

    import numpy as np

    from fem.output import atomic_write_text
    blocks = {"gitt": [], "pitt": []}
    for i, step in enumerate(steps):
        if step.group == "gitt" and step.kind == "current":
            blocks["gitt"].append([i] + ([i + 1] if i + 1 < len(steps) and steps[i + 1].group == "gitt"
                                         and steps[i + 1].kind == "rest" else []))
        elif step.group == "pitt":
            blocks["pitt"].append([i])
    info = {}
    if out.comm.rank != 0 or not any(blocks.values()):
        return info
    ts = out.timeseries
    cols = {c: ts.column(c) for c in ("t_s", "protocol_step", "voltage_V", "current_A")}
    for kind, pulses in blocks.items():
        if not pulses:
            continue
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["pulse", "protocol_step", "t_since_pulse_start_s", "voltage_V", "current_A"])
        done = 0
        for k, idx in enumerate(pulses):
            sel = np.isin(cols["protocol_step"], idx)
            if not sel.any():
                break
            # a stage's first row is the state it starts from (V before the switch), at t = 0
            rows = np.flatnonzero(sel)
            t0 = cols["t_s"][rows[0]]
            for r in rows:
                w.writerow([k, int(cols["protocol_step"][r]), repr(float(cols["t_s"][r] - t0)),
                            repr(float(cols["voltage_V"][r])), repr(float(cols["current_A"][r]))])
            done += 1
        name = f"{kind}_transients.csv"
        atomic_write_text(out.dir / name, buf.getvalue())
        info[f"{kind}_transients"] = {"file": name, "pulses": done}
    return info
