"""The PFHub square benchmarks' shared parameter block (benchmarks 1 and 6: ``spinodal`` and
``electro_spinodal``): the double-well chemical free energy, nondimensional as in the benchmarks::

    f_chem(c) = rho_s (c - c_alpha)^2 (c_beta - c)^2,   F = int f_chem + kappa/2 |grad c|^2,
    dc/dt = div(M grad mu)

(PFHub benchmark problems 1 and 6, https://pages.nist.gov/pfhub/; Jokisaari et al., Comput. Mater.
Sci. 126 (2017) 139), on a square of ``cells_per_side`` x ``cells_per_side`` cells.  A problem
derives from :class:`DoubleWellSquareParameters` (a mixin, as the particle problems do with
:class:`fem.particle.ParticleParameters`) and adds its own side length and time controls.
"""

from __future__ import annotations

from dataclasses import dataclass

import dolfinx.mesh

from fem.constitutive.polynomial import DoubleWell
from fem.parameters import Parameters, param


@dataclass
class DoubleWellSquareParameters(Parameters):
    """Mesh of the square and the double-well material of the PFHub benchmarks (a mixin)."""

    cells_per_side: int = param(100, "cells along each side", "-", ge=2)
    cell_type: str = param("quadrilateral", "cell type", choices=("triangle", "quadrilateral"))
    rho_s: float = param(5.0, "double-well height rho_s", "-", gt=0)
    c_alpha: float = param(0.3, "composition of phase alpha", "-")
    c_beta: float = param(0.7, "composition of phase beta", "-")
    kappa: float = param(2.0, "gradient energy coefficient", "-", gt=0)
    mobility: float = param(5.0, "mobility M", "-", gt=0)

    def check_double_well(self) -> None:
        self.require(self.c_alpha < self.c_beta, "c_alpha", f"must be below c_beta = {self.c_beta}")

    def free_energy(self) -> DoubleWell:
        return DoubleWell(self.rho_s, self.c_alpha, self.c_beta)

    def square_mesh(self, comm, side_length: float) -> dolfinx.mesh.Mesh:
        """The square [0, side_length]^2 with ``cells_per_side`` cells along each side."""
        cell = (dolfinx.mesh.CellType.quadrilateral if self.cell_type == "quadrilateral"
                else dolfinx.mesh.CellType.triangle)
        return dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [side_length, side_length]],
                                             [self.cells_per_side] * 2, cell_type=cell)
