"""Outputs shared by the Poisson–Nernst–Planck problems (``space_charge``,
``particle_in_electrolyte``): the SI profile table, the profile plot and the
summary entry of the Debye scales.  The physics-derived values come from
:mod:`fem.models.pnp`; this module only writes them."""

from __future__ import annotations

import csv

import numpy as np

from fem.models import pnp


def scales_summary(s) -> dict:
    """Summary entry of the Debye scales (:meth:`fem.scaling.Scales.debye`)."""
    return {"debye_length_m": s.length, "time_s": s.time, "concentration_mol_m3": s.concentration,
            "potential_V": s.potential}


def write_profiles(out, model, pts, s, radial_origin=None):
    """``profiles.csv`` (x_m, phi_V, c_<species>_mol_m3) along ``pts`` (mesh units); returns
    (x [m], line values); x is the distance from ``radial_origin`` if given."""
    x, vals, cols = pnp.profile_columns(model, pts, s, radial_origin)
    if out.comm.rank == 0:
        with open(out.dir / "profiles.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(list(cols))
            for row in zip(*cols.values()):
                w.writerow([repr(float(v)) for v in row])
    return x, vals


def plot_profiles(out, x, vals, s, species, name, xi):
    """plots/NAME.png: potential and concentrations (one log segment per material) against x - xi [nm]."""
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
