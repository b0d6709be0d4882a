# The command line shared by utils/run.pl and utils/slurm.pl:
#   [JOB=1:N | JOB=K] <log-file> <command> [args...]
package EmorecQueue;
use strict;
use warnings;
use Exporter qw(import);
use IO::Select;
use POSIX ();
our @EXPORT_OK = qw(parse_job_args shell_quote start_guard);

# Parses (and removes) the job range, the log file and the command from @$argv.
# Returns ($jobname, $jobstart, $jobend, $logfile, $cmd); $jobname is undef without
# a range. Calls $usage when the command is missing; dies on a bad range or on an
# array whose log name lacks the job variable (its logs would overwrite each other).
sub parse_job_args {
  my ($me, $argv, $usage) = @_;
  my ($jobname, $jobstart, $jobend) = (undef, 1, 1);
  if (@$argv && $argv->[0] =~ m/^([A-Za-z_]\w*)=(\d+):(\d+)$/) {
    ($jobname, $jobstart, $jobend) = ($1, $2, $3);
    shift @$argv;
    die "$me: invalid job range $jobstart:$jobend\n" if $jobend < $jobstart;
  } elsif (@$argv && $argv->[0] =~ m/^([A-Za-z_]\w*)=(\d+)$/) {
    ($jobname, $jobstart, $jobend) = ($1, $2, $2);
    shift @$argv;
  }
  $usage->() if @$argv < 2;
  my $logfile = shift @$argv;
  if (defined $jobname && $jobend > $jobstart && index($logfile, $jobname) < 0) {
    die "$me: you are running a job array ($jobname=$jobstart:$jobend) but the log file "
      . "'$logfile' does not contain '$jobname'\n";
  }
  my $cmd = join(" ", map { shell_quote($_) } @$argv);
  return ($jobname, $jobstart, $jobend, $logfile, $cmd);
}

# Kaldi's rule with safe single-quoting: an argument with whitespace, a quote or a
# backslash is quoted; a single word such as "|" or ">" passes through, so pipes work.
sub shell_quote {
  my ($x) = @_;
  return "''" if $x eq "";
  return $x if $x !~ m/[\s'"\\]/;
  $x =~ s/'/'\\''/g;
  return "'$x'";
}

# Forks a guard process that runs $action once any process holding the write end of
# one of the pipes @read_ends has died, however it died (kill -9 included: the pipe
# then reads end-of-file). $setup runs first in the guard (e.g. to leave the caller's
# process group so that a signal to that group does not take the guard with it).
# The guard ignores INT/TERM/HUP (only the death it watches sets it off; SIGKILL
# disarms it) and lets go of the caller's standard streams. Returns the guard's pid.
sub start_guard {
  my ($setup, $action, @read_ends) = @_;
  my $pid = fork();
  die "cannot fork a guard process: $!\n" unless defined $pid;
  return $pid if $pid;
  $SIG{INT} = $SIG{TERM} = $SIG{HUP} = 'IGNORE';
  open(STDIN, "<", "/dev/null");
  open(STDOUT, ">", "/dev/null");
  open(STDERR, ">", "/dev/null");
  $setup->();
  my $sel = IO::Select->new(@read_ends);
  my $buf;
  WATCH: while (1) {
    for my $fh ($sel->can_read()) {
      last WATCH unless sysread($fh, $buf, 64);
    }
  }
  $action->();
  POSIX::_exit(0);
}

1;
