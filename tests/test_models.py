"""ResNet + pooling: padding-exact pooling, variable-length batches, transfer helpers, checkpoints."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from emorec.models import AvgPooling, ResNetClassifier, StatsPooling, count_parameters
from emorec.models.resnet import BasicBlock, PReLU, _PReLUFromOutput, before_compiled_step
from emorec.train import checkpoint
from emorec.train.infer import load_model

torch.set_num_threads(1)


def _padded(seqs):
    d = seqs[0].shape[0]
    T = max(s.shape[1] for s in seqs)
    x = torch.zeros(len(seqs), d, T)
    for i, s in enumerate(seqs):
        x[i, :, :s.shape[1]] = s
    return x, torch.tensor([s.shape[1] for s in seqs])


@pytest.mark.parametrize("pool_cls", [StatsPooling, AvgPooling])
def test_pooling_with_padding_equals_per_utterance(pool_cls):
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randn(6, n, generator=g) * 3 + 1 for n in (1, 2, 5, 17, 40)]
    pool = pool_cls()
    x, lengths = _padded(seqs)
    # garbage in the padding must not matter
    for i, s in enumerate(seqs):
        x[i, :, s.shape[1]:] = 1e6
    batched = pool(x, lengths)
    single = torch.cat([pool(s[None]) for s in seqs])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-5)
    assert batched.shape == (5, pool.out_dim(6))


def test_stats_pooling_values_and_short_inputs():
    x = torch.tensor([[[1.0, 3.0, 5.0]]], requires_grad=True)
    out = StatsPooling()(x)
    np.testing.assert_allclose(out.detach().numpy(), [[3.0, np.sqrt(8 / 3)]], rtol=1e-6)
    one = torch.randn(2, 4, 1, requires_grad=True)
    out = StatsPooling(eps=1e-5)(one)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 4:], torch.full((2, 4), 1e-5 ** 0.5))
    out.sum().backward()
    assert torch.isfinite(one.grad).all()


def test_resnet_padded_batch_equals_single_utterances():
    torch.manual_seed(0)
    m = ResNetClassifier(5, in_dim=40, blocks=[1, 1, 1, 1], channels=4, emb_dim=16).eval()
    seqs = [torch.randn(n, 40) for n in (1, 3, 8, 9, 31)]
    x = torch.zeros(len(seqs), 31, 40)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = s
    lengths = torch.tensor([len(s) for s in seqs])
    with torch.no_grad():
        torch.testing.assert_close(m(x, lengths), torch.cat([m(s[None]) for s in seqs]),
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(m.extract(x, lengths), torch.cat([m.extract(s[None]) for s in seqs]),
                                   rtol=1e-4, atol=1e-5)


def test_unpadded_batch_with_lengths_equals_no_lengths():
    torch.manual_seed(0)
    m = ResNetClassifier(5, in_dim=40, blocks=[1, 1, 1, 1], channels=4, emb_dim=16).eval()
    x = torch.randn(3, 17, 40)
    with torch.no_grad():
        assert torch.equal(m(x, torch.tensor([17, 17, 17])), m(x))
        # extraction: the same embeddings, and the same as the masked path gives them
        unpadded = m.extract(x, torch.tensor([17, 17, 17]))
        assert torch.equal(unpadded, m.extract(x))
        masked = m.extract(torch.cat([x, torch.zeros(1, 17, 40)]), torch.tensor([17, 17, 17, 5]))
        torch.testing.assert_close(masked[:3], unpadded, rtol=1e-5, atol=1e-6)
        # one padded item: the masked path, equal to the items alone
        torch.testing.assert_close(m(x, torch.tensor([17, 9, 17]))[1], m(x[1:2, :9])[0],
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,slice_elems", [((4, 6, 5, 7), 1 << 18), ((4, 6, 5, 7), 400),
                                                ((5, 6), 1 << 18), ((5, 6), 13)])
def test_prelu_from_output_equals_nn_prelu(shape, slice_elems, monkeypatch):
    # the backward runs over slices of the batch: one slice, and several (1 or 2 items each)
    monkeypatch.setattr(_PReLUFromOutput, "SLICE", slice_elems)
    torch.manual_seed(0)
    ref, ours = torch.nn.PReLU(6), PReLU(6)
    ref.weight.data.uniform_(0.05, 0.5)
    ours.load_state_dict(ref.state_dict())
    ours.from_output = True
    x = torch.randn(*shape) * 3
    x[x.abs() < 0.5] = 0.0  # exact zeros: the input gradient there is a g, as torch's
    x.view(-1)[::7] = -0.0
    g = torch.randn(*shape)
    out = {}
    for name, mod in (("ref", ref), ("ours", ours)):
        xi = x.clone().requires_grad_()
        y = mod(xi)
        y.backward(g)
        out[name] = (y.detach(), xi.grad, mod.weight.grad)
    assert (x == 0).any()
    torch.testing.assert_close(out["ours"][0], out["ref"][0], rtol=0, atol=0)
    torch.testing.assert_close(out["ours"][1], out["ref"][1], rtol=0, atol=0)
    torch.testing.assert_close(out["ours"][2], out["ref"][2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stem_slope", [None, 0.0, -0.1])
def test_training_gradients_equal_nn_prelu_model(stem_slope):
    torch.manual_seed(0)
    ours = ResNetClassifier(5, in_dim=16, blocks=[1, 1, 1, 1], channels=4, emb_dim=8).train()
    if stem_slope is not None:  # PReLU cannot recover its input from its output: torch's path
        ours.trunk.stem[2].weight.data[0] = stem_slope
    ref = ResNetClassifier(5, in_dim=16, blocks=[1, 1, 1, 1], channels=4, emb_dim=8).train()
    ref.load_state_dict(ours.state_dict())
    for mod in ref.modules():
        if isinstance(mod, PReLU):
            mod.__class__ = torch.nn.PReLU
    x, y = torch.randn(6, 23, 16), torch.randint(0, 5, (6,))
    logits = {}
    for name, model in (("ours", ours), ("ref", ref)):
        logits[name] = model(x)
        torch.nn.functional.cross_entropy(logits[name], y).backward()
    torch.testing.assert_close(logits["ours"], logits["ref"], rtol=0, atol=0)
    prelus = [mod for mod in ours.modules() if isinstance(mod, PReLU)]
    assert all(mod.from_output == (stem_slope is None) for mod in prelus)
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("cin,cout,stride", [(4, 4, 1), (4, 8, 2)])
def test_block_in_place_residual_sum_matches_out_of_place(cin, cout, stride):
    """BasicBlock adds the shortcut into batch norm's output in place; values and
    gradients are those of the plain out-of-place block."""
    torch.manual_seed(0)
    block = BasicBlock(cin, cout, stride).train()
    block.act1.from_output = block.act2.from_output = True  # as in training (slopes > 0)

    def plain(x):
        out = F.prelu(block.bn1(block.conv1(x)), block.act1.weight)
        sc = x if block.shortcut is None else block.shortcut(x)
        return F.prelu(block.bn2(block.conv2(out)) + sc, block.act2.weight)

    x = torch.randn(3, cin, 10, 12)
    results = []
    for fn in (lambda x: block(x)[0], plain):
        xi = x.clone().requires_grad_(True)
        block.zero_grad()
        y = fn(xi)
        y.square().sum().backward()
        results.append([y.detach(), xi.grad] + [p.grad.clone() for p in block.parameters()])
    for ours, ref in zip(*results):
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_resnet34_shapes_and_parameter_count():
    m = ResNetClassifier(4, in_dim=128, blocks="resnet34", channels=32, emb_dim=512)
    assert m.trunk.out_dim == 16 * 256                       # 128 mels / 8, 256 channels
    assert m.embedding.fc.in_features == 8192                # mean ++ std
    assert count_parameters(m.trunk) == 5_327_168
    assert count_parameters(m) == 9_525_572
    avg = ResNetClassifier(4, in_dim=128, blocks=[3, 4, 6, 3], channels=32, pooling="avg")
    assert avg.embedding.fc.in_features == 4096
    with torch.no_grad():
        assert m.eval()(torch.randn(2, 50, 128)).shape == (2, 4)


def test_freeze_trunk_keeps_bn_in_eval():
    m = ResNetClassifier(3, in_dim=32, blocks=[1, 1, 1, 1], channels=4, emb_dim=8)
    m.freeze_trunk(True).train()
    assert not any(p.requires_grad for p in m.trunk.parameters())
    assert all(p.requires_grad for p in m.classifier.parameters())
    assert not any(mod.training for mod in m.trunk.modules())
    assert m.embedding.training and m.classifier.training


def test_checkpoint_roundtrip_weights_only(tmp_path):
    m = ResNetClassifier(3, in_dim=32, blocks=[1, 1, 1, 1], channels=4, emb_dim=8)
    ck = {"format": checkpoint.FORMAT, "epoch": 1, "model": checkpoint.cpu_state_dict(m),
          "model_args": m.args, "classes": ["a", "b", "c"], "config": {"x": [1, 2]},
          "rng": checkpoint.get_rng_state(), "family": "resnet"}
    p = tmp_path / "m.pt"
    checkpoint.atomic_save(ck, str(p))
    assert not (tmp_path / "m.pt.tmp").exists()
    raw = torch.load(p, map_location="cpu", weights_only=True)
    checkpoint.set_rng_state(raw["rng"])
    m2, meta = load_model(str(p))
    assert meta["classes"] == ["a", "b", "c"]
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])
    del ck["family"]  # the model family builds the model: a checkpoint must name it
    checkpoint.atomic_save(ck, str(p))
    with pytest.raises(ValueError, match="names no model family"):
        load_model(str(p))


@pytest.mark.parametrize("training", [True, False])
def test_resnet_compiles_without_graph_breaks(training):
    """torch.compile sees the whole model as one graph (train.compile): no graph break from
    the PReLU slope check (made outside the graph, by choose_prelus), from the output-saving
    PReLU it selects, nor from the padding check."""
    torch.manual_seed(0)
    m = ResNetClassifier(5, in_dim=16, blocks=[1, 1, 1, 1], channels=4, emb_dim=8).train(training)
    x = torch.randn(3, 20, 16)
    for chosen in (False, True):
        if chosen:
            m.choose_prelus()
        assert all(mod.from_output == (chosen and training) for mod in m.modules() if isinstance(mod, PReLU))
        for args in ((x,), (x, torch.tensor([20, 11, 20]))):
            e = torch._dynamo.explain(m)(*args)
            assert (e.graph_count, e.graph_break_count) == (1, 0), e.break_reasons


@pytest.mark.parametrize("stem_slope", [None, -0.1])
def test_compiled_training_step_equals_eager(stem_slope):
    """The compiled model, its PReLU choice made by before_compiled_step (as the ResNet
    family does each step), gives the eager model's logits and gradients: with the
    output-saving PReLUs traced into the graph, and with torch's when a slope is negative."""
    torch.manual_seed(0)
    eager = ResNetClassifier(5, in_dim=16, blocks=[1, 1, 1, 1], channels=4, emb_dim=8).train()
    if stem_slope is not None:
        eager.trunk.stem[2].weight.data[0] = stem_slope
    twin = ResNetClassifier(5, in_dim=16, blocks=[1, 1, 1, 1], channels=4, emb_dim=8).train()
    twin.load_state_dict(eager.state_dict())
    compiled = torch.compile(twin, fullgraph=True, backend="aot_eager")
    x, y = torch.randn(6, 23, 16), torch.randint(0, 5, (6,))
    logits = {"eager": eager(x)}
    F.cross_entropy(logits["eager"], y).backward()
    before_compiled_step(compiled)
    assert all(mod.from_output == (stem_slope is None) for mod in twin.modules() if isinstance(mod, PReLU))
    logits["compiled"] = compiled(x)
    F.cross_entropy(logits["compiled"], y).backward()
    torch.testing.assert_close(logits["compiled"], logits["eager"], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(eager.named_parameters(), twin.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
