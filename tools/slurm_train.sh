#!/usr/bin/env bash
# Training on a Slurm cluster, safe against preemption and time limits.
#   [GPUS=16] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SIGNAL=USR1@120] [SBATCH=1] \
#   [SRUN_ARGS=...] [SBATCH_ARGS=...] tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args]
#
# SIGNAL is Slurm's --signal=<sig>[@<seconds>]: Slurm sends SIG<sig> to every
# training process that many seconds before the time limit (default USR1@120).
# tools/train.py (PreemptionHook) then saves iter_<N>.pth at the end of the
# current iteration, points last_checkpoint at it, runs
# `scontrol requeue $SLURM_JOB_ID` and exits with code 75. SIGTERM (preemption,
# scancel) also saves and exits with 75, without requeueing. See
# docs/reliability.md, "Preemption and Slurm".
#
# SBATCH=1 submits a batch job (sbatch --requeue) that runs this script again
# inside its allocation; only batch jobs can be requeued. A requeued job starts
# this script again, and tools/train.py resumes from last_checkpoint by itself
# ($SLURM_RESTART_COUNT > 0). Without SBATCH=1, srun runs the job in the
# foreground as in OpenMMLab's script: the checkpoint is saved, but Slurm
# refuses to requeue such a job; start it again with --resume.
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SIGNAL=${SIGNAL:-USR1@120}
SRUN_ARGS=${SRUN_ARGS:-""}
SBATCH_ARGS=${SBATCH_ARGS:-""}
# sbatch runs a spooled copy of this script: the batch job finds the checkout in LKSSL_ROOT
ROOT="${LKSSL_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}"
PYTHON=${PYTHON:-python}
TRAIN=("$PYTHON" -u "$ROOT/tools/train.py" "$CONFIG" --launcher slurm "${@:4}")

if [[ "${SBATCH:-0}" == 1 && -z "${SLURM_JOB_ID:-}" ]]; then
  export LKSSL_ROOT="$ROOT"  # sbatch passes the environment on (--export=ALL)
  # the signal goes to the job steps (the training processes), not to the batch shell
  # shellcheck disable=SC2086
  exec sbatch --requeue --signal="$SIGNAL" -p "$PARTITION" --job-name="$JOB_NAME" \
      --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
      --cpus-per-task="$CPUS_PER_TASK" --output="slurm-%j-$JOB_NAME.out" $SBATCH_ARGS \
      "$ROOT/tools/slurm_train.sh" "$@"
fi

export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
if [[ -n "${SLURM_JOB_ID:-}" && "${SBATCH:-0}" == 1 ]]; then
  # inside the batch job: one step over the whole allocation (sbatch set the signal)
  # shellcheck disable=SC2086
  srun --kill-on-bad-exit=1 $SRUN_ARGS "${TRAIN[@]}"
else
  # shellcheck disable=SC2086
  srun -p "$PARTITION" --job-name="$JOB_NAME" --signal="$SIGNAL" \
      --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" \
      --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 $SRUN_ARGS "${TRAIN[@]}"
fi
