"""What the per-fold training entry points (emorec.bin.train_text, emorec.bin.train_ssl)
share: their common options, and turning them into a config (schema-checked, the
encoders given on the command line put in, nothing null left where a model is needed)
or an early exit (--show-encoder, a fold already done by the restart rule of emorec.stamp,
a config error)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple


def add_fold_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="config override (repeatable)")
    ap.add_argument("--classes", help="class order file; default: sorted labels of train+dev")
    ap.add_argument("--seed", type=int, help="overrides train.seed")
    ap.add_argument("--ngpu", type=int, default=1, help="0: CPU; 1: CUDA when visible")
    ap.add_argument("--num-threads", type=int, default=0, help="torch CPU threads (0: train.num_threads)")
    ap.add_argument("--show-encoder", action="store_true", help="print the selected encoder and exit")
    ap.add_argument("--check-encoders", action="store_true",
                    help="check that every encoder the config and options name loads offline (its "
                         "config: a local dir or the Hugging Face cache), print them and exit; "
                         "one that does not fails naming it")
    ap.add_argument("fold_data_dir", nargs="?")
    ap.add_argument("exp_dir", nargs="?")


def check_encoders(prog: str, cfg: dict, config_path: Optional[str],
                   encoders: Dict[str, Tuple[Optional[str], str]]) -> int:
    """0 when every encoder named in cfg's model section is there offline (a local
    directory or the Hugging Face cache: emorec.pretrained), else 1 after naming the first
    that is not."""
    from emorec.pretrained import Need, locate, missing_message

    for key, (given, opt) in encoders.items():
        name = cfg["model"][key]
        origin = opt if given else f"model.{key} of {config_path or 'the config'}"
        need = Need("", key.replace("_", " "), name, origin, opt)
        if locate(need) is None:
            print(f"{prog}: ERROR: {missing_message(need)}", file=sys.stderr)
            return 1
        print(f"{key} {name}")
    return 0


def fold_config(prog: str, schema: dict, a, ap: argparse.ArgumentParser,
                encoders: Dict[str, Tuple[Optional[str], str]]) -> Tuple[Optional[int], Optional[dict]]:
    """``encoders`` maps a model.KEY to (the value given on the command line, its option).
    Returns (exit status, None) to stop now, or (None, config) to train."""
    from emorec.stamp import Stamp, config_options, options_of
    from emorec.train.config import ConfigError, load_config

    try:
        cfg = load_config(schema, a.config, a.set)
    except ConfigError as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1, None
    for key, (given, _) in encoders.items():
        if given:
            cfg["model"][key] = given
    if a.show_encoder:
        print(cfg["model"]["encoder"] or "")
        return 0, None
    if not a.check_encoders and not (a.fold_data_dir and a.exp_dir):
        ap.error("FOLD_DATA_DIR and EXP_DIR are required")
    for key, (_, opt) in encoders.items():
        if not cfg["model"][key]:
            print(f"{prog}: ERROR: no {key.replace('_', ' ')}: {a.config or 'the config'} has model.{key} "
                  f"null and no {opt} was given", file=sys.stderr)
            return 1, None
    if a.check_encoders:
        return check_encoders(prog, cfg, a.config, encoders), None
    if a.seed is not None:
        cfg["train"]["seed"] = a.seed
    if a.num_threads > 0:
        cfg["train"]["num_threads"] = a.num_threads
    # the fold is done when trained from the same data, encoders, config and options
    local_encoders = [cfg["model"][k] for k in encoders if Path(cfg["model"][k]).is_dir()]
    try:
        stamp = Stamp(Path(a.exp_dir) / "test.logpost.ark", step=prog, version=1, log=print,
                      inputs=[a.fold_data_dir] + ([a.classes] if a.classes else []) + local_encoders,
                      options={"config": config_options(cfg),
                               **options_of(a, "fold_data_dir", "exp_dir", "classes", "set", "config",
                                            "num_threads", "ngpu")})
    except FileNotFoundError as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1, None
    if stamp.done():
        return 0, None
    stamp.begin(stale=[Path(a.exp_dir) / "train"])
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    return None, cfg
