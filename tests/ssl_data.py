"""Tiny waveform folds and random-weight SSL encoders for the SSL tests and bench/bench_ssl.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("ang", "hap", "sad")
WORDS = {"ang": "furious hate", "hap": "great love", "sad": "miss cry"}
PITCH = {"ang": 300.0, "hap": 500.0, "sad": 150.0}


def make_wave_fold(root, n_train: int = 4, n_dev: int = 2, n_test: int = 2, min_s: float = 0.3,
                   max_s: float = 0.9, seed: int = 0) -> Path:
    """ROOT/{train,dev,test} Kaldi data dirs (wav.scp, utt2spk, spk2utt, utt2emo, text) of
    16 kHz wav files: per class a tone of its own pitch plus noise; one speaker a part."""
    import soundfile

    root = Path(root)
    rng = np.random.default_rng(seed)
    for part, n in (("train", n_train), ("dev", n_dev), ("test", n_test)):
        d = root / part
        (d / "wav").mkdir(parents=True, exist_ok=True)
        rows = []
        for c in CLASSES:
            for i in range(n):
                utt = f"{part}spk-{c}_{i:03d}"
                t = np.arange(int(rng.uniform(min_s, max_s) * 16000)) / 16000
                x = 0.3 * np.sin(2 * np.pi * PITCH[c] * t) + 0.05 * rng.standard_normal(len(t))
                path = d / "wav" / f"{utt}.wav"
                soundfile.write(str(path), x.astype(np.float32), 16000)
                rows.append((utt, c, str(path), f"i {WORDS[c].split()[i % 2]} it {i}"))
        rows.sort()
        (d / "wav.scp").write_text("".join(f"{u} {p}\n" for u, _, p, _ in rows))
        (d / "utt2emo").write_text("".join(f"{u} {c}\n" for u, c, _, _ in rows))
        (d / "utt2spk").write_text("".join(f"{u} {part}spk\n" for u, _, _, _ in rows))
        (d / "spk2utt").write_text(f"{part}spk " + " ".join(u for u, _, _, _ in rows) + "\n")
        (d / "text").write_text("".join(f"{u} {t}\n" for u, _, _, t in rows))
    return root


def make_random_encoder(kind: str, out_dir, mask: bool = True, seed: int = 0) -> Path:
    """A random-weight tiny HubertModel / Wav2Vec2Model / WavLMModel saved with its feature
    extractor; mask=True: a layer-norm CNN (takes the attention mask), else group norm."""
    import torch
    from transformers import (HubertConfig, HubertModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor,
                              Wav2Vec2Model, WavLMConfig, WavLMModel)

    config_cls, model_cls = {"hubert": (HubertConfig, HubertModel), "wav2vec2": (Wav2Vec2Config, Wav2Vec2Model),
                             "wavlm": (WavLMConfig, WavLMModel)}[kind]
    torch.manual_seed(seed)
    config = config_cls(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                        conv_dim=(8, 8, 8), conv_kernel=(10, 3, 3), conv_stride=(5, 4, 4),
                        num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
                        feat_extract_norm="layer" if mask else "group", layerdrop=0.0)
    model = model_cls(config)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True,
                             return_attention_mask=mask).save_pretrained(out_dir)
    return out_dir
