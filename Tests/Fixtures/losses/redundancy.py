#!/usr/bin/env python3
"""Float64 fixtures for the redundancy-reduction objectives, from the official loss code.

Run from anywhere: `python3 Tests/Fixtures/losses/redundancy.py` (PyTorch, CPU). Writes small
.npy files next to this script, `<method>_<case>_<name>.npy`: inputs as float32 (the tests feed
them to the float32 API), everything computed in float64 from those float32 values, gradients by
autograd of the official code (the Swift side derives its backward by hand).

- Barlow Twins: facebookresearch/barlowtwins, main.py (commit 8e8d284), BarlowTwins.forward:
      c = self.bn(z1).T @ self.bn(z2); c.div_(batch_size)
      on_diag = torch.diagonal(c).add_(-1).pow_(2).sum(); off_diag = off_diagonal(c).pow_(2).sum()
      loss = on_diag + self.args.lambd * off_diag       (bn = BatchNorm1d(affine=False), training)
  Single process: the all_reduce is the identity and batch_size = N. The saved c is a copy taken
  before the loss lines, since torch.diagonal(c).add_(-1) edits c's diagonal in place.
- VICReg: facebookresearch/vicreg, main_vicreg.py (commit 4e12602), VICReg.forward, single
  process (FullGatherLayer is the identity, args.batch_size = N, num_features = D).
"""
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20260417)


def save(name, value):
    np.save(os.path.join(HERE, name + ".npy"), np.asarray(value))


# Both repositories define the same helper.
def off_diagonal(x):
    # return a flattened view of the off-diagonal elements of a square matrix
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class BarlowTwinsLoss(nn.Module):
    """BarlowTwins.forward after the projector, verbatim but for the distributed all_reduce."""

    def __init__(self, features, batch_size, lambd):
        super().__init__()
        self.batch_size, self.lambd = batch_size, lambd
        # normalization layer for the representations z1 and z2
        self.bn = nn.BatchNorm1d(features, affine=False)

    def forward(self, z1, z2):
        # empirical cross-correlation matrix
        c = self.bn(z1).T @ self.bn(z2)
        c.div_(self.batch_size)
        # Kept before the next line, whose torch.diagonal(c).add_(-1).pow_(2) works on a view
        # and so overwrites c's diagonal in place with (c_ii - 1)^2.
        c_out = c.detach().clone()
        on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
        off_diag = off_diagonal(c).pow_(2).sum()
        loss = on_diag + self.lambd * off_diag
        return loss, c_out


class VICRegLoss(nn.Module):
    """VICReg.forward after the projector, verbatim but for the gather across processes."""

    def __init__(self, num_features, batch_size, sim_coeff, std_coeff, cov_coeff):
        super().__init__()
        self.num_features, self.batch_size = num_features, batch_size
        self.sim_coeff, self.std_coeff, self.cov_coeff = sim_coeff, std_coeff, cov_coeff

    def forward(self, x, y):
        repr_loss = F.mse_loss(x, y)

        x = x - x.mean(dim=0)
        y = y - y.mean(dim=0)

        std_x = torch.sqrt(x.var(dim=0) + 0.0001)
        std_y = torch.sqrt(y.var(dim=0) + 0.0001)
        std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2

        cov_x = (x.T @ x) / (self.batch_size - 1)
        cov_y = (y.T @ y) / (self.batch_size - 1)
        cov_loss = off_diagonal(cov_x).pow_(2).sum().div(
            self.num_features
        ) + off_diagonal(cov_y).pow_(2).sum().div(self.num_features)

        loss = (
            self.sim_coeff * repr_loss
            + self.std_coeff * std_loss
            + self.cov_coeff * cov_loss
        )
        return loss, torch.stack([repr_loss, std_loss, cov_loss]), std_x, std_y


def inputs(n, d, scales, shift):
    """Float32 views with non-zero means and per-feature scales (some below std 1, some above)."""
    z1 = (rng.standard_normal((n, d)) * scales + shift).astype(np.float32)
    z2 = (z1 * 0.8 + rng.standard_normal((n, d)) * scales * 0.6 - shift / 2).astype(np.float32)
    return z1, z2


def leaf(array):
    return torch.tensor(array.astype(np.float64), requires_grad=True)


def barlow_case(tag, n, d, lambd):
    z1, z2 = inputs(n, d, rng.uniform(0.5, 3.0, d), rng.uniform(-2, 2, d))
    t1, t2 = leaf(z1), leaf(z2)
    loss, c = BarlowTwinsLoss(d, n, lambd).train()(t1, t2)
    loss.backward()
    name = f"barlowtwins_{tag}"
    save(name + "_z1", z1)
    save(name + "_z2", z2)
    save(name + "_lambda", np.float64(lambd))
    save(name + "_loss", loss.detach().numpy())
    save(name + "_c", c.detach().numpy())
    save(name + "_grad_z1", t1.grad.numpy())
    save(name + "_grad_z2", t2.grad.numpy())


def vicreg_case(tag, n, d, coeffs):
    # Alternate small and large feature scales so that relu(1 − std) is active for some features
    # and zero for others; keep every std well away from the kink at 1.
    for _ in range(100):
        scales = np.where(np.arange(d) % 2 == 0, 0.3, 2.5) * rng.uniform(0.7, 1.3, d)
        z1, z2 = inputs(n, d, scales, rng.uniform(-2, 2, d))
        t1, t2 = leaf(z1), leaf(z2)
        loss, parts, std_x, std_y = VICRegLoss(d, n, *coeffs)(t1, t2)
        stds = torch.cat([std_x, std_y]).detach().numpy()
        if (stds < 0.9).any() and (stds > 1.1).any() and np.abs(stds - 1).min() > 0.05:
            break
    else:
        raise RuntimeError(f"no input with std on both sides of 1 for {tag}")
    loss.backward()
    name = f"vicreg_{tag}"
    save(name + "_z1", z1)
    save(name + "_z2", z2)
    save(name + "_coeffs", np.array(coeffs, dtype=np.float64))
    save(name + "_loss", loss.detach().numpy())
    save(name + "_parts", parts.detach().numpy())
    save(name + "_grad_z1", t1.grad.numpy())
    save(name + "_grad_z2", t2.grad.numpy())


# The papers' defaults: λ = 0.0051; sim 25, std 25, cov 1. One case each with other values, so
# the coefficients' plumbing is checked too.
barlow_case("n2d3", 2, 3, 0.0051)
barlow_case("n16d24", 16, 24, 0.0051)
barlow_case("n8d5", 8, 5, 0.5)
vicreg_case("n2d3", 2, 3, (25.0, 25.0, 1.0))
vicreg_case("n16d24", 16, 24, (25.0, 25.0, 1.0))
vicreg_case("n8d5", 8, 5, (1.5, 4.0, 10.0))
