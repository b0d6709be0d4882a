"""utils/parse_options.sh: Kaldi option semantics, run through a real bash script."""
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
