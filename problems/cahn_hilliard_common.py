"""Cahn-Hilliard state, step control and solvers shared by the phase-separation problems.

:class:`CahnHilliardModel` owns the mixed (c, mu[, u]) function, the compiled
step residual (:mod:`fem.weak_forms.cahn_hilliard`, optional chemo-mechanics
from :mod:`fem.weak_forms.elasticity`), the SNES solver and the observables
(total free energy, mass).  It implements the ``step / reject / accept``
protocol of :func:`fem.timestepping.integrate`; a step is refused (and so cut
and retried by ``integrate``) when

* Newton does not converge or gives a non-finite iterate,
* c leaves (0, 1) while the free energy has logarithms,
* max |c^{n+1} - c^n| exceeds ``dc_max`` (accuracy control: small steps at
  spinodal onset, large ones during coarsening),
* the discrete free energy increases (closed systems only).

Solvers: ``lu`` (MUMPS) or ``fieldsplit`` = GMRES preconditioned by a
Schur-complement fieldsplit on (c, mu): A00 = M/dt (Jacobi), Schur complement
approximated by 'selfp' (M + dt (g''M + kappa K) diag(M)^-1 K_M, a
discrete fourth-order operator) solved by one hypre BoomerAMG V-cycle.
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import dolfinx.fem

from fem import petsc_options
from fem.observables import Integral
from fem.solver import SNESSolver, SolveStats
from fem.weak_forms import cahn_hilliard as chw
from fem.weak_forms import elasticity as elw

SOLVERS = ("lu", "fieldsplit")


def fieldsplit_options() -> dict:
    return {"ksp_type": "fgmres", "ksp_rtol": 1e-8, "ksp_atol": 1e-12, "ksp_max_it": 400,
            "ksp_gmres_restart": 100,
            "pc_type": "fieldsplit", "pc_fieldsplit_type": "schur",
            "pc_fieldsplit_schur_fact_type": "full", "pc_fieldsplit_schur_precondition": "selfp",
            "fieldsplit_c_ksp_type": "preonly", "fieldsplit_c_pc_type": "jacobi",
            "fieldsplit_mu_ksp_type": "preonly", "fieldsplit_mu_pc_type": "hypre",
            "fieldsplit_mu_pc_hypre_type": "boomeramg"}


class CahnHilliardModel:
    """One Cahn-Hilliard system on ``mesh`` (see the module docstring).

    free_energy : RegularSolution / DoubleWell (nondimensional g, mu)
    kappa : gradient-energy coefficient (nondimensional)
    mobility : UFL-callable c -> M(c) (scalar or tensor)
    inflow : callable (c, mu, c_old) -> list of (j_in, ds), j_in > 0 inserting
    elastic : None or dict(eps0=, lam=, G=, spring=) for the chemo-mechanical coupling
    log_bounds : the free energy has ln c, ln(1-c): keep c in (0, 1)
    dt_cap : callable model -> largest dt allowed for the next step (or None); see
        :func:`spinodal_dt_cap`
    """

    def __init__(self, mesh, free_energy, *, kappa, mobility, scheme="split", degree=1,
                 inflow=None, elastic=None, dc_max=0.1, log_bounds=True, check_energy=True,
                 solver="lu", prefix="ch_", source_c=None, source_mu=None, theta=1.0,
                 quadrature_degree=None, snes_options=None, lumped=None, dt_cap=None):
        self.mesh = mesh
        self.comm = mesh.comm
        self.fe = free_energy
        self.dc_max, self.log_bounds, self.check_energy = dc_max, log_bounds, check_energy
        cell = mesh.basix_cell()
        P = basix.ufl.element("Lagrange", cell, degree)
        elements = [P, P]
        self.elastic = elastic
        if elastic:
            elements.append(basix.ufl.element("Lagrange", cell, degree, shape=(mesh.geometry.dim,)))
        self.W = dolfinx.fem.functionspace(mesh, basix.ufl.mixed_element(elements))
        self.w = dolfinx.fem.Function(self.W)
        self.w_old = dolfinx.fem.Function(self.W)
        self.V, self.c_dofs = self.W.sub(0).collapse()
        self.c_dofs = np.asarray(self.c_dofs)
        self.dt = dolfinx.fem.Constant(mesh, 1.0)
        parts = ufl.split(self.w)
        parts_old = ufl.split(self.w_old)
        tests = ufl.TestFunctions(self.W)
        c, mu = parts[0], parts[1]
        c_old, mu_old = parts_old[0], parts_old[1]
        self.c_expr, self.mu_expr = c, mu
        # P1 with lumped zeroth-order terms: the remaining integrands (M(c) grad mu . grad q,
        # kappa grad c . grad v) are at most quadratic -> degree 2 is exact (lattice mobility)
        lumped_default = (degree == 1) if lumped is None else lumped
        qd = quadrature_degree if quadrature_degree is not None else (2 if (degree == 1 and lumped_default)
                                                                      else 2 * degree + 2)
        dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd})
        self.dx = dx
        # mass lumping (vertex quadrature) of the zeroth-order terms for P1, see
        # fem.weak_forms.cahn_hilliard; the discrete energy uses the same quadrature for g
        self.lumped = (degree == 1) if lumped is None else lumped
        dxl = ufl.Measure("dx", domain=mesh, metadata={"quadrature_rule": "vertex",
                                                        "quadrature_degree": 1}) if self.lumped else dx
        self.dx_lumped = dxl
        self.kappa = kappa
        mu_bulk = chw.chemical_potential(free_energy, c, c_old, scheme)
        mu_extra = None
        if elastic:
            u = parts[2]
            eps0, lam, G = elastic["eps0"], elastic["lam"], elastic["G"]
            mu_extra = elw.chemical_potential_elastic(u, c, eps0, lam, G)
        self.inflow = inflow(c, mu, c_old) if inflow is not None else []
        F = chw.cahn_hilliard_residual(c, mu, tests[0], tests[1], c_old=c_old, dt=self.dt,
                                       mobility=mobility(c), kappa=kappa, mu_bulk=mu_bulk, dx=dx,
                                       mu_old=mu_old, theta=theta, inflow=self.inflow,
                                       source_c=source_c, source_mu=source_mu, mu_extra=mu_extra,
                                       dx_lumped=dxl)
        energy = (free_energy.g(c) * dxl
                  + 0.5 * kappa * ufl.inner(ufl.grad(c), ufl.grad(c)) * dx)
        if elastic:
            F += elw.elasticity_residual(parts[2], tests[2], c, eps0, lam, G, dx,
                                         spring=elastic.get("spring", 0.0))
            energy = energy + elw.elastic_energy_density(parts[2], c, eps0, lam, G) * dx
        self.F = F
        opts = petsc_options.direct_lu() if solver == "lu" else fieldsplit_options()
        opts.update({"snes_rtol": 1e-9, "snes_atol": 1e-11, "snes_stol": 1e-13, "snes_max_it": 12})
        opts.update(snes_options or {})
        self.solver = SNESSolver(F, self.w, prefix=prefix, options=opts)
        if solver == "fieldsplit":
            self._setup_fieldsplit()
        self.energy_form = Integral(energy)
        self.mass_form = Integral(c * dx)
        self.volume = Integral(dolfinx.fem.Constant(mesh, 1.0) * dx)()
        self.energy_old = None
        self.dt_cap = dt_cap

    def _setup_fieldsplit(self):
        pc = self.solver.snes.getKSP().getPC()
        imap = self.W.dofmap.index_map
        n_owned = imap.size_local * self.W.dofmap.index_map_bs
        splits = []
        for i, name in enumerate(("c", "mu")):
            _, dofs = self.W.sub(i).collapse()
            dofs = np.asarray(dofs, dtype=np.int32)
            dofs = dofs[dofs < n_owned]
            glob = imap.local_to_global(dofs).astype(PETSc.IntType)
            splits.append((name, PETSc.IS().createGeneral(glob, comm=self.comm)))
        if self.elastic:
            _, dofs = self.W.sub(2).collapse()
            dofs = np.asarray(dofs, dtype=np.int32)
            dofs = dofs[dofs < n_owned]
            # the displacement joins the c block (A00 = [M/dt, coupling; ., elasticity])
            glob = np.sort(np.concatenate([splits[0][1].getIndices(),
                                           imap.local_to_global(dofs).astype(PETSc.IntType)]))
            splits[0] = ("c", PETSc.IS().createGeneral(glob, comm=self.comm))
        pc.setType("fieldsplit")
        pc.setFieldSplitIS(*splits)
        self._split_is = splits
        self.solver.snes.getKSP().setFromOptions()

    # -- state -----------------------------------------------------------
    def set_concentration(self, values_or_callable):
        """Set c (numpy array on the collapsed c space or callable x -> c) in both states."""
        cV = dolfinx.fem.Function(self.V)
        if callable(values_or_callable):
            cV.interpolate(values_or_callable)
        else:
            cV.x.array[:] = values_or_callable
        for f in (self.w, self.w_old):
            f.x.array[self.c_dofs] = cV.x.array
            f.x.scatter_forward()
        self.initialize_mu()

    def initialize_mu(self):
        """mu^0 = L2 projection of g'(c) - kappa lap c (weakly), for theta < 1 and output."""
        V = self.V
        m, v = ufl.TrialFunction(V), ufl.TestFunction(V)
        c = self.w_old.sub(0)
        a = m * v * self.dx
        L = self.fe.mu(c) * v * self.dx + self.kappa * ufl.inner(ufl.grad(c), ufl.grad(v)) * self.dx
        import dolfinx.fem.petsc as fp
        problem = fp.LinearProblem(a, L, petsc_options={"ksp_type": "cg", "pc_type": "jacobi",
                                                        "ksp_rtol": 1e-12})
        mu0 = problem.solve()
        _, mdofs = self.W.sub(1).collapse()
        for f in (self.w, self.w_old):
            f.x.array[np.asarray(mdofs)] = mu0.x.array
            f.x.scatter_forward()

    def concentration(self, which="new") -> np.ndarray:
        f = self.w if which == "new" else self.w_old
        return f.x.array[self.c_dofs]

    def energy(self) -> float:
        return self.energy_form()

    def mass(self) -> float:
        return self.mass_form()

    def global_minmax(self, arr):
        n = self.V.dofmap.index_map.size_local
        a = arr[:n]
        lo = self.comm.allreduce(float(a.min()) if a.size else np.inf, op=MPI.MIN)
        hi = self.comm.allreduce(float(a.max()) if a.size else -np.inf, op=MPI.MAX)
        return lo, hi

    # -- TimeDependent protocol ------------------------------------------
    def step(self, t, dt) -> SolveStats:
        if self.dt_cap is not None:
            cap = self.dt_cap(self)
            if dt > cap * (1 + 1e-12):
                return SolveStats(False, 0, 0, f"dt = {dt:.3g} above the cap {cap:.3g}")
        self.dt.value = dt
        self.w.x.array[:] = self.w_old.x.array
        stats = self.solver.solve()
        if not stats.converged:
            return stats
        c_new, c_old = self.concentration("new"), self.concentration("old")
        if self.log_bounds:
            lo, hi = self.global_minmax(c_new)
            if not (lo > 0.0 and hi < 1.0):
                stats.converged, stats.reason = False, f"c left (0, 1): [{lo:.3g}, {hi:.3g}]"
                return stats
        dc = self.global_minmax(np.abs(c_new - c_old))[1]
        self.last_dc = dc
        if dc > self.dc_max:
            stats.converged, stats.reason = False, f"max |dc| = {dc:.3g} > dc_max = {self.dc_max}"
            return stats
        if self.check_energy:
            if self.energy_old is None:
                self.energy_old = self.energy_of(self.w_old)
            e = self.energy()
            if not np.isfinite(e) or e > self.energy_old + 1e-12 * max(abs(self.energy_old), 1.0):
                stats.converged, stats.reason = False, f"free energy increased ({e!r} > {self.energy_old!r})"
                return stats
            self.energy_new = e
        return stats

    def energy_of(self, w):
        self.w.x.array[:], saved = w.x.array, self.w.x.array.copy()
        e = self.energy()
        self.w.x.array[:] = saved
        return e

    def reject(self):
        self.w.x.array[:] = self.w_old.x.array

    def accept(self, t_new, dt, stats):
        self.w_old.x.array[:] = self.w.x.array
        if self.check_energy:
            self.energy_old = self.energy_new
        if getattr(self, "on_accept", None):
            self.on_accept(t_new, dt, stats)

    def destroy(self):
        self.solver.destroy()


def spinodal_dt_cap(model, mobility_max_value, factor=0.5, homogeneous_spread=0.1):
    """dt cap that lets a homogeneous state inside the spinodal decompose.

    Backward Euler with dt > 2/sigma damps a mode that grows at rate sigma, so a
    fully implicit step that is too large keeps an unstable homogeneous state
    homogeneous.  While the composition spread is below ``homogeneous_spread`` and
    the mean composition c lies where g''(c) < 0, the step is limited to
    ``factor / sigma_max`` with sigma_max = M(c) g''(c)^2 / (4 kappa), the fastest
    linear growth rate (k^2 = -g''/(2 kappa)).  Returns inf otherwise.
    """
    c = model.concentration("old")
    lo, hi = model.global_minmax(c)
    if hi - lo > homogeneous_spread:
        return np.inf
    c_mean = model.mass() / model.volume
    d2g = float(model.fe.d2g(c_mean))
    if d2g >= 0:
        return np.inf
    sigma_max = mobility_max_value(c_mean) * d2g**2 / (4 * model.kappa)
    return factor / sigma_max


# -- output helpers ----------------------------------------------------------
def gather_dofs(V, values, comm):
    """(coordinates, values) of the owned dofs of a scalar P1 space, gathered on rank 0."""
    n = V.dofmap.index_map.size_local
    X = V.tabulate_dof_coordinates()[:n]
    parts = comm.gather((X, np.asarray(values)[:n]), root=0)
    if comm.rank != 0:
        return None, None
    return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def section_values(V, values, axis="z", n=160):
    """Values of a P1 field on a regular n x n grid in the plane ``axis`` = 0 (NaN outside
    the mesh), on every rank (collective)."""
    import dolfinx.geometry
    mesh = V.mesh
    ax_id = "xyz".index(axis)
    others = [i for i in range(3) if i != ax_id]
    x = mesh.geometry.x
    lo = np.array([mesh.comm.allreduce(float(x[:, i].min()), op=MPI.MIN) for i in others])
    hi = np.array([mesh.comm.allreduce(float(x[:, i].max()), op=MPI.MAX) for i in others])
    g0, g1 = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    G0, G1 = np.meshgrid(g0, g1, indexing="xy")
    pts = np.zeros((n * n, 3))
    pts[:, others[0]], pts[:, others[1]] = G0.ravel(), G1.ravel()
    f = dolfinx.fem.Function(V)
    f.x.array[:] = values
    f.x.scatter_forward()
    tree = dolfinx.geometry.bb_tree(mesh, mesh.topology.dim)
    coll = dolfinx.geometry.compute_colliding_cells(
        mesh, dolfinx.geometry.compute_collisions_points(tree, pts), pts)
    nlocal = mesh.topology.index_map(mesh.topology.dim).size_local
    vals = np.full(n * n, -np.inf)
    idx, cells = [], []
    for i in range(n * n):
        c = coll.links(i)
        c = c[c < nlocal]
        if len(c):
            idx.append(i)
            cells.append(c[0])
    if idx:
        vals[idx] = f.eval(pts[idx], np.array(cells, dtype=np.int32))[:, 0]
    mesh.comm.Allreduce(MPI.IN_PLACE, vals, op=MPI.MAX)
    vals[~np.isfinite(vals)] = np.nan
    return G0, G1, vals.reshape(n, n)


def plot_section(out, name, V, values, comm, *, length_scale=1.0, unit="", title="",
                 section_axis=None, vmin=None, vmax=None, label="c / c_max"):
    """PNG of a scalar P1 field: 2D, the whole field (triangulated dofs); 3D, the plane
    ``section_axis`` = 0 sampled on a regular grid by point evaluation."""
    if V.mesh.geometry.dim == 3 and section_axis is not None:
        G0, G1, vals = section_values(V, values, section_axis)
        with out.figure(name) as (fig, ax):
            if fig is None:
                return
            cs = ax.pcolormesh(G0 * length_scale, G1 * length_scale, np.ma.masked_invalid(vals),
                               cmap="RdBu_r", vmin=vmin, vmax=vmax, shading="auto")
            fig.colorbar(cs, ax=ax, label=label)
            ax.set_aspect("equal")
            o = [a for a in "xyz" if a != section_axis]
            ax.set_xlabel(f"{o[0]} {unit}")
            ax.set_ylabel(f"{o[1]} {unit}")
            if title:
                ax.set_title(title)
        return
    X, v = gather_dofs(V, values, comm)
    with out.figure(name) as (fig, ax):
        if fig is None:
            return
        X = X[:, :2] * length_scale
        import matplotlib.tri as mtri
        tri = mtri.Triangulation(X[:, 0], X[:, 1])
        cs = ax.tricontourf(tri, v, levels=32, cmap="RdBu_r", vmin=vmin, vmax=vmax)
        fig.colorbar(cs, ax=ax, label=label)
        ax.set_aspect("equal")
        ax.set_xlabel(f"x {unit}")
        ax.set_ylabel(f"y {unit}")
        if title:
            ax.set_title(title)
