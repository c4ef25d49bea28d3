"""One electrode's particle from a Battery Parameter eXchange (BPX) JSON file.

BPX (Faraday Institution, https://github.com/FaradayInstitution/BPX, schema ``bpx/schema.py``)
describes a cell for SPM/DFN models.  Read here, without the ``bpx`` package (not in the image),
for the ``positive`` or ``negative`` electrode (``Parameterisation/<Positive|Negative>
electrode``; a single active material, not a blend):

=====================================================  =================================================
BPX entry                                              used as
=====================================================  =================================================
Particle radius [m]                                    radius of a generated particle
Maximum concentration [mol.m-3]                        c_max
Minimum / Maximum stoichiometry                        the window: x_full (charged cell) = min (positive)
                                                       or max (negative), x_empty the other end
Diffusivity [m2.s-1] (number, expression of x, table)  D(x) at T_ref
Diffusivity activation energy [J.mol-1]                D(x, T) = D(x) exp(E_a/R (1/T_ref - 1/T))
OCP [V] (number, expression, table)                    U(x) at T_ref
Entropic change coefficient [V.K-1]                    U(x, T) = U(x) + dU/dT(x) (T - T_ref)
Reaction rate constant [mol.m-2.s-1]                   i0 = F k sqrt(c_e/c_e0 x (1 - x)) (BPX's
                                                       normalised k; c_e = c_e0 here), i.e. our
                                                       m = F k / (c_max sqrt(c_e0)), i0 = m sqrt(c_e)
                                                       c_max sqrt(x (1 - x)) (PyBaMM's conversion)
Reaction rate constant activation energy [J.mol-1]     k(T) = k exp(E_a/R (1/T_ref - 1/T))
Cell: Reference temperature [K]                        T_ref (default 298.15 K)
Cell: Nominal cell capacity [A.h], Electrode area      nominal capacity per m^2 of particle surface:
[m2], Number of electrode pairs ...; electrode         Q / (a L A_el N) (1C on capacity_basis='nominal')
Surface area per unit volume [m-1], Thickness [m]
State: Initial state-of-charge                         x0 = x_empty + SOC (x_full - x_empty) when x0 is
                                                       left at its default
State: Initial electrolyte concentration [mol.m-3]     c_e0 (else Electrolyte: Initial concentration,
                                                       else 1000)
=====================================================  =================================================

Every other entry (the other electrode, electrolyte transport, separator, thermal, hysteresis
branches, validation data, user-defined) is listed in :attr:`BPXParticle.unused` -- the problems
print it as a warning line and store it in ``summary.json`` -- never silently dropped;
:attr:`BPXParticle.used` lists the entries read, and the two together cover the file.
Both BPX v1 files (``State`` block) and v0.x files (``Electrolyte: Initial concentration``, no initial
SOC: the problem's x0 stays) are read.  Checked against the ``bpx`` package (1.1.1; host-only):
tests/bench/check_bpx_schema.py validates a file with its schema and compares every quantity above
with what it parses (equal to <= 6e-14 relative for examples/bpx_chen2020.json and the five official
examples of FaradayInstitution/BPX; blended electrodes are refused with an InputError).
Tables ``{"x": [...], "y": [...]}`` are interpolated by monotone PCHIP
(:class:`fem.constitutive.tabulated.Tabulated`; D in log), expressions by
:class:`fem.constitutive.expression.Expression`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fem.constitutive.expression import Expression, constant
from fem.constitutive.materials import Material
from fem.constitutive.tabulated import Tabulated
from fem.errors import InputError
from fem.scaling import FARADAY, GAS_CONSTANT

ELECTRODES = ("positive", "negative")
_USED = ("Particle radius [m]", "Maximum concentration [mol.m-3]", "Minimum stoichiometry",
         "Maximum stoichiometry", "Diffusivity [m2.s-1]", "Diffusivity activation energy [J.mol-1]", "OCP [V]",
         "Entropic change coefficient [V.K-1]", "Reaction rate constant [mol.m-2.s-1]",
         "Reaction rate constant activation energy [J.mol-1]", "Surface area per unit volume [m-1]",
         "Thickness [m]")
_CELL_USED = ("Reference temperature [K]", "Nominal cell capacity [A.h]", "Electrode area [m2]",
              "Number of electrode pairs connected in parallel to make a cell")


@dataclass
class BPXParticle:
    path: str
    electrode: str
    title: str
    radius_m: float
    c_max_mol_m3: float
    x_full: float
    x_empty: float
    diffusivity: object  # D(x) [m^2/s] at T_ref (numpy and UFL)
    diffusivity_activation_J_mol: float
    ocp: object  # U(x) [V] at T_ref
    entropic: object | None  # dU/dT(x) [V/K]
    rate_constant_mol_m2_s: float  # BPX's normalised k
    reaction_activation_J_mol: float
    c_electrolyte_mol_m3: float
    T_ref_K: float
    nominal_capacity_Ah_m2: float | None
    initial_soc: float | None
    unused: list = field(default_factory=list)
    used: list = field(default_factory=list)  # the entries read (Section/Subsection/key)

    @property
    def D_ref_m2_s(self) -> float:
        """D at the middle of the window (the diffusive time scale)."""
        return float(self.diffusivity(0.5 * (self.x_full + self.x_empty)))

    def x_of_soc(self, soc: float) -> float:
        return self.x_empty + soc * (self.x_full - self.x_empty)

    def material(self, temperature_K: float) -> Material:
        """A :class:`Material` at ``temperature_K``: OCV with the entropic term, the exchange-current
        constant with its Arrhenius factor; D_ref at T_ref (its Arrhenius factor: the problem's
        activation energy and T_ref)."""
        dT = temperature_K - self.T_ref_K
        ocp, ent = self.ocp, self.entropic
        ocv = (lambda x: ocp(x) + ent(x) * dT) if (ent is not None and dT != 0.0) else ocp
        arr = math.exp(self.reaction_activation_J_mol / GAS_CONSTANT * (1 / self.T_ref_K - 1 / temperature_K))
        m = FARADAY * self.rate_constant_mol_m2_s / (self.c_max_mol_m3 * math.sqrt(self.c_electrolyte_mol_m3)) * arr
        return Material(name=f"{self.title or Path(self.path).name} ({self.electrode})",
                        c_max_mol_m3=self.c_max_mol_m3,
                        diffusivity_m2_s=self.D_ref_m2_s, ocv_V=ocv, rate_constant_A_m2=m, x_full=self.x_full,
                        x_empty=self.x_empty, radius_m=self.radius_m, c_electrolyte_mol_m3=self.c_electrolyte_mol_m3,
                        temperature_K=self.T_ref_K,
                        diffusivity_activation_eV=self.diffusivity_activation_J_mol / FARADAY,
                        sources={"all": f"BPX file {self.path}"})

    def g(self):
        """g(x) = D(x) / D_ref (numpy and UFL)."""
        D, ref = self.diffusivity, self.D_ref_m2_s
        return lambda x: D(x) / ref

    def summary(self) -> dict:
        return {"file": self.path, "electrode": self.electrode, "title": self.title, "radius_m": self.radius_m,
                "c_max_mol_m3": self.c_max_mol_m3, "x_full": self.x_full, "x_empty": self.x_empty,
                "D_ref_m2_s": self.D_ref_m2_s, "diffusivity_activation_J_mol": self.diffusivity_activation_J_mol,
                "reaction_rate_constant_mol_m2_s": self.rate_constant_mol_m2_s,
                "reaction_activation_J_mol": self.reaction_activation_J_mol, "T_ref_K": self.T_ref_K,
                "c_electrolyte_mol_m3": self.c_electrolyte_mol_m3,
                "nominal_capacity_Ah_m2": self.nominal_capacity_Ah_m2, "initial_soc": self.initial_soc,
                "unused": self.unused}


def _function(value, where: str, log: bool = False):
    """A BPX FloatFunctionTable: number, expression of x, or {"x": [...], "y": [...]}."""
    if isinstance(value, bool):
        raise InputError(f"{where}: {value!r} is not a number, expression or table")
    if isinstance(value, (int, float)):
        return constant(value)
    if isinstance(value, str):
        return Expression(value, name=where)
    if isinstance(value, dict) and set(value) == {"x", "y"}:
        return Tabulated(value["x"], value["y"], log=log, name=where)
    raise InputError(f"{where}: {value!r} is not a number, an expression of x or a table {{'x': [...], 'y': [...]}}")


def _number(d: dict, key: str, where: str, default=None, positive: bool = True) -> float:
    if key not in d:
        if default is not None:
            return default
        raise InputError(f"{where}: the entry {key!r} is missing")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0) \
            or (not positive and v < 0):
        raise InputError(f"{where}/{key} = {v!r}: a finite number {'> 0' if positive else '>= 0'} is required")
    return float(v)


def read(path, electrode: str = "positive") -> BPXParticle:
    """The ``electrode`` particle of the BPX file ``path`` (InputError naming the entry otherwise)."""
    if electrode not in ELECTRODES:
        raise InputError(f"bpx_electrode {electrode!r}: allowed {ELECTRODES}")
    p = Path(path)
    if not p.is_file():
        raise InputError(f"BPX file {str(path)!r}: no such file")
    try:
        data = json.loads(p.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"BPX file {str(path)!r} is not JSON: {e}") from None
    if not isinstance(data, dict) or "Parameterisation" not in data or "Header" not in data:
        raise InputError(f"BPX file {str(path)!r}: a BPX file has the sections 'Header' and 'Parameterisation'")
    header, par = data["Header"], data["Parameterisation"]
    name = f"{electrode.capitalize()} electrode"
    where = f"BPX {p.name}: Parameterisation/{name}"
    if name not in par:
        raise InputError(f"BPX {p.name}: no 'Parameterisation/{name}' section")
    el = par[name]
    if "Particle" in el:
        raise InputError(f"{where}: a blended electrode ('Particle' materials {sorted(el['Particle'])}) is not "
                         "supported; give one active material")
    cell = par.get("Cell", {})
    state = data.get("State", {}) or {}
    init = state.get("Initial conditions", {}) or {}
    xmin = _number(el, "Minimum stoichiometry", where)
    xmax = _number(el, "Maximum stoichiometry", where)
    if not 0 <= xmin < xmax <= 1:
        raise InputError(f"{where}: stoichiometry window [{xmin}, {xmax}] must satisfy 0 <= min < max <= 1")
    x_full, x_empty = (xmin, xmax) if electrode == "positive" else (xmax, xmin)
    c_e0 = _number(init, "Initial electrolyte concentration [mol.m-3]", "BPX State/Initial conditions",
                   default=_number(par.get("Electrolyte", {}), "Initial concentration [mol.m-3]", "Electrolyte",
                                   default=1000.0))
    D = _function(_entry(el, "Diffusivity [m2.s-1]", where), f"{where}/Diffusivity [m2.s-1]", log=True)
    ocp = _function(_entry(el, "OCP [V]", where), f"{where}/OCP [V]")
    ent = (_function(el["Entropic change coefficient [V.K-1]"], f"{where}/Entropic change coefficient [V.K-1]")
           if "Entropic change coefficient [V.K-1]" in el else None)
    xs = np.linspace(xmin, xmax, 21)
    d = np.asarray(D(xs), dtype=float)
    if not (np.all(np.isfinite(d)) and np.all(d > 0)):
        raise InputError(f"{where}/Diffusivity [m2.s-1]: must be finite and > 0 over the window [{xmin}, {xmax}]")
    if not np.all(np.isfinite(np.asarray(ocp(xs), dtype=float))):
        raise InputError(f"{where}/OCP [V]: not finite over the window [{xmin}, {xmax}]")
    nominal = None
    try:
        a, L = el["Surface area per unit volume [m-1]"], el["Thickness [m]"]
        A, N = cell["Electrode area [m2]"], cell["Number of electrode pairs connected in parallel to make a cell"]
        nominal = float(cell["Nominal cell capacity [A.h]"]) / (float(a) * float(L) * float(A) * float(N))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    soc = init.get("Initial state-of-charge")
    if soc is not None and not (isinstance(soc, (int, float)) and 0 <= soc <= 1):
        raise InputError(f"BPX {p.name}: State/Initial conditions/Initial state-of-charge = {soc!r}: allowed [0, 1]")
    bp = BPXParticle(
        path=str(path), electrode=electrode, title=str(header.get("Title", "")),
        radius_m=_number(el, "Particle radius [m]", where),
        c_max_mol_m3=_number(el, "Maximum concentration [mol.m-3]", where),
        x_full=x_full, x_empty=x_empty, diffusivity=D,
        diffusivity_activation_J_mol=_number(el, "Diffusivity activation energy [J.mol-1]", where, 0.0, False),
        ocp=ocp, entropic=ent, rate_constant_mol_m2_s=_number(el, "Reaction rate constant [mol.m-2.s-1]", where),
        reaction_activation_J_mol=_number(el, "Reaction rate constant activation energy [J.mol-1]", where, 0.0, False),
        c_electrolyte_mol_m3=c_e0, T_ref_K=_number(cell, "Reference temperature [K]", "Cell", 298.15),
        nominal_capacity_Ah_m2=nominal, initial_soc=None if soc is None else float(soc))
    bp.unused = _unused(data, name)
    bp.used = _used(data, name)
    return bp


def _entry(d: dict, key: str, where: str):
    if key not in d:
        raise InputError(f"{where}: the entry {key!r} is missing")
    return d[key]


def _used(data: dict, electrode_section: str) -> list[str]:
    """Entries of the file that the particle reads (the complement of :func:`_unused`)."""
    par, init = data.get("Parameterisation") or {}, (data.get("State") or {}).get("Initial conditions") or {}
    out = [f"Parameterisation/{electrode_section}/{k}" for k in par.get(electrode_section, {}) if k in _USED]
    out += [f"Parameterisation/Cell/{k}" for k in par.get("Cell") or {} if k in _CELL_USED]
    out += [f"Parameterisation/Electrolyte/{k}" for k in par.get("Electrolyte") or {}
            if k == "Initial concentration [mol.m-3]"]
    return out + [f"State/Initial conditions/{k}" for k in init
                  if k in ("Initial state-of-charge", "Initial electrolyte concentration [mol.m-3]")]


def _unused(data: dict, electrode_section: str) -> list[str]:
    """Entries of the file that the particle does not use (sections named once as a whole)."""
    out = []
    for sec, body in data.items():
        if sec == "Header":
            continue
        if sec != "Parameterisation" and sec != "State":
            out.append(f"{sec} (section)")
            continue
        for sub, entries in (body or {}).items():
            if sec == "State" and sub == "Initial conditions" and isinstance(entries, dict):
                out += [f"State/{sub}/{k}" for k in entries
                        if k not in ("Initial state-of-charge", "Initial electrolyte concentration [mol.m-3]")]
            elif sub == electrode_section and isinstance(entries, dict):
                out += [f"Parameterisation/{sub}/{k}" for k in entries if k not in _USED]
            elif sub == "Cell" and isinstance(entries, dict):
                out += [f"Parameterisation/Cell/{k}" for k in entries if k not in _CELL_USED]
            elif sec == "Parameterisation" and sub == "Electrolyte" and isinstance(entries, dict):
                out += [f"Parameterisation/Electrolyte/{k}" for k in entries if k != "Initial concentration [mol.m-3]"]
            else:
                out.append(f"{sec}/{sub} (section)")
    return out
