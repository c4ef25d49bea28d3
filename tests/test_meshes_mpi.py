"""Under ``mpirun -n 2``: a mesh distributed over COMM_WORLD has the same global cell
count, volume and named-group measures as the same mesh on COMM_SELF; files written
in parallel read back identically."""

from __future__ import annotations

import pytest
from mpi4py import MPI

from meshes._common import facet_measure, measure

WORLD, SELF = MPI.COMM_WORLD, MPI.COMM_SELF

CASES = {
    "bilayer1d": ("bilayer", dict(thicknesses_m=[1e-6, 2e-6, 1e-6], dim=1, h=0.05, h_interface=0.005)),
    "bilayer2d": ("bilayer", dict(thicknesses_m=[1e-6, 2e-6], dim=2, h=0.1, h_interface=0.02)),
    "core_shell2d": ("core_shell", dict(core_radius_m=1e-6, shell_thicknesses_m=[2e-7, 2e-7], dim=2,
                                        h=0.1, h_interface=0.03, order=2)),
    "core_shell3d": ("core_shell", dict(core_radius_m=1e-6, shell_thicknesses_m=[3e-7], h=0.4)),
    "polycrystal": ("polycrystal", dict(radius_m=1e-6, n_grains=6, seed=2, h=0.35)),
    "particle_in_matrix2d": ("particle_in_matrix", dict(radius_m=1e-6, box_half_width_m=2e-6, dim=2,
                                                        h=0.3, h_interface=0.05)),
    "agglomerate": ("agglomerate", dict(n_particles=3, radius_m=1e-6, seed=1, h=0.5)),
}


def _summary(tm):
    return (tm.mesh.topology.index_map(tm.dim).size_global, measure(tm),
            {nm: measure(tm, nm) for nm in tm.all_cell_names()},
            {nm: facet_measure(tm, nm) for nm in tm.all_facet_names()})


def _compare(a, b):
    assert a[0] == b[0]
    assert a[1] == pytest.approx(b[1], rel=1e-12)
    assert a[2].keys() == b[2].keys() and a[3].keys() == b[3].keys()
    for nm in a[2]:
        assert a[2][nm] == pytest.approx(b[2][nm], rel=1e-12), nm
    for nm in a[3]:
        assert a[3][nm] == pytest.approx(b[3][nm], rel=1e-12), nm
        assert a[3][nm] > 0, nm


@pytest.mark.mpi
@pytest.mark.parametrize("case", sorted(CASES))
def test_distributed_equals_serial(case):
    from meshes.registry import GENERATORS
    kind, params = CASES[case]
    par = GENERATORS[kind](comm=WORLD, **params)
    if WORLD.size > 1:
        assert par.mesh.topology.index_map(par.dim).size_local < par.mesh.topology.index_map(par.dim).size_global
    ser = GENERATORS[kind](comm=SELF, **params)
    _compare(_summary(par), _summary(ser))
    assert par.metadata == ser.metadata


@pytest.mark.mpi
@pytest.mark.parametrize("suffix", [".xdmf", ".msh"])
def test_parallel_write_read(shared_tmp_path, suffix):
    from meshes.io import generate, read
    path = shared_tmp_path / f"pc{suffix}"
    params = dict(radius_m=1e-6, n_grains=4, seed=5, h=0.4)
    written = generate("polycrystal", path, comm=WORLD, **params)
    back_par = read(path, comm=WORLD)
    back_ser = read(path, comm=SELF)
    s = _summary(written)
    _compare(_summary(back_par), s)
    _compare(_summary(back_ser), s)
