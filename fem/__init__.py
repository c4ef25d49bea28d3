"""solidion: finite-element ion transport in battery solids (DOLFINx 0.9).

The top-level package ``fem`` holds the numerical machinery (parameters,
scaling, constitutive laws, weak forms, SNES solvers, time stepping, output).
It sits beside ``dolfinx.fem``; inside solidion always write ``dolfinx.fem``
in full.
"""

__version__ = "0.1.0"

import os as _os

# ADIOS2's Python module loads its serial bindings when imported before anything
# MPI-aware; VTX output and adios4dolfinx need the MPI ones, whichever comes first.
_os.environ.setdefault("ADIOS2_ALWAYS_USE_MPI", "1")
