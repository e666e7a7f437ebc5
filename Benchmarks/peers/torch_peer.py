#!/usr/bin/env python3
"""ssl-bench's workloads in PyTorch, eager and torch.compile, printed as ssl-bench --json lines.

    python3 Benchmarks/peers/torch_peer.py --quick > torch.jsonl      # CUDA if present, else CPU
    .build/release/ssl-bench --quick --compare torch.jsonl

Float32 with TF32 off (torch.backends.cuda.matmul.allow_tf32 = False, cudnn.allow_tf32 = False,
matmul precision "highest"), so that cuBLAS does what CLBlast's SGEMM does. Without CUDA it runs
on the CPU and its "device" field says so.

Variants: "torch-eager" and "torch-compile" (torch.compile of the same function, default mode;
its compilation happens in the untimed first call). The losses follow the official code
(Tests/Fixtures/losses/{redundancy,contrastive}.py: facebookresearch/barlowtwins and vicreg,
google-research/simclr tf2/objective.py ported to torch, our NT-Xent being the official value / 2)
and their gradients with respect to both views come from autograd: each timed call is forward +
torch.autograd.grad, as ssl-bench times forward + backward. gemm, xcorr (BatchNorm1d in training,
then bn(z1).T @ bn(z2) / N), sinkhorn (SwAV's distributed_sinkhorn, 3 iterations, ε 0.05) and knn
(DINO's knn_classifier, Tests/Fixtures/eval/eval.py) run under no_grad.

Timing: on CUDA, CUDA events around each call (device time, as ssl-bench's profiling events),
except knn, timed by the host clock from CPU features to CPU predictions, as ssl-bench times its
whole classify call; on the CPU, the host clock. Median of --runs after --warmup untimed calls.
Validation ("max_rel_err"): the eager function in float64 on the same device, where ssl-bench
would validate too.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as bc  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")


# MARK: - The official code (copied from the fixture scripts)


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
        self.bn = nn.BatchNorm1d(features, affine=False)

    def forward(self, z1, z2):
        c = self.bn(z1).T @ self.bn(z2)
        c.div_(self.batch_size)
        c_out = c.detach().clone()  # torch.diagonal(c).add_(-1) below edits c in place
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
        return loss, torch.stack([repr_loss, std_loss, cov_loss])


LARGE_NUM = 1e9


def add_contrastive_loss(hidden, hidden_norm=True, temperature=1.0):
    """google-research/simclr tf2/objective.py, single replica, in PyTorch."""
    if hidden_norm:
        hidden = F.normalize(hidden, dim=-1)  # tf.math.l2_normalize(hidden, -1)
    hidden1, hidden2 = torch.split(hidden, hidden.shape[0] // 2, 0)
    batch_size = hidden1.shape[0]
    hidden1_large = hidden1
    hidden2_large = hidden2
    labels = F.one_hot(torch.arange(batch_size, device=hidden.device), batch_size * 2).to(hidden.dtype)
    masks = F.one_hot(torch.arange(batch_size, device=hidden.device), batch_size).to(hidden.dtype)

    logits_aa = torch.matmul(hidden1, hidden1_large.T) / temperature
    logits_aa = logits_aa - masks * LARGE_NUM
    logits_bb = torch.matmul(hidden2, hidden2_large.T) / temperature
    logits_bb = logits_bb - masks * LARGE_NUM
    logits_ab = torch.matmul(hidden1, hidden2_large.T) / temperature
    logits_ba = torch.matmul(hidden2, hidden1_large.T) / temperature

    def softmax_cross_entropy_with_logits(labels, logits):
        return -(labels * F.log_softmax(logits, dim=1)).sum(1)

    loss_a = softmax_cross_entropy_with_logits(labels, torch.cat([logits_ab, logits_aa], 1))
    loss_b = softmax_cross_entropy_with_logits(labels, torch.cat([logits_ba, logits_bb], 1))
    loss = torch.mean(loss_a + loss_b)
    return loss, logits_ab, labels


@torch.no_grad()
def distributed_sinkhorn(out, epsilon=bc.SINKHORN_EPSILON, sinkhorn_iterations=bc.SINKHORN_ITERATIONS):
    """facebookresearch/swav main_swav.py, single process (the all_reduce calls are the identity)."""
    Q = torch.exp(out / epsilon).t()  # Q is K-by-B for consistency with notations from our paper
    B = Q.shape[1]  # number of samples to assign
    K = Q.shape[0]  # how many prototypes
    sum_Q = torch.sum(Q)
    Q /= sum_Q
    for it in range(sinkhorn_iterations):
        sum_of_rows = torch.sum(Q, dim=1, keepdim=True)
        Q /= sum_of_rows
        Q /= K
        Q /= torch.sum(Q, dim=0, keepdim=True)
        Q /= B
    Q *= B  # the columns must sum to 1 so that Q is an assignment
    return Q.t()


def knn_chunk(features, train_features, train_labels, k, T, num_classes, retrieval_one_hot):
    """One pass of DINO's knn_classifier chunk loop (eval_knn.py): similarities, top-k, votes."""
    batch_size = features.shape[0]
    similarity = torch.mm(features, train_features)
    distances, indices = similarity.topk(k, largest=True, sorted=True)
    candidates = train_labels.view(1, -1).expand(batch_size, -1)
    retrieved_neighbors = torch.gather(candidates, 1, indices)

    retrieval_one_hot.resize_(batch_size * k, num_classes).zero_()
    retrieval_one_hot.scatter_(1, retrieved_neighbors.view(-1, 1), 1)
    distances_transform = distances.clone().div_(T).exp_()
    probs = torch.sum(
        torch.mul(
            retrieval_one_hot.view(batch_size, -1, num_classes),
            distances_transform.view(batch_size, -1, 1),
        ),
        1,
    )
    _, predictions = probs.sort(1, True)
    return probs, predictions


@torch.no_grad()
def knn_classifier(train_features, train_labels, test_features, test_labels, k, T, num_classes, chunk=knn_chunk):
    """DINO's knn_classifier as Tests/Fixtures/eval/eval.py has it (min(100, M) chunks; returns the
    votes and predictions as well), its chunk body in `chunk` so that torch.compile can take it."""
    top1, top5, total = 0.0, 0.0, 0
    train_features = train_features.t()
    num_test_images, num_chunks = test_labels.shape[0], min(100, test_labels.shape[0])
    imgs_per_chunk = num_test_images // num_chunks
    retrieval_one_hot = torch.zeros(k, num_classes).to(train_features.device, train_features.dtype)
    all_probs, all_predictions = [], []
    for idx in range(0, num_test_images, imgs_per_chunk):
        features = test_features[idx : min((idx + imgs_per_chunk), num_test_images), :]
        targets = test_labels[idx : min((idx + imgs_per_chunk), num_test_images)]
        probs, predictions = chunk(features, train_features, train_labels, k, T, num_classes, retrieval_one_hot)
        correct = predictions.eq(targets.data.view(-1, 1))
        top1 = top1 + correct.narrow(1, 0, 1).sum().item()
        top5 = top5 + correct.narrow(1, 0, min(5, k)).sum().item()
        total += targets.size(0)
        all_probs.append(probs)
        all_predictions.append(predictions[:, 0])
    top1 = top1 * 100.0 / total
    top5 = top5 * 100.0 / total
    return top1, top5, torch.cat(all_probs), torch.cat(all_predictions)


# MARK: - Workloads


def make_call(op, shape, host, device, dtype, compiled):
    """The call to time for (op, shape) on `device`; it returns the outputs to validate."""
    maybe_compile = torch.compile if compiled else (lambda f: f)

    def tensor(a, grad=False):
        return torch.from_numpy(a).to(device=device, dtype=dtype).requires_grad_(grad)

    if op == "gemm":
        a, b = (tensor(x) for x in host)
        mm = maybe_compile(torch.mm)
        return lambda: [mm(a, b)]
    if op == "xcorr":
        n, d = shape
        z1, z2 = (tensor(x) for x in host)
        bn = nn.BatchNorm1d(d, affine=False).to(device, dtype).train()

        @torch.no_grad()
        def xcorr(z1, z2):
            c = bn(z1).T @ bn(z2)
            return c.div_(n)

        f = maybe_compile(xcorr)
        return lambda: [f(z1, z2)]
    if op == "sinkhorn":
        (scores,) = (tensor(x) for x in host)
        f = maybe_compile(distributed_sinkhorn)
        return lambda: [f(scores)]
    if op in ("barlow", "vicreg", "ntxent"):
        n, d = shape
        z1, z2 = (tensor(x, grad=True) for x in host)
        if op == "barlow":
            module = BarlowTwinsLoss(d, n, bc.BARLOW_LAMBDA).to(device, dtype).train()
            loss_fn = module.forward
        elif op == "vicreg":
            loss_fn = VICRegLoss(d, n, *bc.VICREG_COEFFS).forward
        else:
            def loss_fn(z1, z2):
                official, _, _ = add_contrastive_loss(torch.cat([z1, z2]), temperature=bc.NTXENT_TEMPERATURE)
                return official / 2, None  # ours is the mean over the 2N rows

        f = maybe_compile(loss_fn)

        def step():
            loss, extra = f(z1, z2)
            dz1, dz2 = torch.autograd.grad(loss, (z1, z2))
            return [loss.detach()] + ([extra.detach()] if extra is not None else []) + [dz1, dz2]

        return step
    if op == "knn":
        train, train_labels, test, test_labels = host
        k = shape[3]
        chunk = maybe_compile(knn_chunk)

        def classify():
            # From host features to host predictions, as ssl-bench times KNNClassifier.classify.
            tr = F.normalize(torch.from_numpy(train).to(device, dtype), dim=1, p=2)
            te = F.normalize(torch.from_numpy(test).to(device, dtype), dim=1, p=2)
            _, _, probs, predictions = knn_classifier(
                tr, torch.from_numpy(train_labels).to(device), te, torch.from_numpy(test_labels).to(device),
                k, bc.KNN_TEMPERATURE, bc.KNN_CLASSES, chunk=chunk)
            return [predictions.cpu().to(torch.float64), probs.cpu()]

        return classify
    raise ValueError(op)


def times_of(call, warmup, runs, device, op):
    """Seconds per run: CUDA events on CUDA (knn: the host clock), else the host clock."""
    if device.type != "cuda" or op == "knn":
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        return bc.wall_times(call, warmup, runs, sync), "wall"
    for _ in range(warmup):
        call()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1e-3)
    return times, "events"


def as_numpy(outputs):
    return [o.detach().cpu().double().numpy() for o in outputs]


def main():
    p = bc.parser("ssl-bench's workloads in PyTorch (eager and torch.compile), as ssl-bench --json lines.")
    p.add_argument("--variant", action="append", choices=["eager", "compile"],
                   help="torch-eager and/or torch-compile; repeatable (default both)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cuda or cpu")
    args = p.parse_args()
    warmup, runs = bc.counts(args)
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch.cuda.is_available() is False")
    device = torch.device("cuda" if use_cuda else "cpu")
    if use_cuda:
        name = f"cuda: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, TF32 off"
    else:
        why = "no CUDA" if not torch.cuda.is_available() else "--device cpu"
        name = f"cpu ({why}): {bc.cpu_name()}, {torch.get_num_threads()} thread{'s' if torch.get_num_threads() != 1 else ''}, torch {torch.__version__}"
    bc.note(f"device: {name}")
    variants = list(dict.fromkeys(args.variant or ["eager", "compile"]))
    for op, shape in bc.plan(args):
        host = bc.inputs(op, shape)
        reference = None
        if bc.should_validate(op, shape):
            reference = as_numpy(make_call(op, shape, host, device, torch.float64, compiled=False)())
        for variant in variants:
            try:
                call = make_call(op, shape, host, device, torch.float32, compiled=variant == "compile")
                result = as_numpy(call())  # compiles, for torch.compile: not timed
            except Exception as error:  # e.g. no C++ compiler for Inductor on the CPU
                bc.note(f"{op} {shape} torch-{variant}: skipped: {type(error).__name__}: {error}")
                continue
            error = bc.max_relative_error(result, reference) if reference is not None else None
            times, timing = times_of(call, warmup, runs, device, op)
            bc.emit(op, f"torch-{variant}", shape, name, warmup, runs, timing, times, error)


if __name__ == "__main__":
    main()
