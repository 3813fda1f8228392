"""Hand-set tiny nets shared by the engine, widget and browser tests (``pythonpath = ["tests"]`` in pyproject)."""

import torch
import torch.nn.functional as F
from torch import nn


class SumNet(nn.Module):
    """x (1×H×W) → 1×1 conv (weight 1) → mean over the map m → logits (m, −m).

    So p(class 0) = softmax((m, −m))[0], and the conv's total activation is the sum of the pixels."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.fc = nn.Linear(1, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.fc.weight.copy_(torch.tensor([[1.0], [-1.0]]))

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.conv(x), 1).flatten(1))


class TinyNet(nn.Module):
    """One 3×3 convolution (padding 1) → ReLU → global average → 2 classes (weights set by each test)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(1, 2)

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).mean(dim=(2, 3)))
