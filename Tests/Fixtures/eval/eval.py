#!/usr/bin/env python3
"""Float64 fixtures for the evaluation of frozen features (Tests/SSLCoreTests/Eval*Tests.swift).

Run from anywhere: `python3 Tests/Fixtures/eval/eval.py` (needs NumPy, torch and scikit-learn;
the Swift tests need none of them). Inputs are saved as float32 (features) and int64 (labels);
every value is computed in float64 from those float32 values. Files: `<case>_<name>.npy` here.

- silhouette_*: sklearn.metrics.silhouette_samples / silhouette_score, metric "euclidean" and
  "cosine", on a small clustered set with non-contiguous labels and a singleton cluster.
- knn_*:        DINO's knn_classifier (facebookresearch/dino eval_knn.py) in torch float64: the
                lines of its chunk loop as they are, with two changes: it returns the per-row
                class votes (`probs`) and the predictions (`predictions[:, 0]`), not only top-1/5
                counts, and the chunk count is min(100, M) since M // 100 is 0 for M < 100.
                Features are normalised first, as DINO's main does before calling it.
- linear_*:     sklearn make_pipeline(StandardScaler(), LogisticRegression(C=1.0)) run to
                convergence (tol 1e-10, max_iter 10000): coefficients (K, D), predictions,
                test probabilities.
"""
import os

import numpy as np
import torch
from torch import nn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import silhouette_samples, silhouette_score
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261203)


def save(name, array):
    if isinstance(array, torch.Tensor):
        array = array.detach().numpy()
    np.save(os.path.join(HERE, name + ".npy"), np.ascontiguousarray(array))  # C order for the Swift reader


def blobs(centres, counts, scale, dim):
    """float32 points around the given centres, and their int64 labels (cluster index)."""
    points = [c + scale * rng.standard_normal((n, dim)) for c, n in zip(centres, counts)]
    labels = np.concatenate([np.full(n, i) for i, n in enumerate(counts)])
    x = np.concatenate(points).astype(np.float32)
    order = rng.permutation(len(x))
    return x[order], labels[order].astype(np.int64)


# MARK: - Silhouette (scikit-learn)

dim = 6
centres = 3.0 * rng.standard_normal((4, dim)) + 5.0  # away from the origin, so cosine differs from euclidean
x, cluster = blobs(centres, [11, 9, 14, 1], 1.0, dim)
labels = np.array([3, 7, 11, 20])[cluster].astype(np.int64)  # non-contiguous; 20 is a singleton
save("silhouette_features", x)
save("silhouette_labels", labels)
x64 = x.astype(np.float64)
for metric in ["euclidean", "cosine"]:
    save(f"silhouette_{metric}_samples", silhouette_samples(x64, labels, metric=metric))
    save(f"silhouette_{metric}_score", np.array(silhouette_score(x64, labels, metric=metric)))


# MARK: - Weighted kNN (DINO eval_knn.py)

@torch.no_grad()
def knn_classifier(train_features, train_labels, test_features, test_labels, k, T, num_classes=1000):
    top1, top5, total = 0.0, 0.0, 0
    train_features = train_features.t()
    num_test_images, num_chunks = test_labels.shape[0], min(100, test_labels.shape[0])
    imgs_per_chunk = num_test_images // num_chunks
    retrieval_one_hot = torch.zeros(k, num_classes).to(train_features.device)
    all_probs, all_predictions = [], []
    for idx in range(0, num_test_images, imgs_per_chunk):
        # get the features for test images
        features = test_features[
            idx : min((idx + imgs_per_chunk), num_test_images), :
        ]
        targets = test_labels[idx : min((idx + imgs_per_chunk), num_test_images)]
        batch_size = targets.shape[0]

        # calculate the dot product and compute top-k neighbors
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

        # find the predictions that match the target
        correct = predictions.eq(targets.data.view(-1, 1))
        top1 = top1 + correct.narrow(1, 0, 1).sum().item()
        top5 = top5 + correct.narrow(1, 0, min(5, k)).sum().item()  # top5 does not make sense if k < 5
        total += targets.size(0)
        all_probs.append(probs)
        all_predictions.append(predictions[:, 0])
    top1 = top1 * 100.0 / total
    top5 = top5 * 100.0 / total
    return top1, top5, torch.cat(all_probs), torch.cat(all_predictions)


dim, classes = 8, 5
centres = 1.5 * rng.standard_normal((classes, dim))
train, train_labels = blobs(centres, [14, 12, 13, 11, 10], 1.0, dim)
test, test_labels = blobs(centres, [5, 4, 6, 4, 4], 1.0, dim)
save("knn_train_features", train)
save("knn_train_labels", train_labels)
save("knn_test_features", test)
save("knn_test_labels", test_labels)
train_t = nn.functional.normalize(torch.from_numpy(train.astype(np.float64)), dim=1, p=2)
test_t = nn.functional.normalize(torch.from_numpy(test.astype(np.float64)), dim=1, p=2)
for k, T in [(1, 0.07), (5, 0.07), (20, 0.07), (20, 0.5), (60, 0.07)]:
    top1, _, probs, predictions = knn_classifier(train_t, torch.from_numpy(train_labels), test_t,
                                                 torch.from_numpy(test_labels), k, T, num_classes=classes)
    save(f"knn_k{k}_t{T}_votes", probs)  # (M, classes): Σ exp(s/T), DINO's scale
    save(f"knn_k{k}_t{T}_predictions", predictions)
    save(f"knn_k{k}_t{T}_top1", np.array(top1))


# MARK: - Linear probe (scikit-learn)

dim, classes = 7, 3
centres = 2.0 * rng.standard_normal((classes, dim))
train, train_labels = blobs(centres, [30, 25, 35], 1.5, dim)
test, test_labels = blobs(centres, [10, 10, 10], 1.5, dim)
train[:, 3] = 4.0  # a constant feature: StandardScaler keeps its scale at 1
test[:, 3] = 4.0
save("linear_train_features", train)
save("linear_train_labels", train_labels)
save("linear_test_features", test)
save("linear_test_labels", test_labels)
scaler = StandardScaler().fit(train.astype(np.float64))
model = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(scaler.transform(train.astype(np.float64)), train_labels)
save("linear_coef", model.coef_)
save("linear_test_probabilities", model.predict_proba(scaler.transform(test.astype(np.float64))))
save("linear_test_predictions", model.predict(scaler.transform(test.astype(np.float64))).astype(np.int64))
save("linear_train_predictions", model.predict(scaler.transform(train.astype(np.float64))).astype(np.int64))
