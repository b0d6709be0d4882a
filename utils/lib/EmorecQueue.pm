# The command line shared by utils/run.pl and utils/slurm.pl:
#   [JOB=1:N | JOB=K] <log-file> <command> [args...]
package EmorecQueue;
use strict;
use warnings;
use Exporter qw(import);
our @EXPORT_OK = qw(parse_job_args shell_quote);

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

1;
