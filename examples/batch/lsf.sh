#!/bin/sh
# LSF template for `tspcluster start --engines batch --batch-template examples/batch/lsf.sh`.
# The #BSUB lines make tspcluster submit with `bsub < script`, cancel with `bkill` and poll with `bjobs`;
# bsub passes the submitting environment (with the engines' connection info) on by default.
#BSUB -J {job_name}
#BSUB -q {queue}
#BSUB -W {time}
#BSUB -n {n}
#BSUB -o {log_file}
mpirun -n {n} {engine_command}
