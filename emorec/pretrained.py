"""Where the pretrained models of a run are, before any work: a Hugging Face model (BERT,
HuBERT / wav2vec 2.0 / WavLM, Whisper) is a local directory with a config.json or a model
already in the local Hugging Face cache (runs are offline, HF_HUB_OFFLINE=1); a weight file
named by a config key ending in ``weights`` (e.g. ImageNet weights of a CNN) is a file.

``needs(...)`` lists what the chosen configs and options will load; ``locate(need)`` says
where it was found (None: missing) and ``missing_message(need)`` where it was looked for
and how to fetch it. Used by emorec.bin.check_models (every recipe's pre-flight check and
dry run) and by the training entry points' --check-encoders.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import List, Optional

import yaml


@dataclass(frozen=True)
class Need:
    role: str        # text | ssl | joint | asr | the config's file name (weight files)
    what: str        # "text encoder", "encoder", "ASR model", "model.backbone_weights file"
    name: str        # model name, directory or file
    origin: str      # where the name came from: "model.encoder of conf/x.yaml", "--ssl-model"
    option: str      # the option that gives another one
    kind: str = "hf"  # hf | file


def hf_cache() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def locate(need: Need) -> Optional[str]:
    """Where ``need`` is ("local directory X", "Hugging Face cache X", "file X"), or None."""
    if need.kind == "file" and need.name == "imagenet":  # torchvision's, in the torch hub cache
        from emorec.models.spectro import imagenet_weights

        try:
            return f"file {imagenet_weights(need.name)}"
        except FileNotFoundError:
            return None
    if need.kind == "file":
        return f"file {need.name}" if os.path.isfile(need.name) else None
    if os.path.isfile(os.path.join(need.name, "config.json")):
        return f"local directory {need.name}"
    snapshots = os.path.join(hf_cache(), "models--" + need.name.replace("/", "--"), "snapshots")
    if glob.glob(os.path.join(glob.escape(snapshots), "*", "config.json")):
        return f"Hugging Face cache {hf_cache()}"
    return None


def missing_message(need: Need) -> str:
    if need.kind == "file" and need.name == "imagenet":
        import torch

        return (f"{need.what} 'imagenet' ({need.origin}) not found: no mobilenet_v2-*.pth in the torch hub "
                f"cache {os.path.join(torch.hub.get_dir(), 'checkpoints')}. Download torchvision's ImageNet "
                f"MobileNetV2 weights where there is network (torchvision.models.mobilenet_v2(weights="
                f"'IMAGENET1K_V1') saves them there) and copy the file into that folder (or set TORCH_HOME), "
                f"or give its path in {need.option}.")
    if need.kind == "file":
        return (f"{need.what} {need.name!r} ({need.origin}) not found: no such file (relative to "
                f"{os.getcwd()}). Download it where there is network and give its path in {need.option}.")
    return (f"{need.what} {need.name!r} ({need.origin}) not found: no local directory {need.name!r} "
            f"with a config.json (relative to {os.getcwd()}), and no models--{need.name.replace('/', '--')} "
            f"snapshot in the Hugging Face cache {hf_cache()}. Runs are offline (HF_HUB_OFFLINE=1): "
            f"download it where there is network (huggingface-cli download {need.name}; then copy that "
            f"cache here or point HF_HOME to it) or pass {need.option} DIR.")


def _model_section(config: str) -> dict:
    with open(config, encoding="utf-8") as f:
        cfg = yaml.safe_load(f) or {}
    model = cfg.get("model") if isinstance(cfg, dict) else None
    return model if isinstance(model, dict) else {}


def needs(text_config: Optional[str] = None, ssl_config: Optional[str] = None,
          joint_config: Optional[str] = None, text_model: str = "", ssl_model: str = "",
          asr_model: str = "", configs=()) -> List[Need]:
    """What a run loads. A text encoder that is null in the config and not given is built per
    fold (the demo BERT): nothing to locate. An SSL encoder must be named (config or
    --ssl-model). Every config's model keys ending in "weights" name weight files."""
    out: List[Need] = []

    def hf(role, what, config, key, given, option, required):
        name = given or _model_section(config).get(key)
        if name:
            origin = option if given else f"model.{key} of {config}"
            out.append(Need(role, what, str(name), origin, option))
        elif required:
            raise ValueError(f"no {what}: {config} has model.{key} null and no {option} was given")

    if text_config:
        hf("text", "text encoder", text_config, "encoder", text_model, "--text-model", False)
    if ssl_config:
        hf("ssl", "encoder", ssl_config, "encoder", ssl_model, "--ssl-model", True)
    if joint_config:
        hf("joint", "encoder", joint_config, "encoder", ssl_model, "--ssl-model", True)
        hf("joint", "text encoder", joint_config, "text_encoder", text_model, "--text-model", False)
    if asr_model and asr_model != "pocketsphinx":
        out.append(Need("asr", "ASR model", asr_model, "--asr-model", "--asr-model"))
    for config in [c for c in (text_config, ssl_config, joint_config, *configs) if c]:
        for key, value in _model_section(config).items():
            if key.endswith("weights") and isinstance(value, str) and value:
                out.append(Need(os.path.basename(config), f"model.{key} file", value,
                                f"model.{key} of {config}", f"{config}'s model.{key}", "file"))
    return out
