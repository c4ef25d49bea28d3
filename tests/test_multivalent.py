"""Multivalent and multi-species space charge (issue 17 item 3).

References
* z:z symmetric electrolyte (Gouy–Chapman): with psi = z phi (phi in kT/e), c each, eps,
  psi(x) = 4 atanh(tanh(psi0/4) exp(-kappa x)), kappa = sqrt(2 z^2 c / eps) (nondimensional,
  lengths in Debye lengths of c_ref = 1, eps_ref = 1); the Debye length 1/kappa scales as 1/z;
  the displacement at the wall eps E(0) = sqrt(8 eps c) sinh(psi0 / 2).
* three mobile species (Li+, V_O with z = +2, electrons z = -1) and a fixed dopant, from a TOML
  config through ``space_charge``: the first integral of 1D Poisson–Boltzmann on each side,
  (eps0 eps_r / 2) E^2 = R T sum_i c_i (exp(-z_i psi) - 1 + z_i psi) (ideal mobile species i, the
  fixed charge -sum_i z_i c_i of the neutral bulk), integrated here
  independently with scipy (x(psi) = int dpsi / E(psi)); the displacement continuous across the
  uncharged interface; both bulks neutral.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from mpi4py import MPI

from fem.models.pnp import Material, Species, solve_equilibrium_pb
from meshes import tags as T
from meshes._common import graded_nodes, interval_mesh


def half_space(comm, length, h, h_min):
    nodes = graded_nodes(0.0, length, h, h_min, refine_left=True, refine_right=False, ratio=1.1)
    return interval_mesh(nodes, comm, [(T.ELECTROLYTE, 0.0, length)],
                         [(T.CONTACT_LEFT, 0.0), (T.CONTACT_RIGHT, length)], T.cell_id, T.facet_id, 1.0, {})


def zz_layer(z, phi0, length=20.0, h=0.05, h_min=0.002):
    """z:z electrolyte (c = 1 each, eps = 1) on [0, length] with phi(0) = phi0."""
    dom = half_space(MPI.COMM_WORLD, length, h, h_min)
    cat, an = Species("cation", z, D={T.ELECTROLYTE: 1.0}), Species("anion", -z, D={T.ELECTROLYTE: 1.0})
    pb, _, _ = solve_equilibrium_pb(dom, [Material(T.ELECTROLYTE, 1.0, 0.0)], [cat, an],
                                    {"cation": {T.ELECTROLYTE: 1.0}, "anion": {T.ELECTROLYTE: 1.0}}, 0.0,
                                    T.ELECTROLYTE, phi_bc={T.CONTACT_LEFT: phi0}, prefix=f"pbzz{z}_{phi0:g}_")
    return pb


# measured (phi, E0): z = 1: 2.5e-4, 1.6e-4; z = 2: 3.1e-4, 2.2e-4; z = 3: 3.2e-4, 2.7e-4
@pytest.mark.parametrize("z,tol_phi,tol_E", [(1, 7.5e-4, 5e-4), (2, 9.5e-4, 6.5e-4), (3, 9.6e-4, 8.2e-4)])
def test_zz_gouy_chapman(z, tol_phi, tol_E):
    psi0 = 4.0  # z phi0: the same reduced wall potential for every z
    pb = zz_layer(z, psi0 / z)
    kappa = np.sqrt(2.0 * z * z)
    xs = np.linspace(0.0, 6.0, 61) / kappa
    phi = pb.line_values(xs[:, None])["phi"]
    exact = 4 * np.arctanh(np.tanh(psi0 / 4) * np.exp(-kappa * xs)) / z
    err = np.max(np.abs(phi - exact)) / (psi0 / z)
    assert err < tol_phi, err
    E0 = pb.poisson_reaction(T.CONTACT_LEFT)
    assert abs(E0 / (np.sqrt(8.0) * np.sinh(psi0 / 2)) - 1) < tol_E, E0
    pb.destroy()


def test_debye_length_scales_as_one_over_z():
    """Small potential: phi ~ exp(-x / L(z)), L(z) = 1 / sqrt(2 z^2): L(z) z / L(1) = 1."""
    L = {}
    for z in (1, 2, 3):
        Lz = 1.0 / np.sqrt(2.0 * z * z)
        # the same mesh in units of L(z) for every z (the mesh error is then the same)
        pb = zz_layer(z, 1e-4, length=25.0 / z, h=0.1 / z, h_min=0.01 / z)
        xs = np.linspace(3.0, 8.0, 11) * Lz
        L[z] = -1.0 / np.polyfit(xs, np.log(pb.line_values(xs[:, None])["phi"]), 1)[0]
        assert abs(L[z] / Lz - 1) < 2.6e-3, (z, L[z], Lz)  # measured 8.5e-4 (each z)
        pb.destroy()
    for z in (2, 3):
        # the same mesh in Debye units: the z^2 law holds to round-off (measured 2e-15)
        assert abs(L[z] * z / L[1] - 1) < 1e-12, (z, L)


# ---------------------------------------------------------------------------------------------
THREE_SPECIES_TOML = """
[parameters]
t_end_s = 0.0
currents_A_m2 = []
h_interface_debye = 0.01  # the cathode's Debye length is 0.3 of the electrolyte's (the scale)
delta_mu0_Li_eV = -0.2   # refused: the Li/hole parameters are not used with [[species]]

[[parameters.species]]
name = "Li"
z = 1
c_cathode_mol_m3 = 10.0
c_electrolyte_mol_m3 = 10.0
D_cathode_m2_s = 1e-14
D_electrolyte_m2_s = 1e-13
mu0_cathode_eV = -0.1

[[parameters.species]]
name = "V_O"
z = 2
c_cathode_mol_m3 = 5.0
D_cathode_m2_s = 1e-16

[[parameters.species]]
name = "electron"
z = -1
c_cathode_mol_m3 = 4.0
D_cathode_m2_s = 1e-12

[[parameters.species]]
name = "dopant"
z = -1
mobile = false
c_cathode_mol_m3 = 16.0
c_electrolyte_mol_m3 = 10.0
"""


def test_three_species_equilibrium_against_first_integral(shared_tmp_path):
    from scipy.integrate import solve_ivp

    from fem.scaling import FARADAY, GAS_CONSTANT, VACUUM_PERMITTIVITY
    from tests.conftest import solidion
    cfg = shared_tmp_path / "three.toml"
    out = shared_tmp_path / "three"
    cfg.write_text(THREE_SPECIES_TOML.replace("delta_mu0_Li_eV = -0.2", ""))
    r = solidion("run", "space_charge", "--config", cfg, "--out", out)
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "summary.json").read_text())
    with open(out / "profiles.csv") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    assert head == ["x_m", "phi_V", "c_Li_mol_m3", "c_V_O_mol_m3", "c_electron_mol_m3"]
    a = np.array(rows[1:], dtype=float)
    x, phi = a[:, 0], a[:, 1]
    c = {"Li": a[:, 2], "V_O": a[:, 3], "electron": a[:, 4]}
    zs = {"Li": 1, "V_O": 2, "electron": -1}
    Tk, eps_r = 298.15, {"cathode": 15.0, "electrolyte": 50.0}
    Vt = GAS_CONSTANT * Tk / FARADAY
    # both bulks neutral (fixed dopant -16 and -10 mol/m^3), measured 1e-15 / 5.8e-13 relative (the
    # electrolyte end is 29 Debye lengths from the interface: exp(-29) ~ 3e-13)
    for i, fixed in ((0, 16.0), (-1, 10.0)):
        q = sum(zs[n] * c[n][i] for n in c) - fixed
        assert abs(q) < 2e-12 * fixed, (i, q)
    x_int = 100e-9
    left, right = x < x_int, x > x_int
    bulk = {"cathode": {n: c[n][0] for n in c if c[n][0] > 0}, "electrolyte": {"Li": c["Li"][-1]}}
    assert bulk["cathode"] == pytest.approx({"Li": 10.0, "V_O": 5.0, "electron": 4.0}, rel=1e-12)

    def phi2(u):
        """(exp(-u) - 1 + u) / u^2, by its series near 0 (no cancellation)."""
        return 0.5 - u / 6 + u * u / 24 - u ** 3 / 120 if abs(u) < 1e-3 else (np.expm1(-u) + u) / (u * u)

    def E_of(side, psi):
        """E(psi) / psi [V/m per kT/e], > 0, from the first integral on one side (psi from that side's bulk)."""
        g = sum(cb * zs[n] ** 2 * phi2(zs[n] * psi) for n, cb in bulk[side].items())
        return np.sqrt(2.0 * GAS_CONSTANT * Tk * g / (VACUUM_PERMITTIVITY * eps_r[side])) / Vt

    psi_s = {"cathode": (phi[left][-1] - phi[0]) / Vt, "electrolyte": (phi[right][0] - phi[-1]) / Vt}
    # Gauss: no surface charge, so eps E is continuous across the interface (measured 2.9e-4; 5.8e-3 with
    # h_interface_debye = 0.05: second order in h)
    DA, DB = (eps_r[s] * abs(psi_s[s]) * E_of(s, psi_s[s]) for s in ("cathode", "electrolyte"))
    assert abs(DA / DB - 1) < 9e-4, (DA, DB)
    # the FE profile on each side against the first integral integrated from the interface value into
    # the bulk with scipy, d psi / ds = -sign(psi) |E(psi)| / Vt (s: distance from the interface)
    L_D = d["scales"]["debye_length_m"]
    for side, sel, tol in (("cathode", left, 2.5e-3), ("electrolyte", right, 3e-3)):  # measured 8.1e-4, 1.0e-3
        bulk_phi = phi[0] if side == "cathode" else phi[-1]
        psi = (phi[sel] - bulk_phi) / Vt
        dist = np.abs(x[sel] - x_int) / L_D
        sol = solve_ivp(lambda s_, y: [-y[0] * E_of(side, y[0]) * L_D], (0.0, dist.max()), [psi_s[side]],
                        method="DOP853", rtol=1e-11, atol=1e-14, dense_output=True)
        ref = sol.sol(dist)[0]
        err = np.max(np.abs(psi - ref)) / abs(psi_s[side])
        assert err < tol, (side, err)
    assert d["equilibrium"]["potential_drop_cathode_V"] < 0 < d["equilibrium"]["potential_drop_electrolyte_V"]


def test_species_tables_refused_with_one_line(tmp_path):
    """Bad tables stop before any mesh work with one line naming 'species' (or the Li/hole
    parameter given alongside [[species]])."""
    from fem.errors import InputError
    from problems.space_charge import SpaceChargeParameters
    bad = [("z = 2", "z = 0", "neutral species"),  # V_O neutral
           ("c_cathode_mol_m3 = 16.0", "c_cathode_mol_m3 = 15.0", "not neutral"),
           ("c_cathode_mol_m3 = 4.0\nD_cathode_m2_s = 1e-12", "c_cathode_mol_m3 = 4.0", "D_cathode_m2_s is required"),
           ("z = 2\nc_cathode_mol_m3 = 5.0", "z = 2\nc_cathode_mol_m3 = 5.0\nc_electrolyte_mol_m3 = 1.0\n"
            "D_electrolyte_m2_s = 1e-16", "must be")]  # V_O shared: its second bulk is set by Li
    neutral_electrolyte = ("c_cathode_mol_m3 = 16.0\nc_electrolyte_mol_m3 = 10.0",
                           "c_cathode_mol_m3 = 16.0\nc_electrolyte_mol_m3 = 12.0")
    base = THREE_SPECIES_TOML.replace("delta_mu0_Li_eV = -0.2", "")
    SpaceChargeParameters.load(_write(tmp_path, base))  # the good one loads
    with pytest.raises(InputError, match="'delta_mu0_Li_eV' = -0.2: not used when 'species' is given"):
        SpaceChargeParameters.load(_write(tmp_path, THREE_SPECIES_TOML))
    for old, new, msg in bad:
        assert old in base
        text = base.replace(old, new, 1)
        if msg == "must be":
            text = text.replace(*neutral_electrolyte)
        with pytest.raises(InputError) as e:
            p = SpaceChargeParameters.load(_write(tmp_path, text))
            from problems.space_charge import build_model_description
            build_model_description(p)  # the shared-bulk check needs the contact potential
        assert "species" in str(e.value) and msg in str(e.value) and "\n" not in str(e.value), (msg, e.value)


def _write(tmp_path, text):
    path = tmp_path / "species.toml"
    path.write_text(text)
    return path


def test_default_system_as_species_tables_is_the_same_model():
    """The Li + hole defaults and the same system written as [[species]] tables build identical
    nondimensional models (scales, materials, species, bulks), and --set takes inline tables."""
    from fem.errors import InputError
    from problems.space_charge import SpaceChargeParameters, build_model_description
    tables = [{"name": "Li", "z": 1, "c_cathode_mol_m3": 10.0, "c_electrolyte_mol_m3": 10.0,
               "D_cathode_m2_s": 1e-14, "D_electrolyte_m2_s": 1e-13, "mu0_cathode_eV": -0.1,
               "c_max_cathode_mol_m3": 100.0, "c_max_electrolyte_mol_m3": 100.0},
              {"name": "hole", "z": 1, "c_cathode_mol_m3": 10.0, "D_cathode_m2_s": 1e-12},
              {"name": "dopant", "z": -1, "mobile": False, "c_cathode_mol_m3": 20.0, "c_electrolyte_mol_m3": 10.0}]
    a = build_model_description(SpaceChargeParameters.load(None, []))
    b = build_model_description(SpaceChargeParameters.from_dict({"species": tables}))
    sa, ma, spa, ba = a
    sb, mb, spb, bb = b
    assert sa == sb and ba == bb
    assert [(m.name, m.eps, m.rho_fixed) for m in ma] == [(m.name, m.eps, m.rho_fixed) for m in mb]
    for x, y in zip(spa, spb):
        assert (x.name, x.z, x.D, x.mu0, x.interface, x.k0) == (y.name, y.z, y.D, y.mu0, y.interface, y.k0)
        assert {k: repr(v) for k, v in x.activity.items()} == {k: repr(v) for k, v in y.activity.items()}
    p = SpaceChargeParameters.load(None, ['species=[{name="Li", z=1, c_cathode_mol_m3=1.0, D_cathode_m2_s=1e-14, '
                                          'c_electrolyte_mol_m3=1.0, D_electrolyte_m2_s=1e-14}, {name="bg", z=-1, '
                                          'mobile=false, c_cathode_mol_m3=1.0, c_electrolyte_mol_m3=1.0}]'])
    assert [t["name"] for t in p.species] == ["Li", "bg"]
    with pytest.raises(InputError, match="'species' must be a list of tables"):
        SpaceChargeParameters.load(None, ["species=[1, 2]"])
