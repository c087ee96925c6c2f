"""Builds the bundled user-style TorchScript models into data/models/ with real PyTorch (torch alone):

    PYTHONPATH=.libtorch/py python3 worker/python/build_models.py

lenet5.pt (MNIST), resnet20.pt (CIFAR-10; width 8, one block per stage) and row-transformer.pt (MNIST rows as 28
tokens), each scripted with torch.jit.script from python/models.py after torch.manual_seed(0). The weights they hold
are PyTorch's default initialisation; a run that uses them as theta_0 starts where a PyTorch user's would.
"""
import hashlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "models")
os.makedirs(out, exist_ok=True)
for name, cls in models.MODELS.items():
    torch.manual_seed(0)
    net = cls()
    path = os.path.join(out, f"{name}.pt")
    torch.jit.script(net).save(path)
    n = sum(p.numel() for p in net.parameters())
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    print(f"{name}.pt: {n} parameters, sha256 {sha}")
