"""The toolkit's file formats, and the one way every output file is written.

- Text inputs (lists, labels, configs, class lists) are read as strict UTF-8 through
  :func:`open_text` / :func:`read_text`: a byte that is not UTF-8 is an error naming
  ``file:line``.
- Kaldi lists (``KEY VALUE...`` a line: wav.scp, utt2spk, text, utt2emo, feats.scp, ...):
  :func:`read_kv` / :func:`write_kv`. One rule for every reader: an empty line is an
  error naming ``file:line`` (Kaldi's validate_data_dir.sh rejects them too), as is a
  duplicate key or a key without a value (unless the list allows empty values, as
  ``text`` does). Written lists are sorted by key in byte order (``LC_ALL=C``).
- Labels: :func:`class_index` maps label names to class indices once for every
  model family, scorer and report; :func:`check_labels` checks a label list against
  a recipe's class set, naming ``file:line``.
- Class scores: per-utterance natural-log posteriors as a kaldiio *text* ark
  (``utt  [ v1 v2 ... ]``) with ``classes.txt`` beside it (one class name a line):
  :func:`read_scores` / :func:`write_scores`.
- Atomic outputs: :func:`atomic_write` (a file) and :func:`atomic_dir` (a directory)
  write to a temporary name beside the target and rename it into place only when
  the writing succeeded, so a killed or failed job never leaves a file that a rerun
  would trust (a failed write removes its temporary file).
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Sequence, Tuple, Union

import numpy as np


class DataDirError(ValueError):
    """Malformed Kaldi list; the message names the file and line."""


# ------------------------------------------------------------------ atomic writes

@contextmanager
def atomic_write(path, mode: str = "w", encoding: str | None = "utf-8", fsync: bool = False):
    """Open ``PATH.tmp`` for writing; rename it to PATH when the block succeeds,
    remove it when the block raises. ``fsync`` flushes to disk before the rename
    (checkpoints)."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    kw = {} if "b" in mode else {"encoding": encoding, "newline": "\n",
                                 "errors": "surrogateescape"}
    try:
        with open(tmp, mode, **kw) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.remove(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise with_path(e, path) from None
        raise


def with_path(e: OSError, path) -> OSError:
    """``e`` naming ``path`` when it names no file: a write() or flush() to an open file
    that fails (disk full, quota) raises an OSError without a file name."""
    if e.filename is not None or e.errno is None:
        return e
    return OSError(e.errno, e.strerror or str(e), os.fspath(path))


def atomic_write_text(path, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text)


@contextmanager
def atomic_dir(out_dir):
    """Yield a temporary directory beside ``out_dir`` that replaces it on success and
    is removed on failure."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".tmp", dir=out_dir.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a model dir is as any other dir
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ------------------------------------------------------------------ Kaldi lists

def byte_key(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def sort_keys(keys: Iterable[str]) -> List[str]:
    """Keys in byte order (``LC_ALL=C``)."""
    return sorted(keys, key=byte_key)


def fold_sort_key(name: str):
    """Natural order of fold names: fold2 before fold10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


@contextmanager
def open_text(path):
    """Open a text input (a Kaldi list, label file, config, class list) as strict UTF-8.
    A byte that is not UTF-8 raises DataDirError naming ``path:line`` (left to the
    decoder, it would surface later as a surrogate, a tokenizer error or a wrong class)."""
    try:
        with open(path, encoding="utf-8") as f:
            yield f
    except UnicodeDecodeError:
        check_utf8(path)
        raise


def read_text(path) -> str:
    """The whole text of ``path`` (strict UTF-8, see open_text)."""
    with open_text(path) as f:
        return f.read()


def read_kv(path, allow_empty_value: bool = False) -> Dict[str, str]:
    """Read a Kaldi list into ``{key: rest-of-line}`` (insertion = file order).

    Raises DataDirError naming ``path:line`` on bytes that are not UTF-8, an empty
    line, a duplicate key or (unless ``allow_empty_value``) a key without a value.
    """
    out: Dict[str, str] = {}
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.strip().split(None, 1)
            if not parts:
                raise DataDirError(f"{path}:{n}: empty line")
            key = parts[0]
            val = parts[1].strip() if len(parts) > 1 else ""
            if not val and not allow_empty_value:
                raise DataDirError(f"{path}:{n}: key '{key}' has no value")
            if key in out:
                raise DataDirError(f"{path}:{n}: duplicate key '{key}'")
            out[key] = val
    return out


def check_utf8(path) -> None:
    """Raise DataDirError naming ``path:line`` at the first line that is not UTF-8."""
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataDirError(f"{path}:{n}: bytes that are not UTF-8 "
                                   f"({line[e.start:e.end]!r} at byte {e.start} of the line)") from None


def read_key_list(path) -> List[str]:
    """The first field of every line (an utterance list); same line rules as read_kv."""
    return list(read_kv(path, allow_empty_value=True))


def write_kv(path, entries: Union[Mapping[str, str], Iterable[Tuple[str, str]]]) -> None:
    """Write ``KEY VALUE`` lines sorted by key (byte order), atomically."""
    items = list(entries.items()) if isinstance(entries, Mapping) else list(entries)
    seen = set()
    for k, v in items:
        if not k or any(c.isspace() for c in k):
            raise DataDirError(f"{path}: bad key {k!r} (empty or contains whitespace)")
        if k in seen:
            raise DataDirError(f"{path}: duplicate key '{k}'")
        if "\n" in str(v) or "\r" in str(v):
            raise DataDirError(f"{path}: value of '{k}' contains a newline")
        seen.add(k)
    items.sort(key=lambda kv: byte_key(kv[0]))
    write_lines(path, [f"{k} {v}".rstrip() for k, v in items])


def write_lines(path, lines: Iterable[str]) -> None:
    """Write lines as given (no sorting), atomically."""
    with atomic_write(path) as f:
        for line in lines:
            f.write(line + "\n")


# ------------------------------------------------------------------ labels

def class_index(labels: Sequence[str], classes: Sequence[str], where: str = "") -> np.ndarray:
    """Class indices of ``labels`` in ``classes``; a label outside them is an error."""
    idx = {c: i for i, c in enumerate(classes)}
    bad = sorted({lab for lab in labels if lab not in idx})
    if bad:
        raise ValueError(f"{where}: labels {bad} not in classes {list(classes)}")
    return np.array([idx[lab] for lab in labels], dtype=np.int64)


def check_labels(path, classes: Sequence[str]) -> None:
    """A label list (utt2emo) holds only names of ``classes``, the recipe's class set:
    an unknown label is an error naming ``path:line`` (it would become a class)."""
    known = set(classes)
    with open_text(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if len(parts) >= 2 and parts[1] not in known:
                raise DataDirError(f"{path}:{n}: label '{parts[1]}' of '{parts[0]}' is not one "
                                   f"of the classes {' '.join(classes)}")


def read_labels(path, utts: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Class indices of ``utts`` from a label list (utt2emo); every utt must have one."""
    lab = read_kv(path)
    missing = [u for u in utts if u not in lab]
    if missing:
        raise ValueError(f"{path}: no label for {len(missing)} scored utterances (e.g. {missing[:3]})")
    return class_index([lab[u] for u in utts], classes, str(path))


# ------------------------------------------------------------------ class scores

@dataclass
class Scores:
    utts: List[str]
    mat: np.ndarray          # [N, C] float64
    classes: List[str]
    source: str = ""


def read_classes(path) -> List[str]:
    with open_text(path) as f:
        classes = [ln.strip() for ln in f if ln.strip()]
    if not classes:
        raise ValueError(f"{path}: no classes")
    if len(set(classes)) != len(classes):
        raise ValueError(f"{path}: duplicate class names")
    return classes


def write_classes(path, classes: Sequence[str]) -> None:
    atomic_write_text(path, "".join(f"{c}\n" for c in classes))


def read_scores(ark_path, classes_path=None) -> Scores:
    """Read a text ark of log-posteriors and the ``classes.txt`` beside it."""
    import kaldiio

    ark_path = Path(ark_path)
    if not ark_path.is_file():
        raise FileNotFoundError(f"{ark_path}: no such score file")
    classes_path = Path(classes_path) if classes_path else ark_path.parent / "classes.txt"
    if not classes_path.is_file():
        raise FileNotFoundError(f"{classes_path}: no classes.txt beside {ark_path}")
    classes = read_classes(classes_path)
    d: Dict[str, np.ndarray] = {}
    for utt, vec in kaldiio.load_ark(str(ark_path)):
        if utt in d:
            raise ValueError(f"{ark_path}: duplicate utterance {utt!r}")
        v = np.asarray(vec, dtype=np.float64).reshape(-1)
        if v.size != len(classes):
            raise ValueError(
                f"{ark_path}: utterance {utt!r} has {v.size} scores but {classes_path} lists "
                f"{len(classes)} classes"
            )
        d[utt] = v
    utts = sorted(d)
    mat = np.stack([d[u] for u in utts]) if utts else np.zeros((0, len(classes)))
    if not np.all(np.isfinite(mat)):
        raise ValueError(f"{ark_path}: non-finite scores")
    return Scores(utts, mat, classes, str(ark_path))


def write_scores(ark_path, utts: Sequence[str], mat: np.ndarray, classes: Sequence[str]) -> None:
    """Write a text ark (+ classes.txt beside it) atomically; utterances in byte order."""
    import kaldiio

    ark_path = Path(ark_path)
    mat = np.asarray(mat, dtype=np.float32)
    if mat.shape != (len(utts), len(classes)):
        raise ValueError(f"{ark_path}: score matrix {mat.shape} vs {len(utts)} utts x {len(classes)} classes")
    order = sorted(range(len(utts)), key=lambda i: byte_key(utts[i]))
    write_classes(ark_path.parent / "classes.txt", classes)
    with atomic_write(ark_path, "wb") as f:  # the ark last: its presence marks the scores done
        kaldiio.save_ark(f, {utts[i]: mat[i] for i in order}, text=True)
