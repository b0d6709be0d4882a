"""Paper 004's two CNN systems of Table 8 on log-mel features of the audio (Sec. III.C):
MobileNetV2 on the spectrogram as an image, and the 1-D CNN of its Table 5 on the feature
sequence. Both take 16 kHz waveforms [B, T] and their lengths, and compute the features
themselves (``LogMel``: emorec.features.Fbank, scaled by the utterance's overall mean and
standard deviation: one scalar pair, so the spectral shape -- the image -- stays), so
a saved model needs nothing else to score a recording.

MobileNetV2 (Sandler et al. 2018) is written here with torchvision's module layout and
parameter names (``features.N...``, ``classifier.1``), so torchvision's ImageNet
checkpoints (``mobilenet_v2-b0353104.pth``) load into it: the torchvision wheels on the
index are CUDA builds whose compiled ops do not load beside the CPU torch (and
transformers then fails to import), so torchvision itself is not a dependency.
"""
from __future__ import annotations

import glob
import os

import numpy as np
import torch
import torch.nn as nn

from emorec.features import Fbank, FbankConfig

SAMPLE_RATE = 16000


class LogMel(nn.Module):
    """Waveforms [B, T] (+ lengths) -> log-mel features [B, T', F] (zero-padded), each
    utterance's standardised by its overall mean and deviation, and frame counts [B]."""

    def __init__(self, num_mel_bins: int):
        super().__init__()
        self.fbank = Fbank(FbankConfig(num_mel_bins=num_mel_bins))

    def forward(self, wave, lengths):
        waves = [w[:int(n)].detach().cpu().numpy() for w, n in zip(wave, lengths)]
        feats = [(f - f.mean()) / (f.std() + 1e-5) for f in self.fbank.compute_many(waves)]
        nf = torch.tensor([f.shape[0] for f in feats])
        out = torch.zeros(len(feats), int(nf.max()), feats[0].shape[1])
        for i, f in enumerate(feats):
            out[i, :f.shape[0]] = torch.from_numpy(np.asarray(f, dtype=np.float32))
        return out.to(wave.device), nf.to(wave.device)


# ---------------------------------------------------------------- MobileNetV2

def _divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvBNReLU6(nn.Sequential):  # torchvision's Conv2dNormActivation: 0 conv, 1 bn, 2 relu6
    def __init__(self, cin, cout, kernel=3, stride=1, groups=1):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = [ConvBNReLU6(cin, hidden, 1)] if expand != 1 else []
        layers += [ConvBNReLU6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1)]  # expansion t, channels c, repeats n, stride s (the paper's Table 2)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int, width_mult: float = 1.0, dropout: float = 0.2):
        super().__init__()
        cin = _divisible(32 * width_mult)
        self.last_channel = _divisible(1280 * max(1.0, width_mult))
        layers = [ConvBNReLU6(3, cin, stride=2)]
        for t, c, n, s in SETTINGS:
            cout = _divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(ConvBNReLU6(cin, self.last_channel, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.last_channel, num_classes))
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


def imagenet_weights(pretrained: str) -> str:
    """The file of torchvision's ImageNet MobileNetV2 weights: ``pretrained`` is a path, or
    "imagenet" for the one in the local torch hub cache; never downloaded."""
    if pretrained != "imagenet":
        if not os.path.isfile(pretrained):
            raise FileNotFoundError(f"model.pretrained_weights {pretrained!r}: no such file (torchvision's "
                                    f"mobilenet_v2-b0353104.pth is wanted; nothing is downloaded)")
        return pretrained
    where = os.path.join(torch.hub.get_dir(), "checkpoints")
    found = sorted(glob.glob(os.path.join(glob.escape(where), "mobilenet_v2-*.pth")))
    if not found:
        raise FileNotFoundError(f"model.pretrained_weights imagenet: no mobilenet_v2-*.pth in the torch hub cache "
                                f"{where} (TORCH_HOME); runs are offline: copy torchvision's "
                                f"mobilenet_v2-b0353104.pth there or name its path")
    return found[-1]


class MobileNetClassifier(nn.Module):
    """Log-mel spectrogram [F x T] as a 3-channel image (the same plane in each channel)
    -> MobileNetV2 (paper 004: MobileNetV2 fine-tuned on spectrogram images)."""

    def __init__(self, num_classes: int, num_mel_bins: int = 64, width_mult: float = 1.0,
                 dropout: float = 0.2, pretrained_weights=None):
        super().__init__()
        self.logmel = LogMel(num_mel_bins)
        self.net = MobileNetV2(num_classes, width_mult, dropout)
        if pretrained_weights:
            path = imagenet_weights(pretrained_weights)
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = {k: v for k, v in state.items() if not k.startswith("classifier.")}  # 1000 ImageNet classes
            own = self.net.state_dict()
            wrong = sorted(set(own) - set(state) - {"classifier.1.weight", "classifier.1.bias"}) + sorted(
                k for k, v in state.items() if k not in own or own[k].shape != v.shape)
            if wrong:
                raise ValueError(f"{path}: not MobileNetV2 weights of width {width_mult} (tensors missing, "
                                 f"unknown or of another shape: {', '.join(wrong[:3])} ...)")
            self.net.load_state_dict(state, strict=False)

    def forward(self, wave, lengths):
        feats, _ = self.logmel(wave, lengths)
        return self.net(feats.transpose(1, 2).unsqueeze(1).expand(-1, 3, -1, -1))


# ---------------------------------------------------------------- 1-D CNN

class CNN1D(nn.Module):
    """Paper 004, Table 5: 8 Conv1D (kernel 8, same padding, ReLU) with channels
    256 256 | BN, dropout | 128 x 4 | BN, dropout | 64 64, flatten, dense, dense, dropout,
    dense (output). The feature sequence is cut or zero-padded to ``frames`` frames (the
    flatten needs a fixed length); ``width`` scales the channels, ``hidden`` the dense layers."""

    def __init__(self, num_classes: int, num_mel_bins: int = 64, frames: int = 300, width: float = 1.0,
                 hidden=(256, 128), dropout: float = 0.6):
        super().__init__()
        self.logmel, self.frames = LogMel(num_mel_bins), frames
        ch = [max(1, int(round(c * width))) for c in (256, 256, 128, 128, 128, 128, 64, 64)]
        layers, cin = [], num_mel_bins
        for i, c in enumerate(ch):
            layers += [nn.Conv1d(cin, c, 8, padding="same"), nn.ReLU()]
            if i in (1, 5):
                layers += [nn.BatchNorm1d(c), nn.Dropout(dropout)]
            cin = c
        self.convs = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(cin * frames, hidden[0]), nn.ReLU(),
                                  nn.Linear(hidden[0], hidden[1]), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden[1], num_classes))

    def forward(self, wave, lengths):
        feats, _ = self.logmel(wave, lengths)
        x = torch.zeros(feats.shape[0], self.frames, feats.shape[2], device=feats.device)
        n = min(self.frames, feats.shape[1])
        x[:, :n] = feats[:, :n]
        return self.head(self.convs(x.transpose(1, 2)))
