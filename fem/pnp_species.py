"""Species tables of the PNP problems: any set of mobile species with charge numbers and
fixed background charges per material, from TOML (issue 17 item 3).

A species is one TOML table (in a run config: ``[[species]]``, or ``[[parameters.species]]``)::

    [[species]]
    name = "V_O"                    # column-safe name (letters, digits, '_')
    z = 2                           # charge number (integer, nonzero for a mobile species)
    mobile = true                   # false: a fixed background charge (dopant), no D needed
    c_cathode_mol_m3 = 5.0          # bulk concentration in each material it is present in
    D_cathode_m2_s = 1e-16          # diffusivity in that material (mobile species)
    mu0_cathode_eV = 0.0            # standard chemical potential (optional, default 0)
    c_max_cathode_mol_m3 = 100.0    # site density: lattice-saturation activity (optional; ideal without)
    interface = "equilibrium"       # species in both materials: equilibrium | blocking | butler_volmer
    exchange_current_A_m2 = 1.0     # butler_volmer only

``<material>`` is one of the problem's material keys (``cathode``, ``electrolyte`` for
``space_charge``).  A species is present in a material iff ``c_<material>_mol_m3`` is
given.  Every bulk must be electroneutral: sum_i z_i c_i (mobile and fixed) = 0 in each
material to 1e-9 relative, else the run stops (exit 2) naming ``species`` and the
material; fixed charges are therefore explicit (``mobile = false`` entries).

:func:`parse_species` checks a list of tables (InputError naming the parameter on one
line); :func:`build_description` turns the checked tables into the nondimensional
:class:`fem.models.pnp.Species` / :class:`fem.models.pnp.Material` objects with the
Debye scales of the reference material (c_ref = sum_i z_i^2 c_i of its mobile species,
i.e. twice its ionic strength, so that the scale length is that material's
Debye–Hückel length; D_ref = its first mobile species' D).
"""

from __future__ import annotations

import math
import re

from fem.errors import InputError

KEYS_GLOBAL = {"name", "z", "mobile", "interface", "exchange_current_A_m2"}
KEYS_PER_MATERIAL = ("c_{}_mol_m3", "D_{}_m2_s", "mu0_{}_eV", "c_max_{}_mol_m3")


def _bad(param, i, name, msg):
    return InputError(f"parameter '{param}' entry {i} ({name!r}): {msg}")


def _number(param, i, name, key, v, positive=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _bad(param, i, name, f"{key} = {v!r} must be a finite number")
    if positive and not v > 0:
        raise _bad(param, i, name, f"{key} = {v!r}: allowed range (0, inf)")
    return float(v)


def parse_species(tables, materials, param="species") -> list[dict]:
    """Check the species tables; return normalized dicts
    {name, z, mobile, interface, k_A_m2, c: {m: c}, D: {m: D}, mu0_eV: {m: .}, c_max: {m: .}}."""
    if not isinstance(tables, (list, tuple)) or not tables:
        raise InputError(f"parameter '{param}' must be a non-empty list of tables ([[{param}]] in TOML)")
    allowed = set(KEYS_GLOBAL) | {k.format(m) for k in KEYS_PER_MATERIAL for m in materials}
    out, names = [], set()
    for i, t in enumerate(tables):
        if not isinstance(t, dict):
            raise InputError(f"parameter '{param}' entry {i} must be a table, got {t!r}")
        name = t.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise InputError(f"parameter '{param}' entry {i}: 'name' = {name!r} must be a string of letters, "
                             "digits and '_' starting with a letter")
        if name in names:
            raise _bad(param, i, name, "duplicate name")
        names.add(name)
        unknown = sorted(set(t) - allowed)
        if unknown:
            raise _bad(param, i, name, f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                                       f"allowed: {', '.join(sorted(allowed))}")
        z = t.get("z")
        if isinstance(z, bool) or not isinstance(z, int):
            raise _bad(param, i, name, f"z = {z!r} must be an integer charge number")
        mobile = t.get("mobile", True)
        if not isinstance(mobile, bool):
            raise _bad(param, i, name, f"mobile = {mobile!r} must be true or false")
        if mobile and z == 0:
            raise _bad(param, i, name, "z = 0: a neutral species does not take part in the space charge")
        itf = t.get("interface", "equilibrium")
        if itf not in ("equilibrium", "blocking", "butler_volmer"):
            raise _bad(param, i, name, f"interface = {itf!r}: allowed one of 'equilibrium', 'blocking', "
                                       "'butler_volmer'")
        sp = {"name": name, "z": z, "mobile": mobile, "interface": itf, "k_A_m2": 0.0,
              "c": {}, "D": {}, "mu0_eV": {}, "c_max": {}}
        if itf == "butler_volmer":
            sp["k_A_m2"] = _number(param, i, name, "exchange_current_A_m2", t.get("exchange_current_A_m2", 1.0),
                                   positive=True)
        for m in materials:
            ck = f"c_{m}_mol_m3"
            if ck not in t:
                for k in KEYS_PER_MATERIAL[1:]:
                    if k.format(m) in t:
                        raise _bad(param, i, name, f"{k.format(m)} given but not {ck} (absent from {m})")
                continue
            sp["c"][m] = _number(param, i, name, ck, t[ck], positive=True)
            if mobile:
                dk = f"D_{m}_m2_s"
                if dk not in t:
                    raise _bad(param, i, name, f"{dk} is required (mobile species present in {m})")
                sp["D"][m] = _number(param, i, name, dk, t[dk], positive=True)
                sp["mu0_eV"][m] = _number(param, i, name, f"mu0_{m}_eV", t.get(f"mu0_{m}_eV", 0.0))
                if f"c_max_{m}_mol_m3" in t:
                    cm = _number(param, i, name, f"c_max_{m}_mol_m3", t[f"c_max_{m}_mol_m3"], positive=True)
                    if not sp["c"][m] < cm:
                        raise _bad(param, i, name, f"{ck} = {sp['c'][m]!r}: allowed range (0, c_max_{m}_mol_m3 "
                                                   f"= {cm!r})")
                    sp["c_max"][m] = cm
            elif any(k.format(m) in t for k in KEYS_PER_MATERIAL[1:]):
                raise _bad(param, i, name, "a fixed charge (mobile = false) takes only c_<material>_mol_m3")
        if not sp["c"]:
            raise _bad(param, i, name, f"present in no material: give c_<material>_mol_m3 for one of {materials}")
        out.append(sp)
    for m in materials:
        q = sum(sp["z"] * sp["c"][m] for sp in out if m in sp["c"])
        scale = sum(abs(sp["z"]) * sp["c"][m] for sp in out if m in sp["c"])
        if not any(sp["mobile"] and m in sp["c"] for sp in out):
            raise InputError(f"parameter '{param}': no mobile species in {m}")
        if abs(q) > 1e-9 * scale:
            raise InputError(f"parameter '{param}': the {m} bulk is not neutral: sum z c = {q:.6g} mol/m^3 "
                             "(add or adjust a fixed charge, mobile = false)")
    return out


def build_description(tables, materials, region, temperature_K, eps_r, reference):
    """(scales, [pnp.Material], [pnp.Species], bulk {species: {region: c}}) from checked tables.

    materials : material keys in order (e.g. ['cathode', 'electrolyte']); region : {key: cell-group
    name}; eps_r : {key: relative permittivity}; reference : the key whose mobile species set the
    Debye scales (c_ref = sum z^2 c, D_ref of its first mobile species, eps_ref = eps_r[reference]).
    Fixed charges become the materials' rho_fixed = sum z c / c_ref.
    """
    from fem.constitutive.activity import Ideal, LatticeSaturation
    from fem.models.pnp import Material, Species
    from fem.scaling import BOLTZMANN, ELEMENTARY_CHARGE, FARADAY, Scales

    mob = [sp for sp in tables if sp["mobile"] and reference in sp["c"]]
    c_ref = sum(sp["z"] ** 2 * sp["c"][reference] for sp in mob)
    s = Scales.debye(c_ref, eps_r[reference], mob[0]["D"][reference], temperature_K)
    C, D = s.concentration, s.diffusivity
    kT_eV = BOLTZMANN * temperature_K / ELEMENTARY_CHARGE
    species, bulk = [], {}
    for sp in tables:
        if not sp["mobile"]:
            continue
        ms = [m for m in materials if m in sp["c"]]
        species.append(Species(
            sp["name"], sp["z"], D={region[m]: sp["D"][m] / D for m in ms},
            mu0={region[m]: sp["mu0_eV"][m] / kT_eV for m in ms},
            activity={region[m]: LatticeSaturation(sp["c_max"][m] / C) if m in sp["c_max"] else Ideal()
                      for m in ms},
            interface=sp["interface"],
            k0=(sp["k_A_m2"] / FARADAY / s.molar_flux) if sp["interface"] == "butler_volmer" else 0.0))
        bulk[sp["name"]] = {region[m]: sp["c"][m] / C for m in ms}
    mats = []
    for m in materials:
        rho = 0.0
        for sp in tables:
            if not sp["mobile"] and m in sp["c"]:
                rho = rho + sp["z"] * (sp["c"][m] / C)
        mats.append(Material(region[m], eps_r[m] / s.relative_permittivity, rho))
    _check_shared_bulks(mats, species, bulk, region[reference], {v: k for k, v in region.items()}, C)
    return s, mats, species, bulk


def _check_shared_bulks(mats, species, bulk, reference, key_of, C):
    """A species in electrochemical equilibrium across the interface has one eta; the
    contact potential is set by the first shared species (:func:`fem.models.pnp.equilibrium_etas`),
    so the bulk concentrations of any further shared species must agree with it."""
    from fem.models.pnp import equilibrium_etas
    etas, phi_bulk = equilibrium_etas(mats, species, reference, 0.0, bulk)
    for sp in species:
        if sp.interface != "equilibrium" or len(sp.D) < 2:
            continue
        for m in sp.D:
            eta = sp.mu0_of(m) + sp.act(m).chemical_potential(bulk[sp.name][m]) + sp.z * phi_bulk[m]
            if abs(eta - etas[sp.name]) > 1e-9 * max(1.0, abs(eta)):
                c_ok = float(sp.act(m).concentration(etas[sp.name] - sp.mu0_of(m) - sp.z * phi_bulk[m])) * C
                raise InputError(f"parameter 'species': {sp.name} (equilibrium interface) cannot have both bulk "
                                 f"concentrations: with the contact potential set by the other species its "
                                 f"c_{key_of[m]}_mol_m3 must be {c_ok:.6g} (or make its interface 'blocking')")


def li_hole_tables(p) -> list[dict]:
    """The default cathode | electrolyte system of ``space_charge`` as species tables: Li defects
    (both materials, ``delta_mu0_Li_eV`` = mu0(cathode) - mu0(electrolyte), lattice saturation if
    ``activity`` is 'lattice'), holes (cathode), and the fixed negative background that makes
    each bulk neutral; ``p`` has the ``*_Li_*`` / ``*_hole_*`` parameters of that problem."""
    lat = p.activity == "lattice"
    li = {"name": "Li", "z": 1, "c_cathode_mol_m3": p.c_Li_cathode_mol_m3,
          "c_electrolyte_mol_m3": p.c_Li_electrolyte_mol_m3, "D_cathode_m2_s": p.D_Li_cathode_m2_s,
          "D_electrolyte_m2_s": p.D_Li_electrolyte_m2_s, "mu0_cathode_eV": p.delta_mu0_Li_eV,
          "mu0_electrolyte_eV": 0.0, "interface": p.Li_interface,
          "exchange_current_A_m2": p.exchange_current_A_m2}
    if lat:
        li.update(c_max_cathode_mol_m3=p.c_max_Li_cathode_mol_m3,
                  c_max_electrolyte_mol_m3=p.c_max_Li_electrolyte_mol_m3)
    hole = {"name": "hole", "z": 1, "c_cathode_mol_m3": p.c_hole_cathode_mol_m3, "D_cathode_m2_s": p.D_hole_m2_s}
    bg = {"name": "background", "z": -1, "mobile": False,
          "c_cathode_mol_m3": p.c_Li_cathode_mol_m3 + p.c_hole_cathode_mol_m3,
          "c_electrolyte_mol_m3": p.c_Li_electrolyte_mol_m3}
    return [li, hole, bg]
