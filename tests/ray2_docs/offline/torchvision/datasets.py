"""`MNIST(root, train=True, transform=None, target_transform=None, download=False)` over the raw files
in `<root>/MNIST/raw` (torchvision's layout). `download=True` with the files missing is an error: the
test writes them first."""
import os

import numpy as np

_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class MNIST:
    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        raw = os.path.join(os.path.expanduser(str(root)), "MNIST", "raw")
        image_file, label_file = (os.path.join(raw, name) for name in _FILES[bool(train)])
        if not (os.path.isfile(image_file) and os.path.isfile(label_file)):
            raise RuntimeError(f"MNIST files not found in {raw} (this offline stand-in never downloads)")
        self.data = np.fromfile(image_file, dtype=np.uint8, offset=16).reshape(-1, 28, 28)
        self.targets = np.fromfile(label_file, dtype=np.uint8, offset=8).astype(np.int64)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
