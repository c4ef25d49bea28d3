"""Shrinking core: a two-phase (LiFePO4-like) particle with a sharp, moving phase boundary.

The core (phase alpha) and the shell (phase beta) each obey Fickian diffusion;
the interface carries the coexistence (binodal) concentrations of a regular
solution and moves by the Stefan condition (:class:`fem.models.stefan.TwoPhaseStefan`:
ALE mesh motion, Anderson-accelerated interface iteration, exact discrete
conservation).  Nondimensional inside: x^ = x/R, t^ = t D_shell/R^2, c^ = c/c_max.
Geometries (:mod:`meshes.stefan_particle`): 1D radial (r^2 weight), 2D axisymmetric (r weight),
3D ball, 3D ellipsoid (semi-axes ``semi_axes_m``, R the largest; the core starts as the ellipsoid
scaled by ``initial_core_fraction``), a user's core-shell Gmsh mesh (``geometry=mesh_file``,
:mod:`meshes.stefan_user`), planar slabs (1D/2D/3D; alpha at x = 0, surface at x = L).
2D/3D particles are remeshed (Gmsh) when the moving mesh degrades; the interface keeps its shape.

Anisotropic shell: J = -D grad c, D = D_shell diag(1, 1, a), a = ``D_shell_anisotropy`` = D_zz/D_xx
(layered compounds, c axis = z; 3D: any axis n = ``D_shell_axis``, D = D_shell (I + (a - 1) n n^T),
where z below reads n); the interface moves with the local Stefan velocity, so the core
becomes non-spherical.  Predicted (a > 1; tested in tests/test_stefan.py): (i) fixed surface
concentration, thin shell: the flux across the shell, ~ D_nn Delta c / thickness, is largest along
z, so the core recedes fastest along z and its aspect ratio z/x falls below 1 (x/y stays 1);
(ii) any surface condition, small core: the field around it tends to a point sink's in the
anisotropic medium, whose iso-surfaces have z/x = sqrt(a) (the isotropic problem in z' = z/sqrt(a),
where a shrinking core rounds off), so z/x turns towards sqrt(a): past 1, where an isotropic
shell's core stops (from an oblate start z/x = 0.6 under a current, z/x > 1 at 11% core volume).

Particle surface (shell): fixed concentration, constant current (C-rate), or
potentiostatic Butler-Volmer (:class:`fem.constitutive.kinetics.ButlerVolmer`,
OCV of the regular solution).  Voltage V = U(c_surface) + eta (eta > 0 anodic).
Stops (before t_end_s): core volume fraction < ``min_core_volume_fraction``; mesh quality
< ``min_mesh_quality`` (before any cell inverts); surface concentration outside (0, c_max).

Outputs: ``timeseries.csv`` (t_s, core_radius_m or interface_position_m, core_volume_fraction,
voltage_V, c_surface_mol_m3, current_A, moles_mol (slabs: per m^2), mass_balance_rel_error,
stefan_iterations, min_mesh_quality, min_cell_size_ratio, remesh_count, cells; 3D: core_semi_axis_{x,y,z}_m,
the semi-axes of the ellipsoid with the core's second moments), ``fields/concentration.bp``,
``plots/interface.png``, ``plots/voltage.png``; 3D: ``plots/concentration_{surface,section,clip}.png``
at the end, ``_half_conversion`` when the core volume first falls to half, ``_t<T>s`` at output times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl

import dolfinx.fem

from fem import stefan_outputs
from fem.stefan_surface import stefan_stops, surface_condition
from fem.constitutive.diffusivity import check_spd, layered_tensor
from fem.constitutive.free_energy import RegularSolution
from fem.constitutive.kinetics import ButlerVolmer
from fem.models.stefan import TwoPhaseStefan
from fem.observables import Integral
from fem import remesh
from fem.errors import InputError
from fem.output import RunOutput, mesh_summary
from fem.parameters import Parameters, param
from fem.scaling import FARADAY, Scales, thermal_voltage
from fem.simulation import Simulation, StepControl
from meshes import stefan_user, tags as T
from meshes.stefan_particle import stefan_particle

NAME = "shrinking_core"
DESCRIPTION = "Two-phase (LiFePO4-like) particle with a sharp moving phase boundary (ALE Stefan problem)"

SPHERICAL = ("sphere_1d", "axisymmetric_2d", "sphere_3d", "ellipsoid_3d", "mesh_file")  # particles (core_radius_m: volume-equivalent)
PLANAR = ("slab_1d", "slab_2d", "slab_3d")
THREE_D = ("sphere_3d", "ellipsoid_3d", "mesh_file")  # 3D particles (remeshed, core semi-axes)


@dataclass
class ShrinkingCoreParameters(Parameters):
    geometry: str = param("sphere_1d", "geometry: 1D radial sphere (r^2 weight), 2D axisymmetric section, 3D "
                          "ball, 3D ellipsoid (semi_axes_m; the core the scaled ellipsoid), a user's core-shell "
                          "Gmsh .msh (mesh_file), or planar slab (1D/2D/3D; alpha at x=0, surface at x=L)",
                          choices=SPHERICAL + PLANAR)
    mesh_file: str = param("", "geometry=mesh_file: Gmsh .msh with physical groups core, shell (3D), interface, "
                           "surface (2D) (meshes/stefan_user.py); R = its volume-equivalent radius")
    mesh_unit_m: float = param(0.0, "geometry=mesh_file: metres per mesh_file unit (required)", "m", ge=0)
    radius_m: float = param(100e-9, "particle radius R (slab: thickness L; ellipsoid_3d: unused)", "m", gt=0)
    semi_axes_m: list[float] = param([], "ellipsoid_3d: semi-axes along x, y, z (R = the largest)", "m", gt=0)
    D_shell_anisotropy: float = param(1.0, "D_zz / D_xx of the shell, transversely isotropic about z "
                                      "(D_shell_m2_s = D_xx = D_yy; axisymmetric_2d: z = the axis); 2D/3D "
                                      "particles", "-", gt=0)
    D_shell_axis: list[float] = param([0.0, 0.0, 1.0], "3D particles: the shell's anisotropy axis n (any length): "
                                      "D = D_shell (I + (a - 1) n n^T / |n|^2), a = D_shell_anisotropy", "-")
    initial_core_fraction: float = param(0.0, "initial core radius / R (slab: alpha thickness / L); 0: 0.95, "
                                         "for sphere_3d 0.8 (a shell a coarse 3D mesh resolves)", "-", ge=0, lt=1)
    initial_core_concentration_mol_m3: float = param(0.0, "initial core (alpha) concentration away from the "
                                                     "interface (0: the binodal value, i.e. a core at equilibrium; "
                                                     "else the general two-phase Neumann case)", "mol/m^3", ge=0)
    process: str = param("delithiation", "delithiation: Li-rich core (alpha) -> Li-poor shell (beta); "
                         "lithiation: the reverse", choices=("delithiation", "lithiation"))
    c_max_mol_m3: float = param(22806.0, "maximum Li concentration", "mol/m^3", gt=0)
    omega_eV: float = param(0.115, "regular-solution interaction Omega (binodal -> interface concentrations)",
                            "eV", gt=0)
    temperature_K: float = param(298.15, "temperature", "K", gt=0)
    ocv_reference_V: float = param(3.42, "U0 of the regular-solution OCV U = U0 - mu/e", "V")
    D_core_m2_s: float = param(1e-15, "diffusivity in the core phase", "m^2/s", gt=0)
    D_shell_m2_s: float = param(1e-15, "diffusivity in the shell phase", "m^2/s", gt=0)
    surface_condition: str = param("current", "particle surface condition",
                                   choices=("current", "concentration", "butler_volmer"))
    c_rate: float = param(1.0, "constant current as C-rate; 1C converts the whole particle across the two-phase "
                          "window in one hour: I_1C = F V c_max |x_core - x_shell| / 3600 s (x the binodal site "
                          "fractions), or c_max V F per hour with capacity_basis='c_max'", "1/h", gt=0)
    capacity_basis: str = param("window", "1C basis: the two-phase window (binodal x_core - x_shell) or c_max",
                                choices=("window", "c_max"))
    surface_fraction: float = param(0.005, "surface site fraction c/c_max (surface_condition='concentration'); "
                                    "below the shell binodal value for delithiation, above for lithiation",
                                    "-", gt=0, lt=1)
    rate_constant_A_m2: float = param(1e-5, "Butler-Volmer rate constant m (i0 = m c_e^0.5 c^0.5 (c_max-c)^0.5)",
                                      "A m^-2 (m^3/mol)^1.5", gt=0)
    c_electrolyte_mol_m3: float = param(1000.0, "electrolyte concentration", "mol/m^3", gt=0)
    electrode_potential_V: float = param(3.45, "applied electrode potential (surface_condition='butler_volmer')",
                                         "V")
    t_end_s: float = param(7200.0, "end time (the run ends earlier when the core vanishes)", "s", gt=0)
    dt_s: float = param(0.5, "initial time step", "s", gt=0)
    dt_max_s: float = param(60.0, "largest time step", "s", gt=0)
    mesh_size: float = param(0.0, "element size relative to R (0: 0.02 in 1D and for slabs, 0.04 axisymmetric_2d, "
                             "0.15 sphere_3d)", "-", ge=0, le=0.5)
    shell_cells: int = param(0, "shell-resolution rule: the initial shell (between the interface and the surface) "
                             "gets at least this many cells across, element size min(mesh_size, (1 - "
                             "initial_core_fraction) / shell_cells) there (0: 10 in 1D, 4 in 2D, 3 in 3D)",
                             ge=0, le=1000)
    remesh_quality: float = param(0.5, "remesh (Gmsh; 1D: uniform cells per phase) when the shape ratio of a cell "
                                  "(relative to the mesh it was generated with) falls below this, in 1D when a "
                                  "cell's size ratio leaves [q, 1/q]; 0: never remesh", "-", ge=0, lt=1)
    remesh_interface_per_radius: float = param(0.0, "3D remeshes: interface element size f r_c (r_c the current "
                                               "volume-equivalent core radius; at least 0.02, at most the "
                                               "initial interface size; 0.2: 1280 interface triangles); 0: the "
                                               "initial interface size at every remesh", "-", ge=0, le=1)
    element_degree: int = param(1, "Lagrange degree of the phase concentrations (1 or 2; the mesh, the interface "
                                "and its motion stay P1). P2 removes most of P1's over-conduction of a thin 3D "
                                "shell around a small core (tests/bench/bench_shell_conductance_3d.py)", "-",
                                ge=1, le=2)
    interface_mesh_size: float = param(0.0, "element size near the interface relative to R (0: mesh_size)",
                                       "-", ge=0, le=0.5)
    max_move_cells: float = param(0.0, "largest interface displacement per step in units of the smallest cell "
                                  "(0: 0.1 in 1D, where steps are cheap and this keeps backward Euler's lag < 0.5%, "
                                  "else 0.3)", "-", ge=0, le=1)
    min_core_volume_fraction: float = param(1e-3, "end the run when the core volume fraction drops below this",
                                            "-", gt=0, lt=1)
    mesh_stiffening: float = param(1.0, "Jacobian-stiffening exponent chi of the mesh-motion extension "
                                   "(k = (|K_0|/|K|)^chi; 0: plain harmonic)", "-", ge=-3, le=3)
    min_mesh_quality: float = param(0.25, "end the run when the shape quality (relative to the initial mesh) "
                                    "drops below this", "-", gt=0, lt=1)
    # 3D default 1e-5: the mean mode (interface_mean_tolerance) keeps the moles; the nodal error is
    # then a sub-1e-4 R shape detail.  Measured (sphere_3d, mesh 0.25, to 1200 s, load 5): 1e-7 / 1e-5
    # 8.9 / 5.8 interface iterations per step, final core radius equal to 2e-9 R, mass balance
    # 1.1e-8 / 1.8e-8, time loop 304 / 163 s
    interface_tolerance: float = param(0.0, "Stefan iteration tolerance: nodal interface displacement error / R "
                                       "(0: 1e-7 in 1D and 2D, 1e-5 in 3D)", "-", ge=0)
    interface_mean_tolerance: float = param(1e-9, "Stefan iteration tolerance of the mean (conservation) mode: "
                                            "interface displacement / R, i.e. the moles per step relative to a "
                                            "shell of thickness R", "-", gt=0)
    solver: str = param("lu", "linear solvers: lu (MUMPS for the phases; the mesh motion by MUMPS in 1D/2D, in 3D "
                        "by MUMPS up to 30k mesh vertices, else CG+BoomerAMG) or amg (GMRES+BoomerAMG for the "
                        "phases, CG+BoomerAMG for the mesh motion; for large 3D runs)", choices=("lu", "amg"))
    fields_every: int = param(25, "write fields every N steps (0: only first and last)", ge=0)

    def check(self):
        xa, xb = self.phase_fractions()
        if self.surface_condition == "concentration":
            ok = self.surface_fraction < xb if self.process == "delithiation" else self.surface_fraction > xb
            self.require(ok, "surface_fraction",
                         f"allowed range {'(0, ' + format(xb, '.4g') + ')' if self.process == 'delithiation' else '(' + format(xb, '.4g') + ', 1)'} "
                         f"(beyond the shell's binodal fraction {xb:.4g}, so that the core converts)")
        self.require(self.dt_s <= self.t_end_s, "dt_s", f"allowed range (0, t_end_s = {self.t_end_s}]")
        self.require(self.dt_max_s >= self.dt_s, "dt_max_s", f"allowed range [dt_s = {self.dt_s}, inf)")
        ell, native = self.geometry == "ellipsoid_3d", self.geometry == "sphere_1d" or self.geometry in PLANAR
        user = self.geometry == "mesh_file"
        self.refuse_unused(["radius_m"] if ell else ["semi_axes_m"], "with" + ("" if ell else "out") + " ellipsoid_3d")
        self.refuse_unused(["radius_m", "initial_core_fraction", "shell_cells"] if user else ["mesh_file", "mesh_unit_m"],
                           "with" + ("" if user else "out") + " geometry=mesh_file" + (" (the file sets it)" if user else ""))
        if user:  # the file's header: one-line InputError before any mesh/PETSc work
            self.require(bool(self.mesh_file), "mesh_file", "a Gmsh .msh path is required with geometry=mesh_file")
            stefan_user.inspect(self.mesh_file, self.mesh_unit_m)
        self.require(len(self.semi_axes_m) == 3 or not ell, "semi_axes_m", "three semi-axes (x, y, z) [m]")
        self.refuse_unused(["D_shell_anisotropy"] if native else [], "in 1D radial or planar geometries")
        self.refuse_unused([] if self.geometry in THREE_D and self.D_shell_anisotropy != 1 else ["D_shell_axis"],
                           "outside 3D particles with D_shell_anisotropy != 1")
        self.require(len(self.D_shell_axis) == 3 and np.linalg.norm(self.D_shell_axis) > 0, "D_shell_axis",
                     "three components (x, y, z), not all zero")
        self.refuse_unused([] if self.geometry in THREE_D else ["remesh_interface_per_radius"],
                           "outside sphere_3d, ellipsoid_3d and mesh_file")
        # smallest core semi-axis / R
        xi0, h = self.core_fraction0() * (min(self.semi_axes_m) / max(self.semi_axes_m) if ell else 1), self.h()
        self.require(h < xi0 or self.geometry in ("sphere_1d", "mesh_file") + PLANAR, "mesh_size",
                     f"allowed range (0, {xi0:.3g}) (smaller than the core radius)")
        if native:  # native meshes (no Gmsh cell check)
            dim = 1 if self.geometry == "sphere_1d" else int(self.geometry[5])
            self.require_cells((1 / min(h, self.interface_mesh_size or h, self.h_shell()) + 4) * 2 ** (dim - 1)
                               * (1, 2, 6)[dim - 1], "mesh_size")
        if self.initial_core_concentration_mol_m3 > 0:
            xa, xb = self.phase_fractions()
            x0 = self.initial_core_concentration_mol_m3 / self.c_max_mol_m3
            ok = 0 < x0 < 1 and (x0 > xb if xa > xb else x0 < xb)
            self.require(ok, "initial_core_concentration_mol_m3",
                         f"allowed range: on the core's side of the shell binodal {xb * self.c_max_mol_m3:.5g} "
                         f"mol/m^3 and within (0, c_max = {self.c_max_mol_m3:g})")
        kT_eV = thermal_voltage(self.temperature_K)  # k_B T in eV
        self.require(self.omega_eV / kT_eV > 2, "omega_eV", f"allowed range (2 k_B T = {2 * kT_eV:.4g}"
                     ", inf) eV: the regular solution must phase-separate")

    def length_m(self) -> float:
        """The length scale R: the radius (slab thickness), or the ellipsoid's largest semi-axis (mesh_file:
        the file's volume-equivalent radius, known once it is read)."""
        return max(self.semi_axes_m) if self.geometry == "ellipsoid_3d" else self.radius_m

    def core_fraction0(self) -> float:
        return self.initial_core_fraction or (0.8 if self.geometry in THREE_D else 0.95)

    def h(self) -> float:
        auto = {"axisymmetric_2d": 0.04, **dict.fromkeys(THREE_D, 0.15)}.get(self.geometry, 0.02)
        return self.mesh_size or auto

    def h_shell(self) -> float:
        """Element size in the initial shell: the shell-resolution rule."""
        dim = {"axisymmetric_2d": 2, **dict.fromkeys(THREE_D, 3)}.get(self.geometry, 1)
        n = self.shell_cells or {1: 10, 2: 4, 3: 3}[dim]
        return min(self.h(), (1 - self.core_fraction0()) / n)

    def interface_tol(self, tdim: int) -> float:
        """Nodal tolerance of the interface iteration (``interface_tolerance``, 0: by dimension)."""
        return self.interface_tolerance or (1e-5 if tdim == 3 else 1e-7)

    def ale_solver(self) -> str:
        """Mesh-motion solver, on the scalar operator of one displacement component (:mod:`fem.ale`):
        CG+BoomerAMG (rtol 1e-12) with solver=amg; in 3D otherwise ``auto``: MUMPS up to
        ``fem.ale.AUTO_LU_MAX_VERTICES`` vertices (the default 3D mesh, 33k cells / 6.2k vertices:
        a step of 6 extensions 0.27 s CPU against 0.33 s with CG+AMG; the default run's mesh-motion
        share 26% -> 15%), CG+AMG above, where MUMPS grows faster
        (tests/bench/bench_stefan_ale_solver.py); MUMPS in 1D and 2D."""
        if self.solver == "amg":
            return "cg_amg"
        return "auto" if self.geometry in THREE_D + ("slab_3d",) else "lu"

    def shell_tensor(self, dim: int) -> np.ndarray:
        """D_beta / D_shell: diag(1, a) (axisymmetric: r, z), I + (a - 1) n n^T (3D; diag(1, 1, a) for n = z)."""
        n, a = np.asarray(self.D_shell_axis, dtype=float) / np.linalg.norm(self.D_shell_axis), self.D_shell_anisotropy
        return layered_tensor(1.0, a, dim) if dim == 2 else check_spd(np.eye(3) + (a - 1) * np.outer(n, n))

    def free_energy(self) -> RegularSolution:
        return RegularSolution.from_eV(self.omega_eV, self.temperature_K, u0_V=self.ocv_reference_V)

    def phase_fractions(self) -> tuple[float, float]:
        """(core, shell) interface site fractions from the binodal."""
        if self.omega_eV / thermal_voltage(self.temperature_K) <= 2:
            return 0.5, 0.5
        lo, hi = self.free_energy().binodal()
        return (hi, lo) if self.process == "delithiation" else (lo, hi)


Parameters = ShrinkingCoreParameters


def solve(p: ShrinkingCoreParameters, out: RunOutput) -> None:
    comm = out.comm
    saved = getattr(getattr(out, "checkpointer", None), "meta", {}).get("meshes", [])
    if getattr(out, "mode", "new") == "restart" and any(k.startswith("mesh_after_remesh") for k in saved):
        raise InputError("cannot restart shrinking_core after a remesh: checkpoints store fields on the cells of "
                         "the initial mesh (run with remesh_quality=0 to restart, or rerun)")
    R = p.length_m()
    dom, geo = stefan_particle(p.geometry, p.core_fraction0(), p.h(), p.h_shell(), comm, R,
                               h_interface=p.interface_mesh_size or None, semi_axes=np.array(p.semi_axes_m or [R]) / R,
                               remesh_per_radius=p.remesh_interface_per_radius, mesh_file=p.mesh_file,
                               mesh_unit_m=p.mesh_unit_m)
    R = dom.length_scale if p.geometry == "mesh_file" else R  # the file's volume-equivalent radius
    s = Scales.diffusive(R, p.D_shell_m2_s, p.c_max_mol_m3, p.temperature_K)
    fe = p.free_energy()
    bv = ButlerVolmer(p.rate_constant_A_m2, p.c_max_mol_m3, p.c_electrolyte_mol_m3, temperature_K=p.temperature_K)
    xa, xb = p.phase_fractions()
    spherical = p.geometry in SPHERICAL
    mesh = dom.mesh
    omega = geo.pop("solid_angle")
    one = dolfinx.fem.Constant(mesh, 1.0)
    rho = 1.0 if geo["weight"] is None else geo["weight"](ufl.SpatialCoordinate(mesh))
    volume_w = Integral(rho * dom.dx())()  # weighted volume, mesh units
    area_w = Integral(rho * one * dom.ds(T.SURFACE))()
    dirichlet, inflow, current_density = surface_condition(p, s, mesh, volume_w, area_w, bv, R)
    x0 = p.initial_core_concentration_mol_m3 / p.c_max_mol_m3 or None  # far-field core value (None: binodal)
    # shell relative to D_shell_m2_s: I + (a - 1) n n^T (3D; n = z: diag(1, 1, a)), axisymmetric diag(D_rr, D_zz)
    D_beta = 1.0 if p.D_shell_anisotropy == 1 else p.shell_tensor(mesh.geometry.dim)
    model = TwoPhaseStefan(dom, c_alpha=xa, c_beta=xb, D_alpha=p.D_core_m2_s / p.D_shell_m2_s, D_beta=D_beta,
                           init_alpha=x0, remesh_quality=p.remesh_quality,
                           dirichlet=dirichlet, inflow=inflow, solver=p.solver,
                           ale_solver=p.ale_solver(), tol=p.interface_tol(mesh.topology.dim),
                           mean_tol=p.interface_mean_tolerance, degree=p.element_degree,
                           max_move=p.max_move_cells or (0.1 if mesh.topology.dim == 1 else 0.3), stiffening=p.mesh_stiffening, **geo)
    c_surface = stefan_outputs.boundary_mean(model, T.SURFACE, geo["weight"], area_w)  # site fraction
    mol = omega * s.concentration * R ** 3  # nondim weighted moles -> mol
    if not spherical:
        cross = 1.0 if mesh.topology.dim == 1 else Integral(one * dom.ds(T.SURFACE))()
        mol = s.concentration * R / cross  # -> mol per m^2 of cross-section
    V0_core = model.volume["alpha"]()

    def core_fraction() -> float:
        return model.volume["alpha"]() / volume_w

    def voltage(xs):
        if p.surface_condition == "butler_volmer":
            return p.electrode_potential_V
        eta = float(bv.overpotential(current_density, xs)) if current_density != 0 else 0.0
        return float(fe.ocv_V(xs)) + eta

    axis = p.D_shell_axis if p.geometry in THREE_D and p.D_shell_anisotropy != 1 else None  # core along/across n

    def record(t) -> dict:
        xs = c_surface()
        return {**stefan_outputs.interface_columns(model, p.geometry, spherical, omega, R, axis=axis),
                "core_volume_fraction": core_fraction(),
                "voltage_V": voltage(min(max(xs, 1e-12), 1 - 1e-12)),
                "c_surface_mol_m3": xs * s.concentration,
                ("current_A" if spherical else "current_A_m2"): -model.flux_now * mol / s.time * FARADAY,
                ("moles_mol" if spherical else "moles_mol_m2"): model.total_moles() * mol,
                **model.diagnostics()}

    stops = stefan_stops(model, core_fraction, lambda: c_surface() * s.concentration, s.concentration,
                         p.min_core_volume_fraction, p.min_mesh_quality, p.surface_condition == "current")
    out.update(mesh=mesh_summary(mesh, [model.V, model.V]), element_degree=p.element_degree,
               scales={"length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration},
               interface_fractions={"core": xa, "shell": xb},
               plateau_voltage_V=float(fe.ocv_V(xa)), current_density_A_m2=current_density,
               volume_m3=omega * volume_w * R ** 3 if spherical else None)
    fields = remesh.field_output(out, "concentration", lambda: [(model.c["alpha"], "c_core_mol_m3", s.concentration),
                                                                (model.c["beta"], "c_shell_mol_m3", s.concentration)],
                                 s, lambda: model.remesh_count, every=p.fields_every)
    views = stefan_outputs.concentration_views(out, model, s, R, lambda t: model.volume["alpha"]() <= 0.5 * V0_core)
    control = StepControl(t_end=p.t_end_s / s.time, dt=p.dt_s / s.time, dt_min=1e-8 * p.dt_s / s.time,
                          dt_max=p.dt_max_s / s.time, grow=1.25, easy_newton=10)
    sim = Simulation(model, control, comm=comm, time_scale=s.time, output=out, recorders=[record],
                     fields=[fields, *views], stops=stops,
                     max_dt=model.max_dt if mesh.topology.dim == 3 else None)  # 3D: no step the move check rejects
    res = sim.run()
    isotropic_sphere = p.geometry in ("sphere_1d", "axisymmetric_2d", "sphere_3d") and p.D_shell_anisotropy == 1
    stefan_outputs.plot_interface_and_voltage(out, "core_radius_m" if spherical else "interface_position_m", *(
        stefan_outputs.sphere_reference(out, p.surface_condition, R, p.D_shell_m2_s, xa * p.c_max_mol_m3,
                                        xb * p.c_max_mol_m3, p.surface_fraction * p.c_max_mol_m3, p.core_fraction0())
        if isotropic_sphere else (None, "")))
    final = float(out.timeseries.column("core_volume_fraction")[-1])
    reason = res.reason or f"t_end reached (core volume fraction {final:.3g})"
    out.finish(res.status, reason, **res.summary(s.time), stefan_iterations=res.newton, **model.summary(),
               final_core_volume_fraction=final,
               max_mass_balance_rel_error=float(np.max(out.timeseries.column("mass_balance_rel_error"))),
               initial_core_volume_fraction=V0_core / volume_w,
               resolved={"initial_core_fraction": None if p.geometry == "mesh_file" else p.core_fraction0(), "mesh_size": p.h(),
                         "shell_mesh_size": p.h_shell(), "one_c_basis": p.capacity_basis})
    model.destroy()
