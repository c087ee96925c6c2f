"""Write a forgebench Proof-of-Learning log from a PyTorch training loop (depends on torch alone).

    import forgebench_log
    data = forgebench_log.mnist("data")                    # or forgebench_log.folder("my_data/"), your own arrays
    log = forgebench_log.Log("run/", net, opt, data, batch_size=32)
    for indices in batches:
        log.before_step(indices)                           # records the batch and the learning rate, checkpoints
        x, y = data.batch(indices)
        opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
    log.close()                                            # the last checkpoint

The folder then holds forgebench-log.json (model identity, optimiser, data set, writer), model.pt (the model as
TorchScript) and checkpoints/{k:06d}.safetensors, written as each checkpoint is taken (its step, theta and the
optimiser's state, flattened in named_parameters() order, and the batch indices and learning rates of the steps that
led to it): a crash loses only the steps since the last checkpoint, and what was written verifies.
`forgebench-worker pol-verify --log run/` replays it.
"""
import ast
import gzip
import hashlib
import json
import os
import platform
import struct

import torch

FORMAT = "forgebench-torch-log/2"


class Data:
    """A training set as forgebench loads it: inputs (float32, channels first), int64 labels, sha256, kind."""

    def __init__(self, kind, images, labels, sha256):
        self.kind, self.images, self.labels, self.sha256 = kind, images, labels, sha256
        self.path = None

    def __len__(self):
        return self.labels.shape[0]

    def batch(self, indices):
        idx = torch.as_tensor(indices, dtype=torch.int64)
        return self.images[idx], self.labels[idx]


def _idx(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def mnist(data_dir):
    """MNIST's training set from `data_dir/mnist` (official IDX files), values byte / 255 as forgebench reads it.
    The sha256 is forgebench's: the decompressed images file, then the labels file."""
    root = os.path.join(data_dir, "mnist") if os.path.isdir(os.path.join(data_dir, "mnist")) else data_dir
    img = _idx(os.path.join(root, "train-images-idx3-ubyte.gz"))
    lab = _idx(os.path.join(root, "train-labels-idx1-ubyte.gz"))
    n, h, w = struct.unpack(">III", img[4:16])
    if struct.unpack(">I", lab[4:8])[0] != n:
        raise ValueError(f"{root}: images and labels disagree on the number of examples")
    u8 = torch.frombuffer(bytearray(img[16:]), dtype=torch.uint8).view(n, 1, h, w)
    labels = torch.frombuffer(bytearray(lab[8:]), dtype=torch.uint8).to(torch.int64)
    sha = hashlib.sha256(img + lab).hexdigest()
    return Data("mnist", u8.to(torch.float32).div(255), labels, sha)


_NPY_DTYPES = {"|u1": torch.uint8, "<f4": torch.float32, "|i1": torch.int8, "<i2": torch.int16,
               "<i4": torch.int32, "<i8": torch.int64}
if hasattr(torch, "uint16"):  # torch 2.3 and later
    _NPY_DTYPES["<u2"] = torch.uint16
_ST_DTYPES = {"U8": torch.uint8, "F32": torch.float32, "I8": torch.int8, "I16": torch.int16, "I32": torch.int32,
              "I64": torch.int64}


def _npy(path, raw):
    """One C-ordered .npy array of `raw` bytes as a tensor (NumPy's format, read without NumPy)."""
    if raw[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy array")
    size, start = (struct.unpack("<H", raw[8:10])[0], 10) if raw[6] == 1 else (struct.unpack("<I", raw[8:12])[0], 12)
    header = ast.literal_eval(raw[start:start + size].decode("latin1"))
    if header["fortran_order"] or header["descr"] not in _NPY_DTYPES:
        raise ValueError(f"{path}: expected a C-ordered array of {sorted(_NPY_DTYPES)}, got {header}")
    t = torch.frombuffer(bytearray(raw[start + size:]), dtype=_NPY_DTYPES[header["descr"]])
    return t.reshape(header["shape"])


def _safetensors(path, raw, name):
    n = struct.unpack("<Q", raw[:8])[0]
    entry = json.loads(raw[8:8 + n])[name]
    lo, hi = entry["data_offsets"]
    t = torch.frombuffer(bytearray(raw[8 + n + lo:8 + n + hi]), dtype=_ST_DTYPES[entry["dtype"]])
    return t.reshape(entry["shape"])


def folder(path):
    """A data set of your own as forgebench loads it (`--dataset PATH`): `inputs.npy` and `labels.npy`, or
    `data.safetensors` with tensors inputs and labels. uint8 inputs are scaled by 1/255, float32 ones taken as they
    are; labels are integers. The sha256 is over the files' bytes in that order."""
    st = os.path.join(path, "data.safetensors")
    if os.path.isfile(st):
        with open(st, "rb") as f:
            raw = f.read()
        x, y, sha = _safetensors(st, raw, "inputs"), _safetensors(st, raw, "labels"), hashlib.sha256(raw)
    else:
        sha, arrays = hashlib.sha256(), []
        for name in ("inputs.npy", "labels.npy"):
            with open(os.path.join(path, name), "rb") as f:
                raw = f.read()
            sha.update(raw)
            arrays.append(_npy(os.path.join(path, name), raw))
        x, y = arrays
    # forgebench's loader refuses what follows; refusing it here keeps a run from training on data it cannot verify.
    if x.dtype not in (torch.uint8, torch.float32):
        raise ValueError(f"{path}: inputs must be uint8 or float32, not {x.dtype}")
    if x.dim() < 2 or 0 in x.shape:
        raise ValueError(f"{path}: inputs must be shaped [n, ...] with every dimension above 0, got {list(x.shape)}")
    if x.dtype == torch.float32 and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{path}: inputs hold a value that is not finite")
    if y.dtype.is_floating_point or y.dtype == torch.bool or list(y.shape) != [x.shape[0]]:
        raise ValueError(f"{path}: labels must be integers shaped [{x.shape[0]}], got {y.dtype} {list(y.shape)}")
    y = y.to(torch.int64)
    if y.numel() and (int(y.min()) < 0 or int(y.max()) > 255):
        raise ValueError(f"{path}: labels must lie in 0..=255")
    x = x.to(torch.float32).div(255) if x.dtype == torch.uint8 else x
    data = Data("folder", x, y, sha.hexdigest())
    data.path = os.path.abspath(path)
    return data


def optimizer_spec(opt):
    """The optimiser as forgebench names it; refuses what a replay cannot honour."""
    if len(opt.param_groups) != 1:
        raise ValueError("forgebench replays one parameter group")
    g = opt.param_groups[0]
    if g.get("maximize") or g.get("foreach") or g.get("fused") or g.get("amsgrad"):
        raise ValueError("maximize, foreach, fused and amsgrad are not replayed")
    if isinstance(opt, torch.optim.SGD):
        return {"kind": "sgd", "momentum": float(g["momentum"]), "dampening": float(g["dampening"]),
                "nesterov": bool(g["nesterov"]), "weight_decay": float(g["weight_decay"])}
    if isinstance(opt, (torch.optim.Adam, torch.optim.AdamW)):
        decoupled = isinstance(opt, torch.optim.AdamW) or bool(g.get("decoupled_weight_decay", False))
        b1, b2 = g["betas"]
        return {"kind": "adam", "beta1": float(b1), "beta2": float(b2), "eps": float(g["eps"]),
                "weight_decay": float(g["weight_decay"]), "decoupled": decoupled}
    raise ValueError(f"{type(opt).__name__} is not replayed: use SGD, Adam or AdamW")


def _flat(tensors):
    return torch.cat([t.detach().reshape(-1).to("cpu", torch.float32) for t in tensors])


def _bytes(t):
    # Native byte order: forgebench reads little-endian, as every machine torch supports is.
    return bytes(t.detach().to("cpu").contiguous().view(torch.uint8).reshape(-1).tolist())


def write_safetensors(path, tensors):
    """A safetensors file of `tensors` (name -> tensor), written by hand: 8-byte header length, JSON, data."""
    header, chunks, offset = {}, [], 0
    dtypes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    for name, t in tensors.items():
        data = _bytes(t)
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".partial"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)


class Log:
    """Records a training run; see the module's text for the loop. Every checkpoint is written the moment it is
    taken, so a crash loses only the steps since the last one."""

    def __init__(self, folder, model, optimizer, data, batch_size, save_every=1, transform="scaled",
                 scripted=None, seed=None):
        os.makedirs(os.path.join(folder, "checkpoints"), exist_ok=True)
        for name in os.listdir(os.path.join(folder, "checkpoints")):  # an earlier run's would read as this one's
            if name.endswith((".safetensors", ".partial")):
                os.remove(os.path.join(folder, "checkpoints", name))
        self.folder, self.model, self.opt, self.data = folder, model, optimizer, data
        self.batch_size, self.save_every, self.transform, self.seed = batch_size, save_every, transform, seed
        self.spec = optimizer_spec(optimizer)
        self.params = list(model.named_parameters())
        ids = [id(p) for p in optimizer.param_groups[0]["params"]]
        if ids != [id(p) for _, p in self.params]:
            raise ValueError("the optimiser must hold the model's parameters in named_parameters() order")
        script = scripted if scripted is not None else torch.jit.script(model)
        names = [n for n, _ in script.named_parameters()]
        if names != [n for n, _ in self.params]:
            raise ValueError(f"the TorchScript model's parameters {names} differ from the model's")
        self.model_file = os.path.join(folder, "model.pt")
        script.save(self.model_file)
        with open(self.model_file, "rb") as f:
            self.model_sha = hashlib.sha256(f.read()).hexdigest()
        self.indices, self.lr, self.marks = [], [], []
        self.steps = 0
        self._write_manifest()
        self._checkpoint()

    def _state(self, name):
        out = []
        for _, p in self.params:
            s = self.opt.state.get(p, {})
            t = s.get(name)
            out.append(torch.zeros_like(p) if t is None else t)
        return _flat(out)

    def _checkpoint(self):
        """checkpoints/{k:06d}.safetensors: the step, theta and the optimiser's state, and (k > 0) the batches and
        learning rates of the steps since checkpoint k - 1."""
        k = len(self.marks)
        self.marks.append(self.steps)
        tensors = {"step": torch.tensor([self.steps], dtype=torch.int64),
                   "theta": _flat([p for _, p in self.params])}
        names = {"sgd": ["momentum_buffer"] if self.spec.get("momentum") else [],
                 "adam": ["exp_avg", "exp_avg_sq"]}[self.spec["kind"]]
        for name in names:
            tensors[f"state.{name}"] = self._state(name)
        if k > 0:
            tensors["indices"] = torch.tensor(self.indices, dtype=torch.int64)
            tensors["lr"] = torch.tensor(self.lr, dtype=torch.float64)
        write_safetensors(os.path.join(self.folder, "checkpoints", f"{k:06d}.safetensors"), tensors)
        self.indices, self.lr = [], []

    def before_step(self, indices):
        """Call before each optimiser step with the training-set indices of its batch, in order."""
        idx = [int(i) for i in indices]
        if len(idx) != self.batch_size:
            raise ValueError(f"a batch of {len(idx)} examples, the log's batch size is {self.batch_size}")
        if self.steps > 0 and self.steps % self.save_every == 0 and self.marks[-1] != self.steps:
            self._checkpoint()
        self.indices.append(idx)
        self.lr.append(float(self.opt.param_groups[0]["lr"]))
        self.steps += 1

    def close(self):
        """Takes the last checkpoint (steps after it would otherwise be left out of the log)."""
        if self.marks[-1] != self.steps:
            self._checkpoint()

    def _write_manifest(self):
        """What does not change during training; steps, learning rates and checkpoints are the checkpoint files'."""
        manifest = {
            "format": FORMAT,
            "model": {"file": "model.pt", "sha256": self.model_sha,
                      "params": [{"name": n, "shape": list(p.shape)} for n, p in self.params]},
            "optimizer": self.spec,
            "lr": [],
            "batch_size": self.batch_size,
            "steps": 0,
            "checkpoints": [],
            "dataset": {"kind": self.data.kind, "sha256": self.data.sha256, "n": len(self.data),
                        "transform": self.transform},
            "writer": {"torch_version": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                       "threads": torch.get_num_threads(), "device": str(self.params[0][1].device),
                       "program": "python " + platform.python_version()},
        }
        if self.data.path is not None:
            manifest["dataset"]["path"] = self.data.path
        if self.seed is not None:
            manifest["seed"] = int(self.seed)
        path = os.path.join(self.folder, "forgebench-log.json")
        with open(path + ".partial", "w") as f:
            json.dump(manifest, f, indent=1)
        os.replace(path + ".partial", path)
