"""The demo's stand-in for a downloaded HuBERT: a small HuBERT pre-trained on the audio it
is given (a fold's TRAINING audio only) the way HuBERT's first iteration is (Hsu et al.
2021): k-means over MFCC frames gives every frame a cluster target, then the model
predicts the targets of masked frames. Saved with ``save_pretrained`` (plus a
Wav2Vec2FeatureExtractor) as an ordinary HubertModel directory that emorec.models.ssl
loads exactly as it loads facebook/hubert-base-ls960.

1. MFCC frames: torchaudio's MFCC (13 coefficients, 40 mel bands) + deltas + delta-deltas,
   with the window and hop of the model's CNN (400 and 320 samples at 16 kHz: 25 ms,
   20 ms), so MFCC frame t is CNN output frame t; standardised with the training
   frames' mean and deviation. The model sees the waveform normalised per utterance, as
   its feature extractor (do_normalize) tells emorec.models.ssl to do when fine-tuning.
2. k-means: scikit-learn MiniBatchKMeans on (at most kmeans.max_frames of) those frames;
   every training frame gets its nearest centroid.
3. Masked prediction through the one training loop (emorec.train.loop) as the model family
   ``HubertPretrainFamily``: spans of frames are masked (transformers' HuBERT/wav2vec 2.0
   span sampler, mask.prob / mask.length, drawn from (seed, epoch, batch): resumable), the
   HubertModel replaces them by its learned mask embedding, a linear projection gives
   cluster logits, and the loss is the cross-entropy on masked valid frames only (the
   other frames' targets are -100, ignored). A cropped utterance's targets start at the
   MFCC frame nearest to the crop offset.

Config sections (besides the loop's optim/sched/train): model (the HuBERT's size),
kmeans (n_clusters, n_mfcc, max_frames, batch_size), mask (prob, length), data (as
emorec.train.ssl: batch_size, max_batch_seconds, max_seconds, num_workers).
"""
from __future__ import annotations

import copy
import functools
import json
import logging

import numpy as np
import torch
import torch.nn as nn

from emorec.data.waveform import SAMPLE_RATE, WaveBatches, WaveSet, eval_batches
from emorec.fileio import atomic_dir, atomic_write
from emorec.models.ssl import normalize_waveform
from emorec.train.config import LOOP_SCHEMA, integer, number
from emorec.train.families import Family

log = logging.getLogger("emorec.train")

_LOOP = copy.deepcopy(LOOP_SCHEMA)
for _sec, _key, _value in (("optim", "name", "adamw"), ("optim", "lr", 5e-4), ("optim", "weight_decay", 0.01),
                           ("sched", "name", "linear"), ("sched", "warmup_frac", 0.08), ("train", "epochs", 10),
                           ("train", "grad_clip", 10.0), ("train", "keep_checkpoints", 1),
                           ("train", "log_interval", 20), ("train", "amp", "bf16")):
    _LOOP[_sec][_key] = (_LOOP[_sec][_key][0], _value)
del _sec, _key, _value

SCHEMA = {
    "model": {"hidden_size": (integer, 128), "num_layers": (integer, 2), "num_heads": (integer, 4),
              "intermediate_size": (integer, 512), "conv_dim": (integer, 64),
              "num_conv_pos_embeddings": (integer, 32), "num_conv_pos_embedding_groups": (integer, 4)},
    "kmeans": {"n_clusters": (integer, 50), "n_mfcc": (integer, 13), "max_frames": (integer, 200000),
               "batch_size": (integer, 4096)},
    "mask": {"prob": (number, 0.8), "length": (integer, 10)},
    "data": {"batch_size": (integer, 0), "max_batch_seconds": (number, 32.0), "max_seconds": (number, 4.0),
             "num_workers": (integer, 0)},
    **_LOOP,
}

# hubert-base's CNN: 7 layers, receptive field 400 samples, hop 320 (20 ms at 16 kHz)
CONV_KERNEL = (10, 3, 3, 3, 3, 2, 2)
CONV_STRIDE = (5, 2, 2, 2, 2, 2, 2)
HOP, WINDOW = 320, 400


def hubert_config(mcfg: dict):
    from transformers import HubertConfig

    return HubertConfig(
        hidden_size=mcfg["hidden_size"], num_hidden_layers=mcfg["num_layers"],
        num_attention_heads=mcfg["num_heads"], intermediate_size=mcfg["intermediate_size"],
        conv_dim=(mcfg["conv_dim"],) * len(CONV_KERNEL), conv_kernel=CONV_KERNEL, conv_stride=CONV_STRIDE,
        num_conv_pos_embeddings=mcfg["num_conv_pos_embeddings"],
        num_conv_pos_embedding_groups=mcfg["num_conv_pos_embedding_groups"],
        feat_extract_norm="layer",  # per-frame norm: the model takes an attention mask (emorec.models.ssl)
        layerdrop=0.0, mask_time_prob=0.05, vocab_size=mcfg["hidden_size"])


def num_frames(lengths):
    """CNN output frames of inputs of ``lengths`` samples (HubertModel's formula)."""
    for k, s in zip(CONV_KERNEL, CONV_STRIDE):
        lengths = (lengths - k) // s + 1
    return lengths


@functools.lru_cache(maxsize=None)
def _mfcc(n_mfcc: int):
    import torchaudio

    return torchaudio.transforms.MFCC(sample_rate=SAMPLE_RATE, n_mfcc=n_mfcc, melkwargs={
        "n_fft": WINDOW, "win_length": WINDOW, "hop_length": HOP, "n_mels": 40, "center": False})


def mfcc_frames(wave: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """[frames, 3 * n_mfcc] MFCC + deltas + delta-deltas, one frame a CNN output frame."""
    import torchaudio

    mfcc = _mfcc(n_mfcc)
    x = torch.from_numpy(wave)
    if len(x) < WINDOW:
        x = torch.nn.functional.pad(x, (0, WINDOW - len(x)))
    m = mfcc(x)  # [n_mfcc, T]
    d1 = torchaudio.functional.compute_deltas(m)
    d2 = torchaudio.functional.compute_deltas(d1)
    return torch.cat([m, d1, d2]).T.numpy().astype(np.float32)


def training_frames(wset: WaveSet, n_mfcc: int):
    """MFCC frames of every utterance of ``wset`` (the training audio), in wset order."""
    feats = [None] * len(wset.utts)
    for idx, inputs in eval_batches(wset, 0, one_by_one=True):
        n = int(inputs["lengths"][0])
        feats[idx[0]] = mfcc_frames(inputs["wave"][0, :n].numpy(), n_mfcc)
    return feats


def fit_kmeans(feats, kcfg: dict, seed: int) -> dict:
    """Standardised MiniBatchKMeans over the frames -> {"mean", "std", "centers"}."""
    from sklearn.cluster import MiniBatchKMeans

    x = np.concatenate(feats)
    mean, std = x.mean(0), x.std(0) + 1e-5
    if len(x) > kcfg["max_frames"]:
        x = x[np.random.default_rng(seed).choice(len(x), kcfg["max_frames"], replace=False)]
    if len(x) < kcfg["n_clusters"]:
        raise ValueError(f"{len(x)} MFCC frames cannot make {kcfg['n_clusters']} clusters")
    km = MiniBatchKMeans(n_clusters=kcfg["n_clusters"], batch_size=kcfg["batch_size"], n_init=3,
                         random_state=seed).fit((x - mean) / std)
    return {"mean": mean, "std": std, "centers": km.cluster_centers_.astype(np.float32)}


def assign(feats, km: dict):
    """Nearest centroid of every frame (int64 arrays, one an utterance)."""
    c = torch.from_numpy(km["centers"])
    return [torch.cdist(torch.from_numpy((f - km["mean"]) / km["std"]).float(), c).argmin(1).numpy()
            for f in feats]


class HubertPretrainModel(nn.Module):
    """HubertModel + a linear projection of its last layer to the cluster logits."""

    def __init__(self, config, n_clusters: int):
        super().__init__()
        from transformers import HubertModel

        self.hubert = HubertModel(config)
        self.proj = nn.Linear(config.hidden_size, n_clusters)

    def forward(self, wave, lengths, mask_time_indices):
        attention_mask = (torch.arange(wave.shape[1], device=wave.device)[None] < lengths[:, None]).long()
        h = self.hubert(normalize_waveform(wave, lengths), attention_mask=attention_mask,
                        mask_time_indices=mask_time_indices).last_hidden_state
        return self.proj(h)


class _MaskedTargets:
    """Wraps the waveform batches: adds the frame mask spans and flattened frame targets
    (-100 where a frame is not masked or is padding)."""

    def __init__(self, batches: WaveBatches, targets, mcfg: dict, seed: int, epoch: int):
        self.batches, self.targets, self.mcfg, self.seed, self.epoch = batches, targets, mcfg, seed, epoch

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

        for b, (inputs, _) in enumerate(self.batches):
            lengths = inputs["lengths"]
            nf = num_frames(lengths)
            frames = int(num_frames(torch.tensor(inputs["wave"].shape[1])))
            valid = torch.arange(frames)[None] < nf[:, None]
            state = np.random.get_state()  # the sampler draws from NumPy's global generator
            try:
                np.random.seed(np.random.SeedSequence([self.seed, self.epoch, b]).generate_state(1)[0])
                span = _compute_mask_indices((len(lengths), frames), self.mcfg["prob"], self.mcfg["length"],
                                             attention_mask=valid.long(), min_masks=1)
            finally:
                np.random.set_state(state)
            span = torch.from_numpy(span) & valid
            y = torch.full((len(lengths), frames), -100, dtype=torch.long)
            for r, (i, off, n) in enumerate(zip(inputs["index"], inputs["offset"].tolist(), nf.tolist())):
                t = self.targets[i][int(round(off / HOP)):][:n]
                y[r, :len(t)] = torch.from_numpy(t)
            y[~span] = -100
            inputs["mask_time_indices"] = span
            yield inputs, y.reshape(-1)


class HubertPretrainFamily(Family):
    """Masked prediction of k-means frame targets (not a classifier: see the module doc)."""

    name = "hubert_pretrain"

    def __init__(self, cfg: dict, train: WaveSet, targets):
        if not train.utts:
            raise ValueError("no training audio")
        self.cfg, self.train, self.targets = cfg, train, targets
        self.classes = [str(k) for k in range(cfg["kmeans"]["n_clusters"])]
        self.config = hubert_config(cfg["model"])

    def build_model(self, ck):
        return HubertPretrainModel(self.config, len(self.classes)), {"n_clusters": len(self.classes)}

    def param_groups(self, model, ocfg):
        return [{"params": list(model.parameters()), "base_lr": ocfg["lr"]}]

    def train_batches(self, epoch, rank, world):
        d, seed = self.cfg["data"], self.cfg["train"]["seed"]
        wb = WaveBatches(self.train, np.zeros(len(self.train.utts), dtype=np.int64), d["max_batch_seconds"],
                         d["batch_size"], d["max_seconds"], seed, epoch, rank, world, d["num_workers"])
        return _MaskedTargets(wb, self.targets, self.cfg["mask"], seed, epoch)

    def forward(self, model, inputs, device):
        logits = model(inputs["wave"].to(device), inputs["lengths"].to(device),
                       inputs["mask_time_indices"].to(device))
        return logits.reshape(-1, logits.shape[-1])

    def evaluate(self, model, device):
        return None

    def describe(self, model):
        n = sum(p.numel() for p in model.parameters())
        hours = self.train.num_samples.sum() / SAMPLE_RATE / 3600
        return (f"HuBERT pre-training: {self.config.num_hidden_layers} layers x {self.config.hidden_size}, "
                f"{n} parameters; {len(self.classes)} k-means targets; {len(self.train.utts)} utterances "
                f"({hours:.2f} h)")


def save_kmeans(path, km: dict, utts) -> None:
    with atomic_write(path, "wb") as f:
        np.savez(f, mean=km["mean"], std=km["std"], centers=km["centers"], utts=np.array(utts))


def save_encoder(model: HubertPretrainModel, out_dir, info: dict) -> None:
    """The HubertModel alone, as an ordinary model directory (+ its feature extractor)."""
    from transformers import Wav2Vec2FeatureExtractor

    with atomic_dir(out_dir) as tmp:
        model.hubert.save_pretrained(tmp, safe_serialization=True)
        Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True,
                                 return_attention_mask=True).save_pretrained(tmp)
        (tmp / "pretrain_info.json").write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
