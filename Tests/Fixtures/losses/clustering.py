# Fixtures of the clustering objectives (SwAV, DeepCluster, SeLA) from the official code, float64.
#
#   python3 Tests/Fixtures/losses/clustering.py      (PyTorch and NumPy, CPU)
#
# Writes Tests/Fixtures/losses/<method>_<case>_<name>.npy: inputs as float32 (the tests feed them
# to the float32 API; every value below is computed from the float32-rounded inputs), outputs as
# float64, labels as int64.
#
# - SwAV: the loss loop of facebookresearch/swav main_swav.py `train` and `distributed_sinkhorn`
#   with world size 1 (the all_reduce calls are identities); gradients by autograd.
# - DeepCluster: faiss is not installed here, so the k-means is a transcription of faiss
#   Clustering::train (search, compute_centroids, split_clusters; faiss/Clustering.cpp) with one
#   change the Swift code makes too: an empty cluster splits the largest cluster (lowest index on
#   ties) instead of a randomly drawn one. The loss is nn.CrossEntropyLoss as in deepcluster main.py.
# - SeLA: optimize_L_sk of yukimasano/self-label sinkhornknopp.py (cpu_sk), and its
#   nn.CrossEntropyLoss on the labels (main.py).
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_default_dtype(torch.float64)


def save(name, array, dtype=np.float64):
    np.save(os.path.join(HERE, name + ".npy"), np.array(array, dtype=dtype, order="C"))


def as_input(name, array):
    """Saves an input as float32 and returns the float64 of the rounded values."""
    rounded = np.asarray(array, dtype=np.float32)
    save(name, rounded, np.float32)
    return rounded.astype(np.float64)


# MARK: - SwAV (main_swav.py)

class args:
    epsilon = 0.05
    sinkhorn_iterations = 3
    temperature = 0.1
    world_size = 1
    crops_for_assign = [0, 1]


@torch.no_grad()
def distributed_sinkhorn(out):
    Q = torch.exp(out / args.epsilon).t()  # Q is K-by-B for consistency with notations from our paper
    B = Q.shape[1] * args.world_size  # number of samples to assign
    K = Q.shape[0]  # how many prototypes

    # make the matrix sums to 1
    sum_Q = torch.sum(Q)
    Q /= sum_Q

    for it in range(args.sinkhorn_iterations):
        # normalize each row: total weight per prototype must be 1/K
        sum_of_rows = torch.sum(Q, dim=1, keepdim=True)
        Q /= sum_of_rows
        Q /= K

        # normalize each column: total weight per sample must be 1/B
        Q /= torch.sum(Q, dim=0, keepdim=True)
        Q /= B

    Q *= B  # the colomns must sum to 1 so that Q is an assignment
    return Q.t()


def swav_case(case, crops_np, prototypes_np, queue_np=None):
    """main_swav.py train(), one iteration: `output` = prototypes(embedding), no bias."""
    nmb_crops = len(crops_np)
    crops = [torch.tensor(c, requires_grad=True) for c in crops_np]
    prototypes = torch.tensor(prototypes_np, requires_grad=True)
    queue = None if queue_np is None else torch.tensor(queue_np)
    embedding = torch.cat(crops)
    output = embedding @ prototypes.t()
    output.retain_grad()
    embedding = embedding.detach()
    bs = crops_np[0].shape[0]

    loss = 0
    codes = []
    for i, crop_id in enumerate(args.crops_for_assign):
        with torch.no_grad():
            out = output[bs * crop_id: bs * (crop_id + 1)].detach()

            # time to use the queue (the fixture's queue is full, so use_the_queue holds)
            if queue is not None:
                out = torch.cat((torch.mm(queue[i], prototypes.t()), out))
                # fill the queue
                queue[i, bs:] = queue[i, :-bs].clone()
                queue[i, :bs] = embedding[crop_id * bs: (crop_id + 1) * bs]

            # get assignments
            q = distributed_sinkhorn(out)[-bs:]
        codes.append(q)

        # cluster assignment prediction
        subloss = 0
        for v in np.delete(np.arange(nmb_crops), crop_id):
            x = output[bs * v: bs * (v + 1)] / args.temperature
            subloss -= torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
        loss += subloss / (nmb_crops - 1)
    loss /= len(args.crops_for_assign)
    loss.backward()

    save(f"swav_{case}_loss", loss.item())
    for i, q in enumerate(codes):
        save(f"swav_{case}_codes_{i + 1}", q.numpy())
    for v in range(nmb_crops):
        save(f"swav_{case}_scores_{v + 1}", output[bs * v: bs * (v + 1)].detach().numpy())
        save(f"swav_{case}_grad_scores_{v + 1}", output.grad[bs * v: bs * (v + 1)].numpy())
        save(f"swav_{case}_grad_z{v + 1}", crops[v].grad.numpy())
    save(f"swav_{case}_grad_prototypes", prototypes.grad.numpy())
    if queue is not None:
        for i in range(len(args.crops_for_assign)):
            save(f"swav_{case}_queue_next_{i + 1}", queue[i].numpy())


def normalized(rng, rows, cols):
    x = rng.standard_normal((rows, cols))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def swav_fixtures():
    rng = np.random.default_rng(2020)
    # (case, N, D, K, crops, queue rows): the trainer normalises z and the prototypes; so do we.
    for case, n, d, k, n_crops, queue_rows in [("2crop", 6, 7, 5, 2, 0), ("4crop", 5, 6, 4, 4, 0),
                                               ("queue", 4, 5, 7, 2, 6)]:
        crops = [as_input(f"swav_{case}_z{v + 1}", normalized(rng, n, d)) for v in range(n_crops)]
        prototypes = as_input(f"swav_{case}_prototypes", normalized(rng, k, d))
        queue = None
        if queue_rows:
            queue = np.stack([as_input(f"swav_{case}_queue_{i + 1}", normalized(rng, queue_rows, d)) for i in range(2)])
        swav_case(case, crops, prototypes, queue)


# MARK: - DeepCluster (faiss Clustering::train, transcribed)

EPS = 1 / 1024.


def faiss_kmeans(x, centroids, niter):
    n, d = x.shape
    k = centroids.shape[0]
    centroids = centroids.copy()
    obj = []
    for _ in range(niter):
        # index.search(x, 1): nearest centroid (IndexFlatL2; argmin takes the lowest index on ties)
        dis = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
        assign = dis.argmin(1)
        obj.append(dis[np.arange(n), assign].sum())
        # compute_centroids
        hassign = np.zeros(k)
        centroids = np.zeros((k, d))
        for i in range(n):
            hassign[assign[i]] += 1.0
            centroids[assign[i]] += x[i]
        for ci in range(k):
            if hassign[ci] != 0:
                centroids[ci] *= 1 / hassign[ci]
        # split_clusters, with cj = the largest cluster (faiss draws it at random)
        for ci in range(k):
            if hassign[ci] == 0:
                cj = int(np.argmax(hassign))
                centroids[ci] = centroids[cj]
                for j in range(d):
                    if j % 2 == 0:
                        centroids[ci, j] *= 1 + EPS
                        centroids[cj, j] *= 1 - EPS
                    else:
                        centroids[ci, j] *= 1 - EPS
                        centroids[cj, j] *= 1 + EPS
                hassign[ci] = hassign[cj] / 2
                hassign[cj] -= hassign[ci]
    # deepcluster run_kmeans: `_, I = index.search(x, 1)` with the final centroids
    dis = ((x[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    assign = dis.argmin(1)
    return centroids, assign, dis[np.arange(n), assign].sum()


def kmeans_fixtures():
    rng = np.random.default_rng(2018)
    k, d, per = 4, 3, 6
    centres = np.array([[5.0, 0, 0], [-5, 0, 0], [0, 5, 0], [0, 0, 5]])
    x = np.concatenate([c + 0.3 * rng.standard_normal((per, d)) for c in centres])
    perm = rng.permutation(len(x))
    x = as_input("kmeans_blobs_x", x[perm])
    truth = np.repeat(np.arange(k), per)[perm]
    save("kmeans_blobs_truth", truth, np.int64)
    means = np.stack([x[truth == c].mean(0) for c in range(k)])
    save("kmeans_blobs_optimal_inertia", ((x - means[truth]) ** 2).sum())
    # Given initial centroids: one per blob, and a case with a duplicate that starts empty.
    first = [int(np.flatnonzero(truth == c)[0]) for c in range(k)]
    dup = [first[0], first[0], first[1], first[2]]
    for case, rows in [("blobs", first), ("empty", dup)]:
        init = x[rows]
        save(f"kmeans_{case}_init", init.astype(np.float32), np.float32)
        centroids, assign, inertia = faiss_kmeans(x, init, 20)
        save(f"kmeans_{case}_centroids", centroids)
        save(f"kmeans_{case}_assignments", assign, np.int64)
        save(f"kmeans_{case}_inertia", inertia)

    # The DeepCluster objective: nn.CrossEntropyLoss of the classifier's logits on pseudo-labels.
    logits = torch.tensor(as_input("deepcluster_ce_logits", 2 * rng.standard_normal((7, 5))), requires_grad=True)
    labels = rng.integers(0, 5, 7)
    save("deepcluster_ce_labels", labels, np.int64)
    loss = nn.CrossEntropyLoss()(logits, torch.tensor(labels))
    loss.backward()
    save("deepcluster_ce_loss", loss.item())
    save("deepcluster_ce_grad_logits", logits.grad.numpy())


# MARK: - SeLA (sinkhornknopp.py optimize_L_sk)

def py_softmax(x, axis=None):
    """stable softmax (self-label util.py: np.exp(x - logsumexp(x, axis=axis, keepdims=True)))"""
    m = x.max(axis=axis, keepdims=True)
    return np.exp(x - (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))))


def optimize_L_sk(PS, lamb):
    """optimize_L_sk for one head; PS is N x K softmax outputs. Returns plan (N x K), labels, steps, err."""
    N = PS.shape[0]
    K = PS.shape[1]
    dtype = np.float64
    PS = PS.T.copy()  # now it is K x N
    r = np.ones((K, 1), dtype=dtype) / K
    c = np.ones((N, 1), dtype=dtype) / N
    PS **= lamb  # K x N
    inv_K = dtype(1. / K)
    inv_N = dtype(1. / N)
    err = 1e6
    _counter = 0
    while err > 1e-1:
        r = inv_K / (PS @ c)  # (KxN)@(N,1) = K x 1
        c_new = inv_N / (r.T @ PS).T  # ((1,K)@(KxN)).t() = N x 1
        if _counter % 10 == 0:
            err = np.nansum(np.abs(c / c_new - 1))
        c = c_new
        _counter += 1
    # inplace calculations.
    PS *= np.squeeze(c)
    PS = PS.T
    PS *= np.squeeze(r)
    PS = PS.T
    argmaxes = np.nanargmax(PS, 0)  # size N
    return PS.T, argmaxes, _counter, err


def sela_fixtures():
    rng = np.random.default_rng(2019)
    for case, n, k, scale in [("small", 12, 3, 0.3), ("wide", 40, 7, 0.2)]:
        logits = as_input(f"sela_{case}_logits", scale * rng.standard_normal((n, k)))
        plan, labels, steps, err = optimize_L_sk(py_softmax(logits, 1), 25)
        save(f"sela_{case}_plan", plan)
        save(f"sela_{case}_labels", labels, np.int64)
        save(f"sela_{case}_steps", steps, np.int64)
        save(f"sela_{case}_error", err)
        # main.py: loss = XE(final, self.L[0, selected])
        t = torch.tensor(logits, requires_grad=True)
        loss = nn.CrossEntropyLoss()(t, torch.tensor(labels))
        loss.backward()
        save(f"sela_{case}_loss", loss.item())
        save(f"sela_{case}_grad_logits", t.grad.numpy())


if __name__ == "__main__":
    swav_fixtures()
    kmeans_fixtures()
    sela_fixtures()
