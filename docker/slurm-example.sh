#!/bin/bash
# Example SLURM batch script: solidion on 2 nodes x 32 ranks from an Apptainer image,
# checkpointed before the wall-time limit and continued in the requeued job until it ends.
#
#   sbatch docker/slurm-example.sh                       # sphere_diffusion, my_run.toml
#   PROBLEM=particle_discharge CONFIG=pd.toml sbatch --export=ALL docker/slurm-example.sh
#
# How it works: Slurm sends SIGUSR1 to this script WALL_MARGIN before the limit
# (--signal=B:USR1@300; up to 60 s earlier); the trap forwards it to srun (or mpirun),
# which forwards it to every rank; solidion finishes the current step, writes a
# checkpoint and exits with 138 (SIGTERM: 143).  The script then requeues the job
# (same job id, same output directory); the next allocation finds the checkpoint and
# continues with `solidion restart DIR` (same number of ranks).  --checkpoint-every also
# writes periodic checkpoints, so a job lost to a node failure (requeued by Slurm,
# --requeue) continues from the last one instead of the start.
#
#SBATCH --job-name=solidion
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=32
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=solidion-%j.out

set -uo pipefail
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

IMAGE=${IMAGE:-$HOME/images/solidion.sif}
PROBLEM=${PROBLEM:-sphere_diffusion}
CONFIG=${CONFIG:-my_run.toml}
OUT=${OUT:-results/$PROBLEM-${SLURM_JOB_ID:?not inside a SLURM job}}  # kept across requeues
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-100}   # accepted steps between periodic checkpoints
MAX_RESTARTS=${MAX_RESTARTS:-20}            # requeues before giving up
# The solidion command on every rank.  Hybrid model: the host's srun/PMIx starts the
# ranks, the container's Open MPI runs them (host and container PMIx must be compatible).
# The image sets no MPI transport: Open MPI picks shared memory within a node and
# UCX/OFI/TCP between nodes as the site provides (OMPI_MCA_* here to force one).
SOLIDION=${SOLIDION:-"apptainer exec --bind $PWD $IMAGE solidion"}
LAUNCH=${LAUNCH:-"srun --mpi=pmix"}
# Single node without a host MPI: LAUNCH="" SOLIDION="apptainer exec $IMAGE mpirun -n $SLURM_NTASKS solidion"

# `solidion restart` needs a checkpoint (OUT/checkpoint/meta.json, fem/checkpoint.py);
# without one (first allocation, or lost before the first checkpoint) start afresh.
if [ -f "$OUT/checkpoint/meta.json" ]; then
  args=(restart "$OUT")
else
  args=(run "$PROBLEM" --config "$CONFIG" --out "$OUT" --overwrite --checkpoint-every "$CHECKPOINT_EVERY")
fi
echo "$(date -Is) job ${SLURM_JOB_ID} (restart ${SLURM_RESTART_COUNT:-0}): solidion ${args[*]}"

# srun in the background: bash runs a trap only between commands, `wait` is interruptible.
# shellcheck disable=SC2086  # LAUNCH and SOLIDION are word lists
$LAUNCH $SOLIDION "${args[@]}" --quiet &
pid=$!
trap 'echo "$(date -Is) wall-time signal: checkpoint and stop"; kill -USR1 "$pid" 2>/dev/null' USR1
trap 'kill -TERM "$pid" 2>/dev/null' TERM
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
wait "$pid"; status=$?

case $status in
  0) echo "$(date -Is) finished: $OUT" ;;
  130|138|143)  # ended by a signal after writing a checkpoint: continue in the requeued job
    if [ "${SLURM_RESTART_COUNT:-0}" -ge "$MAX_RESTARTS" ]; then
      echo "$(date -Is) interrupted, but $MAX_RESTARTS restarts already; continue by hand with" \
           "'solidion restart $OUT'"
      exit "$status"
    fi
    echo "$(date -Is) interrupted (exit $status); requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID" ;;
  *) echo "$(date -Is) solidion failed (exit $status; 2 = bad input): see $OUT/summary.json"
     exit "$status" ;;
esac
