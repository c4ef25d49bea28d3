#!/bin/bash
# Example SLURM batch script: solidion on 2 nodes x 32 ranks from an Apptainer image.
#   sbatch docker/slurm-example.sh
#SBATCH --job-name=solidion
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=32
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
#SBATCH --output=solidion-%j.out

set -euo pipefail
export OMP_NUM_THREADS=1
IMAGE=${IMAGE:-$HOME/images/solidion.sif}

# Hybrid model: the host's MPI launches the ranks, the container's Open MPI
# runs them (host and container Open MPI/PMIx versions must be compatible).
srun --mpi=pmix apptainer exec --bind "$PWD" "$IMAGE" \
    solidion run sphere_diffusion --config my_run.toml --out "results/run-$SLURM_JOB_ID" --quiet \
    -- -ksp_type cg -pc_type hypre -pc_hypre_type boomeramg

# Single node without a host MPI: mpirun inside the container.
# apptainer exec "$IMAGE" mpirun -n "$SLURM_NTASKS" solidion run sphere_diffusion --out results/x
