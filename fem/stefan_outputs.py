"""Outputs of a two-phase particle or slab with a sharp moving interface (``shrinking_core``,
:class:`fem.models.stefan.TwoPhaseStefan`): the interface and core-shape columns, boundary means on
the current (possibly remeshed) mesh, the 3D pictures of both phases and the interface/voltage
plots.  The physics lives in the model and the problem; this module only measures and writes."""

from __future__ import annotations

import math

import numpy as np

import ufl

from fem import field_views
from fem.observables import Integral


def boundary_mean(model, facet: str, weight, area: float, phase: str = "beta"):
    """Callable () -> int_facet rho c_phase ds / ``area`` (rho the geometric weight, ``area`` its
    weighted measure), rebuilt after each remesh of ``model``."""
    cache = {}

    def mean() -> float:
        if model.remesh_count not in cache:
            rho = 1.0 if weight is None else weight(ufl.SpatialCoordinate(model.mesh))
            cache.clear()
            cache[model.remesh_count] = Integral(rho * model.c[phase] * model.domain.ds(facet))
        return cache[model.remesh_count]() / area
    return mean


def interface_columns(model, geometry: str, particle: bool, solid_angle: float, length_m: float,
                      axis=None) -> dict:
    """Where the interface is, in metres: the 1D interface radius (``sphere_1d``), the volume-equivalent
    core radius (other particles), or the mean interface position (slabs); for 3D particles also the
    semi-axes of the ellipsoid with the core's second moments (its shape, e.g. the aspect ratio z/x),
    and with a unit vector ``axis`` (the shell's anisotropy axis n) its semi-axis along n and across it,
    a_perp = sqrt(5 (tr M - n.M.n) / (2 |core|)) (the two perpendicular directions' mean square)."""
    if geometry == "sphere_1d":
        return {"core_radius_m": model.interface_radius() * length_m}
    if not particle:
        return {"interface_position_m": model.interface_position() * length_m}
    row = {"core_radius_m": (3 * solid_angle * model.volume["alpha"]() / (4 * math.pi)) ** (1 / 3) * length_m}
    if model.mesh.topology.dim == 3:
        row.update(zip(("core_semi_axis_x_m", "core_semi_axis_y_m", "core_semi_axis_z_m"),
                       model.equivalent_semi_axes("alpha") * length_m))
        if axis is not None:
            n = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
            M, vol = model.second_moments("alpha"), max(model.volume["alpha"](), 1e-300)
            along = float(n @ M @ n)
            row["core_semi_axis_along_D_axis_m"] = math.sqrt(5 * along / vol) * length_m
            row["core_semi_axis_across_D_axis_m"] = math.sqrt(5 * (np.trace(M) - along) / (2 * vol)) * length_m
    return row


def concentration_views(out, model, scales, length_m: float, half_conversion) -> list:
    """Pictures of the core and shell concentration (3D; at the end, at ``half_conversion(t)`` and at
    the output times), on the current mesh (refreshed before each picture)."""
    if model.mesh.topology.dim != 3:
        return []
    shown = []

    def show():
        shown[:] = [(model.c[ph], model.domain.cells(model.names[ph])) for ph in ("alpha", "beta")]
    show()
    return [field_views.views_output(out, "concentration", shown, update=show, time_scale=scales.time,
                                     length_scale=length_m, value_scale=scales.concentration,
                                     label="c [mol/m$^3$]", title="Li concentration",
                                     when=("half_conversion", half_conversion))]


def sphere_reference(out, surface_condition: str, radius_m: float, D_shell_m2_s: float, c_core_mol_m3: float,
                     c_shell_mol_m3: float, c_surface_mol_m3: float, core_fraction0: float):
    """The analytic core radius r(t) [m] of an isotropic sphere (:mod:`fem.analytic_stefan`) and its
    label: the quasi-steady shrinking core (fixed surface concentration) or all of the (recorded,
    constant) current from core conversion; (None, "") for other surface conditions."""
    from fem.analytic_stefan import shrinking_core_constant_current_radius, shrinking_core_radius
    ts = out.timeseries
    if surface_condition == "concentration":
        return (lambda t: shrinking_core_radius(t, radius_m, D_shell_m2_s, c_core_mol_m3, c_shell_mol_m3,
                                                c_surface_mol_m3, core_fraction0)), "quasi-steady shrinking core"
    if surface_condition == "current":
        from fem.scaling import FARADAY
        current_mol_s = abs(ts.column("current_A")[-1]) / FARADAY
        return (lambda t: shrinking_core_constant_current_radius(t, radius_m, ts.column("core_radius_m")[0],
                                                                 current_mol_s, abs(c_core_mol_m3 - c_shell_mol_m3),
                                                                 0.0)), "all current from core conversion"
    return None, ""


def plot_interface_and_voltage(out, column: str, reference=None, reference_label: str = "") -> None:
    """``plots/interface.png`` (``column`` [nm] against t, with ``reference(t)`` [m] if given) and
    ``plots/voltage.png`` (rank 0)."""
    if out.comm.rank != 0:
        return
    ts = out.timeseries
    t = ts.column("t_s")
    with out.figure("interface") as (fig, ax):
        ax.plot(t, ts.column(column) * 1e9, label="ALE FEM")
        if reference is not None:
            ax.plot(t, reference(t) * 1e9, "k:", label=reference_label)
        ax.set_xlabel("t [s]")
        ax.set_ylabel(("core radius" if column == "core_radius_m" else "interface position") + " [nm]")
        ax.legend()
    with out.figure("voltage") as (fig, ax):
        ax.plot(t, ts.column("voltage_V"))
        ax.set_xlabel("t [s]")
        ax.set_ylabel("voltage [V]")
