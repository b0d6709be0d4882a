"""Model family: the ResNet classifier on random chunks of Kaldi features (speaker
recognition; speech emotion recognition with transfer from a speaker model).

Config sections (besides the loop's optim/sched/train, emorec.train.config):
model:   blocks [3,4,6,3] (or resnet34|resnet18|resnet10), channels 32, emb_dim 512,
         pooling stats|avg
data:    chunk_sizes, batch_size, num_workers, classes (fixed class list; default: the
         sorted labels), eval_max_frames / eval_max_batch (whole-segment batches)
augment: policy none|conservative|aggressive, or a list of them (one augmented copy per
         policy; emorec.augment), (F, W, p, n_freq, n_time override the policy's values), copies

Transfer (``transfer``): scratch; probe (trunk copied from ``init_from`` and frozen);
finetune (trunk copied and trained with optim.lr_trunk, the new layers with optim.lr).

For inference (emorec.train.families): a checkpoint, or the model dir ``save`` writes
(model.pt + family.json), loads as a Predictor of raw log-mel features ("feats"),
normalised per segment and scored on whole segments, as score_posteriors scores a data dir.
"""
from __future__ import annotations

import logging
import os

import numpy as np
import torch
import torch.nn.functional as F

from emorec import metrics
from emorec.augment import POLICIES, get_policies
from emorec.data.dataset import (ChunkBatchSampler, ChunkDataset, FeatureReader, collate_chunks,
                                 load_labels, make_worker_init, read_num_frames)
from emorec.fileio import read_kv
from emorec.models import DEPTHS, build_model, count_parameters
from emorec.models.resnet import before_compiled_step
from emorec.train import checkpoint
from emorec.train.families import Family, load_checkpoint, save_checkpoint
from emorec.train.config import (LOOP_SCHEMA, integer, number, string, either, list_of, one_of,
                                 optional)
from emorec.train.infer import autocast_ctx, data_keys, run_model

log = logging.getLogger("emorec.train")

TRANSFER_MODES = ("scratch", "probe", "finetune")

SCHEMA = {
    "model": {"blocks": (either(list_of(integer), one_of(*DEPTHS)), [3, 4, 6, 3]), "channels": (integer, 32),
              "emb_dim": (integer, 512), "pooling": (one_of("stats", "avg"), "stats")},
    "data": {"chunk_sizes": (list_of(integer), [150, 200, 250, 300]), "batch_size": (integer, 32),
             "num_workers": (integer, 4), "classes": (optional(list_of(string)), None),
             "eval_max_frames": (integer, 20000), "eval_max_batch": (integer, 32)},
    "augment": {"policy": (either(one_of(*POLICIES), list_of(one_of(*POLICIES))), "none"), "copies": (integer, 0),
                "F": (optional(integer), None), "W": (optional(integer), None), "p": (optional(number), None),
                "n_freq": (optional(integer), None), "n_time": (optional(integer), None)},
    **LOOP_SCHEMA,
}


def _training_set(data_dir, labels_path, classes):
    reader = FeatureReader.of_dir(data_dir)
    utt2lab, classes = load_labels(labels_path, classes)
    feats_keys = read_kv(os.path.join(data_dir, "feats.scp"))
    keys = sorted(k for k in feats_keys if k in utt2lab)
    missing = len(feats_keys) - len(keys)
    if missing:
        log.warning("%d utterances of %s/feats.scp have no label in %s (skipped)",
                    missing, data_dir, labels_path)
    if not keys:
        raise ValueError(f"no labelled utterances in {data_dir} (labels {labels_path})")
    nf = read_num_frames(data_dir, reader)
    return reader, keys, [utt2lab[k] for k in keys], [nf[k] for k in keys], classes


def evaluate(model, data_dir, labels_path, classes, device, cfg) -> dict:
    """Loss, accuracy and UA of whole segments of a data dir."""
    utt2lab, _ = load_labels(labels_path, classes)
    keys = sorted(k for k in read_kv(os.path.join(data_dir, "feats.scp")) if k in utt2lab)
    ys, ps, loss = [], [], 0.0
    for _, logit, y in run_model(model, data_dir, "logits", keys, [utt2lab[k] for k in keys], device,
                                 cfg["data"]["eval_max_frames"], cfg["data"]["eval_max_batch"],
                                 cfg["train"]["amp"]):
        loss += float(F.cross_entropy(logit[None], torch.tensor([y])))
        ys.append(y)
        ps.append(int(logit.argmax()))
    ys, ps = np.array(ys), np.array(ps)
    n = max(len(ys), 1)
    return {"loss": loss / n, "acc": float((ys == ps).mean()) if len(ys) else float("nan"),
            "ua": metrics.unweighted_accuracy(ys, ps, len(classes)) if len(ys) else float("nan"),
            "n": len(ys)}


def _transfer_init(model, init_from: str):
    """Copies the trunk (everything but embedding + classifier) from a checkpoint."""
    src = checkpoint.load(init_from)["model"]
    own = model.state_dict()
    trunk = {k: v for k, v in src.items() if k.startswith("trunk.")}
    if not trunk:
        raise ValueError(f"{init_from}: no trunk parameters")
    for k, v in trunk.items():
        if k not in own or own[k].shape != v.shape:
            raise ValueError(f"{init_from}: trunk tensor {k} {tuple(v.shape)} does not fit the model "
                             f"({tuple(own[k].shape) if k in own else 'absent'})")
    missing = [k for k in own if k.startswith("trunk.") and k not in trunk]
    if missing:
        raise ValueError(f"{init_from}: trunk tensors missing: {missing[:5]}")
    model.load_state_dict(trunk, strict=False)
    return len(trunk)


class ResNetFamily(Family):
    name = "resnet"
    fixed_shapes = True  # one batch shape per chunk size: the loop's CUDA fast path pays
    SCHEMA = SCHEMA
    INPUTS = ("feats.scp",)
    OPTIONS = {"--init-from": {"help": "checkpoint whose trunk initialises the model (a speaker model)"},
               "--transfer": {"choices": TRANSFER_MODES, "default": None,
                              "help": "default: finetune with --init-from, else scratch"}}

    def __init__(self, cfg: dict, data: str, labels: str, dev_data: str | None = None,
                 dev_labels: str | None = None, init_from: str | None = None,
                 transfer: str = "scratch", resume_classes=None):
        if transfer not in TRANSFER_MODES:
            raise ValueError(f"--transfer must be one of {TRANSFER_MODES}")
        self.cfg, self.data, self.labels = cfg, data, labels
        self.dev_data, self.dev_labels = dev_data, dev_labels
        self.init_from, self.transfer = init_from, transfer
        dcfg = cfg["data"]
        self.seed = cfg["train"]["seed"]
        self.reader, self.keys, ys, nf, self.classes = _training_set(
            data, labels, resume_classes or dcfg["classes"])
        self.in_dim = int(self.reader[self.keys[0]].shape[1])
        self.policies = get_policies(cfg["augment"])
        self.augment = any(p.active for p in self.policies)
        self.copies = cfg["augment"]["copies"] if self.augment else 0
        self.num_frames = nf
        self.dataset = ChunkDataset(self.reader, self.keys, ys, cfg["augment"])

    @classmethod
    def for_run(cls, cfg, exp_dir, resume, **kw):
        """The family of a run, resuming with the classes and transfer mode of its newest
        checkpoint when there is one."""
        ck = checkpoint.latest_intact(exp_dir) if resume else None
        if ck is not None:
            kw["transfer"] = ck.get("transfer", kw.get("transfer", "scratch"))
            kw["resume_classes"] = ck["classes"]
        return cls(cfg, **kw)

    @classmethod
    def for_fold(cls, cfg, parts, classes, opts):
        transfer = opts.transfer or ("finetune" if opts.init_from else "scratch")
        if transfer != "scratch" and not opts.init_from:
            raise ValueError(f"--transfer {transfer} needs --init-from CKPT")
        fam = cls.for_run(cfg, os.path.join(opts.exp_dir, "train"), True, data=str(parts["train"]),
                          labels=os.path.join(parts["train"], "utt2emo"), dev_data=str(parts["dev"]),
                          dev_labels=os.path.join(parts["dev"], "utt2emo"), init_from=opts.init_from,
                          transfer=transfer, resume_classes=classes)
        fam.parts = parts
        return fam

    def score(self, model, part, device):
        keys = data_keys(self.parts[part])
        d = self.cfg["data"]
        return keys, FeaturePredictor(model, self.classes, device, None, d["eval_max_frames"],
                                      d["eval_max_batch"]).score_keys(self.parts[part], keys)

    def save(self, model, ckpt, out_dir):
        save_checkpoint(self.name, ckpt, out_dir)

    @staticmethod
    def build_from_args(model_args):
        return build_model(model_args)

    @classmethod
    def load(cls, path, device="cpu"):
        ck = load_checkpoint(path)
        model = build_model(ck["model_args"])
        model.load_state_dict(ck["model"])
        return FeaturePredictor(model.to(device).eval(), ck["classes"], device, ck["model_args"].get("in_dim"))

    # ---- model
    def build_model(self, ck):
        margs = dict(num_classes=len(self.classes), in_dim=self.in_dim, **self.cfg["model"])
        if ck is not None:
            margs = ck["model_args"]
        elif self.init_from:
            src_args = checkpoint.load(self.init_from)["model_args"]
            for k in ("in_dim", "blocks", "channels"):
                if margs.get(k) != src_args[k]:
                    log.info("transfer: model.%s = %s taken from %s (config said %s)", k, src_args[k],
                             self.init_from, margs.get(k))
                margs[k] = src_args[k]
        model = build_model(margs)
        if self.init_from and ck is None and self.transfer != "scratch":
            n = _transfer_init(model, self.init_from)
            log.info("transfer %s: %d trunk tensors from %s; embedding and classifier re-initialised "
                     "(%d classes)", self.transfer, n, self.init_from, len(self.classes))
        if self.transfer == "probe":
            model.freeze_trunk(True)
        return model, margs

    def param_groups(self, model, ocfg):
        trunk_ids = {id(p) for p in model.trunk.parameters()}
        if self.transfer == "finetune":
            head = [p for p in model.parameters() if id(p) not in trunk_ids and p.requires_grad]
            return [{"params": list(model.trunk.parameters()), "base_lr": ocfg["lr_trunk"]},
                    {"params": head, "base_lr": ocfg["lr"]}]
        return [{"params": [p for p in model.parameters() if p.requires_grad], "base_lr": ocfg["lr"]}]

    def describe(self, model):
        return (f"model {self.cfg['model']} ({self.transfer}): {count_parameters(model)} parameters "
                f"({count_parameters(model, True)} trainable): trunk {count_parameters(model.trunk)}, "
                f"embedding {count_parameters(model.embedding)}, classifier {count_parameters(model.classifier)}; "
                f"{len(self.classes)} classes, {len(self.keys)} training segments")

    def extra_state(self):
        return {"transfer": self.transfer}

    # ---- data
    def train_batches(self, epoch, rank, world):
        dcfg = self.cfg["data"]
        sampler = ChunkBatchSampler(self.num_frames, dcfg["batch_size"], dcfg["chunk_sizes"], seed=self.seed,
                                    copies=self.copies, augment=self.augment, rank=rank, world_size=world,
                                    n_policies=len(self.policies))
        sampler.set_epoch(epoch)
        nw = dcfg["num_workers"]
        return torch.utils.data.DataLoader(
            self.dataset, batch_sampler=sampler, num_workers=nw, collate_fn=collate_chunks,
            worker_init_fn=make_worker_init(self.seed, epoch, rank), pin_memory=torch.cuda.is_available(),
            prefetch_factor=4 if nw > 0 else None)

    def forward(self, model, x, device):
        before_compiled_step(model)  # compiled, the model cannot check its PReLU slopes itself
        return model(x.to(device, non_blocking=True))

    def evaluate(self, model, device):
        if not self.dev_data:
            return None
        return evaluate(model, self.dev_data, self.dev_labels or os.path.join(self.dev_data, "utt2spk"),
                        self.classes, device, self.cfg)


class FeaturePredictor:
    """A model of whole segments of log-mel features (B, T, F) + lengths -> logits."""

    inputs = ("feats",)

    def __init__(self, model, classes, device="cpu", in_dim=None, max_frames=20000, max_batch=32):
        self.model, self.classes, self.device, self.in_dim = model, list(classes), torch.device(device), in_dim
        self.max_frames, self.max_batch = max_frames, max_batch

    def score_keys(self, data_dir, keys) -> np.ndarray:
        out = {k: v.numpy() for k, v, _ in run_model(self.model, data_dir, "log_posteriors", keys,
                                                     device=self.device, max_frames=self.max_frames,
                                                     max_batch=self.max_batch)}
        return np.stack([out[k] for k in keys]) if keys else np.zeros((0, len(self.classes)), np.float32)

    def score_dir(self, data_dir, utt_list=None):
        keys = data_keys(data_dir, utt_list)
        return keys, self.score_keys(data_dir, keys)

    @torch.no_grad()
    def score_one(self, feats) -> np.ndarray:
        """Log-posteriors of one segment's raw features (normalised as for training/scoring)."""
        from emorec.data.dataset import collate_padded, normalise

        _, xb, lengths, _ = collate_padded([("utt", torch.from_numpy(normalise(feats)), -1)])
        with autocast_ctx(self.device, "none"):
            out = self.model(xb.to(self.device), lengths.to(self.device)).float()
        return torch.log_softmax(out, dim=-1)[0].cpu().numpy().astype(np.float64)
