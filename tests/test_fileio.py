"""emorec.fileio: the one list reader's rules and the atomic writes."""
import os
import stat

import pytest

from emorec.fileio import (DataDirError, atomic_dir, atomic_write, check_labels, read_classes, read_kv,
                           read_text)


def test_read_kv_names_file_and_line(tmp_path):
    p = tmp_path / "utt2emo"
    p.write_text("a ang\n\nb hap\n")
    with pytest.raises(DataDirError, match=r"utt2emo:2: empty line"):
        read_kv(p)
    p.write_text("a ang\na hap\n")
    with pytest.raises(DataDirError, match=r"utt2emo:2: duplicate key 'a'"):
        read_kv(p)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write("half")
            raise RuntimeError("killed")
    assert not target.exists() and not (tmp_path / "out.txt.tmp").exists()


def test_atomic_dir_has_the_umask_mode_not_0700(tmp_path):
    """Model directories were created 0700 (mkdtemp's mode): unreadable by the group."""
    old = os.umask(0o022)
    try:
        with atomic_dir(tmp_path / "model") as d:
            (d / "config.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "model").stat().st_mode) == 0o755
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


LATIN1_LINE = b"s1-u2 /data/caf\xe9.wav\n"


def _non_utf8(path, line2=LATIN1_LINE):
    path.write_bytes(b"s1-u1 /data/a.wav\n" + line2 + b"s1-u3 /data/c.wav\n")
    return path


@pytest.mark.parametrize("reader", [read_kv, read_classes, read_text], ids=["read_kv", "read_classes", "read_text"])
def test_every_reader_names_file_and_line_of_non_utf8_bytes(tmp_path, reader):
    p = _non_utf8(tmp_path / "list")
    with pytest.raises(DataDirError, match=rf"^{p}:2: bytes that are not UTF-8 \(b'\\xe9' at byte 15"):
        reader(p)


def test_yaml_config_not_utf8_named_with_line(tmp_path):
    from emorec.train.config import ConfigError, load_config
    from emorec.train.speech import SCHEMA

    p = tmp_path / "c.yaml"
    p.write_bytes(b"train:\n  epochs: 2\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=rf"^{p}:3: bytes that are not UTF-8"):
        load_config(SCHEMA, str(p))


def test_check_labels_rejects_a_label_outside_the_class_set(tmp_path):
    p = tmp_path / "utt2emo"
    p.write_text("a ang\nb hap\nc angr\n")
    with pytest.raises(DataDirError, match=rf"^{p}:3: label 'angr' of 'c' is not one of the classes ang hap"):
        check_labels(p, ["ang", "hap"])
    p.write_bytes(b"a ang\nb h\xe4p\n")
    with pytest.raises(DataDirError, match=rf"^{p}:2: bytes that are not UTF-8"):
        check_labels(p, ["ang", "hap"])


def test_atomic_write_names_the_file_a_failed_write_was_for(tmp_path):
    """A write() that fails (a full disk) raises an OSError without a file name."""
    target = tmp_path / "out.txt"
    with pytest.raises(OSError) as e:
        with atomic_write(target) as f:
            f.write("x")
            raise OSError(28, "No space left on device")
    assert e.value.filename == str(target) and e.value.errno == 28
    assert not (tmp_path / "out.txt.tmp").exists()
