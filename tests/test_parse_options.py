"""utils/parse_options.sh: Kaldi option semantics, run through a real bash script."""
import re
import subprocess
import textwrap

import pytest

SCRIPT = textwrap.dedent("""\
    #!/usr/bin/env bash
    # Usage: demo.sh [options] <arg1> [<arg2>...]
    #  --foo-bar VALUE   a string
    #  --use-gpu BOOL    a boolean
    set -euo pipefail
    foo_bar=default
    use_gpu=false
    nj=4
    {help}
    . "{root}/utils/parse_options.sh"
    printf 'foo_bar=[%s]\\n' "$foo_bar"
    printf 'use_gpu=[%s]\\n' "$use_gpu"
    printf 'nj=[%s]\\n' "$nj"
    printf 'nargs=%s\\n' "$#"
    for a in "$@"; do printf 'arg=[%s]\\n' "$a"; done
    """)


@pytest.fixture
def demo(tmp_path, emorec_root):
    def make(help_line=""):
        p = tmp_path / "dir with space" / "demo.sh"
        p.parent.mkdir(exist_ok=True)
        p.write_text(SCRIPT.replace("{help}", help_line).replace("{root}", str(emorec_root)))
        p.chmod(0o755)
        return p

    def run(*args, help_line=""):
        p = make(help_line)
        return subprocess.run([str(p), *args], capture_output=True, text=True, cwd=tmp_path)
    return run


def parsed(out):
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line
                and not line.startswith("arg="))


def test_sets_existing_variables_and_stops_at_first_argument(demo):
    r = demo("--foo-bar", "x", "--nj=8", "--use-gpu", "true", "pos1", "--not-an-option")
    assert r.returncode == 0, r.stderr
    v = parsed(r.stdout)
    assert v["foo_bar"] == "[x]" and v["nj"] == "[8]" and v["use_gpu"] == "[true]"
    assert "arg=[pos1]" in r.stdout and "arg=[--not-an-option]" in r.stdout
    assert v["nargs"] == "2"


def test_value_with_spaces_and_quotes(demo):
    r = demo("--foo-bar", "a b  'c' \"d\" $HOME", "x y")
    assert r.returncode == 0, r.stderr
    assert "foo_bar=[a b  'c' \"d\" $HOME]" in r.stdout
    assert "arg=[x y]" in r.stdout


def test_unknown_option_fails_naming_it(demo):
    r = demo("--no-such-opt", "1", "a")
    assert r.returncode != 0
    assert "--no-such-opt" in r.stderr
    assert "foo_bar=" not in r.stdout


def test_boolean_must_stay_boolean(demo):
    r = demo("--use-gpu", "yes", "a")
    assert r.returncode != 0
    assert "--use-gpu" in r.stderr and "true" in r.stderr
    assert demo("--use-gpu", "false", "a").returncode == 0


def test_missing_value_fails(demo):
    r = demo("--foo-bar")
    assert r.returncode != 0 and "--foo-bar" in r.stderr


def test_config_applied_first_then_command_line(demo, tmp_path):
    conf = tmp_path / "my conf.conf"
    conf.write_text("# a comment\n--foo-bar=from config  # trailing comment\n\n--nj=2\n")
    # --config comes after --foo-bar, but the command line still wins
    r = demo("--foo-bar", "cli", "--config", str(conf), "a")
    assert r.returncode == 0, r.stderr
    v = parsed(r.stdout)
    assert v["foo_bar"] == "[cli]" and v["nj"] == "[2]"
    r = demo("--config", str(conf), "a")
    assert parsed(r.stdout)["foo_bar"] == "[from config]"


def test_config_errors_name_file_and_line(demo, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("--nj=3\n--bogus=1\n")
    r = demo("--config", str(conf), "a")
    assert r.returncode != 0
    assert "bad.conf:2" in r.stderr and "--bogus" in r.stderr
    r = demo("--config", str(tmp_path / "missing.conf"), "a")
    assert r.returncode != 0 and "missing.conf" in r.stderr


def test_help_prints_usage_header_and_exits_0(demo):
    r = demo("--help")
    assert r.returncode == 0
    assert "Usage: demo.sh [options]" in r.stdout and "--use-gpu BOOL" in r.stdout
    assert "foo_bar=" not in r.stdout
    r = demo("-h", help_line='help_message="Custom help text"')
    assert r.returncode == 0 and r.stdout.strip() == "Custom help text"


INIT_SCRIPT = textwrap.dedent("""\
    #!/usr/bin/env bash
    # Usage: init.sh [options] <in> <out>
    #   stage 3: the third stage
    set -euo pipefail
    . "{root}/utils/lib/script_init.sh"
    nj=4                 # parallel jobs
    frac=0.5
    # a comment of the script, not of frac
    mode=fast            # fast | slow
                         # (slow: careful)
    stage=0
    stop_stage=5
    . "$EMOREC_ROOT/utils/parse_options.sh"
    positional_args 2 "$@"
    check_enum mode fast slow
    stage_banner 3
    echo "nj=$nj frac=$frac mode=$mode in=$1 out=$2"
    """)


@pytest.fixture
def init_script(tmp_path, emorec_root, shell_env):
    p = tmp_path / "dir with space" / "init.sh"
    p.parent.mkdir()
    p.write_text(INIT_SCRIPT.replace("{root}", str(emorec_root)))
    p.chmod(0o755)

    def run(*args):
        return subprocess.run([str(p), *args], capture_output=True, text=True, cwd=tmp_path, env=shell_env)
    return run


def test_script_init_runs_and_logs_the_quoted_command(init_script):
    r = init_script("--nj", "2", "--frac=1e-3", "a b", "c")
    assert r.returncode == 0, r.stderr
    assert "nj=2 frac=1e-3 mode=fast in=a b out=c" in r.stdout
    assert r.stderr.splitlines()[-1].endswith(r"init.sh --nj 2 --frac=1e-3 a\ b c")
    banner = [ln for ln in r.stdout.splitlines() if ln.startswith("=== ")]
    assert len(banner) == 1 and banner[0].endswith("init.sh stage 3: the third stage")
    assert re.match(r"=== \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", banner[0])


@pytest.mark.parametrize("args, message", [
    (["a"], "expected 2 argument(s), got 1"),
    (["a", "b", "--nj", "3"], "option '--nj' after the positional arguments"),
    (["--nj", "x", "a", "b"], "option --nj: expected an integer, got 'x'"),
    (["--frac", "half", "a", "b"], "option --frac: expected a number, got 'half'"),
    (["--mode", "medium", "a", "b"], "--mode 'medium': expected one of: fast slow"),
    (["--emorec-root", "/", "a", "b"], "invalid option --emorec-root"),   # not an option
    (["--stage", "3", "--stop-stage", "1", "a", "b"], "--stage 3 is after --stop-stage 1: no stage would run"),
])
def test_script_init_checks(init_script, args, message):
    r = init_script(*args)
    assert r.returncode == 1, r.stderr
    assert message in r.stderr.strip().splitlines()[-1], r.stderr   # the error last, after any header
    assert "===" not in r.stdout


def test_script_init_help_lists_options_with_defaults_and_comments(init_script):
    r = init_script("--help")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0] == "Usage: init.sh [options] <in> <out>"
    opts = [ln.split() for ln in lines[lines.index("Options (default in brackets):") + 1:]]
    assert opts[:3] == [["--nj", "parallel", "jobs", "[4]"], ["--frac", "[0.5]"],
                        ["--mode", "fast", "|", "slow", "(slow:", "careful)", "[fast]"]]
