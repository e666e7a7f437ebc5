#!/usr/bin/env python3
"""Float64 trajectories of the optimizers, from PyTorch and the official LARS code.

Run from anywhere: `python3 Tests/Fixtures/optim/optim.py` (needs PyTorch and NumPy; the Swift
tests need neither). A weight `w` (3, 4) and a bias `b` (4,) start from float32 values and take
three steps on fixed float32 gradients (`grad_w` (3, 3, 4), `grad_b` (3, 4), one row per step);
the optimizers run in float64 and every parameter and state tensor is saved after each step as
`<case>_<param>[_<slot>].npy`, shape (3, ...), with the learning rates as `<case>_lr.npy`.
Element w[0, 0]'s gradient is 0 at every step (AdamW's v stays 0 there: the update is 0/eps).

Cases (parameter groups as the SSL recipes set them: the bias gets no weight decay unless said):
- sgd_nesterov:  torch.optim.SGD, momentum 0.9, Nesterov, weight decay 0.01 on w only.
- sgd_decay_all: torch.optim.SGD, momentum 0.9, weight decay 0.05 on w and b.
- lars:          the official LARS (facebookresearch/barlowtwins, main.py, `class LARS`, copied
                 below unchanged), weight decay 0.05, eta 0.001, momentum 0.9, both filters on,
                 groups [w], [b] as main.py builds them, the bias group's lr 0.024 of the
                 weights' (0.0048 / 0.2, the official ratio).
- adamw:         torch.optim.AdamW, betas (0.9, 0.999), eps 1e-8, weight decay 0.04 on w only.
- clip:          torch.nn.utils.clip_grad_norm_([grad_w[0], grad_b[0]], 3.0): `clip_w`, `clip_b`,
                 `clip_norm` (the norm before clipping).
- dinoclip:      DINO's utils.clip_gradients (facebookresearch/dino, copied below) with clip 3.0:
                 `dinoclip_w`, `dinoclip_b`, `dinoclip_norms` (w is clipped, b is not).
"""
import os

import numpy as np
import torch
from torch import optim

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20260301)


def save(name, array):
    np.save(os.path.join(HERE, name + ".npy"), np.asarray(array))


# --- facebookresearch/barlowtwins, main.py -----------------------------------------------------

class LARS(optim.Optimizer):
    def __init__(self, params, lr, weight_decay=0, momentum=0.9, eta=0.001,
                 weight_decay_filter=False, lars_adaptation_filter=False):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                        eta=eta, weight_decay_filter=weight_decay_filter,
                        lars_adaptation_filter=lars_adaptation_filter)
        super().__init__(params, defaults)


    def exclude_bias_and_norm(self, p):
        return p.ndim == 1

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g['params']:
                dp = p.grad

                if dp is None:
                    continue

                if not g['weight_decay_filter'] or not self.exclude_bias_and_norm(p):
                    dp = dp.add(p, alpha=g['weight_decay'])

                if not g['lars_adaptation_filter'] or not self.exclude_bias_and_norm(p):
                    param_norm = torch.norm(p)
                    update_norm = torch.norm(dp)
                    one = torch.ones_like(param_norm)
                    q = torch.where(param_norm > 0.,
                                    torch.where(update_norm > 0,
                                                (g['eta'] * param_norm / update_norm), one), one)
                    dp = dp.mul(q)

                param_state = self.state[p]
                if 'mu' not in param_state:
                    param_state['mu'] = torch.zeros_like(p)
                mu = param_state['mu']
                mu.mul_(g['momentum']).add_(dp)

                p.add_(mu, alpha=-g['lr'])


# --- facebookresearch/dino, utils.py -----------------------------------------------------------

class _Model:
    """Just enough of nn.Module for clip_gradients: named_parameters()."""
    def __init__(self, named):
        self.named = named

    def named_parameters(self):
        return iter(self.named)


def clip_gradients(model, clip):
    norms = []
    for name, p in model.named_parameters():
        if p.grad is not None:
            param_norm = p.grad.data.norm(2)
            norms.append(param_norm.item())
            clip_coef = clip / (param_norm + 1e-6)
            if clip_coef < 1:
                p.grad.data.mul_(clip_coef)
    return norms


# --- inputs ------------------------------------------------------------------------------------

w0 = rng.standard_normal((3, 4)).astype(np.float32)
b0 = (0.5 * rng.standard_normal(4)).astype(np.float32)
grad_w = (2.0 * rng.standard_normal((3, 3, 4))).astype(np.float32)
grad_w[:, 0, 0] = 0.0
grad_b = (0.5 * rng.standard_normal((3, 4))).astype(np.float32)
save("w0", w0)
save("b0", b0)
save("grad_w", grad_w)
save("grad_b", grad_b)


def params():
    w = torch.tensor(w0.astype(np.float64), requires_grad=True)
    b = torch.tensor(b0.astype(np.float64), requires_grad=True)
    return w, b


def run(case, make, lrs, slots, set_lr):
    w, b = params()
    opt = make(w, b)
    traj = {k: [] for k in ["w", "b"] + [f"{x}_{s}" for x in "wb" for s in slots]}
    for t, lr in enumerate(lrs):
        set_lr(opt, lr)
        w.grad = torch.tensor(grad_w[t].astype(np.float64))
        b.grad = torch.tensor(grad_b[t].astype(np.float64))
        opt.step()
        for x, p in (("w", w), ("b", b)):
            traj[x].append(p.detach().numpy().copy())
            for s in slots:
                traj[f"{x}_{s}"].append(opt.state[p][s].numpy().copy())
    save(f"{case}_lr", np.array(lrs, dtype=np.float64))
    for k, v in traj.items():
        save(f"{case}_{k}", np.stack(v).astype(np.float64))


def set_all(opt, lr):
    for g in opt.param_groups:
        g["lr"] = lr


def set_lars(opt, lr):
    opt.param_groups[0]["lr"] = lr
    opt.param_groups[1]["lr"] = lr * 0.0048 / 0.2


run("sgd_nesterov",
    lambda w, b: optim.SGD([{"params": [w], "weight_decay": 0.01}, {"params": [b], "weight_decay": 0.0}],
                           lr=0.1, momentum=0.9, nesterov=True),
    [0.1, 0.05, 0.02], ["momentum_buffer"], set_all)
run("sgd_decay_all",
    lambda w, b: optim.SGD([w, b], lr=0.1, momentum=0.9, weight_decay=0.05),
    [0.1, 0.05, 0.02], ["momentum_buffer"], set_all)
run("lars",
    lambda w, b: LARS([{"params": [w]}, {"params": [b]}], lr=0, weight_decay=0.05,
                      weight_decay_filter=True, lars_adaptation_filter=True),
    [2.0, 1.5, 1.0], ["mu"], set_lars)
run("adamw",
    lambda w, b: optim.AdamW([{"params": [w], "weight_decay": 0.04}, {"params": [b], "weight_decay": 0.0}],
                             lr=1e-2),
    [1e-2, 5e-3, 2e-3], ["exp_avg", "exp_avg_sq"], set_all)

# --- clipping ----------------------------------------------------------------------------------

w, b = params()
w.grad = torch.tensor(grad_w[0].astype(np.float64))
b.grad = torch.tensor(grad_b[0].astype(np.float64))
norm = torch.nn.utils.clip_grad_norm_([w, b], 3.0)
save("clip_w", w.grad.numpy())
save("clip_b", b.grad.numpy())
save("clip_norm", norm.numpy().astype(np.float64))

w, b = params()
w.grad = torch.tensor(grad_w[0].astype(np.float64))
b.grad = torch.tensor(grad_b[0].astype(np.float64))
norms = clip_gradients(_Model([("w", w), ("b", b)]), 3.0)
assert norms[0] > 3.0 > norms[1], norms
save("dinoclip_w", w.grad.numpy())
save("dinoclip_b", b.grad.numpy())
save("dinoclip_norms", np.array(norms, dtype=np.float64))
