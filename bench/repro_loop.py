#!/usr/bin/env python3
"""The reproduction-log generation loop written in plain PyTorch, for the side-by-side benchmark with forgebench's
`forgebench-worker bench-loop` (see bench/repro_vs_pytorch.sh).

Per step, as a PyTorch user writes it: draw fresh weights (each layer's reset_parameters, PyTorch's default
initialisation), gather a random batch of b real examples, forward, mean cross-entropy, backward, the SGD update
theta - eta * grad, and copy the flat theta_next out into a new host tensor. The models are the same as forgebench's
(logistic regression 784x10 without bias, LeNet-5 with ReLU and max-pooling, VGGmini with BatchNorm in training mode).
Prints one JSON line: {"impl": "pytorch", "model", "batch_size", "steps", "threads", "seconds", "steps_per_s"}.
Needs only torch (no numpy): the data files are parsed with gzip and torch.frombuffer.
"""
import argparse
import gzip
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_maybe_gz(path):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    with gzip.open(path + ".gz", "rb") as f:
        return f.read()


def load_mnist(root):
    images = read_maybe_gz(os.path.join(root, "mnist", "train-images-idx3-ubyte"))
    labels = read_maybe_gz(os.path.join(root, "mnist", "train-labels-idx1-ubyte"))
    n = int.from_bytes(images[4:8], "big")
    x = torch.frombuffer(bytearray(images[16:]), dtype=torch.uint8).view(n, 1, 28, 28).float() / 255.0
    y = torch.frombuffer(bytearray(labels[8:]), dtype=torch.uint8).long()
    return x, y


def load_cifar(root):
    raw = read_maybe_gz(os.path.join(root, "cifar10", "data_batch_1.bin"))
    rec = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, 3073)
    return rec[:, 1:].reshape(-1, 3, 32, 32).float() / 255.0, rec[:, 0].long()


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class VGGmini(nn.Module):
    def __init__(self):
        super().__init__()
        layers, inp = [], 3
        for i, c in enumerate([64, 64, 128, 128, 256, 256, 512, 512]):
            layers += [nn.Conv2d(inp, c, 3, padding=1), nn.BatchNorm2d(c), nn.ELU()]
            if i in (1, 3, 5):
                layers.append(nn.MaxPool2d(2))
            inp = c
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(8192, 128), nn.BatchNorm1d(128), nn.ELU(),
            nn.Linear(128, 64), nn.BatchNorm1d(64), nn.ELU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def build(name):
    if name == "logreg":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10, bias=False))
    if name == "lenet5":
        return LeNet5()
    if name == "vggmini":
        return VGGmini()
    raise SystemExit(f"unknown model {name!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eta", type=float, default=0.01)
    ap.add_argument("--data-dir", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x_all, y_all = load_cifar(a.data_dir) if a.model == "vggmini" else load_mnist(a.data_dir)
    n = x_all.shape[0]
    model = build(a.model).train()
    params = list(model.parameters())
    resets = [m for m in model.modules() if hasattr(m, "reset_parameters")]
    dim = sum(p.numel() for p in params)
    sink = 0.0

    def step(k):
        nonlocal sink
        with torch.no_grad():
            for m in resets:
                m.reset_parameters()
        idx = torch.randperm(n)[: a.batch_size]
        x, y = x_all[idx], y_all[idx]
        for p in params:
            p.grad = None
        F.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            theta_next = torch.cat([(p - a.eta * p.grad).reshape(-1) for p in params])
        sink += float(theta_next[k % dim])

    for k in range(a.warmup):
        step(a.steps + k)
    t0 = time.perf_counter()
    for k in range(a.steps):
        step(k)
    secs = time.perf_counter() - t0
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "model": a.model, "batch_size": a.batch_size,
                      "steps": a.steps, "threads": torch.get_num_threads(), "seconds": secs,
                      "steps_per_s": a.steps / secs, "checksum": sink}))


if __name__ == "__main__":
    main()
