"""Coupled transport of a dilute (charged) species and heat with Onsager cross terms
(Soret and Dufour effects, Joule heat, reaction heat at a surface); nondimensional.

Equations, forces, the Onsager matrix and the scales: :mod:`fem.constitutive.onsager` and
:mod:`fem.weak_forms.thermodiffusion`.  Unknowns (c, theta) in a mixed P_k x P_k space,
variable-step BDF1/2 (:class:`fem.time_schemes.BDFHistory`), Newton (SNES) with LU; the
electric potential psi is prescribed (a uniform applied field: ``field`` = -grad psi).

Boundary conditions by facet-group name: ``c_dirichlet`` / ``T_dirichlet`` {facet: value or
Function of the collapsed sub-space}, ``inflow`` {facet: j_in} (inward molar flux) and
``heat_inflow`` {facet: q_in} (inward heat flux); values become Constants in ``self.values``.
``source_c`` / ``source_T``: optional UFL sources (manufactured solutions).

Protocol of :class:`fem.simulation.Simulation`: step / reject / accept, checkpoint_state /
restore_state.  Observables: amount, entropy production (integral and minimum over the
quadrature points), the SI-free nondimensional fields.
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI

import basix.ufl
import dolfinx.fem

from fem import petsc_options
from fem.observables import Integral
from fem.solver import SNESSolver
from fem.time_schemes import BDFHistory, BDFStepping
from fem.weak_forms import thermodiffusion as wf


class ThermodiffusionModel(BDFStepping):
    """c (by c0) and theta = T/T0 on ``domain`` (a :class:`meshes.tagged.TaggedMesh`).

    gamma = D c0 R / k, S = S_T T0, lewis = rho c_p D / k, z: charge number, field: the
    applied field -grad psi (a constant vector, nondimensional; None: no field).
    """

    def __init__(self, domain, *, gamma, S, lewis, z=0, field=None, c0=1.0, theta0=1.0, c_dirichlet=None,
                 T_dirichlet=None, inflow=None, heat_inflow=None, source_c=None, source_T=None, degree=1,
                 time_order=2, steady=False, prefix="thermo_", options=None):
        self.domain = domain
        mesh = domain.mesh
        self.mesh, self.comm = mesh, mesh.comm
        gdim = mesh.geometry.dim
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), degree)
        self.W = dolfinx.fem.functionspace(mesh, basix.ufl.mixed_element([P, P]))
        self.u = dolfinx.fem.Function(self.W, name="state")
        self.subs = []
        for i in range(2):
            V, m = self.W.sub(i).collapse()
            self.subs.append((V, np.asarray(m, dtype=np.int32)))
        self.u.x.array[self.subs[0][1]] = c0
        self.u.x.array[self.subs[1][1]] = theta0
        self.history = BDFHistory(self.u, time_order)
        for f in (self.history.u_n, self.history.u_nm1):
            f.x.array[:] = self.u.x.array
        self.c, self.theta = ufl.split(self.u)
        c_n, th_n = ufl.split(self.history.u_n)
        c_nm1, th_nm1 = ufl.split(self.history.u_nm1)
        vc, vT = ufl.TestFunctions(self.W)
        self.gamma = dolfinx.fem.Constant(mesh, float(gamma))
        self.S = dolfinx.fem.Constant(mesh, float(S))
        self.lewis = dolfinx.fem.Constant(mesh, float(lewis))
        self.z = float(z)
        self.field = dolfinx.fem.Constant(mesh, np.zeros(gdim) if field is None else np.asarray(field, float))
        self.psi_grad = -self.field
        md = {"quadrature_degree": 2 * degree + 2}
        self.qdeg = 2 * degree + 2
        self.dx = domain.dx(metadata=md)
        self.values = {}

        def const(key, v):
            c = v if isinstance(v, dolfinx.fem.Function) else dolfinx.fem.Constant(mesh, float(v))
            self.values[key] = c
            return c
        inflow_c = [(const(("inflow", f), j), domain.ds(f, metadata=md)) for f, j in (inflow or {}).items()]
        inflow_q = [(const(("heat_inflow", f), q), domain.ds(f, metadata=md)) for f, q in (heat_inflow or {}).items()]
        bdf = self.history.bdf
        dcdt = None if steady else bdf.ddt(self.c, c_n, c_nm1)
        dthdt = None if steady else bdf.ddt(self.theta, th_n, th_nm1)
        self.F = wf.residual(dcdt, dthdt, self.c, self.theta, vc, vT, self.psi_grad, self.z, self.gamma, self.S,
                             self.lewis, self.dx, inflow_c=inflow_c, inflow_q=inflow_q, source_c=source_c,
                             source_T=source_T)
        fdim = mesh.topology.dim - 1
        self.bcs = []
        for i, (bcs, name) in enumerate(((c_dirichlet or {}, "c"), (T_dirichlet or {}, "T"))):
            V, m = self.subs[i]
            for facet, val in bcs.items():
                value = const((name, facet), val)
                if isinstance(value, dolfinx.fem.Function):
                    dofs = dolfinx.fem.locate_dofs_topological((self.W.sub(i), V), fdim, domain.facets(facet))
                    self.bcs.append(dolfinx.fem.dirichletbc(value, dofs, self.W.sub(i)))
                else:
                    dofs = dolfinx.fem.locate_dofs_topological(V, fdim, domain.facets(facet))
                    self.bcs.append(dolfinx.fem.dirichletbc(value, m[dofs], self.W.sub(i)))
        opts = {"snes_linesearch_type": "basic", "snes_max_it": 30, "snes_rtol": 1e-10, "snes_atol": 1e-12}
        opts.update(options or petsc_options.direct_lu())
        self.solver = SNESSolver(self.F, self.u, self.bcs, prefix=prefix, options=opts)
        self._amount = Integral(self.c * self.dx, self.comm)
        self._sigma_total = Integral(self.entropy_production_ufl() * self.dx, self.comm)
        J, _ = self.fluxes_ufl()
        self._joule = Integral(-self.gamma * self.z * ufl.inner(J, self.psi_grad) * self.dx, self.comm)
        self.exp_soret = ufl.exp(-self.S * (self.theta - 1.0))
        self._int_exp_soret = Integral(self.exp_soret * self.dx, self.comm)
        self.volume = Integral(dolfinx.fem.Constant(mesh, 1.0) * self.dx, self.comm)()
        self.sigma_min_history = np.inf

    # -- physics expressions -----------------------------------------------------
    def fluxes_ufl(self):
        """(J, Jq) as UFL (nondimensional)."""
        return wf.fluxes(self.c, self.theta, self.psi_grad, self.z, self.gamma, self.S)

    def entropy_production_ufl(self):
        return wf.entropy_production(self.c, self.theta, self.psi_grad, self.z, self.gamma, self.S)

    # -- observables ------------------------------------------------------------------
    def amount(self) -> float:
        return self._amount()

    def joule_heat(self) -> float:
        """Integral of q_joule = -gamma z J . grad psi (nondimensional, by k T0 / L^2)."""
        return self._joule()

    def soret_normalization(self) -> float:
        """A with c_Soret = A exp(-S (theta - 1)) holding the current amount (the steady closed-bar
        profile without field, :mod:`fem.constitutive.onsager`)."""
        return self.amount() / self._int_exp_soret()

    def entropy_production(self) -> tuple[float, float]:
        """(integral over the domain, minimum over the quadrature points) of sigma^ (= sigma L^2/k)."""
        if not hasattr(self, "_sigma_expr"):
            pts, _ = basix.make_quadrature(self.mesh.basix_cell(), self.qdeg)
            self._sigma_expr = dolfinx.fem.Expression(self.entropy_production_ufl(), pts)
            tdim = self.mesh.topology.dim
            self._cells = np.arange(self.mesh.topology.index_map(tdim).size_local, dtype=np.int32)
        vals = self._sigma_expr.eval(self.mesh, self._cells)
        lo = self.comm.allreduce(float(vals.min()) if vals.size else np.inf, op=MPI.MIN)
        return self._sigma_total(), lo

    def component(self, i):
        """A Function of the collapsed sub-space i (0: c, 1: theta) holding the current values."""
        V, m = self.subs[i]
        f = dolfinx.fem.Function(V)
        f.x.array[:] = self.u.x.array[m]
        return f

    # -- time stepping (step/reject from BDFStepping) -----------------------------------
    def accept(self, t_new, dt, stats):
        super().accept(t_new, dt, stats)
        self.sigma_min_history = min(self.sigma_min_history, self.entropy_production()[1])

    def checkpoint_state(self) -> dict:
        consts = {repr(k): float(c.value) for k, c in self.values.items() if isinstance(c, dolfinx.fem.Constant)}
        return {**self.history.checkpoint_state("u"), "constants": consts,
                "sigma_min_history": float(self.sigma_min_history)}

    def restore_state(self, state: dict) -> None:
        self.history.restore_state("u", state)
        for k, c in self.values.items():
            if isinstance(c, dolfinx.fem.Constant):
                c.value = state["constants"][repr(k)]
        self.sigma_min_history = state["sigma_min_history"]

    def destroy(self):
        self.solver.destroy()
