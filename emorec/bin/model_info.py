"""Print what a checkpoint of a feature-chunk family (the speaker ResNet, the SER models of
emorec.bin.train) holds, one "key value" line each (Kaldi's nnet3-info for emorec):

  python -m emorec.bin.model_info exp/resnet_demo/avg_model.pt
  family resnet
  parameters 345272
  epoch 14
  model_args {"depth": 34, ...}

The parameter count is the model's, built by the family the checkpoint names (the
training log says the same, but a rerun that finds the model up to date rewrites that log).
"""
from __future__ import annotations

import argparse
import json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m emorec.bin.model_info", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    a = p.parse_args(argv)
    from emorec.models.resnet import count_parameters
    from emorec.train.infer import load_model

    model, meta = load_model(a.checkpoint)
    print(f"family {meta['family']}")
    print(f"parameters {count_parameters(model)}")
    if meta.get("epoch") is not None:
        print(f"epoch {meta['epoch']}")
    print(f"model_args {json.dumps(meta.get('model_args'), sort_keys=True, default=str)}")
    return 0


if __name__ == "__main__":
    from emorec.bin import run_main
    run_main(main)
