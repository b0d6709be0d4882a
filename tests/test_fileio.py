"""emorec.fileio: the one list reader's rules and the atomic writes."""
import os
import stat

import pytest

from emorec.fileio import DataDirError, atomic_dir, atomic_write, read_kv


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


