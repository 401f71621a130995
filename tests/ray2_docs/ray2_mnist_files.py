"""A small synthetic MNIST in torchvision's raw format (`<root>/MNIST/raw/*-ubyte`), written where the
Ray scripts look (`~/data`), so that `datasets.MNIST(root, download=True)` finds it and downloads
nothing (this machine has no internet). Each digit class is a bright bar at its own place plus noise:
learnable, so accuracy rises over epochs as with the real data."""
from __future__ import annotations

import os
import struct

import numpy as np

FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=n).astype(np.uint8)
    images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        row = 2 + int(label) * 2
        images[i, row:row + 3, 4:24] = 255
    return images, labels


def write_mnist(root: str, n_train: int = 2048, n_test: int = 512) -> str:
    """Write the four raw files under `root/MNIST/raw`; returns that folder."""
    raw = os.path.join(os.path.expanduser(root), "MNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for train, n, seed in ((True, n_train, 0), (False, n_test, 1)):
        images, labels = synthetic_digits(n, seed)
        image_file, label_file = FILES[train]
        with open(os.path.join(raw, image_file), "wb") as f:
            f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        with open(os.path.join(raw, label_file), "wb") as f:
            f.write(struct.pack(">II", 2049, n) + labels.tobytes())
    return raw
