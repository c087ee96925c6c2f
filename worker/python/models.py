"""The bundled user-style models, as a PyTorch user writes them (torch alone).

- LeNet5: the built-in LeNet-5 of forgebench, layer for layer (conv 1->6 5x5 padding 2, ReLU, max-pool 2; conv 6->16
  5x5, ReLU, max-pool 2; fc 400-120-84-10 with ReLU), so that its TorchScript copy can be checked against it.
- ResNet20: a residual CNN for CIFAR-10 in the style of He et al. 2016's ResNet-20 (3x3 convolutions, BatchNorm,
  identity skips, three stages of `n` basic blocks, global average pooling). `width` and `n` are kept small by
  default (8 channels, one block per stage) so that it trains on a CPU in tests; ResNet20(width=16, n=3) is the
  original depth.
- RowTransformer: a small transformer classifier for MNIST, each image row a token (28 tokens of 28 values): a
  linear embedding, a learned position embedding, pre-LayerNorm self-attention and MLP blocks, mean pooling.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        skip = x
        if self.down is not None:
            skip = self.down(x)
        return F.relu(out + skip)


class ResNet20(nn.Module):
    def __init__(self, width=8, n=1, classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage, stride in enumerate([1, 2, 2]):
            cout = width * 2**stage
            for i in range(n):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


class RowTransformer(nn.Module):
    def __init__(self, dim=32, heads=4, layers=2, classes=10):
        super().__init__()
        self.embed = nn.Linear(28, dim)
        self.pos = nn.Parameter(torch.zeros(1, 28, dim).normal_(0, 0.02))
        self.blocks = nn.ModuleList([EncoderBlock(dim, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        h = self.embed(x.reshape(x.shape[0], 28, 28)) + self.pos
        for b in self.blocks:
            h = b(h)
        return self.head(self.norm(h).mean(1))


class EncoderBlock(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) / float(d // self.heads) ** 0.5, dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


MODELS = {"lenet5": LeNet5, "resnet20": ResNet20, "row-transformer": RowTransformer}
