#!/usr/bin/env python3
"""Fixtures of `ssl export`, checked against Python's safetensors and PyTorch.

Run from the repository root after `swift build`: `python3 Tests/Fixtures/export/make_export_fixtures.py`.
Needs numpy, torch and safetensors (pip); the Swift tests read what it writes and need none of them.

- format.safetensors: tensors of both dtypes written by safetensors.torch.save_file; the Swift
  writer must produce the same bytes.
- Two tiny runs on 12×12 images (npy data set written here): SimCLR with an MLP encoder, DINO
  with a ResNet encoder. For each: the checkpoint, `ssl export` of the encoder (SimCLR) or of
  every module (DINO, `--heads`), and PyTorch's float64 outputs of the exported modules on the
  test images, loaded by the Python `ssl export` prints (module definitions, then a strict
  `load_state_dict`). The script asserts that `ssl embed` agrees with PyTorch within 1e-5.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SSL = os.path.join(ROOT, ".build", "debug", "ssl")

save_file({"b.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3),
           "a.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
           "a.bias": torch.tensor([1.5, -2.25], dtype=torch.float32),
           "z.count": torch.tensor([-3, 4], dtype=torch.int64),
           "empty": torch.zeros(0, 3)},
          os.path.join(HERE, "format.safetensors"), metadata={"format": "pt"})

rng = np.random.default_rng(20261207)


def quadrants(count):
    """1×12×12 images in [0, 1], a bright quadrant per class (4 classes), with noise."""
    images = np.full((count, 1, 12, 12), 0.1, dtype=np.float32)
    labels = np.arange(count) % 4
    for n, label in enumerate(labels):
        top, left = label // 2 * 6, label % 2 * 6
        images[n, 0, top:top + 6, left:left + 6] = 0.8
    images += (rng.random(images.shape, dtype=np.float32) - 0.5) * 0.2
    return np.clip(images, 0, 1).astype(np.float32)[:, 0], labels.astype(np.int64)  # (N, H, W), as NumPy keeps images


files = {}
for split, count in (("train", 64), ("test", 16)):
    images, labels = quadrants(count)
    for kind, array in (("images", images), ("labels", labels)):
        files[f"{split}_{kind}"] = os.path.join(HERE, f"{split}_{kind}.npy")
        np.save(files[f"{split}_{kind}"], array)
dataset = "npy:" + ",".join(os.path.relpath(files[k], ROOT) for k in ("train_images", "train_labels", "test_images", "test_labels"))
test_images = torch.from_numpy(np.load(files["test_images"])).double().unsqueeze(1)

RUNS = {
    "simclr-mlp": ({"method": "simclr", "encoder": "mlp", "encoderWidths": [32, 16], "projector": [16]}, False),
    "dino-resnet": ({"method": "dino", "encoder": "resnet", "encoderWidths": [4, 8], "projector": [16, 8],
                     "prototypes": 32, "localCrops": 2}, True),
}
work = tempfile.mkdtemp()
try:
    for name, (keys, heads) in RUNS.items():
        config = dict(keys, batchSize=16, epochs=1, evalTrain=64, evalTest=16, dataset=dataset, seed=3)
        config_path = os.path.join(work, name + ".json")
        json.dump(config, open(config_path, "w"))
        out = os.path.join(work, name)
        subprocess.run([SSL, "train", "--config", config_path, "--out", out, "--device", "reference"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        checkpoint = os.path.join(HERE, name + ".npz")
        shutil.copy(os.path.join(out, "checkpoint.npz"), checkpoint)
        exported = os.path.join(HERE, name + ".safetensors")
        printed = subprocess.run([SSL, "export", "--checkpoint", checkpoint, "--out", exported] + (["--heads"] if heads else []),
                                 check=True, cwd=ROOT, capture_output=True, text=True).stdout
        embedded = os.path.join(work, name + "-embed.npy")
        subprocess.run([SSL, "embed", "--checkpoint", checkpoint, "--out", embedded, "--device", "reference"],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL)

        # The Python `ssl export` prints after its first line, run as a user would paste it
        # (load_state_dict is strict: every name present, none left over).
        namespace = {}
        os.chdir(ROOT)
        exec(printed.split("\n", 1)[1], namespace)
        model = namespace["model"].double()
        with torch.no_grad():
            encoder = model["encoder"] if heads else model
            features = encoder(test_images)
            np.save(os.path.join(HERE, name + "-encoder.npy"), features.numpy())
            if heads:
                np.save(os.path.join(HERE, name + "-head.npy"), model["head"](features).numpy())
        ours = np.load(embedded).astype(np.float64)
        error = np.abs(ours - features.numpy()).max()
        assert error < 1e-5, f"{name}: ssl embed differs from PyTorch by {error}"
        print(f"{name}: {len(load_file(exported))} tensors; ssl embed vs PyTorch max |Δ| = {error:.2e}")
finally:
    shutil.rmtree(work)
