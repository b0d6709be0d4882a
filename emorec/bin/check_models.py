"""Pre-flight check of every pretrained model a run will load (emorec.pretrained): prints
one line per model, "ROLE: WHAT NAME (where it is)", and exits 1 after naming every one
that is missing, where it was looked for and how to fetch it.

  python -m emorec.bin.check_models --text-config conf/text_paper.yaml --ssl-config conf/ssl_paper.yaml \\
      --joint-config conf/joint_paper.yaml [--text-model M] [--ssl-model M] [--asr-model M] [--config F ...]

ROLE is text, ssl, joint, asr, or a config's file name (its weight files). A text config
whose model.encoder is null (and no --text-model) means the demo BERT built per fold:
"text: encoder built per fold". The recipes (egs/iemocap, egs/emo7) run it before stage 0
and print its lines in their dry runs.
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m emorec.bin.check_models", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text-config", help="the BERT text model's YAML (model.encoder)")
    ap.add_argument("--ssl-config", help="the SSL model's YAML (model.encoder)")
    ap.add_argument("--joint-config", help="the joint model's YAML (model.encoder, model.text_encoder)")
    ap.add_argument("--text-model", default="", help="replaces the configs' BERT")
    ap.add_argument("--ssl-model", default="", help="replaces the configs' SSL encoder")
    ap.add_argument("--asr-model", default="", help="a Whisper dir or cached name (pocketsphinx: nothing to check)")
    ap.add_argument("--config", action="append", default=[], help="any other YAML: its model.*weights files")
    a = ap.parse_args(argv)
    from emorec import pretrained

    prog = "check_models"
    try:
        needs = pretrained.needs(a.text_config, a.ssl_config, a.joint_config, a.text_model, a.ssl_model,
                                 a.asr_model, a.config)
    except (OSError, ValueError) as e:
        print(f"{prog}: ERROR: {e}", file=sys.stderr)
        return 1
    missing = {}   # message -> Need: a model given once (--ssl-model) is named once
    for need in needs:
        where = pretrained.locate(need)
        if where is None:
            missing.setdefault(pretrained.missing_message(need), need)
        else:
            print(f"{need.role}: {need.what} {need.name} ({where})")
    if a.text_config and not any(n.role == "text" for n in needs):
        print("text: encoder built per fold from the fold's train transcripts")
    for message in missing:
        print(f"{prog}: ERROR: {message}", file=sys.stderr)
    if missing:
        total = len({(n.what, n.name, n.origin) for n in needs})
        print(f"{prog}: {len(missing)} of the {total} pretrained models this run loads are missing "
              f"(nothing was run)", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
