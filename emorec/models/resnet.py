"""ResNet with statistics pooling for speaker / emotion recognition (Padi et al. 2021, 2022).

Input: log-mel features (batch, frames, n_mels).  The 2-D trunk sees them as a
one-channel image (batch, 1, n_mels, frames): a 3x3 stem, then four stages of
BasicBlocks ([3, 4, 6, 3] = ResNet34) with ``channels * (1, 2, 4, 8)`` channels,
the last three stages with stride 2.  For 128 mels and 32 channels the trunk emits
256 channels x 16 mel bins per (8x decimated) frame = 4096 dims; statistics
pooling makes that 8192, the embedding layer 512, then the classifier.
Batch norm and PReLU follow every layer but the output.

Variable lengths: ``forward(x, lengths)`` accepts zero-padded batches.  The
padded frames are zeroed before every convolution, so each valid output frame
sees exactly what it would see for the unpadded utterance (zero padding), and
pooling ignores padding: in eval mode a padded batch gives the same outputs as
running each utterance alone.  A batch whose lengths all equal its frame count
has no padding and skips the masks (5-25% of an extraction step).

Speed and memory (bench/bench_resnet.py): the PReLUs keep their output rather than
their input for backward (``PReLU``), so an activation costs no memory of its own, as
a ReLU's; their backward runs over cache-sized slices of the batch and allocates only
the input gradient, as ReLU's does, in about ReLU's time; the residual sum is added
into batch norm's output in place (one activation-sized tensor, and its page faults,
fewer per block).  On CPU the trunk stays in the default NCHW layout (channels-last was
~7% faster but corrupted the heap in the backward of the 8-channel demo ResNet with
torch 2.13's oneDNN); the training loop makes it channels-last on CUDA.

Compiled (``torch.compile``, the loop's ``train.compile``): the whole model is one graph,
no graph break in train or eval mode (tests/test_models.py). The slope check, a Python
bool of a tensor, stays out of the graph: ``choose_prelus()`` sets each PReLU's
``from_output``, a plain attribute that the compiled graph is specialised on (a guard,
so at most two graphs per shape); eager, the model runs it every training step;
compiled, the caller does (``before_compiled_step``, called by
``emorec.train.speech.ResNetFamily.forward``), and without it the PReLUs stay
``torch.prelu``. The output-saving PReLU traces into the graph (its backward on whole
tensors): with it the activations kept for backward equal the ReLU peer's; with
``torch.prelu`` the compiler's partitioner kept 1.4x the peer's (min-cut partitioner,
traced on CPU; bench/README.md).

Transfer learning: the trunk is ``model.trunk`` (stem + stages); the head is
``model.embedding`` + ``model.classifier``.  ``model.freeze_trunk(True)`` freezes the
trunk (requires_grad False and its batch norms kept in eval mode).
"""
from __future__ import annotations

import torch
from torch import nn

from .pooling import make_pooling

#: ResNet depths by name; ``blocks`` in a config may be a name or a list.
DEPTHS = {"resnet34": [3, 4, 6, 3], "resnet18": [2, 2, 2, 2], "resnet10": [1, 1, 1, 1]}


def _down(lengths: torch.Tensor | None, stride: int) -> torch.Tensor | None:
    """Valid length after a conv with kernel 3 / padding 1 (or kernel 1 / padding 0)."""
    if lengths is None or stride == 1:
        return lengths
    return torch.div(lengths - 1, stride, rounding_mode="floor") + 1


class _PReLUFromOutput(torch.autograd.Function):
    """PReLU whose backward reads the output y instead of the input x.

    With every slope a > 0, y > 0 exactly where x > 0 and x = y / a elsewhere, so
    dL/dx = g where y > 0, a g elsewhere, and dL/da = sum(g x) = sum(g y) / a over
    y <= 0.  y is what the next layer keeps anyway: x can be freed."""

    #: elements per slice of the backward (1 MiB of float32: the temporaries stay in
    #: cache and come from the heap, not from fresh, page-faulting mmaps)
    SLICE = 1 << 18

    @staticmethod
    def forward(ctx, x, weight):
        y = torch.prelu(x, weight)
        ctx.save_for_backward(y, weight)
        return y

    @staticmethod
    def backward(ctx, g):
        y, weight = ctx.saved_tensors
        a = weight.to(y.dtype).view([1, -1] + [1] * (y.dim() - 2))
        dims = [0] + list(range(2, y.dim()))
        if torch.compiler.is_compiling():  # traced: whole tensors; the compiler fuses and plans memory
            g_pos = torch.ops.aten.threshold_backward(g, y, 0)
            g_neg = g - g_pos
            gw = (g_neg * y).sum(dims, dtype=torch.float32)
            return g_pos + a * g_neg, (gw / weight.float()).to(weight.dtype)
        gx = torch.empty_like(y)
        gw = torch.zeros(weight.shape, dtype=torch.float32, device=y.device)
        # slices on CPU only: a GPU gains nothing from them but kernel launches
        rows = (max(1, _PReLUFromOutput.SLICE // max(1, y[0].numel())) if y.device.type == "cpu"
                else y.shape[0])
        for s in range(0, y.shape[0], rows):
            gs, ys = g[s:s + rows], y[s:s + rows]
            g_pos = torch.ops.aten.threshold_backward(gs, ys, 0)  # g where y > 0, else 0
            g_neg = gs - g_pos
            gw += (g_neg * ys).sum(dims, dtype=torch.float32)
            torch.addcmul(g_pos, g_neg, a, out=gx[s:s + rows])  # g_pos + a g_neg
        return gx, (gw / weight.float()).to(weight.dtype)


class PReLU(nn.PReLU):
    """``nn.PReLU`` (same parameters, same outputs and gradients) that keeps its output
    for backward while ``from_output`` is set; ``ResNetClassifier.choose_prelus`` sets it
    per training step when all slopes are positive; otherwise, and outside training, it
    is ``nn.PReLU``."""

    from_output = False

    def forward(self, x):
        if (self.from_output and torch.is_grad_enabled() and x.dim() >= 2
                and x.shape[1] == self.weight.numel()):
            return _PReLUFromOutput.apply(x, self.weight)
        return super().forward(x)


def _mask(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    if lengths is None:
        return x
    t = x.shape[-1]
    m = torch.arange(t, device=x.device)[None, :] < lengths.to(x.device)[:, None]
    return x * m[:, None, None, :].to(x.dtype)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act2 = PReLU(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x, lengths=None):
        # x is already masked by the caller
        out = self.act1(self.bn1(self.conv1(x)))
        lengths = _down(lengths, self.stride)
        out = self.bn2(self.conv2(_mask(out, lengths)))
        sc = x if self.shortcut is None else self.shortcut(x)
        # in place: batch norm keeps its input, not its output, for backward (autograd
        # would refuse otherwise), so the sum needs no new activation-sized tensor
        return _mask(self.act2(out.add_(sc)), lengths), lengths


class ResNetTrunk(nn.Module):
    """Frame-level convolutional part: (B, T, F) -> (B, C_last * F_last, T_last)."""

    def __init__(self, in_dim: int = 128, blocks=(3, 4, 6, 3), channels: int = 32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), PReLU(channels))
        layers, cin, f = [], channels, in_dim
        for i, n in enumerate(blocks):
            cout = channels * (2 ** i)
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(cin, cout, stride)] + [BasicBlock(cout, cout, 1) for _ in range(n - 1)]
            layers.append(nn.ModuleList(stage))
            cin = cout
            if stride == 2:
                f = (f - 1) // 2 + 1
        self.stages = nn.ModuleList(layers)
        self.out_dim = cin * f

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        if (lengths is not None and not torch.compiler.is_compiling()
                and bool((lengths >= x.shape[1]).all())):
            lengths = None  # no padding: nothing to mask (compiled: masks kept, no device sync)
        x = _mask(x.transpose(1, 2).unsqueeze(1), lengths)   # (B, 1, F, T)
        x = _mask(self.stem(x), lengths)
        for stage in self.stages:
            for block in stage:
                x, lengths = block(x, lengths)
        b, c, f, t = x.shape
        return x.reshape(b, c * f, t), lengths


class Embedding(nn.Module):
    """Segment-level layer: affine (the embedding), then batch norm and PReLU."""

    def __init__(self, in_dim: int, emb_dim: int):
        super().__init__()
        self.fc = nn.Linear(in_dim, emb_dim)
        self.bn = nn.BatchNorm1d(emb_dim)
        self.act = PReLU(emb_dim)

    def forward(self, x):
        return self.act(self.bn(self.fc(x)))


class ResNetClassifier(nn.Module):
    def __init__(self, num_classes: int, in_dim: int = 128, blocks=(3, 4, 6, 3),
                 channels: int = 32, emb_dim: int = 512, pooling: str = "stats"):
        super().__init__()
        if isinstance(blocks, str):
            blocks = DEPTHS[blocks.lower()]
        self.args = dict(num_classes=int(num_classes), in_dim=int(in_dim),
                         blocks=[int(b) for b in blocks], channels=int(channels),
                         emb_dim=int(emb_dim), pooling=str(pooling))
        self.trunk = ResNetTrunk(in_dim, blocks, channels)
        self.pool = make_pooling(pooling)
        self.embedding = Embedding(self.pool.out_dim(self.trunk.out_dim), emb_dim)
        self.classifier = nn.Linear(emb_dim, num_classes)
        self._frozen = False
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def choose_prelus(self):
        """Sets each PReLU's ``from_output`` for this step: one check (one device sync) per
        step rather than one per layer. Compiled, the model cannot run it itself: the caller
        runs it before each training step (``before_compiled_step``)."""
        prelus = [m for m in self.modules() if isinstance(m, PReLU)]
        from_output = self.training and torch.is_grad_enabled() and bool(prelus) and bool(
            torch.cat([m.weight.detach().flatten() for m in prelus]).gt(0).all())
        for m in prelus:
            m.from_output = from_output

    def pooled(self, x, lengths=None):
        if not torch.compiler.is_compiling():  # compiled: the caller's (module docstring)
            self.choose_prelus()
        h, lengths = self.trunk(x, lengths)
        return self.pool(h, lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (B, num_classes) for features (B, T, F)."""
        return self.classifier(self.embedding(self.pooled(x, lengths)))

    def extract(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings (B, emb_dim): the affine output of the embedding layer."""
        return self.embedding.fc(self.pooled(x, lengths))

    # -- transfer learning -------------------------------------------------
    def head_modules(self):
        return [self.embedding, self.classifier]

    def freeze_trunk(self, frozen: bool = True):
        self._frozen = frozen
        for p in self.trunk.parameters():
            p.requires_grad_(not frozen)
        if frozen:
            self.trunk.eval()
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        if self._frozen:
            self.trunk.eval()
        return self


def before_compiled_step(net) -> None:
    """Runs ``choose_prelus`` of a compiled ResNetClassifier (``torch.compile`` of the model,
    or of DDP of it) eagerly, before a training step; nothing for anything else (an eager
    model runs it itself)."""
    inner = getattr(net, "_orig_mod", None)
    inner = getattr(inner, "module", inner)
    if isinstance(inner, ResNetClassifier):
        inner.choose_prelus()


def build_model(args: dict) -> ResNetClassifier:
    return ResNetClassifier(**args)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
