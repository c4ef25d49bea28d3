"""The README's verification claims, with the value measured and the bound the suite asserts.

One entry per number the README's "Verification" table states. A test takes its bound from
here (`bound("key")`), so the table, the measured value and the assertion cannot drift apart:
`tests/test_readme_claims.py` checks that every entry's text is in its README row, that the
README's "asserted" column states the bound, that the bound is about 3x the measured value
(between 1.5x and 10x), and that some test really uses it.

kind "rel"/"abs": an error, asserted `error < bound`.
kind "order": an observed convergence order, asserted `abs(order - theory) < bound`; `measured`
is the order itself and `theory` the theoretical one.

To change a claim: measure it on the case the test runs (the test prints it), update `measured`
and `text`, set `bound` at ~3x, and copy `text`/`asserted_text()` into the README row.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    row: str            # the README table's first column
    text: str           # the README's words for the measured value
    measured: float
    bound: float
    kind: str = "rel"
    theory: float = 0.0

    def asserted_text(self):
        if self.kind == "order":
            return f"{self.theory:g} ± {self.bound:g}"
        mantissa, exponent = f"{self.bound:.1e}".split("e")
        if abs(int(exponent)) < 3:
            return f"{self.bound:g}"
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


ORDER_BAND = 0.1  # observed orders within 0.1 of the theoretical one

CLAIMS = {
    # sphere diffusion (tests/test_sphere_diffusion.py, tests/test_time_order.py)
    "crank_fixed_mean": Claim("sphere diffusion", "mean within 0.08% of the swing at every output", 7.6e-4,
                              2.3e-3),
    "crank_fixed_first_uptake": Claim("sphere diffusion", "uptake at the first output (1 s) 1.1%", 1.08e-2,
                                      3.2e-2),
    "crank_fixed_centre": Claim("sphere diffusion", "centre 0.3%", 3.01e-3, 9e-3),
    "crank_flux_surface": Claim("sphere diffusion", "surface 0.035%", 3.5e-4, 1.0e-3),
    "crank_flux_centre": Claim("sphere diffusion", "centre 1.7e-4", 1.75e-4, 6e-4),
    "sphere_moles_vs_prescribed": Claim("sphere diffusion", "stored moles vs prescribed F·A·t 1.7e-11",
                                        1.74e-11, 5e-11),
    "sphere_mms_p1": Claim("sphere diffusion", "1.92 (P1)", 1.92, ORDER_BAND, "order", 2),
    "sphere_mms_p2_affine": Claim("sphere diffusion", "2.94 (P2, affine)", 2.94, ORDER_BAND, "order", 3),
    "sphere_mms_p2_curved": Claim("sphere diffusion", "3.04 (P2 on the curved ball)", 3.04, ORDER_BAND,
                                  "order", 3),
    # time schemes (tests/test_time_order.py)
    "bdf1_order": Claim("time schemes", "BDF1 0.99", 0.99, ORDER_BAND, "order", 1),
    "bdf2_order": Claim("time schemes", "BDF2 1.99–2.04", 2.04, ORDER_BAND, "order", 2),
    "stefan_ale_order": Claim("time schemes", "Stefan/ALE step 0.985", 0.985, ORDER_BAND, "order", 1),
    # anisotropic diffusion (tests/test_diffusion_anisotropy.py)
    "gaussian_covariance": Claim("anisotropic D(c)", "covariance 5.9e-9", 5.9e-9, 2e-8),
    "gaussian_peak": Claim("anisotropic D(c)", "peak 1.9e-4", 1.86e-4, 6e-4),
    # Stefan (tests/test_stefan.py)
    "stefan_interface": Claim("Stefan", "interface 0.63%", 6.3e-3, 1e-2),
    "stefan_profiles": Claim("Stefan", "profiles 8e-4", 8.0e-4, 2.4e-3),
    "shrinking_core_front_fixing": Claim("Stefan", "core radius vs a front-fixing solution 1.7e-3 R", 1.7e-3, 5e-3,
                                         "abs"),
    # Cahn-Hilliard (tests/test_cahn_hilliard.py)
    "ch_growth_rate": Claim("Cahn–Hilliard", "growth rates 1.2%", 1.16e-2, 3.5e-2),
    "ch_binodal_poor": Claim("Cahn–Hilliard", "binodal 8.9e-4 (Li-poor)", 8.9e-4, 2.7e-3),
    "ch_binodal_rich": Claim("Cahn–Hilliard", "6.8e-5 (Li-rich)", 6.8e-5, 2e-4),
    "ch_plateau_mu": Claim("Cahn–Hilliard", "plateau μ 5.7e-4", 5.7e-4, 1.7e-3, "abs"),
    "ch_tanh_profile": Claim("Cahn–Hilliard", "tanh profile 7e-5", 7.0e-5, 2.1e-4),
    "ch_tanh_width": Claim("Cahn–Hilliard", "width 4.2e-4", 4.2e-4, 1.3e-3),
    # PNP / PB (tests/test_pnp.py)
    "debye_hueckel_length": Claim("PNP / PB", "Debye–Hückel length 4.3e-4", 4.3e-4, 1.3e-3),
    "pb_first_integral": Claim("PNP / PB", "PB first integral 1.7e-4", 1.7e-4, 5e-4),
    "gouy_chapman": Claim("PNP / PB", "Gouy–Chapman 2.4e-4", 2.4e-4, 7.5e-4),
    # interdiffusion (tests/test_interdiffusion.py)
    "erf_profile": Claim("interdiffusion", "profile 5.3e-5 absolute", 5.3e-5, 1.6e-4, "abs"),
    "kirkendall_marker": Claim("interdiffusion", "Kirkendall marker position 0.58%", 5.8e-3, 1e-2),
    "kirkendall_displacement": Claim("interdiffusion", "displacement 0.067%", 6.7e-4, 2e-3),
    "matano_plane": Claim("interdiffusion", "Matano plane 1.2e-13 m", 1.2e-13, 4e-13, "abs"),
    # grain boundaries (tests/test_grain_boundary.py)
    "whipple_boundary": Claim("grain boundaries", "on the boundary 1.5e-3", 1.5e-3, 5e-3),
    "whipple_excess": Claim("grain boundaries", "layer excess 6.3e-3", 6.3e-3, 2e-2),
    # thermodiffusion (tests/test_thermodiffusion.py)
    "soret_profile": Claim("thermodiffusion", "Soret profile 1.3e-6", 1.3e-6, 4e-6),
    "reaction_heat": Claim("thermodiffusion", "reaction heat ΔT 2e-8", 2e-8, 6e-8),
}


def bound(key):
    """The asserted bound of a README claim (see the module docstring)."""
    return CLAIMS[key].bound
