#!/usr/bin/env perl
# utils/run.pl -- run a command (or an array of jobs) locally, Kaldi style.
#
# Usage: run.pl [options] [JOB=1:N] <log-file> <command> [args...]
#   e.g. run.pl --max-jobs-run 4 JOB=1:8 exp/log/train.JOB.log python -m x --part JOB
#
# Options (both "--opt value" and "--opt=value"):
#   --max-jobs-run N   run at most N jobs at once (default: number of CPUs)
#   --num-threads T    recorded in the log's accounting line
#   --lock-wait S      seconds to wait for another live job writing the same log
#   --gpu G            the log's first lines say how many CUDA devices torch sees
#                      (emorec.bin.check_gpu; CUDA_VISIBLE_DEVICES is left alone)
#   --require-gpu B    true: with --gpu G > 0 and fewer devices visible, the jobs fail
#                      instead of running on CPU (default false)
#   --nodes N          1 only (slurm.pl --nodes N spans nodes)
#   --mem M, --time T, --config F
#                      accepted for compatibility with slurm.pl; ignored locally
#   other "--opt value" pairs are accepted and ignored, as Kaldi's run.pl does.
#
# JOB=1:N (any variable name, e.g. SPLIT=2:5) runs one job per value, substituting
# the name in the log file name and the command; JOB=3 runs a single job.
# Each log holds "# <command>", "# Started at <date>", "#", the output, then
# "# Accounting: time=<s> threads=<T>" and "# Ended (code <rc>) at <date>".
# A job dies with the run.pl that started it, however run.pl dies (kill -9 of its
# process group included): a guard process in the job's own process group kills that
# group when run.pl goes. A job holds an flock on "<log-file>.lock" while it runs
# (the lock passes to the job's processes, so the kernel releases it when the last
# of them exits): a rerun waits up to --lock-wait seconds (default 10) for a live
# job with the same log, then refuses to start it (the job counts as failed).
# Arguments containing whitespace or quotes are quoted for bash; single-word
# arguments such as "|" or ">" are passed through unquoted so pipes work.
# Exit status 0 if all jobs succeed, else 1 with
# "run.pl: N / M failed, log is in <first failed log>".
use strict;
use warnings;
use File::Path qw(make_path);
use File::Basename qw(dirname);
use Fcntl qw(:flock F_SETFD);
use POSIX qw(:sys_wait_h setpgid);
use Time::HiRes qw(sleep time);
use FindBin qw($RealBin);
use lib "$RealBin/lib";
use EmorecQueue qw(parse_job_args start_guard);

my $me = "run.pl";
my $max_jobs_run = -1;
my $num_threads = 1;
my $lock_wait = 10;
my $gpu = 0;
my $require_gpu = "false";

sub usage {
  die "Usage: $me [--max-jobs-run N] [--num-threads T] [--lock-wait S] [--gpu G] [--mem M] [--time T] "
    . "[--config F] [JOB=1:N] <log-file> <command> [args...]\n";
}

while (@ARGV && $ARGV[0] =~ m/^--?[A-Za-z]/) {
  my $opt = shift @ARGV;
  my $val;
  if ($opt =~ m/^(--[^=]+)=(.*)$/s) { ($opt, $val) = ($1, $2); }
  else { usage() unless @ARGV; $val = shift @ARGV; }
  $opt =~ s/_/-/g;
  if ($opt eq "--max-jobs-run") {
    $val =~ m/^\d+$/ && $val > 0 or die "$me: --max-jobs-run needs a positive integer, got '$val'\n";
    $max_jobs_run = $val;
  } elsif ($opt eq "--num-threads") {
    $val =~ m/^\d+$/ && $val > 0 or die "$me: --num-threads needs a positive integer, got '$val'\n";
    $num_threads = $val;
  } elsif ($opt eq "--lock-wait") {
    $val =~ m/^\d+(\.\d*)?$/ or die "$me: --lock-wait needs a number of seconds, got '$val'\n";
    $lock_wait = $val;
  } elsif ($opt eq "--gpu") {
    $val =~ m/^\d+$/ or die "$me: --gpu needs a number of GPUs, got '$val'\n";
    $gpu = $val;
  } elsif ($opt eq "--require-gpu") {
    $val =~ m/^(true|false)$/ or die "$me: --require-gpu needs true or false, got '$val'\n";
    $require_gpu = $val;
  } elsif ($opt eq "--nodes") {
    $val eq "1" or die "$me: --nodes $val: run.pl runs jobs on this machine only; slurm.pl --nodes N spans nodes\n";
  } elsif ($opt =~ m/^--(mem|time|config)$/) {
    # accepted, ignored locally
  } else {
    # Kaldi's run.pl silently ignores queue options it does not use.
  }
}

my ($jobname, $jobstart, $jobend, $logfile, $cmd) = parse_job_args($me, \@ARGV, \&usage);

if ($max_jobs_run <= 0) {
  my $n = `nproc 2>/dev/null`;
  chomp $n;
  $max_jobs_run = ($n =~ m/^\d+$/ && $n > 0) ? $n : 1;
}

# What the GPU jobs' logs say first: the devices torch sees (checked once for all jobs),
# and whether --require-gpu stops them.
my ($gpu_note, $gpu_refused) = ("", 0);
if ($gpu > 0) {
  my @check = ("python", "-m", "emorec.bin.check_gpu", "--asked", $gpu);
  push @check, "--require" if $require_gpu eq "true";
  open(my $ch, "-|", @check) or die "$me: cannot run @check: $!\n";
  $gpu_note = join("", <$ch>);
  close($ch);
  $gpu_refused = $? != 0;
  $gpu_note = "# GPUs: asked for $gpu; @check failed (exit " . ($? >> 8) . ")\n" if $gpu_note eq "";
}

sub subst {
  my ($s, $id) = @_;
  $s =~ s/\Q$jobname\E/$id/g if defined $jobname;
  return $s;
}

# Its write end stays open in run.pl alone: the job guards see end-of-file when run.pl dies.
pipe(my $run_alive_r, my $run_alive_w) or die "$me: pipe failed: $!\n";

sub date_str { my $d = `date`; $d = scalar(localtime) . "\n" if $d eq ""; return $d; }

# The open, flocked "<log>.lock" of job $id, or undef (after saying why) when another
# live job still holds it after --lock-wait seconds.
sub lock_job {
  my ($id, $log) = @_;
  my $lockfile = "$log.lock";
  open(my $lk, "+>>", $lockfile) or do { print STDERR "$me: cannot open '$lockfile': $!\n"; return; };
  my $deadline = time() + $lock_wait;
  until (flock($lk, LOCK_EX | LOCK_NB)) {
    if (!$!{EWOULDBLOCK}) {    # a file system without locks: run unguarded, say so
      print STDERR "$me: WARNING: cannot lock '$lockfile' ($!); job $id runs without its lock\n";
      last;
    }
    if (time() >= $deadline) {
      seek($lk, 0, 0);
      my $holder = <$lk>;
      $holder = "?" unless defined $holder && $holder =~ m/^\d+$/;
      chomp $holder;
      print STDERR "$me: job $id not started: another live job (pid $holder) is still "
        . "writing its outputs; lock $lockfile\n";
      return;
    }
    sleep(0.2);
  }
  return $lk;
}

# Runs in a forked child: one job, returns its exit code.
sub run_one {
  my ($id) = @_;
  close($run_alive_w);
  my $log = subst($logfile, $id);
  my $c = subst($cmd, $id);
  my $dir = dirname($log);
  make_path($dir) unless -d $dir;
  my $lock = lock_job($id, $log) or return 1;
  open(my $fh, ">", $log) or do { print STDERR "$me: cannot write log file '$log': $!\n"; return 1; };
  print $fh "# $c\n# Started at " . date_str() . $gpu_note . "#\n";
  my $start = time();
  if ($gpu_refused) {
    print $fh "# Accounting: time=0 threads=$num_threads\n# Ended (code 1) at " . date_str();
    close($fh);
    return 1;
  }
  close($fh);
  # The job's process group is the guard's: a signal to it reaches the whole job, and
  # the guard kills it when this process or run.pl dies.
  pipe(my $job_alive_r, my $job_alive_w) or die "$me: pipe failed: $!\n";
  my $guard = start_guard(sub { close($job_alive_w); setpgid(0, 0); },
                          sub { kill("KILL", -getpgrp()); },
                          $job_alive_r, $run_alive_r);
  setpgid($guard, $guard);
  close($job_alive_r);
  my $pid = fork();
  die "$me: fork failed: $!\n" unless defined $pid;
  if ($pid == 0) {
    setpgid(0, $guard);
    fcntl($lock, F_SETFD, 0);    # the job's processes keep the lock until they are gone
    open(STDIN, "<", "/dev/null") if -t STDIN;
    open(STDOUT, ">>", $log) or die "$me: cannot append to '$log': $!\n";
    open(STDERR, ">&", \*STDOUT) or die;
    exec("bash", "-c", $c) or do { print STDERR "$me: cannot run bash: $!\n"; POSIX::_exit(127); };
  }
  truncate($lock, 0);
  syswrite($lock, "$pid\n");    # names the holder for a rerun that finds the lock taken
  my $stop = sub {
    my $sig = shift;
    kill("TERM", -$guard);
    waitpid($pid, 0);
    if (open(my $f, ">>", $log)) {
      print $f "# Accounting: time=" . int(time() - $start) . " threads=$num_threads\n";
      print $f "# Ended (code 143, killed by SIG$sig) at " . date_str();
      close($f);
    }
    POSIX::_exit(143);
  };
  local $SIG{TERM} = $stop;
  local $SIG{INT} = $stop;
  local $SIG{HUP} = $stop;
  waitpid($pid, 0);
  my $status = $?;
  my $code = ($status & 127) ? 128 + ($status & 127) : ($status >> 8);
  open($fh, ">>", $log) or return 1;
  print $fh "# Accounting: time=" . int(time() - $start) . " threads=$num_threads\n";
  print $fh "# Ended (code $code) at " . date_str();
  close($fh);
  return $code;
}

my %running;    # pid -> job id
my %failed;     # job id -> code
my @ids = ($jobstart .. $jobend);
my $interrupted = 0;
my $on_signal = sub {
  my $sig = shift;
  $interrupted = $sig;
  kill("TERM", $_) for keys %running;
};
$SIG{INT} = $on_signal;
$SIG{TERM} = $on_signal;
$SIG{HUP} = $on_signal;

sub reap_one {
  my $pid = waitpid(-1, 0);
  return if $pid <= 0;
  if (exists $running{$pid}) {
    my $id = delete $running{$pid};
    my $code = $? >> 8;
    $code = 128 + ($? & 127) if ($? & 127);
    $failed{$id} = $code if $code != 0;
  }
}

for my $id (@ids) {
  last if $interrupted;
  reap_one() while scalar(keys %running) >= $max_jobs_run;
  last if $interrupted;
  my $pid = fork();
  die "$me: fork failed: $!\n" unless defined $pid;
  if ($pid == 0) {
    $SIG{INT} = $SIG{TERM} = $SIG{HUP} = 'DEFAULT';
    POSIX::_exit(run_one($id) ? 1 : 0);
  }
  $running{$pid} = $id;
}
reap_one() while %running;

if ($interrupted) {
  print STDERR "$me: interrupted by SIG$interrupted\n";
  exit 1;
}
my $njobs = scalar(@ids);
my $nfailed = scalar(keys %failed);
if ($nfailed > 0) {
  my ($first) = sort { $a <=> $b } keys %failed;
  print STDERR "$me: $nfailed / $njobs failed, log is in " . subst($logfile, $first) . "\n";
  exit 1;
}
exit 0;
