"""Reaction-limited intercalation at constant current: a Cahn-Hilliard particle whose
surface exchanges lithium by a local Butler-Volmer rate driven by the local chemical
potential, with the total current imposed as one global constraint.

Unknowns: (c, mu) on the particle and the cell voltage V (one number).  On the surface

    j_in(x) = -i(c, eta) / F,   eta = V - U_eq(mu) = V - U0 + (kT/e) mu(x)      [mol/(m^2 s)]

(i anodic positive: :class:`fem.constitutive.kinetics.ButlerVolmer`, i0(c) vanishing where
the surface is empty or full), so each surface point reacts according to its own chemical
potential (Bazant, Acc. Chem. Res. 46 (2013) 1144; Bai, Cogswell & Bazant, Nano Lett. 11
(2011) 4890), and the voltage is the one that makes the total right:

    int_S j_in dS = J_app    (J_app = -I / F, the applied current as an inward molar rate).

Nondimensional (as :class:`fem.models.cahn_hilliard.ReactingCahnHilliard`): the global
unknown is phi = (V - U0) e/kT, the constraint G(c, mu, phi) = int_S j^ dS - J^ = 0 is
solved together with the Cahn-Hilliard residual F by the bordered Newton of
:mod:`fem.galvanostatic` (block elimination, two linear solves per iteration), so the
inserted amount is the applied one to the Newton tolerance in every step.

At vanishing current the particle passes through equilibrium states: two phases at the
common tangent, V -> U0 - (kT/e) mu_plateau (for flat phase boundaries).  Unlike the
uniform-flux control ("current"), a surface point in the Li-poor phase and one in the
Li-rich phase react at different rates, so the phase boundary can sweep along the surface
(intercalation waves) and the reaction itself can suppress phase separation at high current.
"""

from __future__ import annotations

import ufl

import dolfinx.fem

from fem import petsc_options
from fem.galvanostatic import BorderedNewton, GlobalUnknown
from fem.models.cahn_hilliard import ReactingCahnHilliard
from fem.observables import Integral
from fem.scaling import FARADAY


class ReactionLimitedCahnHilliard(ReactingCahnHilliard):
    """:class:`ReactingCahnHilliard` with the local Butler-Volmer flux of its ``voltage``
    control, the voltage being a global unknown fixed by the total inflow ``target``
    (nondimensional, > 0 inserting; :meth:`set_total_inflow`).  Keywords as there
    (``kinetics`` required; ``v_hold_V`` is the initial guess of V)."""

    def __init__(self, mesh, free_energy, ds, *, newton_atol=1e-13, **kw):
        kw["control"] = "voltage"
        super().__init__(mesh, free_energy, ds, **kw)
        self.control = "reaction"
        self.voltage = GlobalUnknown(mesh, float(self.v_hold.value))
        self.voltage.constant = self.v_hold  # the Constant the forms already use
        self.voltage.set_accepted(float(self.v_hold.value))
        j = self.reaction_flux(self.c_expr, self.mu_expr)
        dj = ufl.diff(j, self._phi)
        q = self.tests[0]
        border = dict(b=-dj * q * self.ds, g=ufl.derivative(j * self.ds, self.w, ufl.TestFunction(self.W)),
                      G=j * self.ds, h=dj * self.ds)
        self.solver.destroy()  # the SNES solver of the held voltage is not used
        self.solver = BorderedNewton(self.F, self.w, self.voltage, border, 0.0, options=petsc_options.direct_lu(),
                                     prefix="ch_reaction_", atol=newton_atol,
                                     scale_form=self.c_expr / self.dt * q * self.dx_lumped)
        self.inflow_total = Integral(j * self.ds)

    def reaction_flux(self, c, mu):
        """Nondimensional inward Butler-Volmer flux; the voltage enters as a UFL variable
        (for dj/dV in the bordered Newton)."""
        if not hasattr(self, "_phi"):
            self._phi = ufl.variable(self.v_hold)
        eta_V = self.kT_e * (self._phi + mu)
        return -self.kinetics.current(c, eta_V) / (FARADAY * self.molar_flux)

    def set_total_inflow(self, total: float) -> None:
        """The imposed int_S j^ dS (nondimensional, > 0 inserting)."""
        self.solver.target = float(total)

    def cell_voltage_V(self, u0_V: float) -> float:
        """V = U0 + (kT/e) phi of the current iterate [V]."""
        return u0_V + self.kT_e * self.voltage.value

    def reset(self, c_init):
        super().reset(c_init)
        self.voltage.set_accepted(float(self.v_hold.value))

    def step(self, t, dt):
        self.voltage.reject()  # start from the last accepted voltage
        return super().step(t, dt)

    def reject(self):
        super().reject()
        self.voltage.reject()

    def accept(self, t_new, dt, stats):
        super().accept(t_new, dt, stats)  # inserted += dt * int j (the imposed total)
        self.voltage.accept()

    def checkpoint_state(self) -> dict:
        return {**super().checkpoint_state(), **self.voltage.checkpoint_state("voltage")}

    def restore_state(self, state: dict) -> None:
        super().restore_state(state)
        self.voltage.restore_state("voltage", state)
