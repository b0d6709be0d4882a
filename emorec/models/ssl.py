"""Self-supervised speech encoders (HuBERT, wav2vec 2.0, WavLM) as emotion classifiers
(paper 004, Sec. III.D), and the joint SSL + BERT model (Sec. III.D.2).

Loading: ``load_ssl_encoder`` reads a local ``save_pretrained`` directory or a model name
already in the local Hugging Face cache (``facebook/hubert-base-ls960``,
``facebook/wav2vec2-base``, ``microsoft/wavlm-base-plus``) with ``AutoConfig`` /
``AutoModel`` / ``AutoFeatureExtractor``, ``local_files_only=True``, never
``trust_remote_code``; the config's ``model_type`` must be hubert, wav2vec2 or wavlm. The
feature extractor (``preprocessor_config.json``) says whether the waveform is normalised
per utterance (``do_normalize``) and must be at 16 kHz. The demo's small HuBERT
(emorec.train.ssl_pretrain) loads through exactly this code.

Fine-tuning modes: ``head`` (the encoder is frozen and run in eval mode without gradients:
no dropout, no SpecAugment masking; only the pooling weights and the classifier train:
the paper's final choice), ``partial`` (the CNN feature encoder frozen, the transformer
trained), ``entire`` (everything trained).

Pooling: the mean over valid frames of the last layer (``mean``), or over valid frames of
a learned softmax-weighted sum of all hidden layers (``weighted``, as SUPERB does). The
valid frames of an utterance of n samples are the first
``encoder._get_feat_extract_output_lengths(n)``; padded frames never enter the pooling.
The hidden layers are taken with hooks on the transformer layers, not from
``output_hidden_states``: under LayerDrop (hubert-base-ls960: ``layerdrop: 0.1``) a
skipped layer records no output there, so its input stands for its output (what the
skip means) and every pass has all ``num_hidden_layers + 1`` states.

Standardisation: each layer's mean vector (and the joint model's text vector) is
standardised with per-dimension statistics of the training utterances (``Standardizer``:
buffers, saved with the model; the identity until fitted) before the pooling weights and
the linear layer see it. The pooled vectors of a frozen encoder share a large common part and vary
little between utterances; unstandardised, the linear layer's learning rate, weight decay
and dropout (which scales the common part too) work against that small variation.

Padding and the attention mask: encoders whose CNN normalises per frame
(``config.feat_extract_norm == "layer"``: hubert-large, wav2vec2-large-lv60, the demo
HuBERT) get the attention mask; their padded frames are zeroed before the positional
convolution and masked in self-attention, so a padded batch gives each utterance the
pooled vector it gets alone (within float tolerance; tests/test_ssl.py). Encoders with a
group-norm CNN (``feat_extract_norm == "group"``: hubert-base-ls960, wav2vec2-base,
wavlm-base-plus) were pre-trained without a mask and take none (Hugging Face's advice):
their group norm and self-attention see the zero padding, so a padded utterance's vector
depends slightly on its batch-mates. Training batches hold utterances of similar length
(emorec.data.waveform) to keep that padding small, and scoring runs such encoders one
utterance at a time (``takes_attention_mask``), so a score never depends on its batch.
"""
from __future__ import annotations

import torch
import torch.nn as nn

SSL_MODEL_TYPES = ("hubert", "wav2vec2", "wavlm")
MODES = ("head", "partial", "entire")
POOLINGS = ("mean", "weighted")
SAMPLE_RATE = 16000


def _cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def load_ssl_encoder(name_or_dir: str):
    """-> (encoder, do_normalize): a HubertModel / Wav2Vec2Model / WavLMModel, offline."""
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

    src = str(name_or_dir)
    where = (f"no local directory {src!r} and no {src!r} in the Hugging Face cache "
             f"{_cache_dir()} (offline: local_files_only)")
    try:
        config = AutoConfig.from_pretrained(src, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise OSError(f"cannot load speech encoder {src!r}: {where}. ({e})") from None
    if config.model_type not in SSL_MODEL_TYPES:
        raise ValueError(f"{src}: model_type {config.model_type!r} is not a self-supervised speech "
                         f"encoder ({', '.join(SSL_MODEL_TYPES)})")
    try:
        fe = AutoFeatureExtractor.from_pretrained(src, local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise OSError(f"speech encoder {src!r}: no feature extractor (preprocessor_config.json) "
                      f"offline. ({e})") from None
    if getattr(fe, "sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
        raise ValueError(f"{src}: the encoder expects {fe.sampling_rate} Hz audio; emorec reads {SAMPLE_RATE} Hz")
    try:
        encoder = AutoModel.from_pretrained(src, config=config, local_files_only=True, trust_remote_code=False)
    except OSError as e:
        raise OSError(f"cannot load the weights of speech encoder {src!r}: {where}. ({e})") from None
    return encoder, bool(getattr(fe, "do_normalize", False))


def takes_attention_mask(encoder) -> bool:
    return getattr(encoder.config, "feat_extract_norm", "group") == "layer"


def normalize_waveform(wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance over each utterance's valid samples (Wav2Vec2FeatureExtractor's
    do_normalize); the padding stays zero."""
    valid = (torch.arange(wave.shape[1], device=wave.device)[None] < lengths[:, None]).to(wave.dtype)
    n = lengths.clamp(min=1).to(wave.dtype)[:, None]
    mean = (wave * valid).sum(1, keepdim=True) / n
    var = (((wave - mean) * valid) ** 2).sum(1, keepdim=True) / n
    return (wave - mean) / torch.sqrt(var + 1e-7) * valid


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of hidden [B, T, H] over the positions where mask [B, T] is true."""
    m = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class Standardizer(nn.Module):
    """(x - mean) / std per dimension, the statistics those of training vectors (buffers:
    saved with the model); the identity until ``fit``."""

    def __init__(self, *shape: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(*shape))
        self.register_buffer("std", torch.ones(*shape))

    @property
    def fitted(self) -> bool:
        return not (bool(torch.all(self.mean == 0)) and bool(torch.all(self.std == 1)))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """From training vectors x [N, *shape]; a dimension that does not vary is only centred."""
        x = x.to(self.mean.device, torch.float64)
        std = x.std(0, unbiased=False)
        self.mean.copy_(x.mean(0))
        self.std.copy_(torch.where(std > 1e-6 * std.max().clamp(min=1e-30), std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class SSLPooledEncoder(nn.Module):
    """A speech SSL encoder whose output is one vector an utterance (see the module doc)."""

    def __init__(self, encoder: nn.Module, mode: str = "head", pooling: str = "mean", do_normalize: bool = False):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        self.encoder, self.mode, self.pooling, self.do_normalize = encoder, mode, pooling, do_normalize
        self.hidden_size = int(encoder.config.hidden_size)
        self.num_states = encoder.config.num_hidden_layers + 1 if pooling == "weighted" else 1
        if pooling == "weighted":
            self.layer_weights = nn.Parameter(torch.zeros(self.num_states))
        self.standardize = Standardizer(self.num_states, self.hidden_size)
        if mode == "head":
            encoder.requires_grad_(False)
        elif mode == "partial":
            encoder.feature_extractor._freeze_parameters()

    def train(self, mode: bool = True):
        super().train(mode)
        if self.mode == "head":
            self.encoder.eval()
        return self

    def frame_mask(self, lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
        n = self.encoder._get_feat_extract_output_lengths(lengths)
        return torch.arange(num_frames, device=lengths.device)[None] < n[:, None]

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.combine(self.layer_means(wave, lengths))

    def combine(self, means: torch.Tensor) -> torch.Tensor:
        """Pooled vectors [B, H] from layer_means' [B, K, H], standardised (the pooling is
        linear in the layers)."""
        means = self.standardize(means)
        if self.pooling == "weighted":
            return (means * torch.softmax(self.layer_weights, 0)[None, :, None]).sum(1)
        return means[:, 0]

    def layer_means(self, wave: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Means over valid frames [B, K, H]: of every hidden layer (weighted pooling) or of
        the last one (K = 1)."""
        if self.do_normalize:
            wave = normalize_waveform(wave, lengths)
        kw = {}
        if takes_attention_mask(self.encoder):
            kw["attention_mask"] = (torch.arange(wave.shape[1], device=wave.device)[None]
                                    < lengths[:, None]).long()
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.mode != "head"):
            if self.pooling == "weighted":
                layers = self._hidden_states(wave, kw)
            else:
                layers = (self.encoder(wave, **kw).last_hidden_state,)
        mask = self.frame_mask(lengths, layers[0].shape[1])
        return torch.stack([masked_mean(h, mask) for h in layers], 1)

    def _hidden_states(self, wave: torch.Tensor, kw: dict) -> list:
        """The input of the first transformer layer and the output of each (transformers'
        hidden_states); a layer skipped by LayerDrop passes its input on."""
        layers = self.encoder.encoder.layers
        states = [None] * (len(layers) + 1)

        def save_input(i):
            def hook(module, args, kwargs):
                states[i] = args[0] if args else kwargs["hidden_states"]
            return hook

        def save_output(i):
            def hook(module, args, output):
                states[i + 1] = output[0] if isinstance(output, tuple) else output
            return hook

        handles = [h for i, layer in enumerate(layers)
                   for h in (layer.register_forward_pre_hook(save_input(i), with_kwargs=True),
                             layer.register_forward_hook(save_output(i)))]
        try:
            last = self.encoder(wave, **kw).last_hidden_state
        finally:
            for h in handles:
                h.remove()
        # skipped layers saw nothing: the state before the first layer that ran is that
        # layer's input, and a skipped layer's output is the state before it
        if states[0] is None:
            states[0] = next((h for h in states if h is not None), last)
        for i in range(1, len(states)):
            if states[i] is None:
                states[i] = states[i - 1]
        return states


class SSLClassifier(nn.Module):
    """Pooled SSL encoder + dropout + linear layer (paper 004: a linear downstream classifier)."""

    def __init__(self, encoder: SSLPooledEncoder, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.speech = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.hidden_size, num_classes)

    def forward(self, wave=None, lengths=None, layer_means=None):
        """From waveforms, or from the frozen encoder's layer_means (head mode: see
        emorec.train.ssl)."""
        pooled = self.speech(wave, lengths) if layer_means is None else self.speech.combine(layer_means)
        return self.head(self.dropout(pooled))


class JointClassifier(nn.Module):
    """Paper 004, III.D.2: the SSL encoder on the audio and a BERT encoder on the transcript,
    each last hidden state mean-pooled over valid positions, standardised, dropout,
    concatenated, one linear layer; trained end to end."""

    def __init__(self, speech: SSLPooledEncoder, text_encoder: nn.Module, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.speech, self.text = speech, text_encoder
        self.dropout = nn.Dropout(dropout)
        self.text_standardize = Standardizer(int(text_encoder.config.hidden_size))
        self.head = nn.Linear(speech.hidden_size + int(text_encoder.config.hidden_size), num_classes)

    def text_vector(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """The mean of BERT's last hidden state over the transcript's tokens, unstandardised."""
        kw = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kw["token_type_ids"] = token_type_ids
        return masked_mean(self.text(**kw).last_hidden_state, attention_mask.bool())

    def forward(self, wave, lengths, input_ids, attention_mask, token_type_ids=None):
        t = self.text_standardize(self.text_vector(input_ids, attention_mask, token_type_ids))
        s = self.speech(wave, lengths)
        return self.head(torch.cat([self.dropout(s), self.dropout(t)], dim=-1))

