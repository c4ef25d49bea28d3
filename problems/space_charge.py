"""Space-charge layers at a cathode | solid-electrolyte interface (Poisson–Nernst–Planck).

Physics (SI; nondimensionalization below)::

    J_i = -D_i (grad c_i + c_i grad ln gamma_i + z_i e/(kT) c_i grad phi)   [mol/(m^2 s)]
    dc_i/dt + div J_i = 0,        div(eps grad phi) = -rho,
    rho = F (sum_i z_i c_i + rho_fixed / F)                                  [C/m^3]

Interface (tag ``interface``): phi continuous; [eps dphi/dn] jump = -sigma_f
(D_+ - D_- = sigma_f along the normal from the electrode to the electrolyte);
each species either in electrochemical equilibrium (eta_i continuous, flux
continuous: the concentration ratio is fixed by mu0 and the activity models),
blocking, or finite-rate (Butler–Volmer in the eta difference).  The
formulation (electrochemical-potential unknowns on one mesh, one eta field per
material for non-equilibrium interfaces) is explained in
:mod:`fem.weak_forms.pnp`.

Nondimensional: x by the Debye length L_D = sqrt(eps0 eps_ref kT / (e F c_ref)),
phi by kT/e, c by c_ref, t by L_D^2 / D_ref, eps by eps0 eps_ref; then
-div(eps grad phi) = sum z c + rho_fixed and J = -D c grad eta.

Default material model: layered-oxide cathode (LiCoO2-like, p-type: mobile Li
defects + holes, fixed negative background) | oxide solid electrolyte (mobile
Li defects + fixed background).  The difference of Li standard chemical
potentials ``delta_mu0_Li_eV`` = mu0(cathode) - mu0(electrolyte) drives Li
across the interface on contact; the resulting space-charge layers are
resolved by a mesh graded to a fraction of the Debye length.

Stages of :func:`solve`:
1. equilibrium (Poisson–Boltzmann, grand canonical: the Li level fixed by the
   electrolyte bulk, the hole level by the cathode bulk);
2. transient from contact (closed cell: blocking contacts; species and charge
   conservation monitored) to t_end;
3. steady states under applied ionic current densities (Li injected at the
   left contact, Li reservoir at the right, holes in equilibrium with the left
   contact): total and interfacial area-specific resistance
   R_total = (kT/e) (eta_Li(left) - eta_Li(right)) / i and the interface-local
   R_int = (kT/e) [eta_Li]_extrapolated / i, the jump at the interface of the
   linear (ohmic) eta_Li profiles fitted 8-20 space-charge widths away on each
   side (space-charge + charge-transfer resistance, independent of the bulk
   layers, whose Li conductivity is changed by Hebb-Wagner polarization of the
   mixed-conducting cathode under current).

Outputs: ``profiles.csv`` (x_m, phi_V, c_<species>_mol_m3 along the x axis
through the interface), ``summary.json`` (space-charge widths and potential
drops on each side, interfacial resistance vs current), ``timeseries.csv``
(transient), ``fields/pnp.bp``, ``plots/*.png``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import ufl
from mpi4py import MPI

import basix.ufl
import dolfinx.fem
import dolfinx.fem.petsc
import dolfinx.la

from fem import petsc_options
from fem.constitutive.activity import ActivityModel, Ideal, LatticeSaturation
from fem.errors import InputError, SolverError
from fem.observables import Integral
from fem.output import RunOutput, mesh_summary
from fem.parameters import Parameters, param
from fem.probes import PointProbe
from fem.scaling import BOLTZMANN, ELEMENTARY_CHARGE, FARADAY, VACUUM_PERMITTIVITY, thermal_voltage
from fem.solver import SNESSolver, SolveStats
from fem.time_schemes import BDF
from fem.timestepping import Progress, StepControl, integrate
from fem.weak_forms import pnp as wf
from meshes import tags as T

# solver option prefixes of this module (registered up front so that a user option given with one
# prefix, e.g. -pnps_snes_monitor, is not also forwarded to solvers created earlier)
for _prefix in ("pb_", "pnpt_", "pnps_", "pnpp_"):
    petsc_options.register_prefix(_prefix)

NAME = "space_charge"
DESCRIPTION = "PNP / Poisson-Boltzmann space-charge layers at a cathode | solid-electrolyte bilayer"


# =============================================================================
# Model description (nondimensional)
# =============================================================================
@dataclass
class Material:
    """A cell group: relative permittivity eps (/eps_ref), fixed charge rho_fixed (/(F c_ref))."""

    name: str
    eps: float = 1.0
    rho_fixed: float = 0.0


@dataclass
class Species:
    """Mobile species; per material (key = cell-group name): D, mu0 [kT], activity model.

    interface : 'equilibrium' (continuous eta, flux continuity), 'blocking', or
    'butler_volmer' (exchange flux k0 (e^{alpha d} - e^{-(1-alpha) d}), d = eta_left - eta_right).
    """

    name: str
    z: int
    D: dict
    mu0: dict = field(default_factory=dict)
    activity: dict = field(default_factory=dict)
    interface: str = "equilibrium"
    k0: float = 0.0
    alpha: float = 0.5

    def act(self, m) -> ActivityModel:
        return self.activity.get(m, Ideal())

    def mu0_of(self, m) -> float:
        return float(self.mu0.get(m, 0.0))


@dataclass
class Carrier:
    """One eta field: a species on a set of materials."""

    name: str
    species: Species
    materials: tuple
    index: int


def make_carriers(materials, species, first_index=1):
    carriers = []
    names = [m.name for m in materials]
    for sp in species:
        present = tuple(m for m in names if m in sp.D)
        if not present:
            raise InputError(f"species {sp.name!r} is in none of the materials {names}")
        if sp.interface not in ("equilibrium", "blocking", "butler_volmer"):
            raise InputError(f"species {sp.name!r}: interface {sp.interface!r} not one of "
                             "equilibrium, blocking, butler_volmer")
        if len(present) == 1 or sp.interface == "equilibrium":
            carriers.append(Carrier(sp.name, sp, present, first_index + len(carriers)))
        else:
            for m in present:
                carriers.append(Carrier(f"{sp.name}@{m}", sp, (m,), first_index + len(carriers)))
    return carriers


# =============================================================================
# Finite-element model
# =============================================================================
class PNPModel:
    """PNP (mode 'transient' or 'steady') or Poisson–Boltzmann (mode 'equilibrium').

    Unknowns: phi and one eta per carrier (mixed P_k space); in 'equilibrium'
    mode only phi, with eta given per carrier (``eta_eq``, Constants).

    Boundary conditions (facet-group names of ``domain``):
      phi_dirichlet {facet: value}, eta_dirichlet {(carrier, facet): value},
      inflow {(carrier, facet): j_in} (nondimensional molar flux into the domain).
    Every value becomes a dolfinx Constant in ``self.values[key]`` (change it and re-solve).
    """

    def __init__(self, domain, materials, species, *, mode="transient", interface=T.INTERFACE,
                 sigma_f=0.0, eta_eq=None, phi_dirichlet=None, eta_dirichlet=None, inflow=None,
                 time_order=1, degree=1, options=None, prefix="pnp_", quadrature_degree=None,
                 extra_residual=None):
        self.domain, self.materials, self.species, self.mode = domain, list(materials), list(species), mode
        mesh = domain.mesh
        self.mesh = mesh
        self.comm = mesh.comm
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim, tdim)
        mesh.topology.create_connectivity(tdim - 1, tdim)
        self.carriers = make_carriers(self.materials, self.species) if mode != "equilibrium" else []
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), degree)
        ncomp = 1 + len(self.carriers)
        self.W = dolfinx.fem.functionspace(mesh, P if ncomp == 1 else basix.ufl.mixed_element([P] * ncomp))
        W = self.W
        self.u = dolfinx.fem.Function(W, name="state")
        self.u_n = dolfinx.fem.Function(W)
        self.u_nm1 = dolfinx.fem.Function(W)
        self.subs = []
        for i in range(ncomp):
            if ncomp == 1:
                self.subs.append((W, np.arange(len(self.u.x.array), dtype=np.int32)))
            else:
                V, m = W.sub(i).collapse()
                self.subs.append((V, np.asarray(m, dtype=np.int32)))
        qd = quadrature_degree if quadrature_degree is not None else 2 * degree + 2
        md = {"quadrature_degree": qd}
        self.dx = {m.name: domain.dx(m.name, metadata=md) for m in self.materials}
        self.dx_all = domain.dx(metadata=md)
        has_interface = interface is not None and interface in domain.facet_names
        self.dS = domain.dS(interface, metadata=md) if has_interface else None
        self.sigma_f = dolfinx.fem.Constant(mesh, float(sigma_f))
        self.v = ufl.TestFunction(W)
        self.bdf = BDF(mesh, time_order)

        def split(w):
            return [w] if ncomp == 1 else list(ufl.split(w))
        us, uns, unms, vs = split(self.u), split(self.u_n), split(self.u_nm1), split(self.v)
        self.phi = us[0]
        if mode == "equilibrium":
            eta_eq = eta_eq or {}
            self.eta_const = {sp.name: dolfinx.fem.Constant(mesh, float(eta_eq[sp.name])) for sp in self.species}
        # concentrations c[(carrier name, material)] for the state and history
        self.c, self.c_n, self.c_nm1 = {}, {}, {}
        self.rho = {}
        for mat in self.materials:
            rho = dolfinx.fem.Constant(mesh, float(mat.rho_fixed))
            for sp in self.species:
                if mat.name not in sp.D:
                    continue
                if mode == "equilibrium":
                    key = (sp.name, mat.name)
                    self.c[key] = wf.concentration(sp.act(mat.name), self.eta_const[sp.name], sp.mu0_of(mat.name),
                                                   sp.z, self.phi)
                    rho = rho + sp.z * self.c[key]
            for k in self.carriers:
                if mat.name not in k.materials:
                    continue
                sp = k.species
                if not sp.act(mat.name).invertible:
                    raise InputError(f"species {sp.name!r}: activity model {sp.act(mat.name).name!r} has no "
                                     "closed-form inverse; use 'ideal' or 'lattice' in the PNP solver")
                key = (k.name, mat.name)
                args = (sp.act(mat.name), sp.mu0_of(mat.name), sp.z)
                self.c[key] = wf.concentration(args[0], us[k.index], args[1], args[2], us[0])
                self.c_n[key] = wf.concentration(args[0], uns[k.index], args[1], args[2], uns[0])
                self.c_nm1[key] = wf.concentration(args[0], unms[k.index], args[1], args[2], unms[0])
                rho = rho + sp.z * self.c[key]
            self.rho[mat.name] = rho
        self.eps = {m.name: dolfinx.fem.Constant(mesh, float(m.eps)) for m in self.materials}
        surface = [(self.sigma_f, self.dS)] if self.dS is not None else []
        F = wf.poisson_residual(us[0], vs[0],
                                [(self.eps[m.name], self.rho[m.name], self.dx[m.name]) for m in self.materials],
                                surface)
        self.values = {}
        inflow = inflow or {}
        self.np_residual = {}
        for k in self.carriers:
            Fk = 0
            for m in k.materials:
                D = dolfinx.fem.Constant(mesh, float(k.species.D[m]))
                key = (k.name, m)
                dcdt = (self.bdf.ddt(self.c[key], self.c_n[key], self.c_nm1[key]) if mode == "transient" else None)
                Fk = Fk + wf.nernst_planck_residual(dcdt, self.c[key], us[k.index], vs[k.index], D, self.dx[m])
            for (cname, facet), j in inflow.items():
                if cname == k.name:
                    jc = dolfinx.fem.Constant(mesh, float(j))
                    self.values[("inflow", cname, facet)] = jc
                    Fk = Fk - jc * vs[k.index] * domain.ds(facet, metadata=md)
            self.np_residual[k.name] = (Fk, vs[k.index])
            F = F + Fk
        # finite-rate / blocking interfaces: pairs of carriers of one species
        if self.dS is not None:
            for sp in self.species:
                ks = [k for k in self.carriers if k.species is sp]
                if len(ks) == 2 and sp.interface == "butler_volmer" and sp.k0 > 0:
                    a, b = ks  # a: first material (left/inner), b: second
                    k0 = dolfinx.fem.Constant(mesh, float(sp.k0))
                    self.values[("k0", sp.name)] = k0
                    F = F + wf.interface_exchange(us[a.index], us[b.index], vs[a.index], vs[b.index], k0,
                                                  sp.alpha, self.dS)
        self.us, self.vs = us, vs
        self._F_before_extra = F
        if extra_residual is not None:
            F = F + extra_residual(self)
        self.F = F
        # Dirichlet conditions
        self.bcs = []
        for facet, val in (phi_dirichlet or {}).items():
            c = val if isinstance(val, dolfinx.fem.Function) else dolfinx.fem.Constant(mesh, float(val))
            self.values[("phi", facet)] = c
            self.bcs.append(self._bc(0, c, domain.facets(facet), tdim - 1))
        for (cname, facet), val in (eta_dirichlet or {}).items():
            k = self.carrier(cname)
            c = val if isinstance(val, dolfinx.fem.Function) else dolfinx.fem.Constant(mesh, float(val))
            self.values[("eta", cname, facet)] = c
            self.bcs.append(self._bc(k.index, c, domain.facets(facet), tdim - 1))
        # carriers absent from some materials: fix their dofs strictly inside those materials
        for k in self.carriers:
            others = [m.name for m in self.materials if m.name not in k.materials]
            if others:
                self.bcs.append(self._mask_bc(k, others))
        # PB: backtracking on the (convex) Poisson–Boltzmann energy works; PNP has a soft mode (neutral
        # exchange of carriers in a mixed conductor) that makes the residual norm a poor merit function:
        # full Newton steps converge in 3-5 iterations where 'bt' needs 20-500 (measured, space_charge 1D).
        opts = {"snes_linesearch_type": "bt" if mode == "equilibrium" else "basic", "snes_max_it": 50,
                "snes_rtol": 1e-9, "snes_atol": 1e-10}
        opts.update(options or petsc_options.direct_lu())
        self.solver = SNESSolver(self.F, self.u, self.bcs, prefix=prefix, options=opts)
        self._integrals = {}

    # -- helpers -----------------------------------------------------------
    def carrier(self, name) -> Carrier:
        for k in self.carriers:
            if k.name == name:
                return k
        raise KeyError(f"no carrier {name!r}; carriers: {[k.name for k in self.carriers]}")

    def _sub(self, i):
        return self.W if len(self.subs) == 1 else self.W.sub(i)

    def _bc(self, i, value, facets, fdim):
        V, m = self.subs[i]
        if isinstance(value, dolfinx.fem.Function):
            if len(self.subs) == 1:
                return dolfinx.fem.dirichletbc(value, dolfinx.fem.locate_dofs_topological(V, fdim, facets))
            dofs = dolfinx.fem.locate_dofs_topological((self.W.sub(i), value.function_space), fdim, facets)
            return dolfinx.fem.dirichletbc(value, dofs, self.W.sub(i))
        dofs_c = dolfinx.fem.locate_dofs_topological(V, fdim, facets)
        return dolfinx.fem.dirichletbc(value, m[dofs_c] if len(self.subs) > 1 else dofs_c, self._sub(i))

    def _mask_bc(self, k, others):
        V, m = self.subs[k.index]
        tdim = self.mesh.topology.dim
        own = dolfinx.fem.Function(V)
        for mat in k.materials:
            own.x.array[dolfinx.fem.locate_dofs_topological(V, tdim, self.domain.cells(mat))] = 1.0
        own.x.scatter_reverse(dolfinx.la.InsertMode.add)
        own.x.scatter_forward()
        other = np.unique(np.concatenate([dolfinx.fem.locate_dofs_topological(V, tdim, self.domain.cells(o))
                                          for o in others]))
        other = other[own.x.array[other] == 0.0].astype(np.int32)
        self.masked = getattr(self, "masked", {})
        self.masked[k.name] = other
        zero = dolfinx.fem.Constant(self.mesh, 0.0)
        return dolfinx.fem.dirichletbc(zero, m[other], self._sub(k.index))

    def set_component(self, i, values_by_material=None, value=None, func=None):
        """Set component i of u (all history copies): a constant, f(x), or per-material constants."""
        V, m = self.subs[i]
        tdim = self.mesh.topology.dim
        if value is not None:
            self.u.x.array[m] = value
        if func is not None:
            X = V.tabulate_dof_coordinates()
            self.u.x.array[m] = func(X.T)
        for mat, val in (values_by_material or {}).items():
            dofs = dolfinx.fem.locate_dofs_topological(V, tdim, self.domain.cells(mat))
            self.u.x.array[m[dofs]] = val
        self.u.x.scatter_forward()
        self.u_n.x.array[:] = self.u.x.array
        self.u_nm1.x.array[:] = self.u.x.array

    def set_contact_state(self, bulk, phi=0.0):
        """State just after contact: every material in its neutral bulk state at potential ``phi``.

        eta is continuous, so a carrier spanning several materials cannot take both bulk values on
        the interface dofs; there its value is chosen so that the carrier's total amount equals the
        sum of the bulk amounts (the initial state is then exactly neutral).
        """
        from scipy.optimize import brentq
        self.set_component(0, value=phi)
        tdim = self.mesh.topology.dim
        for k in self.carriers:
            sp = k.species
            vals = {m: sp.mu0_of(m) + sp.act(m).chemical_potential(bulk[sp.name][m]) + sp.z * phi
                    for m in k.materials}
            self.set_component(k.index, values_by_material=vals)
            if len(k.materials) < 2:
                continue
            V, m = self.subs[k.index]
            sets = [set(dolfinx.fem.locate_dofs_topological(V, tdim, self.domain.cells(mat)).tolist())
                    for mat in k.materials]
            shared = np.array(sorted(set.intersection(*sets)) if sets else [], dtype=np.int32)
            target = sum(bulk[sp.name][mat] * self.integral(("vol", mat), dolfinx.fem.Constant(self.mesh, 1.0)
                                                            * self.dx[mat]) for mat in k.materials)
            lo, hi = min(vals.values()), max(vals.values())

            def excess(e):
                self.u.x.array[m[shared]] = e
                self.u.x.scatter_forward()
                return self.amount(k.name) - target
            if excess(lo) * excess(hi) < 0:
                e = brentq(excess, lo, hi, xtol=1e-15, rtol=1e-15)
                excess(e)
            self.u_n.x.array[:] = self.u.x.array
            self.u_nm1.x.array[:] = self.u.x.array

    def integral(self, key, expr_measure):
        if key not in self._integrals:
            self._integrals[key] = Integral(expr_measure, self.comm)
        return self._integrals[key]()

    def amount(self, carrier_or_species) -> float:
        """Integral of c over the materials of a carrier (or a species in 'equilibrium' mode)."""
        keys = [key for key in self.c if key[0] == carrier_or_species]
        return sum(self.integral(("amount",) + key, self.c[key] * self.dx[key[1]]) for key in keys)

    def charge(self, material) -> float:
        return self.integral(("charge", material), self.rho[material] * self.dx[material])

    def interface_area(self) -> float:
        return 0.0 if self.dS is None else self.integral(("area",), dolfinx.fem.Constant(self.mesh, 1.0) * self.dS)

    def boundary_outflow(self, carrier, facet) -> float:
        """Variationally consistent outflow of a carrier through a facet group (Dirichlet reaction)."""
        key = ("outflow", carrier, facet)
        if key not in self._integrals:
            k = self.carrier(carrier)
            V, m = self.subs[k.index]
            w = dolfinx.fem.Function(self.W)
            dofs = dolfinx.fem.locate_dofs_topological(V, self.mesh.topology.dim - 1, self.domain.facets(facet))
            w.x.array[m[dofs]] = 1.0
            w.x.scatter_forward()
            Fk, vk = self.np_residual[k.name]
            self._integrals[key] = (Integral(ufl.replace(Fk, {self.v: w}), self.comm), w)
        # R(w) = int (dc/dt + div J) w dx + int J.n w ds = outflow through the facet (positive outward)
        return self._integrals[key][0]()

    def poisson_reaction(self, facet) -> float:
        """Consistent normal displacement eps dphi/dn (outward normal) on a facet group:
        the Poisson residual tested with the facet's indicator (= -D.n, integrated)."""
        key = ("poisson_reaction", facet)
        if key not in self._integrals:
            V, m = self.subs[0]
            w = dolfinx.fem.Function(self.W)
            dofs = dolfinx.fem.locate_dofs_topological(V, self.mesh.topology.dim - 1, self.domain.facets(facet))
            w.x.array[m[dofs]] = 1.0
            w.x.scatter_forward()
            self._integrals[key] = (Integral(ufl.replace(self.F, {self.v: w}), self.comm), w)
        return self._integrals[key][0]()

    # -- solves --------------------------------------------------------------
    def solve(self) -> SolveStats:
        return self.solver.solve()

    def step(self, t, dt) -> SolveStats:
        self.bdf.set_step(dt)
        return self.solver.solve()

    def reject(self):
        self.u.x.array[:] = self.u_n.x.array

    def accept(self, t_new, dt, stats):
        self.bdf.accepted(dt)
        self.u_nm1.x.array[:] = self.u_n.x.array
        self.u_n.x.array[:] = self.u.x.array
        if hasattr(self, "on_accept"):
            self.on_accept(t_new, dt, stats)

    # -- evaluation along lines ----------------------------------------------------
    def material_indicator(self):
        if not hasattr(self, "_mat_fn"):
            Q = dolfinx.fem.functionspace(self.mesh, ("DG", 0))
            f = dolfinx.fem.Function(Q)
            for i, m in enumerate(self.materials):
                f.x.array[self.domain.cells(m.name)] = i
            f.x.scatter_forward()
            self._mat_fn = f
        return self._mat_fn

    def line_values(self, points):
        """phi and every species' concentration at points (mesh units), numpy (on every rank).

        Returns dict: 'phi', 'material' (index), 'c_<species>' (0 where absent), 'eta_<carrier>'.
        """
        probe = PointProbe(self.mesh, points)
        if len(self.subs) == 1:
            vals = probe(self.u).reshape(len(points), 1)
        else:
            if not hasattr(self, "_comp_fns"):
                self._comp_fns = [dolfinx.fem.Function(V) for V, _ in self.subs]
            cols = []
            for f, (V, m) in zip(self._comp_fns, self.subs):
                f.x.array[:] = self.u.x.array[m]
                cols.append(probe(f))
            vals = np.stack(cols, axis=1)
        mat = np.rint(probe(self.material_indicator())).astype(int)
        out = {"phi": vals[:, 0], "material": mat}
        for sp in self.species:
            c = np.zeros(len(points))
            for i, m in enumerate(self.materials):
                if m.name not in sp.D:
                    continue
                sel = mat == i
                if self.mode == "equilibrium":
                    eta = np.full(sel.sum(), float(self.eta_const[sp.name].value))
                else:
                    k = [k for k in self.carriers if k.species is sp and m.name in k.materials][0]
                    eta = vals[sel, k.index]
                    out.setdefault(f"eta_{sp.name}", np.full(len(points), np.nan))[sel] = eta
                c[sel] = sp.act(m.name).concentration(eta - sp.mu0_of(m.name) - sp.z * vals[sel, 0])
            out[f"c_{sp.name}"] = c
        return out

    def destroy(self):
        self.solver.destroy()



def equilibrium_etas(materials, species, reference: str, phi_reference=0.0, bulk=None):
    """Electrochemical potentials of a neutral bulk: every species' eta from the bulk concentration
    in ``bulk[species][material]`` of the first material it appears in, with phi = phi_reference in
    ``reference`` and the other materials' bulk potentials from eta continuity of shared species.

    Returns (etas {species: eta}, phi_bulk {material: phi}).
    """
    bulk = bulk or {}
    by_name = {m.name: m for m in materials}
    phi_bulk = {reference: phi_reference}
    etas = {}
    # species in the reference material fix their etas there
    pending = list(species)
    for _ in range(len(materials) + 1):
        for sp in list(pending):
            for m in sp.D:
                if m in phi_bulk:
                    c = bulk[sp.name][m]
                    etas[sp.name] = (sp.mu0_of(m) + sp.act(m).chemical_potential(c) + sp.z * phi_bulk[m])
                    pending.remove(sp)
                    break
        for m in materials:
            if m.name in phi_bulk:
                continue
            shared = [sp for sp in species if sp.name in etas and m.name in sp.D]
            if shared:
                sp = shared[0]
                c = bulk[sp.name][m.name]
                phi_bulk[m.name] = (etas[sp.name] - sp.mu0_of(m.name) - sp.act(m.name).chemical_potential(c)) / sp.z
    if pending or len(phi_bulk) != len(materials):
        raise InputError("bulk states: every material must share a species with the reference material")
    return etas, phi_bulk


def side_metrics(x, phi, x_interface, side):
    """Potential drop (phi(interface) - phi(bulk)) and space-charge width on one side of an interface.

    width = int |phi - phi_bulk| dx / |drop| over the side (= the decay length for an exponential
    profile), with phi_bulk the value at the far end of the line on that side.
    """
    x = np.asarray(x)
    phi = np.asarray(phi)
    sel = x <= x_interface if side == "left" else x >= x_interface
    xs, ps = x[sel], phi[sel]
    order = np.argsort(xs)
    xs, ps = xs[order], ps[order]
    i_int = -1 if side == "left" else 0
    i_bulk = 0 if side == "left" else -1
    drop = ps[i_int] - ps[i_bulk]
    width = np.trapezoid(np.abs(ps - ps[i_bulk]), xs) / abs(drop) if abs(drop) > 0 else 0.0
    return float(drop), float(width)


# =============================================================================
# Problem
# =============================================================================
@dataclass
class SpaceChargeParameters(Parameters):
    dim: int = param(1, "spatial dimension", choices=(1, 2, 3))
    thickness_cathode_m: float = param(100e-9, "cathode layer thickness", "m", gt=0)
    thickness_electrolyte_m: float = param(100e-9, "electrolyte layer thickness", "m", gt=0)
    width_m: float = param(20e-9, "lateral width (2D/3D)", "m", gt=0)
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    eps_r_cathode: float = param(15.0, "relative permittivity of the cathode", "-", gt=0)
    eps_r_electrolyte: float = param(50.0, "relative permittivity of the electrolyte", "-", gt=0)
    c_Li_cathode_mol_m3: float = param(10.0, "bulk mobile Li(+) defect concentration, cathode", "mol/m^3", gt=0)
    c_Li_electrolyte_mol_m3: float = param(10.0, "bulk mobile Li(+) defect concentration, electrolyte",
                                           "mol/m^3", gt=0)
    c_max_Li_cathode_mol_m3: float = param(100.0, "Li site density, cathode (lattice saturation)", "mol/m^3", gt=0)
    c_max_Li_electrolyte_mol_m3: float = param(100.0, "Li site density, electrolyte", "mol/m^3", gt=0)
    activity: str = param("lattice", "activity model of Li", choices=("ideal", "lattice"))
    c_hole_cathode_mol_m3: float = param(10.0, "bulk hole concentration, cathode (p-type)", "mol/m^3", gt=0)
    D_Li_cathode_m2_s: float = param(1e-14, "Li diffusivity, cathode", "m^2/s", gt=0)
    D_Li_electrolyte_m2_s: float = param(1e-13, "Li diffusivity, electrolyte", "m^2/s", gt=0)
    D_hole_m2_s: float = param(1e-12, "hole diffusivity, cathode", "m^2/s", gt=0)
    delta_mu0_Li_eV: float = param(-0.1, "mu0_Li(cathode) - mu0_Li(electrolyte)", "eV")
    Li_interface: str = param("equilibrium", "Li interface condition",
                              choices=("equilibrium", "butler_volmer", "blocking"))
    exchange_current_A_m2: float = param(1.0, "interface exchange current density (butler_volmer)", "A/m^2", gt=0)
    sigma_f_C_m2: float = param(0.0, "free surface charge on the interface", "C/m^2")
    h_interface_debye: float = param(0.05, "element size at the interface / Debye length", "-", gt=0)
    h_bulk_debye: float = param(1.0, "element size far from the interface / Debye length", "-", gt=0)
    t_end_s: float = param(2.0, "end of the contact transient (0: skip)", "s", ge=0)
    dt_s: float = param(1e-6, "initial time step", "s", gt=0)
    currents_A_m2: list = param([0.01, 0.03, 0.1, 0.3], "applied ionic current densities (steady states)", "A/m^2")
    solver: str = param("lu", "linear solver", choices=("lu", "gmres_asm"))

    def check(self):
        self.require(self.h_interface_debye <= self.h_bulk_debye, "h_interface_debye",
                     f"allowed range (0, h_bulk_debye = {self.h_bulk_debye}]")
        self.require(self.c_Li_cathode_mol_m3 < self.c_max_Li_cathode_mol_m3 or self.activity == "ideal",
                     "c_Li_cathode_mol_m3", f"allowed range (0, c_max_Li_cathode_mol_m3 = "
                     f"{self.c_max_Li_cathode_mol_m3})")
        self.require(self.c_Li_electrolyte_mol_m3 < self.c_max_Li_electrolyte_mol_m3 or self.activity == "ideal",
                     "c_Li_electrolyte_mol_m3", f"allowed range (0, c_max_Li_electrolyte_mol_m3 = "
                     f"{self.c_max_Li_electrolyte_mol_m3})")
        for i in self.currents_A_m2:
            if not isinstance(i, (int, float)) or not i > 0:
                raise InputError(f"parameter 'currents_A_m2' = {self.currents_A_m2!r}: allowed values (0, inf) A/m^2")


Parameters = SpaceChargeParameters


@dataclass
class Nondim:
    """Debye-length scales of a problem."""

    length: float      # L_D [m]
    time: float        # L_D^2 / D_ref [s]
    concentration: float  # c_ref [mol/m^3]
    potential: float   # kT/e [V]
    eps_ref: float     # eps_r reference
    D_ref: float

    @classmethod
    def debye(cls, c_ref, eps_r_ref, D_ref, T):
        Vt = thermal_voltage(T)
        L = math.sqrt(VACUUM_PERMITTIVITY * eps_r_ref * Vt / (FARADAY * c_ref))
        return cls(L, L * L / D_ref, c_ref, Vt, eps_r_ref, D_ref)

    @property
    def flux(self):  # mol/(m^2 s)
        return self.concentration * self.D_ref / self.length

    @property
    def surface_charge(self):  # C/m^2
        return FARADAY * self.concentration * self.length

    @property
    def current(self):  # A/m^2
        return FARADAY * self.flux


def build_model_description(p, cathode=T.ELECTRODE, electrolyte=T.ELECTROLYTE):
    """(scales, materials, species, bulk concentrations) of the cathode | electrolyte system."""
    s = Nondim.debye(p.c_Li_electrolyte_mol_m3, p.eps_r_electrolyte, p.D_Li_electrolyte_m2_s, p.temperature_K)
    C = s.concentration
    kT_eV = BOLTZMANN * p.temperature_K / ELEMENTARY_CHARGE

    def act(cmax):
        return Ideal() if p.activity == "ideal" else LatticeSaturation(cmax / C)
    li = Species("Li", +1, D={cathode: p.D_Li_cathode_m2_s / s.D_ref, electrolyte: p.D_Li_electrolyte_m2_s / s.D_ref},
                 mu0={cathode: p.delta_mu0_Li_eV / kT_eV, electrolyte: 0.0},
                 activity={cathode: act(p.c_max_Li_cathode_mol_m3), electrolyte: act(p.c_max_Li_electrolyte_mol_m3)},
                 interface=p.Li_interface,
                 k0=(p.exchange_current_A_m2 / FARADAY / s.flux) if p.Li_interface == "butler_volmer" else 0.0)
    hole = Species("hole", +1, D={cathode: p.D_hole_m2_s / s.D_ref})
    bulk = {"Li": {cathode: p.c_Li_cathode_mol_m3 / C, electrolyte: p.c_Li_electrolyte_mol_m3 / C},
            "hole": {cathode: p.c_hole_cathode_mol_m3 / C}}
    materials = [Material(cathode, p.eps_r_cathode / s.eps_ref, -(bulk["Li"][cathode] + bulk["hole"][cathode])),
                 Material(electrolyte, p.eps_r_electrolyte / s.eps_ref, -bulk["Li"][electrolyte])]
    return s, materials, [li, hole], bulk


def _options(p):
    if p.solver == "lu":
        return petsc_options.direct_lu()
    return {"ksp_type": "gmres", "pc_type": "asm", "sub_pc_type": "ilu", "sub_pc_factor_levels": 1,
            "ksp_rtol": 1e-10, "ksp_atol": 1e-14, "ksp_gmres_restart": 200, "ksp_max_it": 2000}


def solve_equilibrium_pb(domain, materials, species, bulk, sigma_f, reference, options=None, prefix="pb_",
                         phi_bc=None):
    """Grand-canonical Poisson–Boltzmann state: phi only, etas from the neutral bulks."""
    etas, phi_bulk = equilibrium_etas(materials, species, reference, 0.0, bulk)
    if options is not None and options.get("pc_type") != "lu":
        options = petsc_options.cg_amg()  # the PB Jacobian -div(eps grad) + sum z^2 c/Phi is SPD
    pb = PNPModel(domain, materials, species, mode="equilibrium", eta_eq=etas, sigma_f=sigma_f,
                  options=options, prefix=prefix, phi_dirichlet=phi_bc)
    pb.set_component(0, values_by_material=phi_bulk)
    st = pb.solve()
    if not st.converged:  # continuation in the surface charge from the neutral bulk state
        target = float(pb.sigma_f.value)
        pb.set_component(0, values_by_material=phi_bulk)
        for frac in (0.25, 0.5, 0.75, 1.0):
            pb.sigma_f.value = frac * target
            st = pb.solve()
            if not st.converged:
                break
        if not st.converged:
            raise SolverError(f"Poisson-Boltzmann solve did not converge: {st.reason}")
    return pb, etas, phi_bulk


def _make_mesh(p, s, comm):
    from meshes.bilayer import bilayer
    L = p.thickness_cathode_m + p.thickness_electrolyte_m
    return bilayer([p.thickness_cathode_m, p.thickness_electrolyte_m], dim=p.dim,
                   width_m=p.width_m if p.dim > 1 else None, h_m=p.h_bulk_debye * s.length,
                   h_interface_m=p.h_interface_debye * s.length, comm=comm, length_scale=s.length,
                   grading_ratio=1.15 if p.dim == 1 else 1.3)


def line_points(domain, x_int, n=1201, x_min=None, x_max=None):
    """Points on the x axis through the domain centre, graded towards x_int (mesh units)."""
    X = domain.mesh.geometry.x
    lo = domain.comm.allreduce(X[:, 0].min(), op=MPI.MIN) if x_min is None else x_min
    hi = domain.comm.allreduce(X[:, 0].max(), op=MPI.MAX) if x_max is None else x_max
    gdim = domain.mesh.geometry.dim
    ymid = [0.5 * (domain.comm.allreduce(X[:, d].min(), op=MPI.MIN) + domain.comm.allreduce(X[:, d].max(), op=MPI.MAX))
            for d in range(1, gdim)]
    t = np.linspace(0, 1, n // 2) ** 3
    eps = 1e-9 * (hi - lo)
    xs = np.unique(np.concatenate([x_int - eps - t * (x_int - eps - lo), x_int + eps + t * (hi - x_int - eps)]))
    pts = np.zeros((len(xs), gdim))
    pts[:, 0] = xs
    for d, y in enumerate(ymid):
        pts[:, d + 1] = y
    return pts


def write_profiles(out, model, pts, s, radial_origin=None):
    vals = model.line_values(pts)
    if radial_origin is None:
        x = pts[:, 0] * s.length
    else:
        x = np.linalg.norm(pts - np.asarray(radial_origin)[None, :pts.shape[1]], axis=1) * s.length
    if out.comm.rank == 0:
        cols = {"x_m": x, "phi_V": vals["phi"] * s.potential}
        for sp in model.species:
            cols[f"c_{sp.name}_mol_m3"] = vals[f"c_{sp.name}"] * s.concentration
        import csv
        with open(out.dir / "profiles.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(cols))
            for row in zip(*cols.values()):
                w.writerow([repr(float(v)) for v in row])
    return x, vals


def solve(p: SpaceChargeParameters, out: RunOutput) -> None:
    comm = out.comm
    s, materials, species, bulk = build_model_description(p)
    domain = _make_mesh(p, s, comm)
    x_int = domain.metadata["interfaces_x"][0]
    sigma = p.sigma_f_C_m2 / s.surface_charge
    opts = _options(p)
    out.update(scales={"debye_length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration,
                       "potential_V": s.potential})

    # 1. Poisson–Boltzmann equilibrium ------------------------------------------------
    t0 = time.perf_counter()
    pb, etas, phi_bulk = solve_equilibrium_pb(domain, materials, species, bulk, sigma, T.ELECTROLYTE, opts)
    out.log(f"Poisson-Boltzmann: {pb.solver.total_newton} Newton its, {time.perf_counter() - t0:.2f} s")
    pts = line_points(domain, x_int)
    x, vals = write_profiles(out, pb, pts, s)
    xi = x_int * s.length
    drop_c, width_c = side_metrics(x, vals["phi"] * s.potential, xi, "left")
    drop_e, width_e = side_metrics(x, vals["phi"] * s.potential, xi, "right")
    out.update(mesh=mesh_summary(domain.mesh, [pb.W]),
               equilibrium={"potential_drop_cathode_V": drop_c, "potential_drop_electrolyte_V": drop_e,
                            "space_charge_width_cathode_m": width_c, "space_charge_width_electrolyte_m": width_e,
                            "contact_potential_V": (phi_bulk[T.ELECTRODE] - phi_bulk[T.ELECTROLYTE]) * s.potential,
                            "newton_iterations": pb.solver.total_newton},
               potential_drop_cathode_V=drop_c, potential_drop_electrolyte_V=drop_e,
               space_charge_width_cathode_m=width_c, space_charge_width_electrolyte_m=width_e)
    _plot_profiles(out, x, vals, s, species, "equilibrium_profiles", xi)
    pb_phi = vals["phi"].copy()
    pb.destroy()

    # 2. transient from contact (closed cell) -----------------------------------------
    status, reason = "ok", ""
    if p.t_end_s > 0:
        model = PNPModel(domain, materials, species, mode="transient", sigma_f=sigma, options=opts,
                         phi_dirichlet={T.CONTACT_LEFT: 0.0}, time_order=2, prefix="pnpt_")
        # before contact: each layer in its neutral bulk state at phi = 0 (potential referenced to the left)
        model.set_contact_state(bulk)
        amounts0 = {k.name: model.amount(k.name) for k in model.carriers}
        charge0 = sum(model.charge(m.name) for m in materials) + sigma * model.interface_area()
        fields = _fields(model, s)
        vtx = out.vtx("pnp", list(fields.values()), s.length)

        def record(t):
            row = {"t_s": t * s.time}
            for k in model.carriers:
                a = model.amount(k.name)
                row[f"amount_{k.name.replace('@', '_in_')}_mol"] = a * s.concentration * s.length ** domain.dim
                row[f"amount_rel_change_{k.name.replace('@', '_in_')}"] = (a - amounts0[k.name]) / amounts0[k.name]
            q = sum(model.charge(m.name) for m in materials) + sigma * model.interface_area()
            row["net_charge_C"] = (q - charge0) * s.surface_charge * s.length ** (domain.dim - 1)
            v = model.line_values(pts[[np.argmin(np.abs(pts[:, 0] - x_int + 1e-9)), 0, -1]])
            row["phi_interface_V"] = float(v["phi"][0] * s.potential)
            row["phi_drop_V"] = float((v["phi"][1] - v["phi"][2]) * s.potential)
            out.timeseries.add(row)
        model.on_accept = lambda t, dt, st: record(t)
        record(0.0)
        control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                              dt_max=p.t_end_s / s.time / 10, grow=1.3, easy_newton=6)
        res = integrate(model, control, progress=Progress(comm, control.t_end, s.time, quiet=out.quiet))
        _write_fields(fields, model, s)
        vtx.write(res.t * s.time)
        vtx.close()
        xt, vt = model.line_values(pts)["phi"], None
        dev = float(np.max(np.abs((xt - xt[0]) - (pb_phi - pb_phi[0]))) * s.potential)
        rel = [abs(r) for r in (out.timeseries.column(c)[-1] for c in out.timeseries.columns
                                if c.startswith("amount_rel_change"))]
        out.update(transient={"steps": res.steps, "rejected": res.rejected, "newton_iterations": res.newton,
                              "krylov_iterations": res.krylov, "wall_s": res.wall_s, "t_final_s": res.t * s.time,
                              "max_amount_rel_change": max(rel) if rel else 0.0,
                              "max_deviation_from_pb_V": dev})
        status, reason = res.status, res.reason
        _plot_transient(out)
        model.destroy()

    # 3. steady states under applied ionic current ------------------------------------
    if p.currents_A_m2 and status == "ok":
        li_carriers = [k for k in make_carriers(materials, species) if k.species.name == "Li"]
        left_li, right_li = li_carriers[0].name, li_carriers[-1].name
        st_model = PNPModel(domain, materials, species, mode="steady", sigma_f=sigma, options=opts,
                            eta_dirichlet={(right_li, T.CONTACT_RIGHT): etas["Li"],
                                           ("hole", T.CONTACT_LEFT): etas["hole"]},
                            inflow={(left_li, T.CONTACT_LEFT): 0.0}, prefix="pnps_")
        for k in st_model.carriers:
            st_model.set_component(k.index, value=etas[k.species.name])
        st_model.set_component(0, values_by_material=phi_bulk)
        st0 = st_model.solve()
        if not st0.converged:
            raise SolverError(f"steady solve at zero current did not converge: {st0.reason}")
        R_bulk = 0.0
        for m, L in ((T.ELECTRODE, p.thickness_cathode_m), (T.ELECTROLYTE, p.thickness_electrolyte_m)):
            D = p.D_Li_cathode_m2_s if m == T.ELECTRODE else p.D_Li_electrolyte_m2_s
            c = bulk["Li"][m] * s.concentration
            R_bulk += L / (FARADAY ** 2 * D * c / (8.314462618 * p.temperature_K))
        left_pt = pts[[0]]
        right_pt = pts[[-1]]
        # windows in the bulk next to each space-charge layer (8-20 widths, within the layer) where the
        # eta_Li profile is linear (ohmic); extrapolated to the interface they give the interface-local drop
        Lc, Le = p.thickness_cathode_m / s.length, p.thickness_electrolyte_m / s.length
        wc, we = width_c / s.length, width_e / s.length
        win_c = np.linspace(x_int - min(20 * wc, 0.8 * Lc), x_int - min(8 * wc, 0.4 * Lc), 25)
        win_e = np.linspace(x_int + min(8 * we, 0.4 * Le), x_int + min(20 * we, 0.8 * Le), 25)
        win_pts = np.zeros((50, pts.shape[1]))
        win_pts[:, 0] = np.concatenate([win_c, win_e])
        win_pts[:, 1:] = pts[0, 1:]
        rows = []
        jval = st_model.values[("inflow", left_li, T.CONTACT_LEFT)]
        for i_A in sorted(p.currents_A_m2):
            t1 = time.perf_counter()
            target = i_A / s.current
            # continuation from the last converged current (restore and halve the increment on failure)
            j_prev, ok, frac, nits, kits = float(jval.value), False, 1.0, 0, 0
            u_good = st_model.u.x.array.copy()
            while frac > 1.0 / 64:
                jval.value = j_prev + frac * (target - j_prev)
                st = st_model.solve()
                nits += st.newton_iterations
                kits += st.krylov_iterations
                if not st.converged:
                    st_model.u.x.array[:] = u_good
                    frac *= 0.5
                    continue
                u_good[:] = st_model.u.x.array
                j_prev = float(jval.value)
                if abs(j_prev - target) <= 1e-14 * abs(target):
                    ok = True
                    break
                frac = min(1.0, 2 * frac)
            if not ok:
                status, reason = "failed", f"steady state at {i_A} A/m^2 did not converge: {st.reason}"
                break
            vl = st_model.line_values(left_pt)
            vr = st_model.line_values(right_pt)
            d_eta = float(vl["eta_Li"][0] - vr["eta_Li"][0]) * s.potential
            R_tot = d_eta / i_A
            ew = st_model.line_values(win_pts)["eta_Li"]
            fit_c = np.polyfit(win_c, ew[:25], 1)
            fit_e = np.polyfit(win_e, ew[25:], 1)
            d_int = float(np.polyval(fit_c, x_int) - np.polyval(fit_e, x_int)) * s.potential
            rows.append({"current_A_m2": i_A, "voltage_V": d_eta, "R_total_ohm_m2": R_tot,
                         "interface_drop_V": d_int, "R_interface_ohm_m2": d_int / i_A,
                         "R_total_minus_bulk_ohm_m2": R_tot - R_bulk, "newton_iterations": nits,
                         "krylov_iterations": kits, "wall_s": time.perf_counter() - t1})
        out.update(steady_states=rows, R_bulk_ohm_m2=R_bulk,
                   interfacial_resistance_ohm_m2=rows[0]["R_interface_ohm_m2"] if rows else None)
        _plot_resistance(out, rows)
        st_model.destroy()
    out.finish(status, reason)


def _fields(model, s):
    V1 = dolfinx.fem.functionspace(model.mesh, ("Lagrange", 1))
    return {"phi": dolfinx.fem.Function(V1, name="phi_V")} | {
        k.name: dolfinx.fem.Function(V1, name=f"eta_{k.name.replace('@', '_in_')}_V") for k in model.carriers}


def _write_fields(fields, model, s):
    fields["phi"].x.array[:] = model.u.x.array[model.subs[0][1]] * s.potential
    for k in model.carriers:
        fields[k.name].x.array[:] = model.u.x.array[model.subs[k.index][1]] * s.potential


def _plot_profiles(out, x, vals, s, species, name, xi):
    with out.figure(name) as (fig, ax):
        if fig is None:
            return
        xx = (x - xi) * 1e9
        ax.plot(xx, vals["phi"] * s.potential * 1e3, "k-", label=r"$\phi$ [mV]")
        ax.set_xlabel("x - x_interface [nm]")
        ax.set_ylabel(r"$\phi$ [mV]")
        ax2 = ax.twinx()
        for sp, style in zip(species, ("-", "--", ":", "-.")):
            c = vals[f"c_{sp.name}"] * s.concentration
            for i in np.unique(vals["material"]):  # one segment per material (c jumps at the interface)
                m = (c > 0) & (vals["material"] == i)
                ax2.semilogy(xx[m], c[m], style, color=f"C{species.index(sp)}",
                             label=sp.name if i == vals["material"][c > 0][0] else None)
        ax2.set_ylabel("c [mol/m$^3$]")
        ax2.legend(loc="upper right")
        ax.legend(loc="upper left")


def _plot_transient(out):
    ts = out.timeseries
    with out.figure("transient") as (fig, ax):
        if fig is None:
            return
        t = ts.column("t_s")
        ax.semilogx(t[1:], ts.column("phi_drop_V")[1:] * 1e3)
        ax.set_xlabel("t [s]")
        ax.set_ylabel("phi(left) - phi(right) [mV]")


def _plot_resistance(out, rows):
    with out.figure("interfacial_resistance") as (fig, ax):
        if fig is None or not rows:
            return
        ax.plot([r["current_A_m2"] for r in rows], [r["R_interface_ohm_m2"] * 1e4 for r in rows], "o-")
        ax.set_xlabel("i [A/m$^2$]")
        ax.set_ylabel(r"R$_{int}$ [$\Omega$ cm$^2$]")
