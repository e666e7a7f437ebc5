#!/usr/bin/env python3
"""Float64 fixtures for the distillation objectives (BYOL, SimSiam, DINO), from the official code.

Run from anywhere: `python3 Tests/Fixtures/losses/distillation.py` (needs PyTorch and NumPy; the
Swift tests need neither). Inputs are drawn in float64, rounded to float32 and saved as float32
(the tests feed them to the float32 API); everything computed from them is float64, with the
gradients from autograd. Files: `<method>_<case>_<name>.npy` next to this script.

Official code copied below (only the loss, on one process):
- BYOL: google-deepmind/deepmind-research, byol/utils/helpers.py (`l2_normalize`,
  `regression_loss`) and byol/byol_experiment.py (`repr_loss = jnp.mean(regression_loss(
  prediction, stop_gradient(projection)))`, one direction here); the target EMA is
  byol/utils/schedules.py `target_ema`, applied as `x + (1 - tau) * (y - x)`. JAX is rewritten
  line for line in PyTorch (jnp.sum -> torch.sum, jax.lax.rsqrt -> torch.rsqrt).
- SimSiam: facebookresearch/simsiam, main_simsiam.py
  (`criterion = nn.CosineSimilarity(dim=1)`, `loss = -(criterion(p1, z2).mean() +
  criterion(p2, z1).mean()) * 0.5`; z1, z2 come detached from the model).
- DINO: facebookresearch/dino, main_dino.py, `DINOLoss.forward` / `update_center` (world size 1)
  and its teacher-temperature schedule (np.linspace warm-up, then constant).
"""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261207)


def save(name, array):
    np.save(os.path.join(HERE, name + ".npy"), array)


def input_tensor(name, values):
    """Saves `values` as a float32 input; returns a float64 tensor holding the same values."""
    value = np.asarray(values).astype(np.float32)
    save(name, value)
    return torch.tensor(value.astype(np.float64), requires_grad=True)


def float32_input(name, *shape, scale=1.0, shift=0.0):
    return input_tensor(name, rng.standard_normal(shape) * scale + shift)


def out(name, tensor):
    save(name, tensor.detach().numpy().astype(np.float64))


# --- BYOL (byol/utils/helpers.py, byol/utils/schedules.py) -------------------------------------

def l2_normalize(x, axis=None, epsilon=1e-12):
    square_sum = torch.sum(torch.square(x), dim=axis, keepdim=True)
    x_inv_norm = torch.rsqrt(torch.clamp(square_sum, min=epsilon))  # jnp.maximum(square_sum, epsilon)
    return x * x_inv_norm


def regression_loss(x, y):
    normed_x, normed_y = l2_normalize(x, axis=-1), l2_normalize(y, axis=-1)
    return torch.sum((normed_x - normed_y) ** 2, dim=-1)


def _cosine_decay(global_step, max_steps, initial_value):
    global_step = np.minimum(global_step, max_steps)
    cosine_decay_value = 0.5 * (1 + np.cos(np.pi * global_step / max_steps))
    return initial_value * cosine_decay_value


def target_ema(global_step, base_ema, max_steps):
    decay = _cosine_decay(global_step, max_steps, 1.)
    return 1. - (1. - base_ema) * decay


for tag, (n, d) in {"n2d3": (2, 3), "n8d17": (8, 17)}.items():
    p = float32_input(f"byol_{tag}_p", n, d, scale=2.0)
    # A target correlated with the prediction, as after some training.
    z = input_tensor(f"byol_{tag}_z", rng.standard_normal((n, d)) + 0.5 * p.detach().numpy())
    loss = torch.mean(regression_loss(p, z.detach()))
    loss.backward()
    out(f"byol_{tag}_loss", loss)
    out(f"byol_{tag}_grad_p", p.grad)

# The EMA schedule over K = 100 steps, past the end too (the official code clamps the step).
steps = np.arange(0, 121, dtype=np.float64)
save("byol_ema_tau", target_ema(steps, base_ema=0.996, max_steps=100))
# One EMA step of a list of two teacher tensors, at tau = target_ema(37, 0.996, 100).
tau = float(target_ema(37.0, 0.996, 100))
for i, shape in enumerate([(3, 5), (7,)]):
    x = rng.standard_normal(shape).astype(np.float32)  # target
    y = rng.standard_normal(shape).astype(np.float32)  # online
    save(f"byol_ema_teacher{i}", x)
    save(f"byol_ema_online{i}", y)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    save(f"byol_ema_teacher{i}_next", x64 + (1 - tau) * (y64 - x64))

# --- SimSiam (main_simsiam.py) -----------------------------------------------------------------

criterion = nn.CosineSimilarity(dim=1)
for tag, (n, d) in {"n2d3": (2, 3), "n8d17": (8, 17)}.items():
    p1 = float32_input(f"simsiam_{tag}_p1", n, d, scale=1.5)
    p2 = float32_input(f"simsiam_{tag}_p2", n, d)
    z1 = float32_input(f"simsiam_{tag}_z1", n, d, shift=0.3)
    z2 = float32_input(f"simsiam_{tag}_z2", n, d, scale=3.0)
    loss = -(criterion(p1, z2.detach()).mean() + criterion(p2, z1.detach()).mean()) * 0.5
    loss.backward()
    out(f"simsiam_{tag}_loss", loss)
    out(f"simsiam_{tag}_grad_p1", p1.grad)
    out(f"simsiam_{tag}_grad_p2", p2.grad)

# --- DINO (main_dino.py) -----------------------------------------------------------------------


class DINOLoss(nn.Module):
    def __init__(self, out_dim, ncrops, warmup_teacher_temp, teacher_temp,
                 warmup_teacher_temp_epochs, nepochs, student_temp=0.1,
                 center_momentum=0.9):
        super().__init__()
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.ncrops = ncrops
        self.register_buffer("center", torch.zeros(1, out_dim, dtype=torch.float64))
        # we apply a warm up for the teacher temperature because
        # a too high temperature makes the training instable at the beginning
        self.teacher_temp_schedule = np.concatenate((
            np.linspace(warmup_teacher_temp,
                        teacher_temp, warmup_teacher_temp_epochs),
            np.ones(nepochs - warmup_teacher_temp_epochs) * teacher_temp
        ))

    def forward(self, student_output, teacher_output, epoch):
        """
        Cross-entropy between softmax outputs of the teacher and student networks.
        """
        student_out = student_output / self.student_temp
        student_out = student_out.chunk(self.ncrops)

        # teacher centering and sharpening
        temp = self.teacher_temp_schedule[epoch]
        teacher_out = F.softmax((teacher_output - self.center) / temp, dim=-1)
        teacher_out = teacher_out.detach().chunk(2)

        total_loss = 0
        n_loss_terms = 0
        for iq, q in enumerate(teacher_out):
            for v in range(len(student_out)):
                if v == iq:
                    # we skip cases where student and teacher operate on the same view
                    continue
                loss = torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
                total_loss += loss.mean()
                n_loss_terms += 1
        total_loss /= n_loss_terms
        self.update_center(teacher_output)
        return total_loss

    @torch.no_grad()
    def update_center(self, teacher_output):
        """
        Update center used for teacher output.
        """
        batch_center = torch.sum(teacher_output, dim=0, keepdim=True)
        batch_center = batch_center / len(teacher_output)  # dist.all_reduce / world size 1

        # ema update
        self.center = self.center * self.center_momentum + batch_center * (1 - self.center_momentum)


# Case a: the paper's defaults; case b: other temperatures and momentum, a 1-D center.
cases = {
    "a": dict(n=2, k=13, local=2, student_temp=0.1, teacher_temp=0.04, momentum=0.9, center_shape=(1, 13)),
    "b": dict(n=5, k=13, local=3, student_temp=0.2, teacher_temp=0.07, momentum=0.8, center_shape=(13,)),
}
for tag, c in cases.items():
    n, k, ncrops = c["n"], c["k"], 2 + c["local"]
    students = [float32_input(f"dino_{tag}_student{v}", n, k, scale=2.0) for v in range(ncrops)]
    teachers = [float32_input(f"dino_{tag}_teacher{t}", n, k, scale=2.0) for t in range(2)]
    center_values = (rng.standard_normal(c["center_shape"]) * 0.5).astype(np.float32)
    save(f"dino_{tag}_center", center_values)
    dino = DINOLoss(k, ncrops, c["teacher_temp"], c["teacher_temp"], 0, 1,
                    student_temp=c["student_temp"], center_momentum=c["momentum"])
    dino.center = torch.tensor(center_values.astype(np.float64)).reshape(1, k)
    student_output = torch.cat(students)  # MultiCropWrapper concatenates the crops' outputs
    teacher_output = torch.cat(teachers).detach()
    loss = dino(student_output, teacher_output, 0)
    loss.backward()
    save(f"dino_{tag}_params", np.array([c["student_temp"], c["teacher_temp"], c["momentum"]]))
    out(f"dino_{tag}_loss", loss)
    for v, s in enumerate(students):
        out(f"dino_{tag}_grad_student{v}", s.grad)
    out(f"dino_{tag}_center_next", dino.center.reshape(c["center_shape"]))

# The teacher-temperature schedule of the paper's ViT runs: 0.04 -> 0.07 over 30 of 100 epochs.
schedule = DINOLoss(13, 4, 0.04, 0.07, 30, 100).teacher_temp_schedule
save("dino_teacher_temp_schedule", schedule)

mine = [f for f in os.listdir(HERE) if f.endswith(".npy") and f.split("_")[0] in ("byol", "simsiam", "dino")]
print("wrote", len(mine), "files,", sum(os.path.getsize(os.path.join(HERE, f)) for f in mine), "bytes, to", HERE)
