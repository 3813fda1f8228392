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


class CamNet(nn.Module):
    """x (1×3×3) → conv (2 channels, 2×2 kernels k0, k1) → ReLU → mean over the map → linear W → 2 logits.

    x = [[1,2,0],[0,1,3],[2,0,1]], k0 = [[1,0],[0,1]], k1 = [[0,1],[−1,0]]:
      A0[i,j] = x[i,j] + x[i+1,j+1]   = [[2,5],[0,2]]
      A1[i,j] = x[i,j+1] − x[i+1,j]   = [[2,−1],[−1,3]]
      R = relu(A): R0 = [[2,5],[0,2]], R1 = [[2,0],[0,3]]; means 9/4, 5/4
    W = [[2,−2],[−1,2]]  ⇒  y0 = 2·9/4 − 2·5/4 = 2, y1 = −9/4 + 2·5/4 = 1/4.

    At the ReLU ("relu"): ∂y_c/∂R^k = W[c,k]/4 everywhere, so α^c = W[c]/4.
      class 0: α = (1/2, −1/2): Σ = (R0 − R1)/2 = [[0, 5/2],[0, −1/2]] → Grad-CAM [[0, 2.5],[0, 0]],
               counterfactual relu(−Σ) = [[0, 0],[0, 0.5]]
      class 1: α = (−1/4, 1/2): Σ = −R0/4 + R1/2 = [[1/2, −5/4],[0, 1]] → [[0.5, 0],[0, 1]], counterfactual [[0, 1.25],[0, 0]]
    At the convolution ("conv"): the ReLU masks the gradient, ∂y_c/∂A^k = W[c,k]/4 · 1[A^k > 0]; A0 > 0 at 3 of 4
    places, A1 at 2: α^c = (3/16·W[c,0], 2/16·W[c,1]).
      class 0: α = (3/8, −1/4):  Σ = 3/8·A0 − 1/4·A1 = [[1/4, 17/8],[1/4, 0]] → [[0.25, 2.125],[0.25, 0]]
      class 1: α = (−3/16, 1/4): Σ = [[1/8, −19/16],[−1/4, 3/8]]            → [[0.125, 0],[0, 0.375]]
    Bilinear 2×2 → 3×3 (align_corners=False): pixel i samples at (i + ½)·⅔ − ½ = −⅙, ½, 7/6 → rows/columns a, (a+b)/2, b:
      [[a,b],[c,d]] → [[a, (a+b)/2, b], [(a+c)/2, (a+b+c+d)/4, (b+d)/2], [c, (c+d)/2, d]].
    Guided backprop of y_c: W[c]/4 at R, rectified and masked by A > 0, then the transposed convolution.
      class 0: relu((1/2, −1/2)) = (1/2, 0): 1/2·[[1,1],[0,1]] on channel 0, k0 pasted at (0,0), (0,1), (1,1)
               → [[0.5, 0.5, 0],[0, 1, 0.5],[0, 0, 0.5]]
      class 1: (0, 1/2): 1/2·[[1,0],[0,1]] on channel 1, k1 pasted at (0,0), (1,1) → [[0, 0.5, 0],[−0.5, 0, 0.5],[0, −0.5, 0]]
    Guided Grad-CAM = guided ⊙ upsampled Grad-CAM at "relu":
      class 0: up = [[0, 1.25, 2.5],[0, 0.625, 1.25],[0, 0, 0]] → [[0, 0.625, 0],[0, 0.625, 0.625],[0, 0, 0]]
      class 1: up = [[0.5, 0.25, 0],[0.25, 0.375, 0.5],[0, 0.5, 1]] → [[0, 0.125, 0],[−0.125, 0, 0.25],[0, −0.25, 0]]
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 2, bias=False)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]], [[[0.0, 1.0], [-1.0, 0.0]]]]))
            self.fc.weight.copy_(torch.tensor([[2.0, -2.0], [-1.0, 2.0]]))

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).mean(dim=(2, 3)))
