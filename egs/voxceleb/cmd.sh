# How jobs are run: the one place to set it for this recipe AND the recipes it runs
# (egs/iemocap stage 2 runs ../voxceleb/run.sh, whose cmd.sh then keeps these settings:
# EMOREC_CMD_SH names the cmd.sh in effect). run.pl runs jobs on this machine; on a Slurm
# cluster (README "Slurm") replace the two run.pl lines by
#   export train_cmd="slurm.pl"
#   export cuda_cmd="slurm.pl --gpu 1 --require-gpu true"
# slurm.pl maps each job's needs to sbatch with $EMOREC_SLURM_CONF (conf/slurm.conf here).
if [ -z "${EMOREC_CMD_SH:-}" ]; then
  export EMOREC_CMD_SH="$PWD/cmd.sh" EMOREC_SLURM_CONF="$PWD/conf/slurm.conf"
  export train_cmd="run.pl"
  export cuda_cmd="run.pl --gpu 1"
fi
