"""Pre-integrated Jacobian terms for P1 on affine simplices (PNP, Cahn-Hilliard).

With P1 on an affine cell K the basis gradients are constant, so for a coefficient a(u)

    int_K a(u) grad(du) . grad(v) dx = (int_K a(u) dx) grad(du) . grad(v)

evaluated with the form's own quadrature on the left equals a one-point term times the cell
integral of a(u) on the right: a DG0 field of cell averages (:class:`CellAverages`), refreshed
before every Jacobian assembly, times a degree-0 stiffness term.  The derivative of a(u) itself,
a'(u) du grad(w) . grad(v), keeps the generated quadrature (:func:`coefficient_derivative`).
"""

from __future__ import annotations

import ufl
from ufl.algorithms import expand_derivatives

import dolfinx.fem


class CellAverages:
    """DG0 fields of cell averages (1/|K|) int_K f dx of UFL integrands f.

    ``add(name, form)`` takes ``form`` linear in :attr:`test` (e.g. ``f * avg.test * dx`` or a sum of
    such terms over sub-domain measures) and returns the DG0 Function that :meth:`update` fills."""

    def __init__(self, mesh):
        self.Q0 = dolfinx.fem.functionspace(mesh, ("DG", 0))
        self.test = ufl.TestFunction(self.Q0)
        dx0 = ufl.dx(domain=mesh, metadata={"quadrature_degree": 0})
        vol = dolfinx.fem.assemble_vector(dolfinx.fem.form(self.test * dx0))
        self._volume = vol.array[:self.Q0.dofmap.index_map.size_local].copy()
        self._items: list[tuple[dolfinx.fem.Function, dolfinx.fem.Form]] = []

    def add(self, name: str, form) -> dolfinx.fem.Function:
        f = dolfinx.fem.Function(self.Q0, name=name)
        self._items.append((f, dolfinx.fem.form(form)))
        return f

    @property
    def functions(self) -> list[dolfinx.fem.Function]:
        return [f for f, _ in self._items]

    def update(self) -> None:
        """Assemble every average at the current state (owned cells), then fill the ghosts."""
        n = len(self._volume)
        for f, form in self._items:
            a = f.x.array
            a[:] = 0.0
            dolfinx.fem.assemble_vector(a, form)
            a[:n] /= self._volume
            f.x.scatter_forward()


def coefficient_derivative(coefficient, field, test, dx, u, du, V):
    """The Gateaux derivative of int coefficient(u) grad(field) . grad(test) dx in direction ``du``
    with grad(field) held fixed (field: a component of ``u`` on the collapsed space ``V``), or None
    when the coefficient does not depend on u."""
    frozen = dolfinx.fem.Function(V)
    d = expand_derivatives(ufl.derivative(coefficient * ufl.inner(ufl.grad(frozen), ufl.grad(test)) * dx, u, du))
    return ufl.replace(d, {frozen: field}) if d.integrals() else None
