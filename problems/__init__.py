"""Problems: compositions of meshes, constitutive laws, weak forms and solvers.

Each problem is a module with ``NAME``, ``DESCRIPTION``, a ``Parameters``
dataclass (SI units) and ``solve(params, out)``.  Run one from Python with::

    from solidion import run
    summary = run("sphere_diffusion", radius_m=5e-6, out="results/my-run")

or from the shell with ``solidion run sphere_diffusion --set radius_m=5e-6``.
"""

from __future__ import annotations

import importlib

# name -> (module, one-line description).  Kept import-free so `solidion list`
# is instant; the module is imported only when the problem runs.
REGISTRY: dict[str, tuple[str, str]] = {
    "sphere_diffusion": ("problems.sphere_diffusion",
                         "Fickian diffusion in a spherical particle, fixed surface concentration "
                         "or galvanostatic flux (Crank's series solutions)"),
    "spinodal": ("problems.spinodal", "PFHub benchmark 1b: Cahn-Hilliard spinodal decomposition, free energy vs time"),
    "electro_spinodal": ("problems.electro_spinodal", "PFHub benchmark 6a: Cahn-Hilliard coupled to electrostatics on a square, free energy vs time"),
    "particle_spinodal": ("problems.particle_spinodal", "3D particle quenched into the spinodal region (Cahn-Hilliard, regular solution)"),
    "phase_separating_charge": ("problems.phase_separating_charge", "LiFePO4-like phase-separating particle charged at low/high rate: voltage plateau, morphology"),
    "particle_discharge": ("problems.particle_discharge", "Constant-current discharge of an anisotropic polycrystalline cathode particle (D(c) tensor, Butler-Volmer, voltage curve)"),
    "spm_sphere": ("problems.spm_sphere", "Isotropic Chen 2020 NMC811 sphere at constant current vs a 1D single-particle (radial FV) reference"),
    "shrinking_core": ("problems.shrinking_core", "Two-phase LiFePO4-like particle with a sharp moving phase boundary (ALE Stefan problem, shrinking core)"),
    "interdiffusion": ("problems.interdiffusion", "Binary interdiffusion couple: Darken interdiffusivity, Kirkendall marker motion, Boltzmann-Matano reference"),
    "grain_boundary_diffusion": ("problems.grain_boundary_diffusion", "Grain-boundary fast paths: surface source into a bicrystal / lamellar stack (facet term, Hart, Whipple/Le Claire)"),
    "space_charge": ("problems.space_charge", "PNP / Poisson-Boltzmann space-charge layers at a cathode | solid-electrolyte bilayer (1D/2D/3D), interfacial resistance"),
    "particle_in_electrolyte": ("problems.particle_in_electrolyte", "PNP space-charge layer around a cathode particle embedded in solid electrolyte (3D)"),
    "platelet_intercalation": ("problems.platelet_intercalation", "Depth-averaged LiFePO4-like platelet, reaction-limited (Cahn-Hilliard-reaction): intercalation waves, suppression of phase separation above a critical current"),
    "thermodiffusion": ("problems.thermodiffusion", "Soret/Dufour thermodiffusion in a solid bar: ion transport + heat equation coupled by an Onsager matrix"),
}

DEFAULT = "sphere_diffusion"


def register(name: str, module: str, description: str) -> None:
    REGISTRY[name] = (module, description)


def get(name: str):
    """The module of problem ``name``."""
    from fem.errors import InputError
    if name not in REGISTRY:
        raise InputError(f"unknown problem {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return importlib.import_module(REGISTRY[name][0])
