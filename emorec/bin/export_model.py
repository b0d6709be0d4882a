"""Export a recipe's trained fold models as one self-contained model directory (emorec.package).

Usage: python -m emorec.bin.export_model [options] EXP_DIR OUT_DIR
  e.g. python -m emorec.bin.export_model --fbank-config conf/fbank.conf --folds "1 2 3 4 5" \\
         --results RESULTS.md exp/exp3 exp/exp3/demo_model
"""
from __future__ import annotations

import argparse
import sys

from emorec.inference import InferError
from emorec.package import FUSION_FILES, export_model, export_system


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.export_model", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--system", help="export this one system of EXP_DIR, of any model family (e.g. joint: "
                   "paper 004's HuBERT+BERT), with its preprocessing, instead of the late fusion below")
    p.add_argument("--system-dir", help="with --system: the dir of its foldK dirs [EXP_DIR/SYSTEM]")
    p.add_argument("--corpus-roots", help="the data prep's corpus_roots file: README.md names the corpus "
                                          "the models were trained on from it (emorec.report.describe_corpus)")
    p.add_argument("--noise-reduction", choices=("true", "false"), default="false",
                   help="with --system: the recipe gated out stationary noise before silence removal "
                        "(egs/emo7 --noise-reduction); the package does the same [false]")
    p.add_argument("--trim-silence", choices=("true", "false"), default="true",
                   help="--system: remove silence with the VAD (--vad-config) before scoring, as the "
                        "recipe's audio was [true]")
    p.add_argument("--fbank-config", help="the feature config the speech models were trained with (late fusion)")
    p.add_argument("--folds", default="1 2 3 4 5", help='fold numbers to export, an ensemble when several ["1 2 3 4 5"]')
    p.add_argument("--speech-system", default="ser_finetune", help="speech system dir under EXP_DIR [ser_finetune]")
    p.add_argument("--text-system", default="text", help="text system dir under EXP_DIR [text]")
    p.add_argument("--fusion-system", default="fusion", help="fusion output dir under EXP_DIR [fusion]")
    p.add_argument("--fusion", choices=sorted(FUSION_FILES), default="w1", help="fusion method [w1]")
    p.add_argument("--asr-model", default="pocketsphinx",
                   help="pocketsphinx, a Whisper dir (copied into the package) or a cached name [pocketsphinx]")
    p.add_argument("--use-vad", choices=("true", "false"), default="false",
                   help="the speech models were trained on the voiced frames (recipe option --use-vad) [false]")
    p.add_argument("--vad-config", help="the VAD options file steps/compute_vad.sh was given (default: none)")
    p.add_argument("--results", help="the recipe's RESULTS.md: its test UA/WA rows go into README.md")
    p.add_argument("--trained-on", default="", help="what the models were trained on, for README.md")
    p.add_argument("exp_dir")
    p.add_argument("out_dir")
    return p


def main(argv=None) -> int:
    p = get_parser()
    a = p.parse_args(argv)
    if not a.system and not a.fbank_config:
        p.error("--fbank-config is required (unless --system)")
    corpus = ""
    if a.corpus_roots:  # the corpus from the data, never from the command line
        from emorec.report import corpus_kind, describe_corpus

        a.trained_on = "; ".join(x for x in (describe_corpus(a.corpus_roots), a.trained_on) if x)
        corpus = corpus_kind(a.corpus_roots)
    try:
        if a.system:
            export_system(a.exp_dir, a.out_dir, a.system, a.folds.split(), asr_model=a.asr_model,
                          vad_config=a.vad_config, trim_silence=a.trim_silence == "true",
                          noise_reduction=a.noise_reduction == "true", results_md=a.results,
                          system_dir=a.system_dir, corpus=corpus,
                          trained_on=a.trained_on, log=lambda m: print(m, file=sys.stderr))
            return 0
        export_model(a.exp_dir, a.out_dir, a.fbank_config, a.folds.split(), speech_system=a.speech_system,
                     text_system=a.text_system, fusion_system=a.fusion_system,
                     fusion_method=a.fusion, asr_model=a.asr_model, results_md=a.results, trained_on=a.trained_on,
                     use_vad=a.use_vad == "true", vad_config=a.vad_config, corpus=corpus,
                     log=lambda m: print(m, file=sys.stderr))
    except (InferError, OSError) as e:
        print(f"ERROR: export_model: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
