#!/usr/bin/env python3
"""Float64 reference values for the op tests, written with NumPy from the official formulas.

Run from anywhere: `python3 Tests/Fixtures/make_fixtures.py`. Writes small .npy files next to
this script; the Swift tests read them and never need NumPy or PyTorch themselves.

- gemm:     C = alpha · op(A) · op(B)  (all four transpose combinations)
- xcorr:    Barlow Twins (facebookresearch/barlowtwins, main.py):
                c = bn(z1).T @ bn(z2); c.div_(batch_size), bn = BatchNorm1d(affine=False), eps 1e-5
- sinkhorn: SwAV (facebookresearch/swav, main_swav.py, distributed_sinkhorn), single process:
                Q = exp(out / eps).T; Q /= sum(Q)
                for it: Q /= sum(Q, dim=1, keepdim); Q /= K; Q /= sum(Q, dim=0, keepdim); Q /= B
                Q *= B; return Q.T
  Inputs of the sinkhorn cases keep |S| <= 1, so exp(S/0.01) = e^100 is fine in float64.
- npy_*:    files exercising the .npy reader (dtypes, header versions, and invalid files).
"""
import os
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261201)


def save(name, array):
    np.save(os.path.join(HERE, name + ".npy"), array)


def float32_input(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# GEMM: inputs are float32, the product is computed in float64 from those float32 values.
for m, n, k in [(1, 1, 1), (7, 13, 5), (33, 65, 17)]:
    for ta in (False, True):
        for tb in (False, True):
            a = float32_input(*((k, m) if ta else (m, k)))
            b = float32_input(*((n, k) if tb else (k, n)))
            opa = a.astype(np.float64).T if ta else a.astype(np.float64)
            opb = b.astype(np.float64).T if tb else b.astype(np.float64)
            tag = f"gemm_{m}x{n}x{k}_{'T' if ta else 'N'}{'T' if tb else 'N'}"
            save(tag + "_a", a)
            save(tag + "_b", b)
            save(tag + "_c", 0.5 * opa @ opb)  # alpha = 0.5


def batch_norm(z, eps=1e-5):
    return (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + eps)  # biased variance, as BatchNorm1d


for n, d in [(2, 3), (13, 7), (64, 33)]:
    z1 = float32_input(n, d, scale=2.0) + 0.5
    z2 = float32_input(n, d)
    c = batch_norm(z1.astype(np.float64)).T @ batch_norm(z2.astype(np.float64)) / n
    save(f"xcorr_{n}x{d}_z1", z1)
    save(f"xcorr_{n}x{d}_z2", z2)
    save(f"xcorr_{n}x{d}_c", c)


def swav_sinkhorn(out, epsilon, iterations):
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
    return q.T


for b, k in [(1, 1), (37, 11), (50, 129)]:
    s = rng.uniform(-1, 1, size=(b, k)).astype(np.float32)
    save(f"sinkhorn_{b}x{k}_scores", s)
    for eps in (0.05, 0.01):
        save(f"sinkhorn_{b}x{k}_eps{eps}_codes", swav_sinkhorn(s.astype(np.float64), eps, 3))

# .npy reader cases.
base = np.arange(6, dtype=np.float64).reshape(2, 3) - 2.5
save("npy_float32", base.astype(np.float32))
save("npy_float64", base)
save("npy_int32", np.array([3, -1, 7], dtype=np.int32))
save("npy_int64", np.array([[0, 9], [-5, 2**40]], dtype=np.int64))
save("npy_uint8", np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
save("npy_scalar", np.array(1.5, dtype=np.float32))
save("npy_fortran", np.asfortranarray(base.astype(np.float32)))
save("npy_bigendian", base.astype(">f4"))
save("npy_complex", base.astype(np.complex64))
with open(os.path.join(HERE, "npy_version2.npy"), "wb") as f:
    np.lib.format.write_array(f, base.astype(np.float32), version=(2, 0))
with open(os.path.join(HERE, "npy_truncated.npy"), "wb") as f:
    data = open(os.path.join(HERE, "npy_float32.npy"), "rb").read()
    f.write(data[:-5])
with open(os.path.join(HERE, "npy_badmagic.npy"), "wb") as f:
    f.write(b"PK\x03\x04 this is a zip, not an npy file")
with open(os.path.join(HERE, "npy_badheader.npy"), "wb") as f:
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3 }"
    header += b" " * (118 - len(header)) + b"\n"
    f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\x00" * 24)
print("fixtures written to", HERE)
