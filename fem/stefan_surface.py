"""The particle-surface condition and the stop conditions of the shrinking-core problem
(:mod:`problems.shrinking_core`).

* ``current``: constant current I = c_rate F c_max w V / 3600 s (w = |x_core - x_shell| the two-phase
  window, or 1 on the c_max basis; anodic positive for delithiation), as a uniform inflow
  j_in = -I / (F A) [mol m^-2 s^-1] on the surface (V, A the particle's volume and area);
* ``concentration``: c = surface_fraction c_max on the surface (Dirichlet);
* ``butler_volmer``: j_in = -i_BV(c, E - U(c)) / F with U the regular-solution OCV
  (:class:`fem.constitutive.kinetics.ButlerVolmer`).

All nondimensional on the scales ``s`` (:class:`fem.scaling.Scales`).
"""

from __future__ import annotations

import dolfinx.fem

from fem.scaling import FARADAY
from meshes import tags as T


def surface_condition(p, s, mesh, volume_w: float, area_w: float,
                      bv, R: float):
    """(dirichlet, inflow, current density [A/m^2, anodic positive]) on the shell surface; ``p`` the
    problem's parameters, ``volume_w``/``area_w`` the weighted volume and area in mesh units, ``R`` [m]."""
    sign = 1.0 if p.process == "delithiation" else -1.0  # anodic current (Li out) is positive
    if p.surface_condition == "current":
        # I = c_rate F c_max w V / 3600 s (w = |x_core - x_shell|, or 1 on the c_max basis);  j_in = -sign I / (F A)
        xa, xb = p.phase_fractions()
        w = abs(xa - xb) if p.capacity_basis == "window" else 1.0
        i_A_m2 = sign * p.c_rate * FARADAY * p.c_max_mol_m3 * w * (volume_w / area_w) * R / 3600.0
        j_in = dolfinx.fem.Constant(mesh, -i_A_m2 / FARADAY / s.molar_flux)
        return [], [("beta", T.SURFACE, j_in)], i_A_m2
    if p.surface_condition == "concentration":
        return [("beta", T.SURFACE, p.surface_fraction)], [], 0.0
    fe = p.free_energy()

    def j_bv(c):
        return -bv.current(c, p.electrode_potential_V - fe.ocv_V(c)) / FARADAY / s.molar_flux
    return [], [("beta", T.SURFACE, j_bv)], 0.0


def stefan_stops(model, core_fraction, c_surface_mol_m3, c_max_mol_m3: float, min_core_volume_fraction: float,
                 min_mesh_quality: float, check_surface: bool) -> list:
    """Stops of :class:`fem.simulation.Simulation` (each t -> reason or None): the core converted (volume
    fraction ``core_fraction()`` below ``min_core_volume_fraction``), the mesh-quality limit (shape ratio
    below ``min_mesh_quality``, with the remesh failure if any), and with ``check_surface`` (constant
    current) the surface concentration leaving (0, c_max)."""
    def core_converted(t):
        f = core_fraction()
        if f < min_core_volume_fraction:
            return f"core converted: core volume fraction {f:.3g} < {min_core_volume_fraction}"

    def mesh_quality_limit(t):
        q = model.last_quality.min_shape_ratio
        if q < min_mesh_quality:
            return (f"mesh quality limit: shape ratio {q:.3g} < {min_mesh_quality} "
                    f"(core volume fraction {core_fraction():.3g}){'; ' + model.remesh_failure if model.remesh_failure else ''}")

    def surface_out_of_range(t):
        c_s = c_surface_mol_m3()
        if not 0 < c_s / c_max_mol_m3 < 1:
            return f"surface concentration left (0, c_max): {c_s:.4g} mol/m^3"
    return [core_converted, mesh_quality_limit, *([surface_out_of_range] if check_surface else [])]
