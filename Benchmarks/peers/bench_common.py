"""What the peer scripts share with ssl-bench: the ops, their sizes, their cost model, their
inputs, the command line, validation and the JSON-lines schema.

Keep in step with Benchmarks/ssl-bench/{Sizes,Workloads,Report}.swift: the same (op, shape) rows,
the same flop and byte counts (so GFLOP/s and GB/s of a peer and of ssl-bench at one row are
comparable), and the same JSON keys in the same order, so that `ssl-bench --compare FILE` reads a
peer's output as it reads its own.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

OPS = ["gemm", "xcorr", "sinkhorn", "barlow", "vicreg", "ntxent", "knn"]

# Defaults of the objectives, as Sources/SSLCore/Losses/*.swift and ssl-bench use them.
BARLOW_LAMBDA = 0.0051
BN_EPS = 1e-5
VICREG_COEFFS = (25.0, 25.0, 1.0)
NTXENT_TEMPERATURE = 0.1
SINKHORN_EPSILON = 0.05
SINKHORN_ITERATIONS = 3
KNN_TEMPERATURE = 0.07
KNN_CLASSES = 10
KNN_K = 20

# Sizes.swift's defaults: the GPU sizes, and --quick sizes for a CPU in seconds.
SIZES = {
    "gemm": ([[1024, 1024, 1024], [4096, 4096, 4096], [8192, 8192, 8192]], [[128, 128, 128], [257, 129, 65]]),
    "xcorr": ([[256, 2048], [2048, 8192]], [[64, 128]]),
    "sinkhorn": ([[256, 3000], [4096, 3000], [16384, 3000]], [[128, 300]]),
    "barlow": ([[256, 2048], [2048, 8192]], [[64, 128]]),
    "vicreg": ([[256, 2048], [2048, 8192]], [[64, 128]]),
    "ntxent": ([[256, 128], [4096, 128], [4096, 2048]], [[128, 64]]),
    "knn": ([[50000, 10000, 512, 20]], [[2048, 256, 64, 20]]),
}
RANK = {"gemm": 3, "knn": 4}

# Runner.swift's limit: validate against float64 only when the reference is this cheap.
REFERENCE_WORK_LIMIT = 2e8


def cost(op, s):
    """(flops, bytes, reference work) of one call, exactly as Workloads.swift counts them."""
    if op == "gemm":
        m, n, k = s
        return 2 * m * n * k, 4 * (m * k + k * n + m * n), m * n * k
    if op == "xcorr":
        n, d = s
        return 2 * n * d * d + 10 * n * d, 4 * (2 * 3 * n * d + d * d), n * d * d
    if op == "sinkhorn":
        b, k = s
        e, its = b * k, SINKHORN_ITERATIONS
        return its * 2 * 4 * e, 4 * e * (2 * its + 2), 4 * e * (2 * its + 1)
    if op == "barlow":
        n, d = s
        return 6 * n * d * d + 26 * n * d + 4 * d * d, 4 * (4 * n * d + 4 * d * d), 3 * n * d * d
    if op == "vicreg":
        n, d = s
        return 8 * n * d * d + 20 * n * d + 4 * d * d, 4 * (4 * n * d + 4 * d * d), 4 * n * d * d
    if op == "ntxent":
        n, d = s
        r = 2 * n
        return 6 * r * r * d + 6 * r * r + 8 * r * d, 4 * (2 * r * d + 4 * r * r), 2 * r * r * d
    if op == "knn":
        n, m, d, _ = s
        return 2 * m * n * d, 4 * (n * d + m * d + 2 * m * n), m * n * d
    raise ValueError(op)


# MARK: - Inputs


def uniform(shape, seed):
    """Uniform in [-1, 1), float32: the distribution of ssl-bench's inputs (not its exact values)."""
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(np.float32)


def clustered(rows, d, seed):
    """kNN features near one of KNN_CLASSES centres, as Workloads.swift's clusteredFeatures."""
    centres = uniform((KNN_CLASSES, d), 100)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, KNN_CLASSES, size=rows)
    features = (centres[labels] + rng.uniform(-1, 1, size=(rows, d))).astype(np.float32)
    return features, labels.astype(np.int64)


def inputs(op, s):
    """The host inputs of (op, shape), float32 (labels int64)."""
    if op == "gemm":
        m, n, k = s
        return [uniform((m, k), 1), uniform((k, n), 2)]
    if op == "sinkhorn":
        return [uniform(tuple(s), 5)]
    if op == "knn":
        n, m, d, _ = s
        train, train_labels = clustered(n, d, 12)
        test, test_labels = clustered(m, d, 13)
        return [train, train_labels, test, test_labels]
    n, d = s
    return [uniform((n, d), 3), uniform((n, d), 4)]


def max_relative_error(results, references):
    """max over outputs of max|a − b| / max|b| (Runner.swift's measure; absolute if b is all 0)."""
    worst = 0.0
    for a, b in zip(results, references):
        a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
        difference, scale = float(np.max(np.abs(a - b))), float(np.max(np.abs(b)))
        worst = max(worst, difference / scale if scale > 0 else difference)
    return worst


# MARK: - Command line


def parse_size(text, op):
    parts = text.lower().split("x")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    rank = RANK.get(op, 2)
    if numbers and all(x > 0 for x in numbers):
        if len(numbers) == rank:
            return numbers
        if op == "gemm" and len(numbers) == 1:
            return numbers * 3
        if op == "knn" and len(numbers) == 3:
            return numbers + [KNN_K]
    raise SystemExit(f"--{op}: expected {'x'.join(['N'] * rank)}, got '{text}'")


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--op", action="append", choices=OPS, help="an op to run; repeatable (default: the ops given sizes, else all)")
    for op in OPS:
        p.add_argument(f"--{op}", action="append", default=[], metavar="SIZE", help=f"a {op} size as ssl-bench takes it; repeatable")
    p.add_argument("--quick", action="store_true", help="CI sizes, 1 warm-up, 3 runs")
    p.add_argument("--warmup", type=int, help="untimed runs before timing (default 2; 1 with --quick)")
    p.add_argument("--runs", type=int, help="timed runs (default 10; 3 with --quick)")
    return p


def plan(args):
    """[(op, shape)] in ssl-bench's order: the ops, then their sizes."""
    sized = [op for op in OPS if getattr(args, op)]
    ops = list(dict.fromkeys(args.op)) if args.op else (sized or OPS)
    for op in sized:
        if op not in ops:
            raise SystemExit(f"--{op} was given but --op does not select {op}")
    rows = []
    for op in ops:
        given = getattr(args, op)
        sizes = [parse_size(t, op) for t in given] if given else SIZES[op][1 if args.quick else 0]
        rows += [(op, s) for s in sizes]
    return rows


def counts(args):
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    runs = args.runs if args.runs is not None else (3 if args.quick else 10)
    if warmup < 0 or runs < 1:
        raise SystemExit("--warmup must be >= 0 and --runs >= 1")
    return warmup, runs


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# MARK: - Timing and output


def wall_times(call, warmup, runs, synchronize=lambda: None):
    """Seconds of each timed run by the host clock, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        synchronize()
        times.append(time.perf_counter() - start)
    return times


def emit(op, variant, shape, device, warmup, runs, timing, times, error):
    """One line of ssl-bench --json's schema (Report.swift's JSONLinesReport), keys in its order."""
    flops, nbytes, _ = cost(op, shape)
    median = statistics.median(times)
    row = {
        "op": op,
        "variant": variant,
        "shape": list(shape),
        "device": device,
        "warmup": warmup,
        "runs": runs,
        "timing": timing,
        "median_ms": median * 1e3,
        "min_ms": min(times) * 1e3,
        "gflops": flops / median / 1e9,
        "gbps": nbytes / median / 1e9,
        "max_rel_err": error if error is None or np.isfinite(error) else None,
    }
    print(json.dumps(row, separators=(",", ":")), flush=True)


def note(message):
    print(message, file=sys.stderr, flush=True)


def should_validate(op, shape):
    return cost(op, shape)[2] <= REFERENCE_WORK_LIMIT


HERE = os.path.dirname(os.path.abspath(__file__))
