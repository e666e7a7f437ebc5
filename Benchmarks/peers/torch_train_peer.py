#!/usr/bin/env python3
"""ssl-bench --train's training steps in PyTorch, printed as ssl-bench --json lines (op "train").

    python3 Benchmarks/peers/torch_train_peer.py --train simclr --train-size 256x1024x512 > torch-train.jsonl
    .build/release/ssl-bench --train simclr --compare torch-train.jsonl

One step is what ssl-bench times through the library's Trainer: two augmented views of a batch
of 1x28x28 images (uniform noise, as ssl-bench's), each view through the encoder and projector
on its own (as the library's two-view steps do, so batch norm sees one view's N images; SimCLR's
both views as one batch of 2N), the loss, its backward, the optimizer step and the loss read back
to the host (loss.item()).

The networks and recipes are the library's `--preset cpu` ones (Sources/SSLTrain): the MLP
encoder Flatten, (Linear without bias, BatchNorm1d, ReLU) per width, or with --train-encoder
convnet the ConvNet: per block Conv2d 3x3 (padding 1, no bias), BatchNorm2d, ReLU, MaxPool2d(2),
then Flatten, Linear without bias, BatchNorm1d, ReLU; AdamW at 1e-3 x batch/256, weight decay
1e-4; crops of 70-100 %. Methods:
  simclr  projector Linear(d, d), ReLU, Linear(d, out); NT-Xent, T 0.1, over the 2N views.
  barlow  projector (Linear without bias, BN, ReLU) x 2, Linear without bias; loss of
          facebookresearch/barlowtwins (lambda 0.0051, BN without affine, C = z1ᵀz2 / N).
  vicreg  expander (Linear, BN, ReLU) x 2, Linear without bias; loss of facebookresearch/vicreg
          (25, 25, 1).
  byol    projector and predictor Linear, BN, ReLU, Linear (1024 -> 128); a target encoder and
          projector updated by EMA (tau 0.996) after each step; 2 - 2 cos in both directions.
  simsiam projector (Linear without bias, BN, ReLU) x 2, Linear without bias, BN without affine
          (-> 1024); predictor Linear without bias, BN, ReLU, Linear (-> 256 -> 1024);
          -cos(p, stop-gradient z) / 2 in both directions.
  moco    MoCo v2: query encoder + Linear(d, d), ReLU, Linear(d, 128); key encoder by EMA
          (m 0.99); InfoNCE, T 0.2, against a queue of 4096 keys; the batch's keys enqueued.
  swav    projection Linear(d, 512), BN, ReLU, Linear(512, 128), normalised; 100 prototypes
          (rows normalised before each step); codes by Sinkhorn-Knopp (eps 0.05, 3 iterations,
          no gradient); swapped prediction, T 0.1; two global crops, no local ones.
  dino    head Linear, GELU, Linear, GELU, Linear (-> 512 -> 512 -> 128), normalised, weight-normed
          Linear(128, 1024) without bias; a teacher by EMA (0.996); the DINO cross-entropy with
          centring (student T 0.1, teacher T 0.04, centre momentum 0.9); gradients clipped to
          norm 3 per parameter; two global crops.
  memorybank  encoder -> Linear(d, 128), normalised; one view; the exact softmax (T 0.07) over a
          bank holding one row per training image, whose rows of the batch move towards the new
          embeddings (momentum 0.5) and are normalised again.
  deepcluster, sela  encoder -> Linear(d, 100); cross-entropy on fixed pseudo-labels (made per
          epoch by k-means or Sinkhorn, outside the timed steps, as ssl-bench's warm-up holds
          them); one view of crop and flip only; DeepCluster on SGD 0.05, momentum 0.9, weight
          decay 1e-5.
Augmentation is batched on tensors, as a fast PyTorch pipeline does it: a random resized crop
(scale 0.7-1, ratio 3/4-4/3) with its flip as one affine_grid + grid_sample (bilinear,
align_corners=False), then colour jitter with p 0.8 (brightness, contrast, saturation — the last
a no-op on one channel, as in torchvision), grayscale p 0.2 (a no-op on one channel), no blur
(below 64 pixels, as the library), solarisation where the recipe has it, and normalisation.

Timing: the host clock around each step, after --warmup untimed steps; "median_ms" is the median
step, "images_per_s" the batch over the mean step. Float32 on the CPU (or CUDA with --device cuda,
TF32 off); torch's default thread count (all cores).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_peer  # noqa: E402  (the official losses, as Tests/Fixtures/losses copies them)

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

# The cpu recipe's projector widths (ShortRunRecipe.table), so that the shape names the network.
RECIPE_PROJECTOR = {"simclr": [128], "barlow": [1024, 1024, 1024], "vicreg": [1024, 1024, 1024],
                    "byol": [1024, 128], "simsiam": [1024, 256], "moco": [128], "swav": [512, 128],
                    "dino": [512, 128], "memorybank": [128], "deepcluster": [], "sela": []}


ENCODER = "mlp"  # --train-encoder


def encoder(widths):
    """The library's MLPEncoder, or its ConvNetEncoder (widths: block channels, then the dense width)."""
    if ENCODER == "convnet":
        layers, channels, side = [], 1, 28
        for c in widths[:-1]:
            layers += [nn.Conv2d(channels, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            channels, side = c, side // 2
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, widths[-1], bias=False),
                             nn.BatchNorm1d(widths[-1]), nn.ReLU())
    layers, d = [nn.Flatten()], 784
    for w in widths:
        layers += [nn.Linear(d, w, bias=False), nn.BatchNorm1d(w), nn.ReLU()]
        d = w
    return nn.Sequential(*layers)


def head(dims, batch_norm, bias_hidden, bias_last):
    layers = []
    for i in range(1, len(dims)):
        last = i == len(dims) - 1
        layers.append(nn.Linear(dims[i - 1], dims[i], bias=bias_last if last else bias_hidden))
        if not last:
            if batch_norm:
                layers.append(nn.BatchNorm1d(dims[i]))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def projector(method, d, widths):
    if method == "simclr":
        return head([d, d, widths[-1]], batch_norm=False, bias_hidden=True, bias_last=True)
    if method == "barlow":
        return head([d] + widths, batch_norm=True, bias_hidden=False, bias_last=False)
    return head([d] + widths, batch_norm=True, bias_hidden=True, bias_last=False)


def nt_xent(z1, z2, temperature=0.1):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    s = z @ z.T / temperature
    n = z1.shape[0]
    s.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(s, targets)


def barlow_twins(z1, z2):
    # torch_peer.py's copy of facebookresearch/barlowtwins (lambda 0.0051, BN without affine).
    return torch_peer.BarlowTwinsLoss(z1.shape[1], z1.shape[0], 0.0051).to(z1.device)(z1, z2)[0]


def vicreg(x, y):
    # torch_peer.py's copy of facebookresearch/vicreg (25, 25, 1).
    return torch_peer.VICRegLoss(x.shape[1], x.shape[0], 25.0, 25.0, 1.0)(x, y)[0]


def byol_loss(p, z):
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1)).mean()


def simsiam_loss(p, z):
    return -F.cosine_similarity(p, z.detach(), dim=-1).mean() / 2


class Siamese(nn.Module):
    """BYOL (with an EMA target) or SimSiam: encoder + projector, a predictor on top."""

    def __init__(self, method, encoder_widths, widths):
        super().__init__()
        d = encoder_widths[-1]
        hidden, out = widths
        if method == "byol":
            mlp = lambda i: head([i, hidden, out], batch_norm=True, bias_hidden=True, bias_last=True)
            self.online = nn.Sequential(encoder(encoder_widths), mlp(d))
            self.predictor = mlp(out)
            self.target = nn.Sequential(encoder(encoder_widths), mlp(d))
            self.target.load_state_dict(self.online.state_dict())
            self.target.requires_grad_(False)
        else:
            projector = head([d, d, d, hidden], batch_norm=True, bias_hidden=False, bias_last=False)
            self.online = nn.Sequential(encoder(encoder_widths), projector, nn.BatchNorm1d(hidden, affine=False))
            self.predictor = nn.Sequential(nn.Linear(hidden, out, bias=False), nn.BatchNorm1d(out), nn.ReLU(),
                                           nn.Linear(out, hidden))
            self.target = None
        self.method = method

    def loss(self, v1, v2):
        z1, z2 = self.online(v1), self.online(v2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        if self.target is None:
            return simsiam_loss(p1, z2) + simsiam_loss(p2, z1)
        with torch.no_grad():
            t1, t2 = self.target(v1), self.target(v2)
        return byol_loss(p1, t2) + byol_loss(p2, t1)

    @torch.no_grad()
    def after_step(self, tau=0.996):
        if self.target is not None:
            for t, o in zip(self.target.parameters(), self.online.parameters()):
                t.mul_(tau).add_(o, alpha=1 - tau)


class MoCo(nn.Module):
    def __init__(self, encoder_widths, widths, queue=4096, momentum=0.99, temperature=0.2):
        super().__init__()
        d = encoder_widths[-1]
        make = lambda: nn.Sequential(encoder(encoder_widths), projector("simclr", d, widths))
        self.query, self.key = make(), make()
        self.key.load_state_dict(self.query.state_dict())
        self.key.requires_grad_(False)
        self.register_buffer("queue", F.normalize(torch.randn(queue, widths[-1]), dim=1))
        self.pointer, self.momentum, self.temperature = 0, momentum, temperature

    def loss(self, v1, v2):
        q = F.normalize(self.query(v1), dim=1)
        with torch.no_grad():
            k = F.normalize(self.key(v2), dim=1)
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ self.queue.T], dim=1) / self.temperature
        self.keys = k
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))

    @torch.no_grad()
    def after_step(self):
        for t, o in zip(self.key.parameters(), self.query.parameters()):
            t.mul_(self.momentum).add_(o, alpha=1 - self.momentum)
        n = self.keys.shape[0]
        self.queue[self.pointer:self.pointer + n] = self.keys
        self.pointer = (self.pointer + n) % self.queue.shape[0]


@torch.no_grad()
def sinkhorn(scores):
    # torch_peer.py's copy of facebookresearch/swav's distributed_sinkhorn (eps 0.05, 3 iterations).
    return torch_peer.distributed_sinkhorn(scores, epsilon=0.05, sinkhorn_iterations=3)


class SwAV(nn.Module):
    def __init__(self, encoder_widths, widths, prototypes=100, temperature=0.1):
        super().__init__()
        d = encoder_widths[-1]
        self.encoder = encoder(encoder_widths)
        self.head = nn.Sequential(nn.Linear(d, widths[0]), nn.BatchNorm1d(widths[0]), nn.ReLU(), nn.Linear(widths[0], widths[-1]))
        self.prototypes = nn.Linear(widths[-1], prototypes, bias=False)
        self.temperature = temperature

    def loss(self, v1, v2):
        with torch.no_grad():
            self.prototypes.weight.copy_(F.normalize(self.prototypes.weight, dim=1))
        s1 = self.prototypes(F.normalize(self.head(self.encoder(v1)), dim=1))
        s2 = self.prototypes(F.normalize(self.head(self.encoder(v2)), dim=1))
        q1, q2 = sinkhorn(s1.detach()), sinkhorn(s2.detach())
        t = self.temperature
        return -0.5 * ((q1 * F.log_softmax(s2 / t, dim=1)).sum(1).mean() + (q2 * F.log_softmax(s1 / t, dim=1)).sum(1).mean())

    def after_step(self):
        pass


class DINO(nn.Module):
    def __init__(self, encoder_widths, widths, prototypes=1024, momentum=0.996):
        super().__init__()
        d = encoder_widths[-1]
        hidden, bottleneck = widths

        def network():
            mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, bottleneck))
            last = nn.utils.parametrizations.weight_norm(nn.Linear(bottleneck, prototypes, bias=False))
            return nn.ModuleDict({"encoder": encoder(encoder_widths), "mlp": mlp, "last": last})

        self.student, self.teacher = network(), network()
        self.teacher.load_state_dict(self.student.state_dict())
        self.teacher.requires_grad_(False)
        self.register_buffer("center", torch.zeros(1, prototypes))
        self.momentum = momentum

    @staticmethod
    def run(net, x):
        return net["last"](F.normalize(net["mlp"](net["encoder"](x)), dim=-1, p=2))

    def loss(self, v1, v2, student_t=0.1, teacher_t=0.04):
        s = [self.run(self.student, v) / student_t for v in (v1, v2)]
        with torch.no_grad():
            t_out = [self.run(self.teacher, v) for v in (v1, v2)]
            t = [F.softmax((o - self.center) / teacher_t, dim=-1) for o in t_out]
            self.center.mul_(0.9).add_(torch.cat(t_out).mean(dim=0, keepdim=True), alpha=0.1)
        return 0.5 * (torch.sum(-t[0] * F.log_softmax(s[1], dim=-1), dim=-1).mean()
                      + torch.sum(-t[1] * F.log_softmax(s[0], dim=-1), dim=-1).mean())

    def before_optimizer(self, clip=3.0):
        for p in self.student.parameters():
            if p.grad is not None:
                norm = p.grad.data.norm(2)
                p.grad.data.mul_(min(clip / (norm + 1e-6), 1))

    @torch.no_grad()
    def after_step(self):
        for t, o in zip(self.teacher.parameters(), self.student.parameters()):
            t.mul_(self.momentum).add_(o, alpha=1 - self.momentum)


class MemoryBank(nn.Module):
    def __init__(self, encoder_widths, widths, size, temperature=0.07, momentum=0.5):
        super().__init__()
        self.network = nn.Sequential(encoder(encoder_widths), nn.Linear(encoder_widths[-1], widths[-1]))
        self.register_buffer("bank", F.normalize(torch.rand(size, widths[-1]) - 0.5, dim=1))
        self.temperature, self.momentum = temperature, momentum

    def loss(self, v1, indices):
        z = F.normalize(self.network(v1), dim=1)
        self.z, self.indices = z.detach(), indices
        return F.cross_entropy(z @ self.bank.T / self.temperature, indices)

    @torch.no_grad()
    def after_step(self):
        rows = self.bank[self.indices] * self.momentum + self.z * (1 - self.momentum)
        self.bank[self.indices] = F.normalize(rows, dim=1)


class PseudoLabels(nn.Module):
    """DeepCluster's and SeLA's gradient step: a linear head on pseudo-labels fixed for the epoch."""

    def __init__(self, encoder_widths, size, clusters=100):
        super().__init__()
        self.network = nn.Sequential(encoder(encoder_widths), nn.Linear(encoder_widths[-1], clusters))
        self.register_buffer("labels", torch.randint(0, clusters, (size,)))

    def loss(self, v1, indices):
        return F.cross_entropy(self.network(v1), self.labels[indices])

    def after_step(self):
        pass


ONE_VIEW = ("memorybank", "deepcluster", "sela")
LOSSES = {"simclr": nt_xent, "barlow": barlow_twins, "vicreg": vicreg, "byol": None, "simsiam": None,
          "moco": None, "swav": None, "dino": None, "memorybank": None, "deepcluster": None, "sela": None}


def augment(images, generator, scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3), jitter=(0.4, 0.4, 0.4), solarize=0.0,
            mean=0.0, std=1.0):
    """One view of every image, batched: crop + flip as an affine resampling, then jitter."""
    n, device = images.shape[0], images.device
    u = lambda: torch.rand(n, generator=generator, device=device)
    area = scale[0] + (scale[1] - scale[0]) * u()
    log_ratio = torch.log(torch.tensor(ratio[0])) + (torch.log(torch.tensor(ratio[1] / ratio[0]))) * u()
    aspect = torch.exp(log_ratio)
    w = torch.sqrt(area * aspect).clamp(max=1.0)
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (1 - w) * (2 * u() - 1)
    cy = (1 - h) * (2 * u() - 1)
    flip = torch.where(u() < 0.5, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    x = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    apply = (u() < 0.8).view(n, 1, 1, 1)
    b = 1 + jitter[0] * (2 * u() - 1)
    c = 1 + jitter[1] * (2 * u() - 1)
    jittered = (x * b.view(n, 1, 1, 1)).clamp(0, 1)
    gray_mean = jittered.mean(dim=(1, 2, 3), keepdim=True)
    jittered = (c.view(n, 1, 1, 1) * jittered + (1 - c.view(n, 1, 1, 1)) * gray_mean).clamp(0, 1)
    x = torch.where(apply, jittered, x)
    if solarize > 0:
        x = torch.where((u() < solarize).view(n, 1, 1, 1) & (x >= 0.5), 1 - x, x)
    return (x - mean) / std


def run(method, batch, encoder_widths, projector_widths, warmup, steps, device):
    torch.manual_seed(0)
    generator = torch.Generator(device=device).manual_seed(1)
    images_total = batch * (warmup + steps)
    before_optimizer = lambda: None
    if method in ("byol", "simsiam", "moco", "swav", "dino", "memorybank", "deepcluster", "sela"):
        network = {"byol": lambda: Siamese("byol", encoder_widths, projector_widths),
                   "simsiam": lambda: Siamese("simsiam", encoder_widths, projector_widths),
                   "moco": lambda: MoCo(encoder_widths, projector_widths),
                   "swav": lambda: SwAV(encoder_widths, projector_widths),
                   "dino": lambda: DINO(encoder_widths, projector_widths),
                   "memorybank": lambda: MemoryBank(encoder_widths, projector_widths, images_total),
                   "deepcluster": lambda: PseudoLabels(encoder_widths, images_total),
                   "sela": lambda: PseudoLabels(encoder_widths, images_total)}[method]().to(device)
        loss_fn, after_step = network.loss, network.after_step
        if method == "dino":
            before_optimizer = network.before_optimizer
    else:
        network = nn.Sequential(encoder(encoder_widths), projector(method, encoder_widths[-1], projector_widths)).to(device)
        if method == "simclr":
            # Both views as one batch of 2N, as google-research/simclr and the library's SimCLR.
            loss_fn = lambda v1, v2: LOSSES[method](*network(torch.cat([v1, v2])).chunk(2))
        else:
            loss_fn = lambda v1, v2: LOSSES[method](network(v1), network(v2))
        after_step = lambda: None
    trainable = [p for p in network.parameters() if p.requires_grad]
    if method == "deepcluster":
        optimizer = torch.optim.SGD(trainable, lr=0.05 * batch / 256, momentum=0.9, weight_decay=1e-5)
    else:
        optimizer = torch.optim.AdamW(trainable, lr=1e-3 * batch / 256, weight_decay=1e-4)
    data = torch.rand(batch * (warmup + steps), 1, 28, 28, device=device)
    times = []
    for step in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        images = data[step * batch:(step + 1) * batch]
        if method in ONE_VIEW:
            # DeepCluster's and SeLA's view is crop and flip only; the memory bank's has jitter.
            indices = torch.arange(step * batch, (step + 1) * batch, device=device)
            jitter = (0.0, 0.0, 0.0) if method != "memorybank" else (0.4, 0.4, 0.4)
            second = indices
            v1 = augment(images, generator, jitter=jitter)
        else:
            # BYOL's, SimSiam's, SwAV's and DINO's second view is solarised with p 0.2 (byol views).
            solarize = 0.2 if method in ("byol", "simsiam", "swav", "dino") else 0
            v1, second = augment(images, generator), augment(images, generator, solarize=solarize)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(v1, second)
        loss.backward()
        before_optimizer()
        optimizer.step()
        after_step()
        value = loss.item()
        if step >= warmup:
            times.append(time.perf_counter() - start)
        if value != value:
            raise SystemExit(f"{method}: NaN loss at step {step}")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="append", required=True, choices=sorted(RECIPE_PROJECTOR))
    parser.add_argument("--train-size", default="256", help="BxW1xW2...: batch, then encoder widths (default 512x256)")
    parser.add_argument("--train-projector", help="W1,W2...: projector widths instead of the recipe's")
    parser.add_argument("--train-encoder", default="mlp", choices=["mlp", "convnet"],
                        help="the encoder whose widths --train-size gives (convnet: block channels, then the dense width)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    args = parser.parse_args()
    global ENCODER
    ENCODER = args.train_encoder
    numbers = [int(v) for v in args.train_size.split("x")]
    batch, encoder_widths = numbers[0], numbers[1:] or [512, 256]
    device = torch.device(args.device)
    name = (f"cuda: {torch.cuda.get_device_name()}" if device.type == "cuda"
            else f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads")
    name += f", PyTorch {torch.__version__}"
    print(f"device: {name}", file=sys.stderr)
    for method in args.train:
        widths = ([int(v) for v in args.train_projector.split(",")] if args.train_projector else RECIPE_PROJECTOR[method])
        times = run(method, batch, encoder_widths, widths, args.warmup, args.runs, device)
        row = {"op": "train", "variant": method, "encoder": args.train_encoder, "shape": [batch] + encoder_widths + widths, "device": name,
               "warmup": args.warmup, "runs": args.runs, "timing": "wall",
               "median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
               "images_per_s": batch / statistics.mean(times)}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
