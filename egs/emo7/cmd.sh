# How jobs are run. run.pl runs them on this machine; on a Slurm cluster use
#   export train_cmd="slurm.pl --config conf/slurm.conf"
#   export cuda_cmd="slurm.pl --config conf/slurm.conf --gpu 1"
# (conf/slurm.conf maps --gpu/--mem/--num-threads/--time to sbatch options).
export train_cmd="run.pl"
export cuda_cmd="run.pl --gpu 1"
