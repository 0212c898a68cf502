"""MultiheadAttention, TransformerEncoderLayer and PatchEmbedding: PyTorch parity of outputs,
every gradient and the attention weights, with every kind of mask; gradient checks inside a
network (dropout on, masks on); the weights kept for display; errors."""
import itertools

import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module

MASKS = ["none", "bool", "float", "padding", "causal", "causal+padding", "per-head"]


def make_masks(kind, n, t, heads, rng):
    """(attn_mask, key_padding_mask, is_causal) for barenet; every query keeps a key."""
    attn = pad = None
    if kind == "bool":
        attn = rng.random((t, t)) < 0.4
        np.fill_diagonal(attn, False)
    elif kind == "float":
        attn = rng.standard_normal((t, t))
    elif kind == "per-head":
        attn = rng.standard_normal((n * heads, t, t))
    if "padding" in kind:
        pad = np.zeros((n, t), dtype=bool)
        pad[0, 1:] = t > 1            # the first sample sees its first key only
    return attn, pad, "causal" in kind


class Masked(nn.Module):
    """A layer called with fixed masks, so that ``check_module`` can call ``forward(x)``."""

    def __init__(self, layer, masks):
        super().__init__()
        self.layer, self.masks = layer, masks

    def forward(self, x):
        return self.layer(x, *self.masks)

    def backward(self, g):
        return self.layer.backward(g)


def torch_masks(torch, attn, pad, causal, t):
    """PyTorch wants the causal mask itself alongside is_causal=True."""
    if causal:
        tri = np.triu(np.ones((t, t), dtype=bool), k=1)
        attn = tri if attn is None else tri | attn
    return (None if attn is None else torch.tensor(attn),
            None if pad is None else torch.tensor(pad), causal)


@pytest.mark.parametrize("mask, bias", list(itertools.product(MASKS, [True, False])))
def test_attention_pytorch_parity_float64(mask, bias, torch_compare):
    torch = pytest.importorskip("torch")
    seed = MASKS.index(mask) * 2 + bias
    rng = np.random.default_rng(seed)
    heads = int(rng.integers(1, 4))
    n, t, e = int(rng.integers(1, 4)), int(rng.integers(1, 6)), heads * int(rng.integers(1, 4))
    torch.manual_seed(seed)
    tlayer = torch.nn.MultiheadAttention(e, heads, bias=bias, batch_first=True).double()
    if bias:  # PyTorch starts the biases at 0: make them count
        with torch.no_grad():
            tlayer.in_proj_bias.normal_()
            tlayer.out_proj.bias.normal_()
    layer = nn.MultiheadAttention(e, heads, bias=bias).astype(np.float64)
    x, g = rng.standard_normal((n, t, e)), rng.standard_normal((n, t, e))
    attn, pad, causal = make_masks(mask, n, t, heads, rng)
    t_attn, t_pad, _ = torch_masks(torch, attn, pad, causal, t)
    weights = {}

    def torch_call(m, tx):
        out, weights["mean"] = m(tx, tx, tx, attn_mask=t_attn, key_padding_mask=t_pad,
                                 is_causal=causal)
        weights["heads"] = m(tx, tx, tx, attn_mask=t_attn, key_padding_mask=t_pad,
                             average_attn_weights=False)[1]
        return out

    diffs = torch_compare(layer, tlayer, x, g, call=lambda m, a: m(a, attn, pad, causal),
                          torch_call=torch_call)
    diffs["weights"] = float(np.abs(layer.attn_weights - weights["mean"].detach().numpy()).max())
    diffs["weights per head"] = float(np.abs(
        layer.attn_weights_per_head - weights["heads"].detach().numpy()).max())
    assert max(diffs.values()) < 1e-6, diffs


@pytest.mark.parametrize("mask", ["none", "causal+padding", "float"])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_attention_gradcheck_after_another_layer(mask, dropout):
    rng = np.random.default_rng(5)
    masks = make_masks(mask, 2, 4, 2, rng)
    layer = nn.MultiheadAttention(4, 2, dropout=dropout, rng=1)
    model = nn.Sequential(nn.LayerNorm(4), Masked(layer, masks)).astype(np.float64)
    for p in model.parameters():   # biases start at 0; make their gradients matter
        p.data = p.data + rng.standard_normal(p.shape) * 0.3
    result = check_module(model, rng.standard_normal((2, 4, 4)), rng=6)
    assert result.ok, str(result)
    assert {"1.layer.in_proj_weight", "1.layer.out_proj.bias", "input"} <= set(result.errors)


def test_attention_weights_are_kept_for_display():
    layer = nn.MultiheadAttention(8, 2, rng=0)
    assert layer.attn_weights is None
    x = np.random.default_rng(1).standard_normal((3, 5, 8)).astype(np.float32)
    pad = np.zeros((3, 5), dtype=bool)
    pad[:, -1] = True
    layer(x, key_padding_mask=pad, is_causal=True)
    per_head, mean = layer.attn_weights_per_head, layer.attn_weights
    assert per_head.shape == (3, 2, 5, 5) and mean.shape == (3, 5, 5)
    np.testing.assert_allclose(per_head.sum(axis=-1), 1, rtol=1e-6)
    assert not np.triu(mean[0], k=1).any()               # nothing after the query
    assert not mean[:, :, -1].any()                      # the padded key is never read
    pad[0] = True                                        # sample 0 may read no key at all
    y = layer(x, key_padding_mask=pad)
    assert np.isnan(y[0]).all() and np.isfinite(y[1:]).all()   # NaN, as in PyTorch


@pytest.mark.parametrize("norm_first, activation, mask", [
    (False, "relu", "none"), (True, "gelu", "causal+padding"), (True, "relu", "bool"),
    (False, "gelu", "float")])
def test_encoder_layer_pytorch_parity_float64(norm_first, activation, mask, torch_compare):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    n, t, e, heads, ff = 2, 5, 6, 3, 10
    torch.manual_seed(0)
    tlayer = torch.nn.TransformerEncoderLayer(e, heads, ff, dropout=0.0, activation=activation,
                                              batch_first=True, norm_first=norm_first).double()
    with torch.no_grad():
        for name, p in tlayer.named_parameters():
            if "bias" in name or "norm" in name:
                p.add_(torch.randn_like(p) * 0.5)
    layer = nn.TransformerEncoderLayer(e, heads, ff, dropout=0.0, activation=activation,
                                       norm_first=norm_first).astype(np.float64)
    attn, pad, causal = make_masks(mask, n, t, heads, rng)
    t_attn, t_pad, _ = torch_masks(torch, attn, pad, causal, t)
    x, g = rng.standard_normal((n, t, e)), rng.standard_normal((n, t, e))
    diffs = torch_compare(layer, tlayer, x, g, call=lambda m, a: m(a, attn, pad, causal),
                          torch_call=lambda m, tx: m(tx, t_attn, t_pad, causal))
    assert max(diffs.values()) < 1e-6, diffs


@pytest.mark.parametrize("norm_first", [True, False])
def test_encoder_layer_gradcheck_after_patch_embedding(norm_first):
    """Training mode: the attention's and the three Dropouts' masks replayed by the checker."""
    model = nn.Sequential(
        nn.PatchEmbedding(4, 2, 1, 4, rng=0),
        nn.TransformerEncoderLayer(4, 2, 6, dropout=0.2, activation="gelu",
                                   norm_first=norm_first, rng=1),
        nn.SelectStep(0)).astype(np.float64)
    rng = np.random.default_rng(2)
    model[0].class_token.data = rng.standard_normal((1, 1, 4))
    result = check_module(model, rng.standard_normal((2, 1, 4, 4)), rng=3)
    assert result.ok, str(result)
    assert {"0.class_token", "0.pos_embedding", "1.self_attn.in_proj_weight", "1.norm2.bias",
            "1.linear2.weight", "input"} <= set(result.errors)


def test_patch_embedding_pytorch_parity_float64():
    """The same numbers as torchvision's recipe: a Conv2d with stride = kernel, flattened
    to tokens, a class token in front, positions added."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    layer = nn.PatchEmbedding(6, 3, 2, 5, rng=1).astype(np.float64)
    layer.class_token.data = rng.standard_normal((1, 1, 5))
    conv = torch.nn.Conv2d(2, 5, 3, stride=3).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(layer.weight.data))
        conv.bias.copy_(torch.tensor(layer.bias.data))
    cls = torch.tensor(layer.class_token.data, requires_grad=True)
    pos = torch.tensor(layer.pos_embedding.data, requires_grad=True)
    x, g = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 5, 5))
    tx = torch.tensor(x, requires_grad=True)
    tokens = conv(tx).flatten(2).transpose(1, 2)          # (N, P, E)
    ty = torch.cat([cls.expand(3, -1, -1), tokens], dim=1) + pos
    (ty * torch.tensor(g)).sum().backward()
    y, dx = layer(x), layer.backward(g)
    for ours, theirs in [(y, ty), (dx, tx.grad), (layer.weight.grad, conv.weight.grad),
                         (layer.bias.grad, conv.bias.grad), (layer.class_token.grad, cls.grad),
                         (layer.pos_embedding.grad, pos.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-6, rtol=0)


def test_float32_by_default():
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    model = nn.Sequential(nn.PatchEmbedding(rng=0),
                          nn.TransformerEncoderLayer(64, 4, 128, norm_first=True, rng=1))
    y = model(x)
    assert y.shape == (2, 17, 64) and y.dtype == np.float32
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape and dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


@pytest.mark.parametrize("call, words", [
    (lambda: nn.MultiheadAttention(10, 3), "must be divisible by num_heads"),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=False), "only batch_first=True"),
    (lambda: nn.MultiheadAttention(8, 2)(np.zeros((2, 3, 8)), np.zeros((4, 4))),
     "attn_mask must be (3, 3) or (4, 3, 3)"),
    (lambda: nn.MultiheadAttention(8, 2)(np.zeros((2, 3, 8)), None, np.zeros((3, 2), bool)),
     "key_padding_mask must be (2, 3)"),
    (lambda: nn.MultiheadAttention(8, 2)(np.zeros((2, 3, 8)), np.zeros((3, 3), int)),
     "a mask must be boolean or float"),
    (lambda: nn.PatchEmbedding(28, 5), "must be a multiple of patch_size"),
    (lambda: nn.PatchEmbedding(28, 7)(np.zeros((2, 1, 27, 27))), "expected input of shape"),
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"), "activation must be"),
])
def test_errors_name_the_problem(call, words):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert words in str(info.value)


@pytest.mark.parametrize("old, new", [
    ("        ds *= scale\n", "\n"),                                      # the 1/sqrt(d) forgotten
    ("dk = ds.transpose(0, 1, 3, 2) @ q", "dk = ds @ q"),                  # dS not transposed
    ("ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))", "ds = p * dp"),  # softmax's sum
])
def test_a_planted_attention_bug_is_caught(old, new):
    """A copy of attention.py with one slip in its backward fails the gradient check."""
    import inspect
    import types

    from barenet.nn import attention

    src = inspect.getsource(attention)
    assert src.count(old) == 1, f"the planted change {old!r} no longer fits"
    planted = types.ModuleType("barenet.nn.attention_planted")
    planted.__package__ = attention.__package__
    planted_src = src.replace(old, new).replace("@register_layer\n", "")  # not a second layer
    exec(compile(planted_src, attention.__file__, "exec"), planted.__dict__)
    layer = planted.MultiheadAttention(4, 2, rng=0).astype(np.float64)
    result = check_module(layer, np.random.default_rng(1).standard_normal((2, 3, 4)))
    assert not result.ok, str(result)
