"""Train a bundled model on MNIST in PyTorch and log the run, in forgebench's layout (through forgebench_log) or in the
public Proof-of-Learning code's layout (doing what that code's train.py does: indices.npy, model_step_{i} every
save_freq steps and after the last, hash.txt over str() of each uint8 training image; ToTensor and
Normalize(0.5, 0.5) inputs).

    python worker/python/train.py --out run/ --model lenet5 --optimizer momentum --steps 5
    forgebench-worker pol-verify --log run/

--forge-step K logs a different batch for step K than the one trained on: the log then claims an update its batch
does not give, and a verifier must fail that step alone.
"""
import argparse
import hashlib
import os
import struct
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forgebench_log  # noqa: E402
import models  # noqa: E402


def make_optimizer(name, params, lr):
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    if name == "nesterov":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=1e-4)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    raise SystemExit(f"unknown optimiser {name}")


def save_npy(path, rows):
    """A [steps, b] int64 .npy file (format 1.0), as numpy.save writes it."""
    shape = (len(rows), len(rows[0]))
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, %d), }" % shape
    header += " " * (-(len(header) + 11) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%dq" % (shape[0] * shape[1]), *[i for r in rows for i in r]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data"))
    ap.add_argument("--model", default="lenet5", choices=["lenet5", "row-transformer"])
    ap.add_argument("--optimizer", default="sgd")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--save-freq", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layout", default="forgebench", choices=["forgebench", "public"])
    ap.add_argument("--forge-step", type=int, default=-1)
    ap.add_argument("--crash-after", type=int, default=-1, help="end the process abruptly after this many steps")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    data = forgebench_log.mnist(a.data)
    net = models.MODELS[a.model]()
    net.train()
    opt = make_optimizer(a.optimizer, net.parameters(), a.lr)
    g = torch.Generator().manual_seed(a.seed)
    order = torch.randperm(len(data), generator=g).tolist()
    batches = [order[i * a.batch_size:(i + 1) * a.batch_size] for i in range(a.steps)]
    claimed = [list(b) for b in batches]
    if 0 <= a.forge_step < a.steps:
        rest = order[a.steps * a.batch_size:]
        claimed[a.forge_step] = rest[:a.batch_size]

    if a.layout == "forgebench":
        log = forgebench_log.Log(a.out, net, opt, data, a.batch_size, save_every=a.save_freq, seed=a.seed)
        for step, idx in enumerate(batches):
            log.before_step(claimed[step])
            x, y = data.batch(idx)
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
            if step + 1 == a.crash_after:
                os._exit(3)
        log.close()
        return

    # The public PoL code's train.py, on forgebench's bundled MNIST subset (its `trainset.data` is this uint8
    # tensor, its transform ToTensor then Normalize(0.5, 0.5)).
    os.makedirs(a.out, exist_ok=True)
    u8 = (data.images * 255).round().to(torch.uint8)[:, 0]
    save_npy(os.path.join(a.out, "indices.npy"), claimed)
    m = hashlib.sha256()
    for d in u8:
        m.update(d.__str__().encode("utf-8"))
    with open(os.path.join(a.out, "hash.txt"), "x") as f:
        f.write(m.hexdigest())
    mean, std = torch.as_tensor([0.5]).view(-1, 1, 1), torch.as_tensor([0.5]).view(-1, 1, 1)
    for i, idx in enumerate(batches):
        if i % a.save_freq == 0:
            torch.save({"net": net.state_dict(), "optimizer": opt.state_dict()}, os.path.join(a.out, f"model_step_{i}"))
        x = u8[torch.as_tensor(idx)].unsqueeze(1).to(torch.float32).div(255).sub_(mean).div_(std)
        y = data.labels[torch.as_tensor(idx)]
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    torch.save({"net": net.state_dict(), "optimizer": opt.state_dict()}, os.path.join(a.out, f"model_step_{a.steps}"))
    torch.jit.script(net).save(os.path.normpath(a.out) + ".pt")


if __name__ == "__main__":
    main()
