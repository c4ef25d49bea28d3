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
    "crank_fixed_mean": Claim("sphere diffusion", "mean 0.09%", 9.2e-4, 2.8e-3),
    "crank_fixed_centre": Claim("sphere diffusion", "centre 0.3%", 2.98e-3, 9e-3),
    "crank_flux_surface": Claim("sphere diffusion", "surface 0.6%", 5.8e-3, 1.0e-2),
    "crank_flux_centre": Claim("sphere diffusion", "centre 2e-4", 1.9e-4, 6e-4),
    "sphere_moles_vs_prescribed": Claim("sphere diffusion", "stored moles vs prescribed F·A·t 6e-11",
                                        5.7e-11, 2e-10),
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
}


def bound(key):
    """The asserted bound of a README claim (see the module docstring)."""
    return CLAIMS[key].bound
