"""Galvanostatic (dis)charge of a cathode particle, generated or your own mesh: anisotropic,
concentration-dependent solid diffusion with Butler–Volmer surface kinetics.

Strong form (SI), x = c / c_max:

    c_max dx/dt = div( c_max D(x, T) grad x ) [+ div_G( K c_max grad_G x ) delta_GB]   in the particle
    -c_max D grad x . n = i(x, eta) / F                       on the surface (Butler–Volmer)
    eta = V - U(x),   i = i0(x) [exp(alpha_a f eta) - exp(-alpha_c f eta)]   [A/m^2]
    int_S i dS = I_app                                        (constant applied current [A])

D = D_ref Q diag(1, 1, r) Q^T g(x) exp(-(E_a/k_B)(1/T - 1/T_ref)) per grain (r = D_c/D_ab,
Q the grain's crystal->lab rotation), g(x) = 1, exp(beta (x - x_ref)) or a CSV table.
The particle potential V is solved with c (bordered Newton, :mod:`fem.galvanostatic`).
Also: fixed potential, fixed flux or fixed surface concentration.

Grain-boundary fast paths (``gb_width_m`` delta > 0, ``gb_diffusivity_m2_s`` D_gb): the
grain-boundary facets carry Fisher's thin layer, + div_G(K grad_G c) delta_GB in the bulk
equation with K = delta (D_gb - D_ref) [m^3/s] (J. C. Fisher, J. Appl. Phys. 22 (1951) 74;
:mod:`fem.weak_forms.grain_boundary`); summary.json ``grain_boundary`` gives K, the boundary
area, the volume fraction f = delta A_gb / V and Hart's homogenised D_eff = f D_gb + (1 - f) D_ref
(E. W. Hart, Acta Metall. 5 (1957) 597).  Needs a mesh with grain boundaries.

Geometry: a generated sphere / Voronoi polycrystal of radius ``radius_m``, or ``mesh_file``
(:mod:`meshes.user`: .xdmf/.msh from ``solidion mesh``, your own Gmsh .msh with groups
``surface`` and ``particle``/``grain_<n>``, or a closed .stl; ``mesh_unit_m`` when the file
has no unit); a mesh file's length scale R is its volume-equivalent radius (3V/4pi)^(1/3).
Current (:class:`fem.galvanostatic.CurrentParameters`): ``c_rate`` with 1C on
``capacity_basis`` 'window' (the particle's stoichiometry window in 1 h) or 'nominal'
(``nominal_capacity_Ah_m2`` per m^2 of particle surface, PyBaMM's convention), or
``current_density_A_m2``; the summary's ``current`` states both and the 1C definition.
Stops at the cut-off voltage or when the whole surface has x >= ``saturation_x``; a step
moving V by more than ``max_voltage_step_V`` is retried with a smaller dt.

Outputs: ``timeseries.csv`` (t_s, voltage_V, ocv_surface_V, overpotential_V, current_A,
capacity_mAh, c_mean_mol_m3, c_surface_mean/min/max_mol_m3, x_mean, moles_mol,
mass_balance_rel_error), ``fields/concentration.bp``, ``plots/voltage.png``,
``plots/concentration.png`` and (``section_plot``) the 3D pictures
``plots/concentration_{surface,section,clip}.png`` (:mod:`fem.field_views`; also
``..._t<t>s.png`` at ``output_times_s``).  ``protocol``: a cycling protocol
(:mod:`fem.protocols`, one driver stage per step; restartable), with the columns
protocol_step, protocol_step_type, charge_passed_C and, for GITT/PITT steps,
``gitt_transients.csv`` / ``pitt_transients.csv``.  The parameter set, model building and
run are :mod:`fem.particle` (shared with ``spm_sphere``); the geometry :mod:`meshes.particle_geometry`.
"""
from __future__ import annotations

from dataclasses import dataclass

from fem import particle as fp
from fem.constitutive import diffusivity as dif
from fem.output import RunOutput
from fem.parameters import param
from meshes import tags as T
from meshes import user
from meshes.particle_geometry import ParticleGeometryParameters, has_grain_boundaries, particle_domain

NAME = "particle_discharge"
DESCRIPTION = ("Constant-current discharge of a (polycrystalline, anisotropic) cathode particle, generated or "
               "from a mesh file: D(c) tensor, Butler-Volmer kinetics, voltage curve")


@dataclass
class ParticleDischargeParameters(ParticleGeometryParameters, fp.ParticleParameters):
    geometry: str = param("polycrystal", "generated particle geometry", choices=("polycrystal", "sphere"))
    n_grains: int = param(50, "number of grains (generated polycrystal)", ge=1)
    grain_seed: int = param(0, "random seed of the generated polycrystal, and of the grain orientations of "
                            "a mesh_file whose grains have none (.json or euler_angles_csv)", ge=0)
    euler_angles_csv: str = param("", "CSV (grain, phi1, Phi, phi2 in degrees) of the grain orientations of "
                                  "a mesh_file (default: the file's, else random from grain_seed)")
    crystal_euler_deg: str = param("0,0,0", "Bunge Euler angles (phi1,Phi,phi2) of a single crystal "
                                   "(geometry='sphere', or the 'particle' group of a mesh_file)", "deg")
    anisotropy_ratio: float = param(0.01, "D_out-of-plane / D_in-plane (1: isotropic)", "-", gt=0)
    temperature_gradient_K: float = param(0.0, "temperature rise across the particle along z "
                                          "(T = T0 + dT z/R)", "K")
    activation_energy_eV: float = param(0.0, "Arrhenius activation energy of D (0: none)", "eV", ge=0)
    surface_condition: str = param("butler_volmer", "surface condition",
                                   choices=("butler_volmer", "potentiostatic", "flux", "concentration"))
    direction: str = param("discharge", "discharge: Li enters the particle (a cathode's discharge, current "
                           "< 0); charge: Li leaves it", choices=("discharge", "charge"))
    x0: float | str = param("full", "initial x = c/c_max, or 'full': the material's charged state x_full",
                            "-", ge=0, lt=1)
    voltage_V: float = param(3.6, "particle potential (surface_condition='potentiostatic')", "V", gt=0)
    flux_mol_m2_s: float = param(0.0, "inward flux (surface_condition='flux'); 0: from the current",
                                 "mol/(m^2 s)")
    c_surface_mol_m3: float = param(0.0, "surface concentration (surface_condition='concentration')",
                                    "mol/m^3", ge=0)
    gb_width_m: float = param(0.0, "grain-boundary width delta of the fast paths (0: none; needs grain "
                              "boundaries: a generated polycrystal, or a mesh_file with a 'grain_boundary' "
                              "facet group)", "m", ge=0, le=1e-6)
    gb_diffusivity_m2_s: float = param(0.0, "grain-boundary diffusivity D_gb (gb_width_m > 0; at least the "
                                       "bulk D_ref)", "m^2/s", ge=0)

    def uses_current(self) -> bool:
        return self.surface_condition == "butler_volmer" or (self.surface_condition == "flux"
                                                             and self.flux_mol_m2_s == 0)

    def check(self):
        super().check()
        mat = fp.material(self)
        self.require(self.x0 == "full" or (isinstance(self.x0, (int, float)) and not isinstance(self.x0, bool)),
                     "x0", "allowed: a number in [0, 1), or 'full'")
        try:
            ok = len([float(s) for s in self.crystal_euler_deg.split(",")]) == 3
        except ValueError:
            ok = False
        self.require(ok, "crystal_euler_deg", "must be three comma-separated angles in degrees, e.g. 0,45,0")
        self.require(self.c_surface_mol_m3 <= mat.c_max_mol_m3, "c_surface_mol_m3",
                     f"allowed range [0, {mat.c_max_mol_m3}] mol/m^3")
        unused = {"voltage_V": "potentiostatic", "flux_mol_m2_s": "flux", "c_surface_mol_m3": "concentration"}
        for name, cond in unused.items():
            if self.surface_condition != cond:
                self.refuse_unused([name], f"with surface_condition={self.surface_condition!r}")
        if self.mesh_file:
            self.refuse_unused(["geometry", "n_grains"], "with mesh_file (the file sets it)")
            if self.euler_angles_csv:
                user.read_euler_csv(self.euler_angles_csv, user.inspect(self.mesh_file, self.mesh_unit_m).grains)
        else:
            self.refuse_unused(["euler_angles_csv"], "without mesh_file")
            self.refuse_unused(["n_grains", "grain_seed"] if self.geometry == "sphere" else ["crystal_euler_deg"],
                               f"with geometry={self.geometry!r}")
        if self.gb_width_m > 0:
            self.require(has_grain_boundaries(self, self.geometry, self.n_grains), "gb_width_m",
                         "fast paths need grain boundaries: geometry='polycrystal' with n_grains >= 2, or a "
                         f"mesh_file with a {T.GRAIN_BOUNDARY!r} facet group")
            D_ref = fp.reference_diffusivity(self)[0]
            self.require(self.gb_diffusivity_m2_s >= D_ref, "gb_diffusivity_m2_s",
                         f"allowed range [D_ref = {D_ref:.4g}, inf) m^2/s with gb_width_m > 0")
        else:
            self.refuse_unused(["gb_diffusivity_m2_s"], "without gb_width_m")
        if self.surface_condition == "butler_volmer" and not self.ocv_table:
            ocv0 = float(mat.ocv_V(fp.resolved_x0(self)))
            discharge = self.direction == "discharge"
            self.require(self.cutoff_voltage_V < ocv0 if discharge else self.cutoff_voltage_V > ocv0,
                         "cutoff_voltage_V", f"the {self.direction} would end at once: the OCV at x0 is "
                         f"{ocv0:.4f} V; allowed: {'below' if discharge else 'above'} it")


Parameters = ParticleDischargeParameters


def build_domain(p: ParticleDischargeParameters, comm):
    """TaggedMesh of the particle (length scale R) and {cell tag: crystal->lab rotation}."""
    single = dif.rotation_matrix([float(s) for s in p.crystal_euler_deg.split(",")])
    return particle_domain(p, comm, radius_m=fp.particle_radius_m(p), geometry=p.geometry, n_grains=p.n_grains,
                           grain_seed=p.grain_seed, euler_angles_csv=p.euler_angles_csv, single=single)


def build(p: ParticleDischargeParameters, comm, domain=None, rotations=None):
    """(IntercalationParticle, Setup) for ``p``; ``domain``/``rotations`` default to :func:`build_domain`."""
    if domain is None:
        domain, rotations = build_domain(p, comm)
    return fp.build(p, comm, domain, rotations, surface=T.SURFACE, grain_boundary=T.GRAIN_BOUNDARY)


def solve(p: ParticleDischargeParameters, out: RunOutput) -> None:
    model, setup = build(p, out.comm)
    res, entries = fp.run(model, setup, out)
    fp.plot(out, model, setup)
    out.finish(res.status, res.reason, **entries, timings=model.solver.timings())
    model.destroy()
