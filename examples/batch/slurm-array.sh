#!/bin/sh
# Slurm job-array template: n one-engine jobs that start one by one as the queue allows, instead of
# `--engines slurm`'s one job of n tasks. `tspcluster start --engines batch --batch-template examples/batch/slurm-array.sh -n 8`
#SBATCH --job-name={job_name}
#SBATCH --array=1-{n}
#SBATCH --ntasks=1
#SBATCH --partition={queue}
#SBATCH --time={time}
#SBATCH --output={log_file}
exec {engine_command}
