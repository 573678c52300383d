#!/bin/sh
# PBS / Torque template for `tspcluster start --engines batch --batch-template examples/batch/pbs.sh`.
# The #PBS lines make tspcluster submit with `qsub`, cancel with `qdel` and poll with `qstat`.
# -V passes the submitting environment on, with the engines' connection info in it.
#PBS -N {job_name}
#PBS -V
#PBS -q {queue}
#PBS -l walltime={time}
#PBS -l select={n}:ncpus=1
#PBS -j oe
#PBS -o {log_file}
cd "$PBS_O_WORKDIR"
mpiexec -n {n} {engine_command}
