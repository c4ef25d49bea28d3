"""solidion: finite-element ion transport in battery solids (DOLFINx 0.9).

The top-level package ``fem`` holds the numerical machinery (parameters,
scaling, constitutive laws, weak forms, SNES solvers, time stepping, output).
It sits beside ``dolfinx.fem``; inside solidion always write ``dolfinx.fem``
in full.
"""

__version__ = "0.1.0"
