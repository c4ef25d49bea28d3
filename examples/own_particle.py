"""Your own particle: an ellipsoidal polycrystal built with meshes/, discharged at 1C.

    mpirun -n 2 python3 examples/own_particle.py [OUT h t_end_s]

The code below is the README's "Your own particle" example (tests/test_user_mesh.py runs it).
"""
import sys

from mpi4py import MPI
from meshes.io import generate
from solidion import run

out, h, t_end = "results/own_particle", 0.15, 0.0  # t_end 0: until the cut-off voltage
if len(sys.argv) > 3:
    out, h, t_end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
# 12 grains in an 8 x 6 x 5 um ellipsoid; particle.xdmf.json keeps its unit and grain orientations.
# A segmented particle instead: generate("stl", f"{out}/particle.xdmf", stl_path="p.stl", stl_unit_m=1e-6)
generate("polycrystal", f"{out}/particle.xdmf", radius_m=None, n_grains=12, seed=2, h=h,
         semi_axes_m=[8e-6, 6e-6, 5e-6])
s = run("particle_discharge", out=f"{out}/discharge", mesh_file=f"{out}/particle.xdmf",
        c_rate=1.0, t_end_s=t_end, overwrite=True)  # or: c_rate=0, current_density_A_m2=1.685
if MPI.COMM_WORLD.rank == 0:
    print(s["status"], s["stop_reason"], f"{s['current']['current_density_A_m2']:.4g} A/m^2,",
          f"R = {s['volume_equivalent_radius_m'] * 1e6:.3f} um, {s['capacity_mAh'] * 1e6:.4g} nAh")
