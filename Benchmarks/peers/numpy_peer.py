#!/usr/bin/env python3
"""ssl-bench's workloads in NumPy on the CPU, printed as ssl-bench --json lines.

    python3 Benchmarks/peers/numpy_peer.py --quick > numpy.jsonl
    .build/release/ssl-bench --quick --compare numpy.jsonl
    python3 Benchmarks/peers/numpy_peer.py --self-test     # the losses against the torch fixtures

Variants: "numpy" for gemm, xcorr, sinkhorn and knn (forward only, as in ssl-bench);
"numpy-hand-backward" for barlow, vicreg and ntxent: the official forward in NumPy and a
hand-written backward (the derivations of Sources/SSLCore/Losses/*.swift), since NumPy has no
autograd. `--self-test` checks those losses and gradients against the float64 autograd values of
Tests/Fixtures/losses/*.npy, which the official PyTorch code produced.

Timing: the host wall clock (time.perf_counter), median of --runs after --warmup untimed calls.
Validation ("max_rel_err"): the same function in float64, where ssl-bench would validate too.
NumPy's BLAS uses its own threads (OPENBLAS_NUM_THREADS to change).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as bc  # noqa: E402


# MARK: - Forward ops


def gemm(a, b):
    return [a @ b]


def batch_norm(z, eps=bc.BN_EPS):
    """BatchNorm1d(affine=False) in training: biased variance. Returns y and rstd."""
    mean = z.mean(axis=0)
    centred = z - mean
    rstd = 1 / np.sqrt((centred * centred).mean(axis=0) + eps)
    return centred * rstd, rstd


def xcorr(z1, z2):
    """c = bn(z1).T @ bn(z2) / N (facebookresearch/barlowtwins main.py)."""
    y1, _ = batch_norm(z1)
    y2, _ = batch_norm(z2)
    return [y1.T @ y2 / z1.shape[0]]


def sinkhorn(out, epsilon=bc.SINKHORN_EPSILON, iterations=bc.SINKHORN_ITERATIONS):
    """SwAV's distributed_sinkhorn, single process (Tests/Fixtures/make_fixtures.py)."""
    q = np.exp(out / epsilon).T
    b = q.shape[1]
    k = q.shape[0]
    q /= q.sum()
    for _ in range(iterations):
        q /= q.sum(axis=1, keepdims=True)
        q /= k
        q /= q.sum(axis=0, keepdims=True)
        q /= b
    q *= b
    return [q.T]


# MARK: - Objectives: official forward, backward by hand


def barlow(z1, z2, lambd=bc.BARLOW_LAMBDA):
    """Barlow Twins loss, c and both gradients.

    Forward: c = bn(z1).T @ bn(z2) / N; loss = Σ(1 − c_ii)² + λ Σ_{i≠j} c_ij².
    Backward: dC = 2λC off the diagonal, 2(C_ii − 1) on it; dY1 = Y2 dCᵀ / N, dY2 = Y1 dC / N;
    through batch norm dz = rstd · (dy − mean(dy) − y · mean(dy ⊙ y)) per column.
    """
    n = z1.shape[0]
    y1, rstd1 = batch_norm(z1)
    y2, rstd2 = batch_norm(z2)
    c = y1.T @ y2 / n
    diagonal = np.diagonal(c)
    on_diag = ((diagonal - 1) ** 2).sum()
    off_diag = (c * c).sum() - (diagonal * diagonal).sum()
    loss = on_diag + lambd * off_diag
    dc = 2 * lambd * c
    np.fill_diagonal(dc, 2 * (diagonal - 1))
    dy1 = y2 @ dc.T / n
    dy2 = y1 @ dc / n

    def bn_backward(y, rstd, dy):
        return rstd * (dy - dy.mean(axis=0) - y * (dy * y).mean(axis=0))

    return [np.asarray(loss), c, bn_backward(y1, rstd1, dy1), bn_backward(y2, rstd2, dy2)]


def vicreg(x, y, coeffs=bc.VICREG_COEFFS):
    """VICReg loss, its unweighted parts and both gradients (facebookresearch/vicreg main_vicreg.py).

    Backward per view with centred x̄, σ and K = x̄ᵀx̄/(N−1): ∂s/∂x = 2(x − y)/(N·D) = −∂s/∂y;
    ∂v/∂z = −[σ < 1] x̄ / (2D(N−1)σ); ∂c/∂z = 4 x̄ · offdiag(K) / (D(N−1)).
    """
    sim, std, cov = coeffs
    n, d = x.shape
    difference = x - y
    repr_loss = (difference * difference).mean()
    grads = [sim * 2 * difference / (n * d), -sim * 2 * difference / (n * d)]
    std_loss, cov_loss = 0.0, 0.0
    for i, z in enumerate((x, y)):
        centred = z - z.mean(axis=0)
        k = centred.T @ centred / (n - 1)
        sigma = np.sqrt(np.diagonal(k) + 0.0001)  # x.var(dim=0) is K's diagonal
        std_loss = std_loss + np.maximum(1 - sigma, 0).mean() / 2
        np.fill_diagonal(k, 0)  # off_diagonal(K) from here on
        cov_loss = cov_loss + (k * k).sum() / d
        std_factor = np.where(sigma < 1, -std / (2 * d * (n - 1) * sigma), 0)
        grads[i] = grads[i] + std_factor * centred + (cov * 4 / (d * (n - 1))) * (centred @ k)
    loss = sim * repr_loss + std * std_loss + cov * cov_loss
    return [np.asarray(loss), np.array([repr_loss, std_loss, cov_loss]), grads[0], grads[1]]


LARGE_NUM = 1e9


def ntxent(z1, z2, temperature=bc.NTXENT_TEMPERATURE):
    """NT-Xent (google-research/simclr tf2/objective.py add_contrastive_loss) / 2, and both gradients.

    Forward on the stacked ẑ = normalize(concat(z1, z2)): the official logits [ab, aa] and
    [ba, bb] are the rows of S = ẑẑᵀ/T with the diagonal masked by −LARGE_NUM, up to column
    order, which a softmax does not see. Loss: the mean over the 2N rows (the official value / 2).
    Backward: dS = (softmax(S) − onehot(partner)) / 2N; dẑ = (dS + dSᵀ) ẑ / T; through
    F.normalize dz = (dẑ − ẑ⟨ẑ, dẑ⟩) / ‖z‖.
    """
    n = z1.shape[0]
    z = np.concatenate([z1, z2])
    norm = np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    h = z / norm
    logits = h @ h.T / temperature
    np.fill_diagonal(logits, np.diagonal(logits) - LARGE_NUM)
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    total = exp.sum(axis=1, keepdims=True)
    partner = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    rows = np.arange(2 * n)
    loss = (np.log(total[:, 0]) - logits[rows, partner]).mean()
    ds = exp / total
    ds[rows, partner] -= 1
    ds /= 2 * n
    dh = (ds + ds.T) @ h / temperature
    dz = (dh - h * (h * dh).sum(axis=1, keepdims=True)) / norm
    return [np.asarray(loss), dz[:n], dz[n:]]


# MARK: - kNN


def knn(train_features, train_labels, test_features, test_labels, k, T=bc.KNN_TEMPERATURE, num_classes=bc.KNN_CLASSES):
    """DINO's knn_classifier (eval_knn.py; Tests/Fixtures/eval/eval.py) in NumPy: normalised
    features, chunks of M/100 test rows against the whole train set, the k most similar, votes
    Σ exp(s/T) per class, the arg-max. Returns the predictions and the votes."""
    dtype = train_features.dtype
    train = train_features / np.maximum(np.linalg.norm(train_features, axis=1, keepdims=True), 1e-12).astype(dtype)
    test = test_features / np.maximum(np.linalg.norm(test_features, axis=1, keepdims=True), 1e-12).astype(dtype)
    train_t = np.ascontiguousarray(train.T)
    num_test = test.shape[0]
    per_chunk = num_test // min(100, num_test)
    all_probs, all_predictions = [], []
    for idx in range(0, num_test, per_chunk):
        features = test[idx : min(idx + per_chunk, num_test)]
        batch = features.shape[0]
        similarity = features @ train_t
        # topk(k, sorted=True): the k largest, then in decreasing order.
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        distances = np.take_along_axis(similarity, top, axis=1)
        order = np.argsort(-distances, axis=1, kind="stable")
        indices = np.take_along_axis(top, order, axis=1)
        distances = np.take_along_axis(distances, order, axis=1)
        retrieved = train_labels[indices]
        probs = np.zeros((batch, num_classes), dtype=dtype)
        np.add.at(probs, (np.repeat(np.arange(batch), k), retrieved.ravel()), np.exp(distances / T).ravel())
        all_probs.append(probs)
        all_predictions.append(np.argmax(probs, axis=1))
    _ = test_labels  # DINO counts top-1/top-5 against them; the benchmark reports the predictions
    return [np.concatenate(all_predictions).astype(np.float64), np.concatenate(all_probs)]


def call_of(op, arrays, shape):
    if op == "knn":
        train, train_labels, test, test_labels = arrays
        return lambda: knn(train, train_labels, test, test_labels, shape[3])
    fn = {"gemm": gemm, "xcorr": xcorr, "sinkhorn": sinkhorn, "barlow": barlow, "vicreg": vicreg, "ntxent": ntxent}[op]
    return lambda: fn(*arrays)


def float64(arrays):
    return [a.astype(np.float64) if a.dtype == np.float32 else a for a in arrays]


# MARK: - Self-test against the official code's fixtures


def self_test():
    fixtures = os.path.join(bc.HERE, "..", "..", "Tests", "Fixtures", "losses")

    def load(name):
        return np.load(os.path.join(fixtures, name + ".npy")).astype(np.float64)

    worst = 0.0
    for tag in ["n2d3", "n16d24", "n8d5"]:
        b = f"barlowtwins_{tag}"
        got = barlow(load(b + "_z1"), load(b + "_z2"), float(load(b + "_lambda")))
        error = bc.max_relative_error(got, [load(b + s) for s in ["_loss", "_c", "_grad_z1", "_grad_z2"]])
        v = f"vicreg_{tag}"
        got = vicreg(load(v + "_z1"), load(v + "_z2"), tuple(load(v + "_coeffs")))
        error = max(error, bc.max_relative_error(got, [load(v + s) for s in ["_loss", "_parts", "_grad_z1", "_grad_z2"]]))
        print(f"barlow/vicreg {tag}: max rel err {error:.2e}")
        worst = max(worst, error)
    for tag in ["2x3", "8x17"]:
        t = f"ntxent_{tag}"
        got = ntxent(load(t + "_z1"), load(t + "_z2"), float(load(t + "_temperature")))
        error = bc.max_relative_error(got, [load(t + s) for s in ["_loss", "_grad_z1", "_grad_z2"]])
        print(f"ntxent {tag}: max rel err {error:.2e}")
        worst = max(worst, error)
    if worst > 1e-9:
        raise SystemExit(f"self-test failed: max rel err {worst:.2e} > 1e-9")
    print("self-test passed")


def main():
    p = bc.parser("ssl-bench's workloads in NumPy on the CPU, as ssl-bench --json lines.")
    p.add_argument("--self-test", action="store_true", help="check the hand-written backward passes against the fixtures and exit")
    args = p.parse_args()
    if args.self_test:
        return self_test()
    warmup, runs = bc.counts(args)
    config = np.__config__.CONFIG if hasattr(np.__config__, "CONFIG") else {}
    blas = config.get("Build Dependencies", {}).get("blas", {}).get("name", "unknown BLAS")
    device = f"cpu: {bc.cpu_name()}, {os.cpu_count()} cores, NumPy {np.__version__} ({blas})"
    bc.note(f"device: {device}")
    for op, shape in bc.plan(args):
        arrays = bc.inputs(op, shape)
        call = call_of(op, arrays, shape)
        result = call()
        error = None
        if bc.should_validate(op, shape):
            error = bc.max_relative_error(result, call_of(op, float64(arrays), shape)())
        variant = "numpy-hand-backward" if op in ("barlow", "vicreg", "ntxent") else "numpy"
        times = bc.wall_times(call, warmup, runs)
        bc.emit(op, variant, shape, device, warmup, runs, "wall", times, error)


if __name__ == "__main__":
    main()
