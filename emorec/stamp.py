"""The toolkit's one restart rule: a step skips its work only when the work was done
from the same inputs, options and code.

Every step that can be skipped (a Python entry point's ``--skip-done``, a shell step,
a local prep script, a training entry point) describes what produces its output as a
:class:`Stamp`:

- ``inputs``: files or directories. A file up to ``DIGEST_MAX`` bytes (lists, configs,
  transcripts) is known by the sha256 of its bytes, so a list rewritten with the same
  lines is the same input; a bigger one (arks, checkpoints) by its size, modification
  time and inode; a directory by each file below it. A file another step made brings
  that step's stamp, a wav.scp the audio files it names (size, mtime, inode).
- ``options``: the resolved config and the options that change the output, as
  JSON-able values.
- ``version``: a number the step bumps when its output changes meaning.

``begin()`` runs before the work: it removes the step's outputs (and, when the last run
had another fingerprint, its ``stale`` work such as checkpoints to resume from), then
writes the fingerprint to ``FINAL.stamp`` (atomically). The final output is written
last, atomically, by the work itself. So ``done()`` -- the stamp holds today's
fingerprint and every output exists -- is true only for outputs made from today's
inputs; existence alone never counts. ``done()`` logs either that the step is up to
date or which input, option or version changed.

The shell steps use the same rule through ``utils/lib/stamp.sh`` (emorec.bin.stamp).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Union

DIGEST_MAX = 4 << 20  # bytes; bigger inputs are known by size, mtime and inode

PathLike = Union[str, os.PathLike]
# Below a directory input, what later steps add without changing it: Kaldi's splits of a
# data dir (a function of its lists), logs, utils/fix_data_dir.sh's backups, temp dirs.
DERIVED_DIR = re.compile(r"split[0-9]+(utt)?|log|\.backup|.*\.tmp.*")
SPEED_ONLY = {"data": ("num_workers",), "train": ("num_threads",)}  # config keys that change speed only


def _paths(p) -> List[str]:
    if p is None:
        return []
    return [os.fspath(p)] if isinstance(p, (str, os.PathLike)) else [os.fspath(x) for x in p]


def file_identity(path: str) -> str:
    """``sha256:HEX`` of a small file's bytes, ``stat:SIZE:MTIME_NS:INODE`` of a big one."""
    if os.path.getsize(path) > DIGEST_MAX:
        return _stat_identity(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _stat_identity(path: str) -> str:
    st = os.stat(path)
    return f"stat:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


def _add_file(out: Dict[str, str], f: str) -> None:
    out[f] = file_identity(f)
    # Another step's output brings its stamp: made again from other inputs, it is
    # another input even where its bytes are the same (an scp pointing into a new ark).
    if os.path.isfile(f + ".stamp"):
        out[f + ".stamp"] = file_identity(f + ".stamp")
    # A wav.scp brings the audio files it names: a corpus rebuilt in the same place
    # leaves its wav.scp unchanged.
    if os.path.basename(f) == "wav.scp":
        with open(f, encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                parts = line.split(None, 1)
                if len(parts) == 2 and os.path.isfile(parts[1].strip()):
                    out[parts[1].strip()] = _stat_identity(parts[1].strip())


def input_identities(inputs: Iterable[PathLike]) -> Dict[str, str]:
    """``{path: identity}`` of files, and of each file below a directory
    (``DIR/REL``). A missing input is an error naming it."""
    out: Dict[str, str] = {}
    for p in _paths(inputs):
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not DERIVED_DIR.fullmatch(d))
                for name in sorted(files):
                    if not name.endswith((".stamp", ".tmp")):
                        _add_file(out, os.path.join(root, name))
        elif os.path.exists(p):
            _add_file(out, p)
        else:
            raise FileNotFoundError(f"{p}: missing input")
    return out


def _flat(d: Mapping, prefix: str = "") -> Dict[str, object]:
    out: Dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _show(v, width: int = 60) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) <= width else s[:width - 3] + "..."


def _grouped(what: str, paths: List[str]) -> List[str]:
    """One phrase for many paths (a corpus moved: its audio files)."""
    if len(paths) <= 1:
        return [f"{what} {p}" for p in paths]
    return [f"{what} {len(paths)} files under {os.path.commonpath(paths)}"]


def differences(old: Mapping, new: Mapping, limit: int = 3) -> List[str]:
    """What changed between two fingerprints, in words (the first ``limit`` changes)."""
    why: List[str] = []
    if old.get("step") != new.get("step"):
        why.append(f"step {old.get('step')!r} -> {new.get('step')!r}")
    if old.get("version") != new.get("version"):
        why.append(f"version {old.get('version')} -> {new.get('version')}")
    oo, no = _flat(old.get("options") or {}), _flat(new.get("options") or {})
    for k in sorted(set(oo) | set(no)):
        if oo.get(k, "<unset>") != no.get(k, "<unset>"):
            why.append(f"option {k}: {_show(oo.get(k, '<unset>'))} -> {_show(no.get(k, '<unset>'))}")
    oi, ni = old.get("inputs") or {}, new.get("inputs") or {}
    why += _grouped("new input", sorted(set(ni) - set(oi)))
    why += _grouped("input no longer used:", sorted(set(oi) - set(ni)))
    why += [f"input {k} changed" for k in sorted(set(oi) & set(ni)) if oi[k] != ni[k]]
    if len(why) > limit:
        why = why[:limit] + [f"{len(why) - limit} more"]
    return why


def config_options(cfg: Mapping) -> Dict[str, object]:
    """A resolved training config as a Stamp's options, less the keys that change only
    speed (a run resumed with other loader workers ends bit-identical)."""
    return {sec: ({k: v for k, v in val.items() if k not in SPEED_ONLY.get(sec, ())}
                  if isinstance(val, Mapping) else val) for sec, val in cfg.items()}


def options_of(args, *exclude: str) -> Dict[str, object]:
    """An argparse namespace's values as a Stamp's options, less ``exclude`` (the
    inputs and outputs, which the Stamp knows otherwise, and what does not change the
    output) and ``skip_done``."""
    return {k: v for k, v in vars(args).items() if k not in exclude and k != "skip_done"}


def _remove(p: str) -> None:
    if os.path.isdir(p) and not os.path.islink(p):
        shutil.rmtree(p)
    elif os.path.lexists(p):
        os.remove(p)


class Stamp:
    """The fingerprint of one step's run; ``final`` is its output written last (the
    stamp is ``FINAL.stamp``), ``outputs`` all it writes (removed by ``begin``)."""

    def __init__(self, final: PathLike, *, step: str, version: int, inputs=(),
                 options: Optional[Mapping] = None, outputs=None,
                 log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)):
        self.final = os.fspath(final)
        self.path = self.final + ".stamp"
        self.outputs = _paths(outputs) if outputs is not None else [self.final]
        if self.final not in self.outputs:
            self.outputs.append(self.final)
        self.step, self.log = step, log
        # JSON round trip: the stored and today's fingerprints compare alike (tuples, paths)
        self.fingerprint = json.loads(json.dumps(
            {"step": step, "version": version, "inputs": input_identities(inputs),
             "options": dict(options or {})}, sort_keys=True, default=str))

    def recorded(self) -> Optional[dict]:
        """The fingerprint of the last run started (None: none, or unreadable)."""
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def matches(self) -> bool:
        """The last run started had today's fingerprint (its work may be resumed)."""
        return self.recorded() == self.fingerprint

    def why_not_done(self) -> List[str]:
        """Empty when done; else the reasons, in words."""
        old = self.recorded()
        if old is None:
            return [f"no stamp {self.path}" if not os.path.exists(self.path) else f"unreadable stamp {self.path}"]
        why = differences(old, self.fingerprint)
        if not why and old != self.fingerprint:
            why = ["fingerprint differs"]
        missing = [p for p in self.outputs if not os.path.exists(p)]
        if not why and missing:
            why = [f"{missing[0]} missing (the last run did not finish)"]
        return why

    def done(self) -> bool:
        """True (logged as "up to date; skipping") when the outputs were made from
        today's fingerprint; else logs what changed."""
        why = self.why_not_done()
        if why:
            self.log(f"LOG: {self.step}: redoing {self.final}: {'; '.join(why)}")
            return False
        self.log(f"LOG: {self.step}: {self.final} is up to date; skipping (same inputs, options and version)")
        return True

    def begin(self, stale=()) -> None:
        """Before the work: remove the outputs (and ``stale`` when the last run had
        another fingerprint), then record today's fingerprint."""
        from emorec.fileio import atomic_write_text

        if not self.matches():
            for p in _paths(stale):
                _remove(p)
        for p in self.outputs:
            _remove(p)
        atomic_write_text(self.path, json.dumps(self.fingerprint, indent=1, sort_keys=True) + "\n")
