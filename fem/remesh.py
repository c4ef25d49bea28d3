"""Field transfer for remeshing: non-matching interpolation, then exact restoration of a phase's moles.

After a moving (ALE) mesh has degraded, a new mesh of the *same* geometry is generated
(:mod:`meshes.core_shell` :func:`~meshes.core_shell.core_shell_from_boundaries`,
:mod:`meshes.two_phase` :func:`~meshes.two_phase.radial_core_shell`) and each field is carried over:

1. interpolation: the new nodal values (P1 or P2: at the new space's dof points) are the old field
   evaluated there (``dolfinx.fem.Function.interpolate_nonmatching`` with
   ``dolfinx.fem.create_interpolation_data``, DOLFINx 0.9; works across partitions, points owned by
   whichever rank's cell contains them; the interpolation data belongs to one pair of spaces);
2. conservation: interpolation does not conserve the integral, so the amount of each phase,
   M_p = int_{Omega_p} rho c_p dx (rho the geometric weight), is restored by one additive constant on
   the phase's free dofs (those held by no Dirichlet condition: the interface and surface values stay
   the equilibrium / prescribed values),

       c_i <- c_i + delta   (i free),   delta = (M_p^old - M_p^new) / sum_{i free} int rho phi_i dx,

   which makes M_p^new = M_p^old to round-off (the change is O(h^2) of the field for P1
   interpolation of a smooth field, O(h^3) for P2; it is reported as ``moles_correction_rel``).  With P2
   the integrals int rho phi_i of single basis functions may be <= 0 (vertex functions), their sum over
   the free dofs is still the phase volume less that of the held dofs' functions, > 0.

Because the remeshers keep the interface and surface nodes (the boundary triangulations are reused;
2D drops only crowded interface nodes, :func:`meshes.core_shell.drop_short_segments`, and 3D with a
core-sized interface resamples it), the phase volumes change little or not at all, and the constant
shift restores each phase's amount either way, so the Stefan problem's mass balance continues across
remeshes.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

import dolfinx.fem
import dolfinx.la


def transfer(src, dst, data=None):
    """dst := src at dst's nodes (src on another mesh); returns the interpolation data for reuse
    between Functions of the same pair of spaces."""
    mesh = dst.function_space.mesh
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    if data is None:
        data = dolfinx.fem.create_interpolation_data(dst.function_space, src.function_space, cells,
                                                     padding=1e-10)
    dst.interpolate_nonmatching(src, cells, data)
    dst.x.scatter_forward()
    return data


def restore_moles(c, moles, target: float, free_dofs, weight_form) -> float:
    """Shift ``c`` on ``free_dofs`` by one constant so that ``moles()`` equals ``target`` (module
    docstring, step 2); ``weight_form`` is the compiled form int rho v dx over the phase.
    Returns the relative correction (target - before) / target."""
    vec = dolfinx.fem.assemble_vector(weight_form)
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    vec.scatter_forward()
    b = vec.array
    nown = c.function_space.dofmap.index_map.size_local
    free = np.asarray(free_dofs)
    comm = c.function_space.mesh.comm
    denom = comm.allreduce(float(np.sum(b[free[free < nown]])), op=MPI.SUM)
    before = moles()
    if denom <= 0.0:
        return 0.0
    c.x.array[free] += (target - before) / denom
    return (target - before) / target if target != 0.0 else target - before


def field_output(out, name: str, items, scales, generation, every: int = 0):
    """A :class:`fem.simulation.FieldOutput` like :func:`fem.output.si_fields` for a model that may
    remesh: ``items()`` returns the current ``(field, si_name, factor)`` list and ``generation()``
    the model's remesh count; after a remesh the fields go to a new file ``fields/NAME.remeshK.bp``
    (a VTX file holds one mesh)."""
    from fem.output import si_fields
    from fem.simulation import FieldOutput
    state = {"generation": None, "writer": None}

    def writer():
        g = generation()
        if state["generation"] != g:
            if state["writer"] is not None:
                state["writer"].close()
            state["writer"] = si_fields(out, name if g == 0 else f"{name}.remesh{g}", items(), scales)
            state["generation"] = g
        return state["writer"]

    def close():
        if state["writer"] is not None:
            state["writer"].close()

    return FieldOutput(lambda t: writer().write(t), every, close=close)
