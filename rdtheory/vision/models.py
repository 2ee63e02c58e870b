"""CIFAR classifiers with the paper's layer names (Table I) and the shipped pretrained ResNets.

* :func:`vgg16_bn` — VGG16 with batch norm whose ``features`` indices match torchvision's
  ``vgg16_bn`` exactly (conv, bn, relu per convolution; a max-pool after each stage), so
  ``features.19`` (ReLU after the 2nd 256-channel conv), ``features.26`` (ReLU after the
  1st 512-channel conv) and ``features.32`` (ReLU after the 3rd) are the same modules as
  in the paper. For 32×32 inputs the five pools leave 1×1, so the head is a global average
  pool and one linear layer. ``width`` scales every channel count (width 1 = 64…512).
* :func:`resnet50` — ResNet50 for CIFAR: 3×3 stride-1 stem, no max-pool, Bottleneck stages
  ``layer1``–``layer4`` (3, 4, 6, 3 blocks), ``fc``; ``width`` scales every channel count.
* :func:`cifar_resnet` — He et al. (2016) CIFAR ResNet-(6n+2) with option-A shortcuts
  (subsample + zero-pad channels, no parameters), 16/32/64 channels, names ``conv1``,
  ``bn1``, ``relu``, ``layer1``–``layer3``, ``avgpool``, ``linear`` — the names of the
  shipped weights, which :func:`load_pretrained_cifar_resnet` loads with ``strict=True``
  after stripping DataParallel's ``module.`` prefix.

Only this sub-package imports torch.

References
----------
.. [1] K. Simonyan and A. Zisserman, "Very deep convolutional networks for large-scale image
   recognition", ICLR 2015.
.. [2] K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning for image recognition",
   CVPR 2016.
.. [3] A. Harell, Y. Foroutan, N. Ahuja, P. Datta, B. Kanzariya, V. S. Somayazulu, O. Tickoo,
   A. de Andrade and I. V. Bajic, "Rate-Distortion Theory in Coding for Machines and its
   Applications", arXiv:2305.17295, 2023 (Table I: the layers of VGG16-bn and ResNet50).
"""
from __future__ import annotations

import re

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["vgg16_bn", "resnet50", "cifar_resnet", "build_model", "load_pretrained_cifar_resnet",
           "MODELS", "PAPER_LAYERS", "block_names"]

#: The layers of Table I per architecture (plus the input).
PAPER_LAYERS = {"vgg16_bn": ("features.19", "features.26", "features.32"),
                "resnet50": ("layer2", "layer3", "layer4")}

_VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def _scaled(c: int, width: float) -> int:
    return max(1, int(round(c * width)))


def _check_width(width: float) -> float:
    if not (isinstance(width, (int, float)) and 0 < width <= 8):
        raise ValueError(f"width must be a number in (0, 8], e.g. 1.0 (paper) or 0.25 (CPU); got {width!r}")
    return float(width)


def _check_classes(num_classes: int) -> int:
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2 (10 for CIFAR-10, 100 for CIFAR-100); got {num_classes}")
    return int(num_classes)


# ----------------------------------------------------------------------------- VGG16-bn
class VGG(nn.Module):
    def __init__(self, features: nn.Sequential, channels: int, num_classes: int):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def vgg16_bn(num_classes: int = 10, width: float = 1.0) -> VGG:
    """VGG16-bn for 32×32 inputs; ``features`` indexed exactly like torchvision's ``vgg16_bn``."""
    num_classes, width = _check_classes(num_classes), _check_width(width)
    layers: list[nn.Module] = []
    c_in = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            c = _scaled(v, width)
            layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
    return VGG(nn.Sequential(*layers), c_in, num_classes)


# ----------------------------------------------------------------------------- ResNet50
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + idt)


class ResNet50(nn.Module):
    def __init__(self, num_classes: int, width: float):
        super().__init__()
        c = _scaled(64, width)
        self.conv1 = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        c_in = c
        for k, (n, planes, stride) in enumerate(((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)), start=1):
            p = _scaled(planes, width)
            blocks = []
            for b in range(n):
                blocks.append(Bottleneck(c_in, p, stride if b == 0 else 1))
                c_in = p * Bottleneck.expansion
            setattr(self, f"layer{k}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():  # zero-init the last BN of each block: trains faster (Goyal et al. 2017)
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50(num_classes: int = 10, width: float = 1.0) -> ResNet50:
    """ResNet50 for CIFAR (3×3 stem, no max-pool); ``layer1``..``layer4`` as in torchvision."""
    return ResNet50(_check_classes(num_classes), _check_width(width))


# ----------------------------------------------------------------------------- CIFAR ResNet (He 2016)
class LambdaLayer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1, shortcut: str = "A"):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Sequential()
        self.downsample: nn.Module | None = None
        if (stride != 1 or c_in != planes) and shortcut == "A":
            pad = planes // 4  # option A: subsample by 2 and zero-pad the channels (no parameters)
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad)))
        elif stride != 1 or c_in != planes:  # option B: 1x1 strided convolution + batch norm
            self.downsample = nn.Sequential(nn.Conv2d(c_in, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.shortcut(x) if self.downsample is None else self.downsample(x)))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int, shortcut: str = "A"):
        super().__init__()
        n = (depth - 2) // 6
        self.depth = depth
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        c_in = 16
        for k, (planes, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(c_in, planes, stride if b == 0 else 1, shortcut))
                c_in = planes
            setattr(self, f"layer{k}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self._head = "linear" if shortcut == "A" else "fc"  # the parameter names of the two weight sources
        setattr(self, self._head, nn.Linear(64, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return getattr(self, self._head)(torch.flatten(self.avgpool(out), 1))


def cifar_resnet(depth: int = 20, num_classes: int = 10, shortcut: str = "A") -> CifarResNet:
    """He et al. CIFAR ResNet-``depth`` (depth = 6n + 2: 20, 32, 44, 56, 110).

    ``shortcut="A"``: parameter-free subsample + zero-pad shortcuts, head ``linear`` (the
    Idelbayev CIFAR-10 weights); ``"B"``: 1×1-conv + BN ``downsample`` where the shape
    changes, head ``fc`` (the chenyaofo CIFAR-100 weights).
    """
    if int(depth) != depth or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 (20, 32, 44, 56, 110); got {depth}")
    if shortcut not in ("A", "B"):
        raise ValueError(f"shortcut must be 'A' (zero-pad, Idelbayev weights) or 'B' (1x1 conv, chenyaofo weights); "
                         f"got {shortcut!r}")
    return CifarResNet(int(depth), _check_classes(num_classes), shortcut)


def block_names(model: nn.Module) -> list[str]:
    """Names of the stem and every residual block / VGG ReLU, in forward order, for ρ profiles.

    CIFAR ResNet: ``relu`` (stem), ``layer1.0`` … ``layer3.{n-1}``, ``avgpool``.
    ResNet50: ``relu``, every Bottleneck, ``avgpool``. VGG: every ``features.<i>`` ReLU and ``avgpool``.
    """
    names = []
    for name, m in model.named_modules():
        if isinstance(model, VGG):
            if name.startswith("features.") and isinstance(m, nn.ReLU):
                names.append(name)
        elif name == "relu" or isinstance(m, (BasicBlock, Bottleneck)):
            names.append(name)
    return names + ["avgpool"]


MODELS = {"vgg16_bn": vgg16_bn, "resnet50": resnet50,
          **{f"resnet{d}": (lambda d: lambda num_classes=10, width=1.0: _fixed_width(d, num_classes, width))(d)
             for d in (20, 32, 44, 56, 110)}}


def _fixed_width(depth: int, num_classes: int, width: float) -> CifarResNet:
    if width != 1.0:
        raise ValueError(f"resnet{depth} has the fixed 16/32/64 channels of He et al.; width must be 1.0, got {width}")
    return cifar_resnet(depth, num_classes)


def build_model(name: str, num_classes: int = 10, width: float = 1.0) -> nn.Module:
    """Build a model by name: ``vgg16_bn``, ``resnet50`` (with ``width``), ``resnet20/32/44/56/110``."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}; got {name!r}")
    return MODELS[name](num_classes=num_classes, width=width)


def load_pretrained_cifar_resnet(path, depth: int | None = None) -> CifarResNet:
    """Load the shipped pretrained CIFAR ResNet weights exactly (CIFAR-10: Idelbayev; CIFAR-100: chenyaofo).

    CIFAR-100: ``cifar100_resnet56-f2eff4c8.pt`` (a plain state_dict with option-B
    ``downsample`` shortcuts and an ``fc`` head, detected from its keys; inputs normalised
    with ``MEAN_STD["cifar100-chenyaofo"]``; depth read from ``..._resnet<depth>-…``).

    The file is a legacy ``torch.save`` of ``{"best_prec1", "state_dict"}`` whose keys carry
    DataParallel's ``module.`` prefix; it is stripped and loaded with ``strict=True``. The
    depth is read from the file name (``resnet<depth>-…``) unless given. The model expects
    inputs normalised with ``MEAN_STD["imagenet"]``. Returned in eval mode.

    ``path`` is a file path or a name under the data root such as
    ``"cifar10-resnet-weights/resnet20-12fca82f.th"`` (:func:`rdtheory.vision.paths.find_data`;
    the files come from https://github.com/akamaster/pytorch_resnet_cifar10, BSD-2-Clause).
    """
    from .paths import find_data

    p = find_data(path, what="pretrained weights (resnet20-12fca82f.th or resnet56-4bfd9763.th)")
    if not p.is_file():
        raise ValueError(f"pretrained weights {str(p)!r} is not a file; pass the path of resnet20-12fca82f.th or "
                         f"resnet56-4bfd9763.th")
    if depth is None:
        m = re.search(r"resnet(\d+)", p.name)
        if not m:
            raise ValueError(f"cannot read the depth from the file name {p.name!r}; pass depth=20 or 56")
        depth = int(m.group(1))
    blob = torch.load(p, map_location="cpu", weights_only=True)
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else blob
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    option_b = "fc.weight" in state  # chenyaofo's CIFAR-100 files: downsample convs and an fc head
    head = state["fc.weight" if option_b else "linear.weight"]
    model = cifar_resnet(depth, num_classes=int(head.shape[0]), shortcut="B" if option_b else "A")
    model.load_state_dict(state, strict=True)
    return model.eval()
