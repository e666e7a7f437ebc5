#!/usr/bin/env python3
"""Float64 fixtures for the layers' ops, from PyTorch's own modules (CPU) and autograd.

Run from anywhere: `python3 Tests/Fixtures/layers/layers.py`. Writes small .npy files next to this
script, `<case>_<name>.npy`: inputs as float32 (the tests feed them to the float32 API),
everything else computed in float64 from those float32 values.

- conv_*:      torch.nn.Conv2d(cin, cout, k, stride, padding, bias): y and the gradients of
               <dy, y> with respect to x, weight and bias.
- bn2d_*:      torch.nn.BatchNorm2d(c) (eps 1e-5, momentum 0.1) with set affine parameters and
               running statistics: training forward y, the running statistics after it (PyTorch
               stores the unbiased variance), the gradients of <dy, y> for x, weight, bias; then
               evaluation forward and its input gradient from the updated running statistics.
- maxpool_*:   torch.nn.MaxPool2d(k, stride, padding, return_indices=True): y, the indices within
               each plane and the gradient of <dy, y> with respect to x.
"""
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20260521)


def save(name, value):
    np.save(os.path.join(HERE, name + ".npy"), np.asarray(value))


def float32_input(*shape, scale=1.0, shift=0.0):
    return (rng.standard_normal(shape) * scale + shift).astype(np.float32)


def leaf(array):
    return torch.tensor(array.astype(np.float64), requires_grad=True)


# (tag, n, cin, h, w, cout, k, stride, padding, bias)
for tag, n, cin, h, w, cout, k, stride, padding, bias in [
    ("c3k3s2p1", 2, 3, 7, 7, 5, 3, 2, 1, True),
    ("c1k3s1p1", 2, 1, 12, 12, 3, 3, 1, 1, True),
    ("c4k1s2p0", 2, 4, 5, 6, 6, 1, 2, 0, False),
]:
    name = f"conv_{tag}"
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=padding, bias=bias)
    weight = float32_input(cout, cin, k, k, scale=0.5)
    bias_value = float32_input(cout, scale=0.5)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weight.astype(np.float64)))
        if bias:
            conv.bias.copy_(torch.from_numpy(bias_value.astype(np.float64)))
    x = float32_input(n, cin, h, w)
    xt = leaf(x)
    y = conv(xt)
    dy = float32_input(*y.shape)
    (y * torch.from_numpy(dy.astype(np.float64))).sum().backward()
    save(name + "_x", x)
    save(name + "_weight", weight)
    if bias:
        save(name + "_bias", bias_value)
        save(name + "_dbias", conv.bias.grad.numpy())
    save(name + "_geometry", np.array([stride, padding], dtype=np.int64))
    save(name + "_dy", dy)
    save(name + "_y", y.detach().numpy())
    save(name + "_dx", xt.grad.numpy())
    save(name + "_dweight", conv.weight.grad.numpy())

for tag, n, c, h, w in [("n3c4h5w5", 3, 4, 5, 5), ("n2c3h1w1", 2, 3, 1, 1)]:
    name = f"bn2d_{tag}"
    bn = nn.BatchNorm2d(c)  # eps 1e-5, momentum 0.1, affine, track_running_stats
    gamma, beta = float32_input(c, scale=0.5, shift=1.0), float32_input(c, scale=0.5)
    running_mean, running_var = float32_input(c, scale=0.2), (np.abs(float32_input(c)) + 0.5).astype(np.float32)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma.astype(np.float64)))
        bn.bias.copy_(torch.from_numpy(beta.astype(np.float64)))
        bn.running_mean.copy_(torch.from_numpy(running_mean.astype(np.float64)))
        bn.running_var.copy_(torch.from_numpy(running_var.astype(np.float64)))
    x = float32_input(n, c, h, w, scale=2.0, shift=0.5)
    dy = float32_input(n, c, h, w)
    for item, value in [("x", x), ("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                        ("running_var", running_var), ("dy", dy)]:
        save(f"{name}_{item}", value)
    bn.train()
    xt = leaf(x)
    y = bn(xt)
    (y * torch.from_numpy(dy.astype(np.float64))).sum().backward()
    save(name + "_train_y", y.detach().numpy())
    save(name + "_train_dx", xt.grad.numpy())
    save(name + "_train_dgamma", bn.weight.grad.numpy())
    save(name + "_train_dbeta", bn.bias.grad.numpy())
    save(name + "_running_mean_after", bn.running_mean.numpy())
    save(name + "_running_var_after", bn.running_var.numpy())
    bn.eval()
    xt = leaf(x)
    y = bn(xt)
    (y * torch.from_numpy(dy.astype(np.float64))).sum().backward()
    save(name + "_eval_y", y.detach().numpy())
    save(name + "_eval_dx", xt.grad.numpy())

for tag, n, c, h, w, k, stride, padding in [("n2c3h7w7k3s2p1", 2, 3, 7, 7, 3, 2, 1),
                                            ("n1c2h6w5k2s2p0", 1, 2, 6, 5, 2, 2, 0),
                                            ("n2c2h5w5k3s1p1", 2, 2, 5, 5, 3, 1, 1)]:
    name = f"maxpool_{tag}"
    pool = nn.MaxPool2d(k, stride=stride, padding=padding, return_indices=True)
    x = float32_input(n, c, h, w)
    xt = leaf(x)
    y, indices = pool(xt)
    dy = float32_input(*y.shape)
    (y * torch.from_numpy(dy.astype(np.float64))).sum().backward()
    save(name + "_x", x)
    save(name + "_geometry", np.array([k, stride, padding], dtype=np.int64))
    save(name + "_dy", dy)
    save(name + "_y", y.detach().numpy())
    save(name + "_indices", indices.numpy().astype(np.float64))
    save(name + "_dx", xt.grad.numpy())
