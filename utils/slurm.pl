#!/usr/bin/env perl
# utils/slurm.pl -- run a command (or an array of jobs) on Slurm, Kaldi style.
#
# Usage: slurm.pl [options] [JOB=1:N] <log-file> <command> [args...]
#   e.g. slurm.pl --gpu 1 --mem 4G JOB=1:8 exp/log/train.JOB.log python -m x --part JOB
#
# Same command line and log format as run.pl. One Slurm job array (--array=a-b,
# throttled with %N by --max-jobs-run N) is submitted per call; its batch script
# is written to <log-dir>/q/<name>.sh (the sbatch command line is recorded in it),
# Slurm's own output goes to <log-dir>/q/<name>.<task>.out. Each task writes its
# log ("# <command>", "# Started at ...", output, "# Accounting: ...",
# "# Ended (code N) at ...") and a done file with its exit code. slurm.pl waits
# (polling with back-off, checking squeue for tasks that died without a done
# file), exits 0 when all tasks succeed, else 1 with
# "slurm.pl: N / M failed, log is in <first failed log>". SIGINT/SIGTERM cancel
# the array, and so does slurm.pl's death by kill -9 (of it or of its process
# group): a guard process in a session of its own then runs scancel. The job runs in the caller's cwd, sources ./path.sh if there is one.
#
# A task holds an flock on "<log-file>.lock" while it runs (as run.pl's jobs do): a
# task whose log another live job is writing waits up to --lock-wait seconds (default
# 10), then fails without starting (the reason is in its Slurm output file).
#
# Options: --config FILE (default: $EMOREC_SLURM_CONF, which a recipe's cmd.sh exports, else
#   conf/slurm.conf if it exists, else built-in),
#   --max-jobs-run N, --lock-wait S, --require-gpu true|false, and every option the config
#   defines, e.g. --gpu G, --mem M, --num-threads T, --time T, --nodes N ("--opt value" or
#   "--opt=value"; "-" and "_" alike).
# --gpu G > 0: the log's first lines say how many CUDA devices torch sees on the node
#   (emorec.bin.check_gpu); with --require-gpu true a task that sees fewer fails at once
#   instead of running on CPU.
# --nodes N: each task gets N nodes and runs its command once per node (srun, one task per
#   node), with EMOREC_RDZV_ENDPOINT=<first node of SLURM_JOB_NODELIST>:<port> and
#   EMOREC_RDZV_ID=<job id> exported: the c10d rendezvous of `emorec.bin.train --nnodes N`
#   (one torchrun agent per node; NCCL on GPUs, gloo on CPUs). --gpu, --num-threads and
#   --mem are then per node.
#
# Config format (Kaldi's):
#   command sbatch --export=ALL           # the submit command and fixed options
#   option mem=* --mem=$0                 # --mem VALUE adds these ($0 = VALUE)
#   option mem=0                          # --mem 0 adds nothing (exact beats *)
#   default gpu=0                         # applied when --gpu is not given
#   option gpu=0 --partition=cpu          # the CPU jobs' partition
#   option gpu=* --gres=gpu:$0 --partition=gpu
#   option max_jobs_run=* --array=...%$0  # special: becomes the array throttle
use strict;
use warnings;
use Cwd qw(getcwd);
use FindBin qw($RealBin);
use lib "$RealBin/lib";
use EmorecQueue qw(parse_job_args shell_quote start_guard);
use POSIX qw(setsid);
use File::Basename qw(dirname basename);
use File::Path qw(make_path);
use Time::HiRes qw(sleep time);

my $me = "slurm.pl";
$| = 1;

my $default_config = <<'EOF';
command sbatch --export=ALL --ntasks-per-node=1
option time=* --time=$0
option mem=* --mem=$0
option mem=0
option num_threads=* --cpus-per-task=$0
option num_threads=1 --cpus-per-task=1
default gpu=0
option gpu=0
option gpu=* --gres=gpu:$0
option nodes=* --nodes=$0
option max_jobs_run=* --array=...%$0
EOF

sub usage {
  die "Usage: $me [--config F] [--max-jobs-run N] [--gpu G] [--require-gpu B] [--mem M] [--num-threads T] "
    . "[--time T] [--nodes N] [JOB=1:N] <log-file> <command> [args...]\n";
}

# ---- command-line options ----
my %cli;            # name (underscores) -> value, in order of appearance
my @cli_order;
my $config;
while (@ARGV && $ARGV[0] =~ m/^--[A-Za-z]/) {
  my $opt = shift @ARGV;
  my $val;
  if ($opt =~ m/^--([^=]+)=(.*)$/s) { ($opt, $val) = ($1, $2); }
  else { usage() unless @ARGV; $opt =~ s/^--//; $val = shift @ARGV; }
  $opt =~ s/-/_/g;
  if ($opt eq "config") { $config = $val; next; }
  push @cli_order, $opt unless exists $cli{$opt};
  $cli{$opt} = $val;
}

my ($jobname, $jobstart, $jobend, $logfile, $cmd) = parse_job_args($me, \@ARGV, \&usage);

sub sq {             # always single-quote
  my ($x) = @_;
  $x =~ s/'/'\\''/g;
  return "'$x'";
}

# ---- config ----
my $config_text;
my $config_name;
if (defined $config) {
  open(my $c, "<", $config) or die "$me: cannot open config file '$config': $!\n";
  local $/;
  $config_text = <$c>;
  close($c);
  $config_name = $config;
} elsif (($ENV{EMOREC_SLURM_CONF} // "") ne "" || -f "conf/slurm.conf") {
  $config_name = ($ENV{EMOREC_SLURM_CONF} // "") ne "" ? $ENV{EMOREC_SLURM_CONF} : "conf/slurm.conf";
  open(my $c, "<", $config_name) or die "$me: cannot open config file '$config_name': $!\n";
  local $/;
  $config_text = <$c>;
  close($c);
} else {
  $config_text = $default_config;
  $config_name = "(built-in config)";
}

my @command;
my (%opt_exact, %opt_star, %defaults, %known);
{
  my $n = 0;
  for my $line (split(/\n/, $config_text)) {
    $n++;
    $line =~ s/#.*$//;
    $line =~ s/^\s+|\s+$//g;
    next if $line eq "";
    my ($kw, $rest) = split(/\s+/, $line, 2);
    $rest = "" unless defined $rest;
    if ($kw eq "command") {
      @command = split(/\s+/, $rest);
    } elsif ($kw eq "option") {
      $rest =~ m/^([A-Za-z_][\w-]*)=(\S+)\s*(.*)$/
        or die "$me: $config_name:$n: bad option line '$line'\n";
      my ($name, $value, $args) = ($1, $2, $3);
      $name =~ s/-/_/g;
      $known{$name} = 1;
      if ($value eq "*") { $opt_star{$name} = $args; }
      else { $opt_exact{"$name=$value"} = $args; }
    } elsif ($kw eq "default") {
      $rest =~ m/^([A-Za-z_][\w-]*)=(\S+)$/
        or die "$me: $config_name:$n: bad default line '$line'\n";
      my ($name, $value) = ($1, $2);
      $name =~ s/-/_/g;
      $defaults{$name} = $value;
    } else {
      die "$me: $config_name:$n: unknown keyword '$kw' (expected command, option or default)\n";
    }
  }
}
@command or die "$me: $config_name: no 'command' line\n";

my %values = %defaults;
$values{$_} = $cli{$_} for keys %cli;
my @order = ((grep { !exists $cli{$_} } sort keys %defaults), @cli_order);

my $max_jobs_run;
my $num_threads = 1;
my $lock_wait = 10;
my $gpu = 0;
my $require_gpu = "false";
my $nodes;          # set by --nodes: the command runs once per node, under srun
my @sbatch_opts;
for my $name (@order) {
  my $value = $values{$name};
  if ($name eq "max_jobs_run") {
    $value =~ m/^\d+$/ && $value > 0 or die "$me: --max-jobs-run needs a positive integer, got '$value'\n";
    $max_jobs_run = $value;
    next;
  }
  if ($name eq "lock_wait") {
    $value =~ m/^\d+(\.\d*)?$/ or die "$me: --lock-wait needs a number of seconds, got '$value'\n";
    $lock_wait = $value;
    next;
  }
  if ($name eq "require_gpu") {
    $value =~ m/^(true|false)$/ or die "$me: --require-gpu needs true or false, got '$value'\n";
    $require_gpu = $value;
    next;
  }
  if ($name eq "num_threads") {
    $value =~ m/^\d+$/ && $value > 0 or die "$me: --num-threads needs a positive integer, got '$value'\n";
    $num_threads = $value;
  }
  if ($name eq "gpu") {
    $value =~ m/^\d+$/ or die "$me: --gpu needs a number of GPUs, got '$value'\n";
    $gpu = $value;
  }
  if ($name eq "nodes") {
    $value =~ m/^\d+$/ && $value > 0 or die "$me: --nodes needs a positive integer, got '$value'\n";
    $nodes = $value if exists $cli{nodes};
  }
  my $args;
  if (exists $opt_exact{"$name=$value"}) { $args = $opt_exact{"$name=$value"}; }
  elsif (exists $opt_star{$name}) { ($args = $opt_star{$name}) =~ s/\$0/$value/g; }
  elsif ($known{$name}) {
    die "$me: $config_name has no 'option $name=$value' nor 'option $name=*'\n";
  } else {
    (my $o = $name) =~ s/_/-/g;
    die "$me: unknown option --$o (not defined in $config_name)\n";
  }
  push @sbatch_opts, split(/\s+/, $args) if $args =~ m/\S/;
}

# ---- files ----
my $cwd = getcwd();
my $logdir = dirname($logfile);
if (defined $jobname && index($logdir, $jobname) >= 0) {
  (my $l1 = $logfile) =~ s/\Q$jobname\E/$jobstart/g;
  $logdir = dirname($l1);
}
my $qdir = "$logdir/q";
make_path($qdir) unless -d $qdir;
-d $qdir or die "$me: cannot create directory '$qdir'\n";
my $base = basename($logfile);
if (defined $jobname) { $base =~ s/\.?\Q$jobname\E//g; }
$base =~ s/\.log$//;
$base = "job" if $base eq "";
my $script = "$qdir/$base.sh";
(my $out_pattern = "$qdir/$base.%a.out") =~ s/%(?!a\.out$)/%%/g;
(my $jname = $base) =~ s/[^\w.+-]/_/g;

my @array = ("--array=$jobstart-$jobend" . (defined $max_jobs_run ? "%$max_jobs_run" : ""));
my @sbatch = (@command, @sbatch_opts, @array, "--parsable", "--job-name=$jname",
              "--chdir=$cwd", "--output=$out_pattern", $script);
my $sbatch_str = join(" ", map { shell_quote($_) } @sbatch);

# ---- the batch script ----
my $abs_log = ($logfile =~ m{^/}) ? $logfile : "$cwd/$logfile";
my $abs_qdir = ($qdir =~ m{^/}) ? $qdir : "$cwd/$qdir";
my $jn = defined $jobname ? $jobname : "";
my $gpu_check = "";
if ($gpu > 0) {
  my $req = $require_gpu eq "true" ? " --require" : "";
  $gpu_check = "python -m emorec.bin.check_gpu --asked $gpu$req >> \"\$log\" 2>&1 || { finish 1; exit 1; }\n";
}
my $run_cmd = "run=()";
if (defined $nodes) {    # one task per node; the rendezvous on the first node, its port from the job id
  $run_cmd = <<"EOS";
head=\$(scontrol show hostnames "\$SLURM_JOB_NODELIST" | head -n 1)
export EMOREC_RDZV_ENDPOINT="\$head:\$((20000 + SLURM_JOB_ID % 20000))" EMOREC_RDZV_ID="\$SLURM_JOB_ID"
echo "# \$SLURM_JOB_NUM_NODES node(s) \$SLURM_JOB_NODELIST, one task each (srun); rendezvous \$EMOREC_RDZV_ENDPOINT" >> "\$log"
run=(srun --nodes=$nodes --ntasks-per-node=1 --kill-on-bad-exit=1 \${SLURM_CPUS_PER_TASK:+--cpus-per-task=\$SLURM_CPUS_PER_TASK})
EOS
  chomp $run_cmd;
}
my $script_text = <<"EOF";
#!/usr/bin/env bash
# Generated by slurm.pl; submitted with:
#   $sbatch_str
cd @{[sq($cwd)]} || exit 1
if [ -f ./path.sh ]; then . ./path.sh; fi
task=\${SLURM_ARRAY_TASK_ID:-$jobstart}
jobname=@{[sq($jn)]}
cmd=@{[sq($cmd)]}
log=@{[sq($abs_log)]}
if [ -n "\$jobname" ]; then
  cmd=\${cmd//"\$jobname"/\$task}
  log=\${log//"\$jobname"/\$task}
fi
done_file=@{[sq($abs_qdir)]}/done.\${SLURM_ARRAY_JOB_ID:-\${SLURM_JOB_ID:-0}}.\$task
mkdir -p "\$(dirname "\$log")"
# The lock passes to the job's processes: released when the last of them is gone.
exec 9>>"\$log.lock"
if ! flock -w $lock_wait 9; then
  echo "slurm.pl: task \$task not started: another live job is still writing its outputs; lock \$log.lock" >&2
  echo 1 > "\$done_file.tmp" && mv -f "\$done_file.tmp" "\$done_file"
  exit 1
fi
finish() {
  echo "# Accounting: time=\$((\$(date +%s) - start)) threads=$num_threads" >> "\$log"
  echo "# Ended (code \$1) at \$(date)" >> "\$log"
  echo "\$1" > "\$done_file.tmp" && mv -f "\$done_file.tmp" "\$done_file"
}
{
  printf '# %s\\n' "\$cmd"
  echo "# Started at \$(date)"
  echo "# Running on \$(hostname) as Slurm job \${SLURM_ARRAY_JOB_ID:-?}_\$task"
} > "\$log"
start=\$(date +%s)
$gpu_check$run_cmd
echo '#' >> "\$log"
trap 'finish 143; exit 143' TERM INT
"\${run[@]}" bash -c "\$cmd" >> "\$log" 2>&1 < /dev/null &
wait \$!
ret=\$?
trap - TERM INT
finish \$ret
exit \$ret
EOF

open(my $sf, ">", "$script.tmp.$$") or die "$me: cannot write '$script': $!\n";
print $sf $script_text;
close($sf) or die "$me: error writing '$script': $!\n";
chmod(0755, "$script.tmp.$$");
rename("$script.tmp.$$", $script) or die "$me: cannot rename to '$script': $!\n";

# ---- submit ----
sub run_capture {    # run argv without a shell, capture stdout+stderr
  my @argv = @_;
  my $pid = open(my $fh, "-|");
  die "$me: fork failed: $!\n" unless defined $pid;
  if ($pid == 0) {
    open(STDERR, ">&", \*STDOUT);
    { no warnings 'exec'; exec { $argv[0] } @argv; }
    print "$me: cannot run $argv[0]: $!\n";
    close(STDOUT);
    POSIX::_exit(127);    # not exit: the END block belongs to slurm.pl itself
  }
  local $/;
  my $out = <$fh>;
  close($fh);
  return ($? >> 8, defined $out ? $out : "");
}

my $jobid;
{
  my $wait = 1;
  for my $try (1 .. 6) {
    my ($rc, $out) = run_capture(@sbatch);
    if ($rc == 0 && $out =~ m/^(\d+)/m) { $jobid = $1; last; }
    my $transient = $out =~ m/timed out|unable to contact|temporarily|try again|resource unavailable|connection refused/i;
    if (!$transient || $try == 6) {
      $out =~ s/\s+$//;
      die "$me: error submitting jobs (sbatch exit $rc):\n$out\n$me: command was: $sbatch_str\n";
    }
    sleep($wait);
    $wait *= 2;
  }
}

# ---- wait ----
# The write end stays open in slurm.pl alone; the guard cancels the array once it reads
# end-of-file (slurm.pl died without cancelling), and is killed when slurm.pl ends normally.
pipe(my $alive_r, my $alive_w) or die "$me: pipe failed: $!\n";
my $guard = start_guard(sub { close($alive_w); setsid(); },
                        sub { exec("scancel", $jobid); }, $alive_r);
close($alive_r);
END { kill("KILL", $guard) if $guard; }
my @tasks = ($jobstart .. $jobend);
my %done;    # task -> exit code
my $cancel = sub {
  my $sig = shift;
  system("scancel", $jobid);
  print STDERR "$me: caught SIG$sig, cancelled Slurm job $jobid\n";
  exit 1;
};
$SIG{INT} = $cancel;
$SIG{TERM} = $cancel;
$SIG{HUP} = $cancel;

sub log_of {
  my ($t) = @_;
  my $l = $logfile;
  $l =~ s/\Q$jobname\E/$t/g if defined $jobname;
  return $l;
}

my $sleep = 0.2;
my $last_check = time();
my $gone_since;
while (1) {
  for my $t (@tasks) {
    next if exists $done{$t};
    my $f = "$qdir/done.$jobid.$t";
    if (-f $f && open(my $d, "<", $f)) {
      my $code = <$d>;
      close($d);
      if (defined $code && $code =~ m/^(-?\d+)/) { $done{$t} = $1; unlink($f); }
    }
  }
  last if scalar(keys %done) == scalar(@tasks);
  # Every ~5 s (each second once it looked gone), ask Slurm whether the array still exists.
  if (time() - $last_check >= (defined $gone_since ? 1 : 5)) {
    $last_check = time();
    my ($rc, $out) = run_capture("squeue", "-h", "-r", "-j", $jobid, "-o", "%i %T");
    my $alive = ($rc == 0 && $out =~ m/\S/);
    my $gone = ($rc == 0 && $out !~ m/\S/) || $out =~ m/Invalid job id/i;
    if ($alive) {
      undef $gone_since;
    } elsif ($gone) {
      $gone_since = time() unless defined $gone_since;
      if (time() - $gone_since > 15) {    # allow for slow file systems
        for my $t (@tasks) {
          next if exists $done{$t};
          $done{$t} = "unknown";
          print STDERR "$me: task $t of Slurm job $jobid ended without a done file "
            . "(killed? time limit?); see " . log_of($t) . " and $qdir/$base.$t.out\n";
        }
        last;
      }
    }
  }
  sleep($sleep);
  $sleep = $sleep * 1.3 > 3 ? 3 : $sleep * 1.3;
}

my @failed = grep { $done{$_} ne "0" } @tasks;
if (@failed) {
  for my $t (@failed) {    # what the batch script itself said (a task refused by its lock)
    open(my $o, "<", "$qdir/$base.$t.out") or next;
    print STDERR grep { m/^\Q$me\E: / } <$o>;
    close($o);
  }
  print STDERR "$me: " . scalar(@failed) . " / " . scalar(@tasks) . " failed, log is in "
    . log_of($failed[0]) . "\n";
  exit 1;
}
exit 0;
