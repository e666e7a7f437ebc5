#!/usr/bin/env python3
"""torchvision's adjust_hue in float64, for AugmentOpTests' hue test.

Runs the official `_rgb2hsv` and `_hsv2rgb` of torchvision 0.29.2
(`torchvision/transforms/_functional_tensor.py`), taken verbatim from the wheel (downloaded with
`pip download torchvision==0.29.2 --no-deps` when not cached), and adjust_hue's
`h = (h + hue_factor) % 1.0` between them, in float64 (adjust_hue itself converts to float32).
Writes augment_hue_{input,factors,output}.npy next to this script: 3×4×5 RGB images in [0, 1]
with gray, saturated and white pixels, each shifted by the factors −0.5, −0.23, 0.1 and 0.5.
"""
import ast
import os
import subprocess
import tempfile
import zipfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
work = tempfile.mkdtemp()
subprocess.run(["pip", "download", "torchvision==0.29.2", "--no-deps", "-q", "-d", work], check=True)
wheel = next(f for f in os.listdir(work) if f.endswith(".whl"))
source = zipfile.ZipFile(os.path.join(work, wheel)).read("torchvision/transforms/_functional_tensor.py").decode()
module = ast.parse(source)
functions = [node for node in module.body if isinstance(node, ast.FunctionDef) and node.name in ("_rgb2hsv", "_hsv2rgb")]
namespace = {"torch": torch, "Tensor": torch.Tensor}
exec(compile(ast.Module(body=functions, type_ignores=[]), "_functional_tensor.py", "exec"), namespace)


def adjust_hue(img, hue_factor):
    img = namespace["_rgb2hsv"](img)
    h, s, v = img.unbind(dim=-3)
    h = (h + hue_factor) % 1.0
    return namespace["_hsv2rgb"](torch.stack((h, s, v), dim=-3))


rng = np.random.default_rng(20261207)
images = rng.random((4, 3, 4, 5))
images[:, :, 0, 0] = 0.5                     # gray: hue 0, unchanged
images[:, :, 0, 1] = [1.0, 0.0, 0.0]        # pure red
images[:, :, 0, 2] = 1.0                      # white
images[:, :, 1, 0] = [0.2, 0.9, 0.9]        # two equal maxima
factors = np.array([-0.5, -0.23, 0.1, 0.5])
out = np.stack([adjust_hue(torch.from_numpy(images[i]), float(factors[i])).numpy() for i in range(4)])
np.save(os.path.join(HERE, "augment_hue_input.npy"), images)
np.save(os.path.join(HERE, "augment_hue_factors.npy"), factors)
np.save(os.path.join(HERE, "augment_hue_output.npy"), out)
print("augment_hue: 4 images, max |shifted − input| =", np.abs(out - images).max())
