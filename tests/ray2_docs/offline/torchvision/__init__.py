"""A stand-in for the parts of torchvision the Ray documentation scripts use (`datasets.MNIST`,
`transforms.Compose/ToTensor/Normalize`), put on PYTHONPATH by tests/ray2_docs only where torchvision
itself cannot be imported (here: no CPU build of it installs). It reads the same raw MNIST files as
torchvision and never downloads."""
from . import datasets, transforms

__all__ = ["datasets", "transforms"]
