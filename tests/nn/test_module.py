"""The Module system: registration, traversal order and names, modes, state dicts, repr, hooks."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import graphflow as gf
import graphflow.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.scale = nn.Parameter(gf.ones(3))
        self.register_buffer("steps", gf.zeros(()), persistent=False)

    def forward(self, x):
        return self.bn(self.conv(x)) * self.scale.reshape(3, 1, 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5), nn.ReLU(), nn.Linear(5, 2))
        self.tied = self.head[1]  # the same module twice: parameters listed once


def test_parameter_names_and_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.conv.weight", "block.conv.bias", "block.bn.weight", "block.bn.bias",
                     "head.1.weight", "head.1.bias", "head.3.weight", "head.3.bias"]
    assert len(list(net.parameters())) == 9
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.bn.running_mean", "block.bn.running_var",
                                                  "block.bn.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["block", "head", "tied"]  # tied is not a direct child twice
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.conv", "block.bn", "head", "head.0",
                                                  "head.1", "head.2", "head.3"]
    assert [n for n, _ in net.block.named_parameters(prefix="b", recurse=False)] == ["b.scale"]


def test_state_dict_sharing():
    net = Net()
    sd = net.state_dict()
    assert "block.steps" not in sd  # non-persistent
    assert not sd["head.1.weight"].requires_grad
    assert np.shares_memory(sd["head.1.weight"].numpy(), net.head[1].weight.detach().numpy())
    assert np.shares_memory(sd["tied.weight"].numpy(), sd["head.1.weight"].numpy())


def test_state_dict_follows_pytorch_order():
    # PyTorch's order: a module's own parameters, then its buffers, then its children's
    net = Net()
    keys = list(net.state_dict())
    assert keys[:8] == ["block.scale", "block.conv.weight", "block.conv.bias", "block.bn.weight", "block.bn.bias",
                        "block.bn.running_mean", "block.bn.running_var", "block.bn.num_batches_tracked"]
    assert keys[8:] == ["head.1.weight", "head.1.bias", "head.3.weight", "head.3.bias", "tied.weight", "tied.bias"]


def test_load_state_dict_roundtrip_and_errors():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())
    sd = a.state_dict()
    sd.pop("head.3.bias")
    sd["extra.weight"] = gf.zeros(2)
    sd["head.1.weight"] = gf.zeros(5, 47)
    with pytest.raises(RuntimeError) as info:
        b.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "head.3.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for head.1.weight: copying a param with shape (5, 47) from checkpoint, the shape in " \
           "current model is (5, 48)" in msg
    sd["head.1.weight"] = a.head[1].weight.detach()
    result = b.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["head.3.bias"] and result.unexpected_keys == ["extra.weight"]


def test_load_state_dict_accepts_numpy_and_keeps_identity():
    lin = nn.Linear(3, 2)
    w = lin.weight
    lin.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    assert lin.weight is w
    np.testing.assert_array_equal(lin.weight.detach().numpy(), np.ones((2, 3), np.float32))
    assert lin.weight.dtype is gf.float32


def test_train_eval_and_apply():
    net = Net()
    assert net.training and net.block.bn.training
    net.eval()
    assert not net.training and not net.block.bn.training and not net.head[2].training
    net.train()
    assert net.head[3].training
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Conv2d"


def test_zero_grad_and_requires_grad():
    lin = nn.Linear(3, 2)
    lin(gf.randn(4, 3)).sum().backward()
    assert lin.weight.grad is not None
    lin.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(lin.weight.grad.numpy(), 0)
    lin.zero_grad()
    assert lin.weight.grad is None
    lin.requires_grad_(False)
    assert not lin.weight.requires_grad


def test_to_dtype():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    net.to(gf.float64)
    assert all(p.dtype is gf.float64 for p in net.parameters())
    assert net[1].running_mean.dtype is gf.float64
    assert net[1].num_batches_tracked.dtype is gf.int64  # integer buffers keep their dtype
    out = net(gf.randn(4, 3, dtype=gf.float64))
    assert out.dtype is gf.float64
    net.float()
    assert net[0].weight.dtype is gf.float32


def test_repr_like_pytorch():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Dropout(0.2))
    assert repr(net) == ("Sequential(\n  (0): Linear(in_features=4, out_features=3, bias=True)\n  (1): ReLU()\n"
                         "  (2): Dropout(p=0.2, inplace=False)\n)")
    assert repr(nn.Conv2d(1, 2, 3, stride=2, bias=False)) == \
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 2), bias=False)"


def test_attribute_rules():
    m = nn.Module()
    with pytest.raises(TypeError, match="cannot assign"):
        m.register_parameter("w", gf.ones(2))
    m.w = nn.Parameter(gf.ones(2))
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = gf.ones(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    del m.w
    with pytest.raises(AttributeError, match="has no attribute 'w'"):
        _ = m.w
    m.child = nn.Linear(1, 1)
    m.child = None
    assert list(m.children()) == []

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(gf.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h = lin.register_forward_hook(lambda m, args, out: calls.append(tuple(out.shape)))
    pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    out = lin(gf.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(lin.bias.detach().numpy(), (3, 2)))
    assert calls == [(3, 2)]
    h.remove()
    pre.remove()
    lin(gf.ones(1, 2))
    assert calls == [(3, 2)]


def test_containers():
    seq = nn.Sequential(OrderedDict(a=nn.Linear(2, 3), b=nn.ReLU(), c=nn.Linear(3, 1)))
    assert isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.Linear) and len(seq) == 3
    assert [n for n, _ in seq.named_children()] == ["a", "b", "c"]
    sub = seq[:2]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2
    assert seq.a is seq[0]
    with pytest.raises(IndexError):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.Tanh())
    assert len(ml) == 4 and isinstance(ml[-1], nn.Tanh)
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    md = nn.ModuleDict({"enc": nn.Linear(2, 2), "act": nn.GELU()})
    assert list(md.keys()) == ["enc", "act"] and "enc" in md
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias"]
    pl = nn.ParameterList([nn.Parameter(gf.ones(2)), gf.zeros(3)])
    assert [tuple(p.shape) for p in pl.parameters()] == [(2,), (3,)]


def test_parameter_shares_storage():
    t = gf.ones(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, gf.Tensor)
    assert np.shares_memory(p.detach().numpy(), t.numpy())
    assert repr(p).startswith("Parameter containing:")
    q = nn.Parameter(gf.ones(2), requires_grad=False)
    assert not q.requires_grad


def test_get_submodule_and_parameter():
    net = Net()
    assert net.get_submodule("head.1") is net.head[1]
    assert net.get_parameter("block.conv.weight") is net.block.conv.weight
    with pytest.raises(AttributeError, match="no submodule"):
        net.get_submodule("head.9")
