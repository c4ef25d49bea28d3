"""Poisson–Nernst–Planck (PNP) and Poisson–Boltzmann (PB) models of mobile charged
species in several materials (nondimensional; see :mod:`fem.weak_forms.pnp` for
the formulation in electrochemical-potential unknowns and the scales).

* :class:`Material`, :class:`Species`, :class:`Carrier` (:func:`make_carriers`):
  the model description;
* :class:`PNPModel`: PNP (mode ``transient`` with the step/reject/accept and
  checkpoint protocol of :class:`fem.simulation.Simulation`, or ``steady``) or
  Poisson–Boltzmann (mode ``equilibrium``: phi only, etas given);
* :func:`equilibrium_etas` (neutral bulk states), :func:`solve_equilibrium_pb`
  (grand-canonical PB state with continuation in the surface charge),
  :func:`side_metrics` (space-charge drop and width), :func:`line_points`
  (evaluation points through an interface), :func:`potential_fields` (SI field
  items for :func:`fem.output.si_fields`).

Region names (cell groups = materials, facet groups for boundary conditions and
the interface) are arguments; nothing here writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import ufl
from mpi4py import MPI

import basix.ufl
import dolfinx.fem
import dolfinx.fem.petsc
import dolfinx.la
import dolfinx.mesh
from petsc4py import PETSc

from fem import petsc_options, pnp_preconditioner
from fem.constitutive.activity import ActivityModel, Ideal
from fem.continuation import continuation
from fem.errors import InputError, SolverError
from fem.observables import Integral
from fem.preintegration import CellAverages, coefficient_derivative
from fem.probes import PointProbe
from fem.solver import AUTO_LU_MAX_DOFS as _AUTO_LU_MAX_DOFS
from fem.solver import SNESSolver, auto_uses_lu
from fem.time_schemes import BDFHistory, BDFStepping
from fem.weak_forms import pnp as wf


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
class _PNPSNESSolver(SNESSolver):
    """:class:`fem.solver.SNESSolver` whose Jacobian assembly skips exact zeros once the sparsity
    pattern is complete.

    The (phi, eta_1..eta_n) element matrix is dense (12 x 12 for P1 and two carriers), but
    almost half of what it adds are exact zeros: carriers couple only through phi, a carrier absent
    from a material has no terms there, Dirichlet (and masked) dofs have zero rows and columns
    (particle_in_electrolyte: 46 % of the assembled entries).  After the first assembly has
    inserted the whole pattern, PETSc's MAT_IGNORE_ZERO_ENTRIES skips them instead of searching
    their slots: the matrix is bitwise the same (its pattern too), the assembly cheaper (12k dofs:
    0.244 -> 0.197 s per Jacobian, measured).  :meth:`SNESSolver.compress_pattern` drops them
    from the pattern as well."""

    _skips_zeros = False

    def _assemble_matrix(self, J):
        super()._assemble_matrix(J)
        if not self._skips_zeros:  # the first assembly has inserted every entry of the pattern
            J.setOption(PETSc.Mat.Option.IGNORE_ZERO_ENTRIES, True)
            self._skips_zeros = True

    def compress_pattern(self, functions, **kw):
        self._skips_zeros = True
        return super().compress_pattern(functions, **kw)


class PNPModel(BDFStepping):
    """PNP (mode 'transient' or 'steady') or Poisson–Boltzmann (mode 'equilibrium').

    Unknowns: phi and one eta per carrier (one blocked P_k^n space, interleaved per node); in 'equilibrium'
    mode only phi, with eta given per carrier (``eta_eq``, Constants).

    Regions (names of ``domain``): each material's ``name`` is a cell group;
    ``interface`` (or None) the facet group of the material interface (surface
    charge ``sigma_f``, finite-rate exchange).  Boundary conditions (facet groups):
      phi_dirichlet {facet: value}, eta_dirichlet {(carrier, facet): value},
      inflow {(carrier, facet): j_in} (nondimensional molar flux into the domain).
    Every value becomes a dolfinx Constant in ``self.values[key]`` (change it and re-solve).

    Mode 'transient': variable-step BDF1/2 (``time_order``) on the concentrations
    c(eta, phi); ``step(t, dt) / reject() / accept(t_new, dt, stats)`` and
    ``checkpoint_state() / restore_state(state)`` for :class:`fem.simulation.Simulation`.

    ``compress_pattern`` (default True): the Jacobian keeps only its structural nonzeros
    (:meth:`fem.solver.SNESSolver.compress_pattern`, probed at a random state of u and its history;
    particle_in_electrolyte: 54 % of the full block pattern, measured), which cuts the
    linear solver's work and memory.  An ``extra_residual`` whose Jacobian entries vanish at
    every value of u but not of some other Function it reads needs ``compress_pattern=False``.
    ``preintegrate`` (default True; P1 on affine simplices, carriers present): the Jacobian's
    stiffness blocks from cell averages of the concentrations (:meth:`_jacobian_form`; equal to
    the derivative of F to round-off; assembly per step 1.5-1.9x below compress_pattern alone,
    tests/bench/README.md).
    """

    def __init__(self, domain, materials, species, *, mode="transient", interface=None,
                 sigma_f=0.0, eta_eq=None, phi_dirichlet=None, eta_dirichlet=None, inflow=None,
                 time_order=1, degree=1, options=None, prefix="pnp_", quadrature_degree=None,
                 extra_residual=None, compress_pattern=True, preintegrate=True):
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
        # phi, eta_1..eta_n on ONE blocked P_k^n space (dofs interleaved per node): the same unknowns as
        # a mixed element, but its Jacobian is assembled block by block (SNESSolver.compress_pattern)
        self.W = dolfinx.fem.functionspace(
            mesh, P if ncomp == 1 else basix.ufl.element("Lagrange", mesh.basix_cell(), degree, shape=(ncomp,)))
        W = self.W
        self.u = dolfinx.fem.Function(W, name="state")
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
        self.interface = interface if has_interface else None
        self.dS = domain.dS(interface, metadata=md) if has_interface else None
        self.sigma_f = dolfinx.fem.Constant(mesh, float(sigma_f))
        self.v = ufl.TestFunction(W)
        # (created here, after sigma_f: the order of UFL Constants fixes the generated kernels' operation order)
        self.history = BDFHistory(self.u, time_order)
        self.u_n, self.u_nm1, self.bdf = self.history.u_n, self.history.u_nm1, self.history.bdf

        def split(w):
            return [w] if ncomp == 1 else [w[i] for i in range(ncomp)]
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
        # F without its stiffness terms (eps grad phi . grad v, D c grad eta . grad v), for the
        # pre-integrated Jacobian (_jacobian_form)
        rest = sum(-self.rho[m.name] * vs[0] * self.dx[m.name] for m in self.materials)
        for sigma, dS in surface:
            rest = rest - sigma * ufl.avg(vs[0]) * dS
        flux_terms = []
        for k in self.carriers:
            Fk = 0
            for m in k.materials:
                D = dolfinx.fem.Constant(mesh, float(k.species.D[m]))
                key = (k.name, m)
                dcdt = (self.bdf.ddt(self.c[key], self.c_n[key], self.c_nm1[key]) if mode == "transient" else None)
                Fk = Fk + wf.nernst_planck_residual(dcdt, self.c[key], us[k.index], vs[k.index], D, self.dx[m])
                flux_terms.append((k, m, D))
                if dcdt is not None:
                    rest = rest + dcdt * vs[k.index] * self.dx[m]
            for (cname, facet), j in inflow.items():
                if cname == k.name:
                    jc = dolfinx.fem.Constant(mesh, float(j))
                    self.values[("inflow", cname, facet)] = jc
                    Fk = Fk - jc * vs[k.index] * domain.ds(facet, metadata=md)
                    rest = rest - jc * vs[k.index] * domain.ds(facet, metadata=md)
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
                    exch = wf.interface_exchange(us[a.index], us[b.index], vs[a.index], vs[b.index], k0,
                                                 sp.alpha, self.dS)
                    F = F + exch
                    rest = rest + exch
        self.us, self.vs = us, vs
        self._F_before_extra = F
        if extra_residual is not None:
            Fx = extra_residual(self)
            F = F + Fx
            rest = rest + Fx
        self.F = F
        cell = mesh.topology.cell_type
        affine = mesh.geometry.cmap.degree == 1 and cell in (dolfinx.mesh.CellType.interval,
                                                              dolfinx.mesh.CellType.triangle,
                                                              dolfinx.mesh.CellType.tetrahedron)
        self._cbar = []
        J = (self._jacobian_form(rest, flux_terms, md) if preintegrate and degree == 1 and affine and self.carriers
             else None)
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
        opts = {"snes_linesearch_type": "bt" if mode == "equilibrium" else "basic", "snes_max_it": SNES_MAX_IT,
                "snes_rtol": 1e-9, "snes_atol": 1e-10}
        options = dict(options or petsc_options.direct_lu())
        if options.pop("solver", None) == "auto":  # LU when small, the scalable solver when large
            ndofs = W.dofmap.index_map.size_global * W.dofmap.index_map_bs
            options = (linear_solver_options("auto", ndofs, tdim) if ncomp > 1
                       else petsc_options.direct_lu() if auto_uses_lu(ndofs, tdim) else petsc_options.cg_amg())
        opts.update(options)
        self.linear_solver = opts.get("pc_type")
        # the splits of the block preconditioner: phi, and all carriers (their blocks couple only via phi)
        fields = [("phi", [0]), ("species", list(range(1, ncomp)))] if ncomp > 1 else None
        self.solver = _PNPSNESSolver(self.F, self.u, self.bcs, J=J, prefix=prefix, options=opts, fields=fields)
        self.solver.before_jacobian = self._averages.update if self._cbar else None
        # (nonzeros of the full (block) pattern, of the structural pattern kept), or None
        self.pattern_nnz = (self.solver.compress_pattern([self.u, self.u_n, self.u_nm1])
                            if compress_pattern else None)
        pnp_preconditioner.configure(self.solver, W, self.carriers)
        self._integrals = {}

    # -- pre-integrated Jacobian -----------------------------------------------
    def _jacobian_form(self, rest, flux_terms, md):
        """The Jacobian of F with its stiffness blocks pre-integrated (P1 on affine simplices).

        With P1 on an affine cell the gradients of the basis functions are constant, so the
        quadrature of D c(x) grad(deta) . grad(v) is (sum_q w_q c(x_q)) grad(deta) . grad(v):
        c's cell integral (with F's quadrature, assembled as a DG0 vector before each Jacobian,
        :class:`fem.preintegration.CellAverages`) times a one-point stiffness term; eps grad(dphi) . grad(v)
        likewise.  Identical to the derivative of F up to round-off (one sum taken before a
        product instead of after), but the generated kernel runs 19 instead of 46 rank-one
        4 x 4 updates per quadrature point (particle_in_electrolyte).  The rest of the Jacobian
        (derivative of the other terms, and D c'(x) (deta - z dphi) grad(eta) . grad(v)) is
        generated from the forms as before."""
        mesh, W = self.mesh, self.W
        du = ufl.TrialFunction(W)
        dus = [du] if len(self.subs) == 1 else [du[i] for i in range(len(self.subs))]
        us, vs = self.us, self.vs
        dx0 = {m.name: self.domain.dx(m.name, metadata={"quadrature_degree": 0}) for m in self.materials}
        J = ufl.derivative(rest, self.u, du)
        for m in self.materials:
            J = J + self.eps[m.name] * ufl.inner(ufl.grad(dus[0]), ufl.grad(vs[0])) * dx0[m.name]
        self._averages = CellAverages(mesh)
        w0 = self._averages.test
        integrands, cbars = {}, {}
        for k, m, D in flux_terms:
            integrands[k.name] = integrands.get(k.name, 0) + self.c[(k.name, m)] * w0 * self.dx[m]
        for name, integrand in integrands.items():
            cbars[name] = self._averages.add(f"cbar_{name}", integrand)
        for k, m, D in flux_terms:
            J = J + D * cbars[k.name] * ufl.inner(ufl.grad(dus[k.index]), ufl.grad(vs[k.index])) * dx0[m]
            # D c'(x) (deta - z dphi) grad(eta) . grad(v): the derivative with grad(eta) held fixed
            Jk = coefficient_derivative(D * self.c[(k.name, m)], us[k.index], vs[k.index], self.dx[m],
                                        self.u, du, self.subs[k.index][0])
            if Jk is not None:
                J = J + Jk
        self._cbar = self._averages.functions
        return J

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

    def interface_potential(self) -> tuple[float, float, float]:
        """min, area mean and max of phi on the interface (nondimensional)."""
        V, m = self.subs[0]
        dofs = dolfinx.fem.locate_dofs_topological(V, self.mesh.topology.dim - 1,
                                                   self.domain.facets(self.interface))
        nloc = V.dofmap.index_map.size_local
        vals = self.u.x.array[m[dofs[dofs < nloc]]]
        lo = self.comm.allreduce(vals.min() if len(vals) else np.inf, op=MPI.MIN)
        hi = self.comm.allreduce(vals.max() if len(vals) else -np.inf, op=MPI.MAX)
        mean = self.integral(("phi_interface",), ufl.avg(self.us[0]) * self.dS) / self.interface_area()
        return lo, mean, hi

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

    # -- restart ---------------------------------------------------------------
    def checkpoint_state(self) -> dict:
        """The state and its BDF history, dt_prev, and the values of the Constants
        (surface charge, boundary values) that later steps depend on."""
        consts = {repr(k): float(c.value) for k, c in self.values.items()
                  if isinstance(c, dolfinx.fem.Constant)}
        return {**self.history.checkpoint_state("u"), "sigma_f": float(self.sigma_f.value),
                "constants": consts}

    def restore_state(self, state: dict) -> None:
        self.history.restore_state("u", state)
        self.sigma_f.value = state["sigma_f"]
        for k, c in self.values.items():
            if isinstance(c, dolfinx.fem.Constant):
                c.value = state["constants"][repr(k)]

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


def solve_equilibrium_pb(domain, materials, species, bulk, sigma_f, reference, options=None, prefix="pb_",
                         phi_bc=None, interface=None):
    """Grand-canonical Poisson–Boltzmann state: phi only, etas from the neutral bulks.

    Starts from the neutral bulk potentials and solves at the full surface charge;
    if that fails, continues in the surface charge from 0 (:func:`fem.continuation.continuation`).
    Returns (model, etas {species: eta}, phi_bulk {material: phi}).
    """
    etas, phi_bulk = equilibrium_etas(materials, species, reference, 0.0, bulk)
    if options is not None and options.get("pc_type") != "lu" and options.get("solver") != "auto":
        options = petsc_options.cg_amg()  # the PB Jacobian -div(eps grad) + sum z^2 c/Phi is SPD
    pb = PNPModel(domain, materials, species, mode="equilibrium", eta_eq=etas, sigma_f=sigma_f,
                  options=options, prefix=prefix, phi_dirichlet=phi_bc, interface=interface)
    pb.set_component(0, values_by_material=phi_bulk)
    res = continuation(pb.solve, pb.u, lambda v: setattr(pb.sigma_f, "value", v), 0.0, float(sigma_f),
                       comm=pb.comm, name="poisson_boltzmann")
    if res.status != "ok":
        raise SolverError(f"Poisson-Boltzmann solve did not converge: {res.reason}")
    return pb, etas, phi_bulk


#: ``auto``: LU (MUMPS) up to this many unknowns (by mesh dimension; fem.solver.AUTO_LU_MAX_DOFS),
#: the block preconditioner (``fieldsplit``) above
AUTO_LU_MAX_DOFS = _AUTO_LU_MAX_DOFS
LINEAR_SOLVERS = ("auto", "lu", "fieldsplit", "gmres_asm")


#: relative GMRES tolerance of the fieldsplit solver (inexact Newton, :func:`fieldsplit_options`)
NEWTON_KSP_RTOL = 1e-6
#: Newton iterations allowed per solve (PNPModel's snes_max_it)
SNES_MAX_IT = 50
#: the fieldsplit preconditioner is rebuilt every PC_LAG Newton steps, i.e. once per solve
#: (:func:`fieldsplit_options`)
PC_LAG = SNES_MAX_IT


def linear_solver_options(name: str, ndofs: int | None = None, tdim: int = 3) -> dict:
    """PETSc options of the linear solver ``name``: 'lu' (MUMPS), 'fieldsplit' (the block
    preconditioner of :func:`fieldsplit_options`), 'gmres_asm' (GMRES + additive Schwarz / ILU(1)
    on the monolithic Jacobian), or 'auto': 'lu' up to ``AUTO_LU_MAX_DOFS[tdim]`` unknowns (3D: 5k,
    2D: 50k, 1D: always), 'fieldsplit' above; without ``ndofs`` the choice is left to
    :class:`PNPModel`, which knows its size and dimension."""
    if name == "auto":
        if ndofs is None:
            return {"solver": "auto"}
        name = "lu" if auto_uses_lu(ndofs, tdim) else "fieldsplit"
    if name == "lu":
        return petsc_options.direct_lu()
    if name == "fieldsplit":
        return fieldsplit_options()
    if name != "gmres_asm":
        raise InputError(f"PNP linear solver {name!r} not one of {', '.join(LINEAR_SOLVERS)}")
    return {"ksp_type": "gmres", "pc_type": "asm", "sub_pc_type": "ilu", "sub_pc_factor_levels": 1,
            "ksp_rtol": 1e-10, "ksp_atol": 1e-14, "ksp_gmres_restart": 200, "ksp_max_it": 2000}


def fieldsplit_options() -> dict:
    """GMRES + the block preconditioner of :mod:`fem.pnp_preconditioner` (Slotboom change of variables,
    Schur fieldsplit: species block and 'selfp' potential Schur complement, one AMG V-cycle each:
    GAMG for the species, BoomerAMG for phi).
    Overridable under the solver's prefix: ``-<prefix>slotboom_pc_fieldsplit_type multiplicative``,
    ``-<prefix>slotboom_fieldsplit_phi_pc_type lu``, or ``-<prefix>pc_type asm`` for another PC.

    GMRES stops at ``ksp_rtol`` = :data:`NEWTON_KSP_RTOL` (1e-6), an inexact Newton method (Dembo,
    Eisenstat & Steihaug, SIAM J. Numer. Anal. 19 (1982) 400): the step's residual is then about
    1e-6 ||F_k|| plus Newton's quadratic term, so the iteration stays quadratic while
    ||F_k+1|| / ||F_k|| > ~1e-6 and the last step still ends below the Newton tolerance (rtol 1e-9 of
    ||F_0||).  Measured (bench_pnp.py, 3D particle, 120k unknowns, 3 steps): the same Newton
    iterations (4, 3, 3) as at 1e-10 with 7.8 instead of 14.7 GMRES iterations per Newton step
    (Eisenstat-Walker's adaptive forcing instead costs one more Newton step); 1e-4 adds a Newton step.

    ``snes_lag_preconditioner`` = ``snes_max_it`` (:data:`PC_LAG`): the preconditioner (the product
    A T, the Schur complement and the two AMG hierarchies) is built at the first Newton step of
    every solve (time step) only; GMRES always multiplies by the current Jacobian, so the Newton
    iterates are those of exact Newton steps to ``ksp_rtol``.  Measured at 120k (right-preconditioned
    GMRES): 7.0 GMRES iterations per Newton step whether the PC is rebuilt at every Newton step, every
    second one or once per solve; PC setup per step 0.76 (every second) -> 0.40 s (once).

    ``ksp_pc_side right``: GMRES's stopping test is then on the true linear residual, so the
    inexact-Newton bound above holds whatever the preconditioner (a lagged one included); 7.0
    instead of 8.0 GMRES iterations per Newton step at 120k, the same Newton steps."""
    return {"ksp_type": "gmres", "ksp_rtol": NEWTON_KSP_RTOL, "ksp_atol": 1e-14, "ksp_gmres_restart": 200,
            "ksp_max_it": 2000, "ksp_pc_side": "right", "snes_lag_preconditioner": PC_LAG,
            "pc_type": "python", "pc_python_type": "fem.pnp_preconditioner.SlotboomPC",
            **{f"slotboom_{k}": v for k, v in pnp_preconditioner.inner_defaults().items()}}


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


def profile_columns(model, points, scales, radial_origin=None):
    """SI profile along ``points``: (x [m], line values (nondimensional), columns
    {x_m, phi_V, c_<species>_mol_m3}); x is the distance from ``radial_origin`` if given."""
    vals = model.line_values(points)
    if radial_origin is None:
        x = points[:, 0] * scales.length
    else:
        x = np.linalg.norm(points - np.asarray(radial_origin)[None, :points.shape[1]], axis=1) * scales.length
    cols = {"x_m": x, "phi_V": vals["phi"] * scales.potential}
    for sp in model.species:
        cols[f"c_{sp.name}_mol_m3"] = vals[f"c_{sp.name}"] * scales.concentration
    return x, vals, cols


def carrier_label(name: str) -> str:
    """Column-safe carrier name ('Li@electrode' -> 'Li_in_electrode')."""
    return name.replace("@", "_in_")


def potential_fields(model, scales) -> list:
    """Items for :func:`fem.output.si_fields`: phi [V] and every carrier's eta [V]."""
    items = []
    for i, label in [(0, "phi_V")] + [(k.index, f"eta_{carrier_label(k.name)}_V") for k in model.carriers]:
        V, m = model.subs[i]

        def fill(f, m=m):
            f.x.array[:] = model.u.x.array[m] * scales.potential
        items.append((dolfinx.fem.Function(V, name=label), fill))
    return items


def ohmic_interface_jump(model, name, x_int, widths, thicknesses, y):
    """Jump at the interface x = x_int of the field ``name`` of :meth:`PNPModel.line_values`
    (e.g. 'eta_Li') between the straight lines fitted to it in the bulk on either side, in
    windows 8-20 space-charge ``widths`` (left, right) away, within 0.4-0.8 of the layer
    ``thicknesses``, along the line through ``y`` (the other coordinates); mesh units."""
    (wl, wr), (Ll, Lr) = widths, thicknesses
    win_l = np.linspace(x_int - min(20 * wl, 0.8 * Ll), x_int - min(8 * wl, 0.4 * Ll), 25)
    win_r = np.linspace(x_int + min(8 * wr, 0.4 * Lr), x_int + min(20 * wr, 0.8 * Lr), 25)
    pts = np.zeros((50, 1 + len(y)))
    pts[:, 0] = np.concatenate([win_l, win_r])
    pts[:, 1:] = y
    v = model.line_values(pts)[name]
    fit_l, fit_r = np.polyfit(win_l, v[:25], 1), np.polyfit(win_r, v[25:], 1)
    return float(np.polyval(fit_l, x_int) - np.polyval(fit_r, x_int))
