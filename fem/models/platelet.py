"""Depth-averaged platelet: reaction-limited intercalation with the Cahn-Hilliard-reaction
equation of Bazant and co-workers (Singh, Ceder & Bazant, Electrochim. Acta 53 (2008) 7599;
Bai, Cogswell & Bazant, Nano Lett. 11 (2011) 4890; Bazant, Acc. Chem. Res. 46 (2013) 1144).

A thin LiFePO4-like platelet of thickness h whose n_f large faces (the ac facets, normal to
the fast b axis) react: transport through the thickness is fast, so c is depth-averaged and
lives on the platelet plane (1D: a line across it; 2D: the face).  Nondimensional
(x in units of the platelet length L, t in the reaction time T = c_max h F / (n_f i0),
mu in kT, phi = (V - U0) e/kT, c the site fraction):

    dc/dt = r(c, mu, phi) + div( M c(1-c) grad mu )           (M = D_inplane T / L^2; 0: none)
    mu    = g'(c) - kappa lap c,   g = c ln c + (1-c) ln(1-c) + a c(1-c) + k c^2
    r     = -i / i0 = 2 (1-c) [exp(-phi/2) - exp(mu + phi/2)]

the symmetric (alpha = 1/2) Butler-Volmer rate of Bazant's theory: i = i0(c, mu) 2 sinh(eta/2),
eta = phi + mu (the local overpotential V - U0 + (kT/e) mu, in kT/e), with the exchange current
i0(c, mu) = 2 i0_ref (1 - c) exp(mu/2) of an excluded-site transition state
(gamma_TS = 1/(1-c)) and the activity a = exp(mu) of the intercalated lithium (gradient term
included): i0_ref is the exchange current at c = 1/2, mu = 0.  In SI,
c_max h dc/dt = n_f j_in, j_in = -i/F [mol/(m^2 s)].  No flux through the edges.

The cell voltage V is one global unknown fixed by the total rate (galvanostatic,
:class:`fem.models.reaction_limited.ReactionLimitedCahnHilliard` with the reaction taken
over the platelet area, mass-lumped, instead of a surface):

    int_A r dA = I |A|,    I = d<c>/dt  (> 0 inserting; I = i_face / i0_ref per face).

Linear stability of the homogeneous state (Bai et al. 2011; derived here for this model)
-----------------------------------------------------------------------------------
Homogeneous filling c0(t), dc0/dt = I, with y = exp(-phi0/2) from I = 2 (1-c0) (y - e^mu0 / y):
y = (iota + sqrt(iota^2 + 4 e^mu0)) / 2, iota = I / (2 (1 - c0)), mu0 = g'(c0).  A perturbation
eps cos(k.x) (a no-flux mode, k != 0) has zero mean, so the constraint leaves phi unchanged
to first order; with delta mu = (g''(c0) + kappa k^2) delta c it grows at

    s(k) = dr/dc + dr/dmu (g'' + kappa k^2) - M c0(1-c0) k^2 (g'' + kappa k^2)
         = -I / (1 - c0) + (R_a + M c0 (1 - c0) k^2) G(k),     G(k) = -(g''(c0) + kappa k^2),

R_a = 2 (1 - c0) e^mu0 / y the extraction (anodic) partial rate.  dr/dc = -I/(1-c0) is the
auto-inhibition of insertion by the filling of sites, R_a G the spinodal destabilisation.
Without in-plane transport (M = 0) the longest mode k1 (pi/L_x) is the least stable; it grows
iff X > iota y, X = (1 - c0) e^mu0 G(k1), and iota y increases with iota, so the homogeneous
state at c0 is unstable below

    I_c(c0) = 2 (1 - c0) X / sqrt(X + e^mu0)       (from iota y = X, i.e. iota^2 = X^2/(X + e^mu0))

and the critical current above which phase separation is suppressed at every composition the
platelet passes is I_c = max_c0 I_c(c0) (a = 4.51: I_c ~ 3.8 near c0 ~ 0.2, in the Tafel regime).
For extraction (I < 0) dr/dc = |I|/(1-c0) > 0: charging stays unstable at any current
(electro-autocatalytic delithiation, Bazant 2013).

Intercalation wave at low current (M = 0; 1D or a flat front)
-----------------------------------------------------------------
Near equilibrium r = -k(c) (mu - mu_inf), k(c) = 2 (1-c) e^(mu_p/2), with mu_inf = -phi and
mu_p the common-tangent chemical potential.  A travelling front c = C(x - v t) between the
two phases (bulk phases at mu = mu_inf, r = 0 there) satisfies -v C' = -k(C)(g'(C) - kappa C''
- mu_inf); multiplying by C'/k and integrating across the front (Allen-Cahn-like),

    v W = (mu_p - mu_inf) dc,   W = int C'^2 / k(C) dx = int_{c1}^{c2} sqrt(2 dg(c) / kappa) / k(c) dc,

dg(c) = g(c) - g(c1) - mu_p (c - c1) (the equilibrium profile kappa C'^2 / 2 = dg), dc = c2 - c1.
All the lithium enters in the front, v dc = I L_x, so the voltage sits below the plateau by

    V_plateau - V = (kT/e) I L_x W / dc^2        (insertion; linear in I, -> 0 at vanishing current).
"""

from __future__ import annotations

import numpy as np
import ufl

import dolfinx.fem

from fem.models.reaction_limited import ReactionLimitedCahnHilliard


class PlateletCahnHilliard(ReactionLimitedCahnHilliard):
    """The depth-averaged platelet (module docstring).

    mesh : the platelet plane (interval or rectangle), in units of L
    free_energy : :class:`fem.constitutive.free_energy.RegularSolution`
    kappa : nondimensional gradient coefficient a (lambda / L)^2
    inplane_mobility : M (0: pure reaction)
    phi_init : initial guess of phi = (V - U0) e/kT
    """

    def __init__(self, mesh, free_energy, *, kappa, inplane_mobility=0.0, kT_e=1.0, u0_V=0.0, phi_init=0.0,
                 extract=False, scheme="implicit", solver="lu", prefix="platelet_", newton_atol=1e-13):
        # the reaction acts on the platelet area: vertex quadrature (as the lumped c/dt term),
        # so each node obeys dc_i/dt = r_i and int r dA is the exact discrete balance
        dA = ufl.Measure("dx", domain=mesh, metadata={"quadrature_rule": "vertex", "quadrature_degree": 1})
        M = dolfinx.fem.Constant(mesh, float(inplane_mobility))
        super().__init__(mesh, free_energy, dA, kinetics=None, kT_e=kT_e, molar_flux=1.0, extract=extract,
                         v_hold_V=u0_V + kT_e * phi_init, u0_V=u0_V, kappa=kappa,
                         mobility=lambda c: M * c * (1 - c), scheme=scheme, solver=solver, prefix=prefix,
                         newton_atol=newton_atol)
        self.inplane_mobility = float(inplane_mobility)

    def reaction_flux(self, c, mu):
        """r = 2 (1 - c) [exp(-phi/2) - exp(mu + phi/2)] (phi a UFL variable for dr/dphi)."""
        if not hasattr(self, "_phi"):
            self._phi = ufl.variable(self.v_hold)
        phi = self._phi
        return 2 * (1 - c) * (ufl.exp(-phi / 2) - ufl.exp(mu + phi / 2))


# --- homogeneous filling and its linear stability (module docstring) ------------------------
def homogeneous_phi(fe, c0: float, rate: float) -> float:
    """phi = (V - U0) e/kT of the homogeneous platelet at c0 filling at d<c>/dt = rate."""
    mu0 = float(fe.mu(c0))
    iota = rate / (2 * (1 - c0))
    y = 0.5 * (iota + np.sqrt(iota**2 + 4 * np.exp(mu0)))
    return float(-2 * np.log(y))


def growth_rate(fe, c0: float, rate: float, k: float, kappa: float, mobility: float = 0.0) -> float:
    """s(k) of a perturbation cos(k x) of the homogeneous state at c0, mean rate ``rate``."""
    mu0 = float(fe.mu(c0))
    y = np.exp(-homogeneous_phi(fe, c0, rate) / 2)
    R_a = 2 * (1 - c0) * np.exp(mu0) / y
    G = -(float(fe.d2g(c0)) + kappa * k * k)
    return float(-rate / (1 - c0) + (R_a + mobility * c0 * (1 - c0) * k * k) * G)


def critical_rate(fe, k1: float, kappa: float, n: int = 4001) -> tuple[float, float]:
    """(I_c, c0 at the maximum) of I_c(c0) = 2 (1-c0) X / sqrt(X + e^mu0), M = 0 (insertion)."""
    c = np.linspace(1e-4, 1 - 1e-4, n)
    mu = np.asarray(fe.mu(c), dtype=float)
    G = -(np.asarray(fe.d2g(c), dtype=float) + kappa * k1 * k1)
    X = np.where(G > 0, (1 - c) * np.exp(mu) * G, 0.0)
    Ic = 2 * (1 - c) * X / np.sqrt(X + np.exp(mu))
    i = int(np.argmax(Ic))
    return float(Ic[i]), float(c[i])
