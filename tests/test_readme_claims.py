"""The README's verification table against what the suite asserts (tests/claims.py).

Fails when a README number is not the measured value of a claim, when the README's "asserted"
column is not the bound the tests use, when a bound is far from ~3x what was measured (a loose
bound lets a 10-1000x regression pass), or when a claim is not used by any test.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from claims import CLAIMS

ROOT = Path(__file__).resolve().parents[1]


def verification_rows():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Verification", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header == ["physics", "reference", "measured", "asserted"], header
    out = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        out[cells[0]] = dict(zip(header, cells))
    return out


def row_of(rows, name):
    hits = [k for k in rows if k.startswith(name)]
    assert len(hits) == 1, f"README verification row {name!r}: found {hits}"
    return rows[hits[0]]


def test_every_claim_is_in_its_readme_row_with_its_bound():
    rows = verification_rows()
    by_row = {}
    for key, c in CLAIMS.items():
        by_row.setdefault(c.row, []).append(c)
        assert c.text in row_of(rows, c.row)["measured"], f"{key}: {c.text!r} not in the README row"
    for name, claims in by_row.items():
        expected = ", ".join(c.asserted_text() for c in claims)
        assert row_of(rows, name)["asserted"] == expected, name
    covered = {row_of(rows, name)["physics"] for name in by_row}
    for physics, row in rows.items():
        if physics not in covered:
            assert row["asserted"] == "", f"README row {physics!r} states bounds no claim backs"


@pytest.mark.parametrize("key", sorted(CLAIMS))
def test_bound_is_about_three_times_the_measured_value(key):
    c = CLAIMS[key]
    if c.kind == "order":
        assert abs(c.measured - c.theory) < c.bound, key  # the measured order passes its own test
        assert c.bound <= 0.1, key
    else:
        assert 1.5 <= c.bound / c.measured <= 10, (key, c.bound / c.measured)


def test_every_claim_is_used_by_a_test():
    sources = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py")
                        if p.name != Path(__file__).name)
    used = {key for call in re.findall(r"\bbound\(([^)]*)\)", sources)
            for key in re.findall(r"""["']([^"']+)["']""", call)}
    # keys built with an f-string (e.g. f"bdf{order}_order") are matched by pattern
    patterns = [re.compile("^" + re.sub(r"\\\{[^}]*\\\}", ".+", re.escape(u)) + "$") for u in used]
    unused = [k for k in CLAIMS if not any(p.match(k) for p in patterns)]
    assert not unused, f"claims no test asserts: {unused}"
