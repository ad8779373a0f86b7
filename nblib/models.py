"""The networks the lessons train: small enough for a laptop CPU, plus the papers' CIFAR models.

Every model maps a batch of inputs to raw logits (N, K); losses apply the softmax themselves.

=========  ==============  =====================================================================
name       class           what / where from
=========  ==============  =====================================================================
mlp        MLP             ReLU multi-layer perceptron; digits, toy2d (flattens any input)
cnn1d      CNN1D           3 conv layers + global max pool + linear, for MNIST-1D signals
cnn        SmallCNN        the 4-layer MNIST CNN of the official APL code (Ma et al. 2020)
cnn8       CNN8            the 8-layer CIFAR-10 CNN of the official APL / SCE code
resnet34   CifarResNet     ResNet-34 (He et al. 2016) with the CIFAR stem, as in the APL code
=========  ==============  =====================================================================

``make_model(name, data, seed=...)`` builds one with sizes read from a Dataset and a seeded
initialisation that leaves the global torch RNG untouched: construction runs inside
``torch.random.fork_rng`` after seeding only the CPU generator, so ``make_model(..., seed=0)`` is
the same network every time, whatever ran before, and code after it sees the same random stream
as if it had not been called.

The APL models (SmallCNN, CNN8, CifarResNet) use the official code's initialisation: Kaiming-
uniform conv weights (fan_in, ReLU gain) and Xavier-uniform linear weights.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from nblib._checks import check_choice, check_int, check_seed

MODELS = ("mlp", "cnn1d", "cnn", "cnn8", "resnet34")
AUTO_MODEL = {"digits": "mlp", "toy2d": "mlp", "mnist1d": "cnn1d", "fashion_mnist": "cnn",
              "cifar10": "cnn8", "cifar10n": "cnn8"}
RESNET_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}  # BasicBlocks per stage
RESNET_WIDTHS = (64, 128, 256, 512)
SMALL_CNN_CHANNELS, SMALL_CNN_HIDDEN = (32, 64), 128
CNN8_CHANNELS, CNN8_HIDDEN = (64, 128, 196), 256


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 conv (same padding) -> BatchNorm -> ReLU, the building brick of the APL CNNs."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


def _apl_init(model: nn.Module) -> nn.Module:
    """Initialise like the official APL code: Kaiming-uniform convs, Xavier-uniform linears."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
    return model


def _check_image_size(image_size: int, factor: int) -> int:
    image_size = check_int("image_size", image_size, factor)
    if image_size % factor:
        raise ValueError(f"image_size must be a multiple of {factor} (one 2x2 max pool per block), "
                         f"got {image_size}")
    return image_size


class MLP(nn.Module):
    """Multi-layer perceptron: Flatten -> [Linear -> ReLU] per hidden width -> Linear to K logits."""

    def __init__(self, in_features: int, num_classes: int, hidden=(128, 128)):
        super().__init__()
        widths = [check_int("in_features", in_features, 1)]
        widths += [check_int("hidden width", h, 1) for h in hidden]
        layers = [nn.Flatten()]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], check_int("num_classes", num_classes, 2)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN1D(nn.Module):
    """Small 1-D conv net for MNIST-1D signals (N, length) or (N, 1, length).

    conv k5 -> conv k3 stride 2 -> conv k3, each with `channels` filters and ReLU, then a global
    max pool over time (the digit pattern may sit anywhere after MNIST-1D's random shifts) and a
    linear layer. 6.7k parameters at the defaults; 92-94% clean test accuracy after 30 Adam
    epochs (lr 1e-3, batch 128, two seeds) against 58% for the default MLP: on MNIST-1D the
    architecture's inductive bias matters, which is the point of the dataset (Greydanus 2020).
    """

    def __init__(self, num_classes: int = 10, length: int = 40, channels: int = 32):
        super().__init__()
        self.length = check_int("length", length, 4)
        c = check_int("channels", channels, 1)
        self.features = nn.Sequential(
            nn.Conv1d(1, c, 5, padding=2), nn.ReLU(),
            nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(c, c, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(c, check_int("num_classes", num_classes, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1:] not in ((self.length,), (1, self.length)):
            raise ValueError(f"CNN1D(length={self.length}) expects inputs (N, {self.length}) or "
                             f"(N, 1, {self.length}), got {tuple(x.shape)}")
        x = x.reshape(len(x), 1, self.length)
        return self.head(self.features(x).amax(dim=-1))



def _bn_head(in_features: int, hidden: int, num_classes: int) -> nn.Sequential:
    """The image CNNs' classifier: Linear -> BatchNorm -> ReLU -> Linear(hidden, num_classes)."""
    return nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, check_int("num_classes", num_classes, 2)))

class SmallCNN(nn.Module):
    """The APL paper's MNIST CNN (official code's ``ToyModel('MNIST')``), any channels / size.

    [conv3x3 32 -> BN -> ReLU -> maxpool2] -> [conv3x3 64 -> BN -> ReLU -> maxpool2] ->
    Linear(64 * (image_size/4)^2, 128) -> BN -> ReLU -> Linear(128, K). 422k parameters at 1x28x28.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28):
        super().__init__()
        side = _check_image_size(image_size, 4) // 4
        c1, c2 = SMALL_CNN_CHANNELS
        self.features = nn.Sequential(
            _conv_bn_relu(check_int("in_channels", in_channels, 1), c1), nn.MaxPool2d(2),
            _conv_bn_relu(c1, c2), nn.MaxPool2d(2), nn.Flatten())
        self.classifier = _bn_head(c2 * side * side, SMALL_CNN_HIDDEN, num_classes)
        _apl_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class CNN8(nn.Module):
    """The 8-layer CIFAR-10 CNN used by SCE (Wang et al. 2019) and APL (official ``ToyModel``).

    Three blocks of two [conv3x3 -> BN -> ReLU] (64, 128, 196 filters) each ending in a 2x2 max
    pool, then Linear(196 * (image_size/8)^2, 256) -> BN -> ReLU -> Linear(256, K): 6 conv + 2
    linear layers, 1.64M parameters at 3x32x32.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32):
        super().__init__()
        side = _check_image_size(image_size, 8) // 8
        layers, c_in = [], check_int("in_channels", in_channels, 1)
        for c in CNN8_CHANNELS:
            layers += [_conv_bn_relu(c_in, c), _conv_bn_relu(c, c), nn.MaxPool2d(2)]
            c_in = c
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.classifier = _bn_head(c_in * side * side, CNN8_HIDDEN, num_classes)
        _apl_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN layers plus the input (1x1 conv-BN when shapes change)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet for 32x32 images (He et al. 2016), as in the APL code: 3x3 stem, no max pool.

    depth 34: BasicBlocks (3, 4, 6, 3) at widths 64-128-256-512 (strides 1, 2, 2, 2), global
    average pool, linear; 21.3M parameters. depth 18: (2, 2, 2, 2), 11.2M.
    """

    def __init__(self, num_classes: int = 10, depth: int = 34, in_channels: int = 3):
        super().__init__()
        blocks = RESNET_BLOCKS[check_choice("depth", depth, RESNET_BLOCKS)]
        c = RESNET_WIDTHS[0]
        layers = [nn.Conv2d(check_int("in_channels", in_channels, 1), c, 3, padding=1, bias=False),
                  nn.BatchNorm2d(c), nn.ReLU()]
        for i, (n, width) in enumerate(zip(blocks, RESNET_WIDTHS)):
            for j in range(n):
                layers.append(BasicBlock(c, width, stride=2 if i > 0 and j == 0 else 1))
                c = width
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c, check_int("num_classes", num_classes, 2))
        _apl_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def make_model(name: str = "auto", data=None, *, seed: int = 0, in_features: int | None = None,
               num_classes: int | None = None, **kw) -> nn.Module:
    """Build model ``name`` (one of ``MODELS``, or "auto") sized for ``data``, seeded by ``seed``.

    name "auto" picks by ``data.name``: digits, toy2d -> mlp; mnist1d -> cnn1d; fashion_mnist ->
    cnn; cifar10, cifar10n -> cnn8. Sizes come from ``data`` (a :class:`nblib.data.Dataset`):
    ``num_classes`` and the input shape. Without ``data`` pass ``num_classes`` and, for the mlp,
    ``in_features`` (for cnn1d it is the signal length); image models then take ``in_channels`` /
    ``image_size`` from ``kw`` (defaults: 1x28 for cnn, 3x32 for cnn8 and resnet34). Other ``kw``
    go to the class (``hidden``, ``channels``, ``depth``, ...). With ``data`` the model is moved
    to ``data``'s device. The global torch RNG is not consumed or reseeded.

    >>> make_model("mlp", in_features=64, num_classes=10, seed=0)(torch.zeros(2, 64)).shape
    torch.Size([2, 10])
    """
    if name == "auto":
        if data is None:
            raise ValueError("name='auto' needs data=<Dataset> to choose a model; or pick one of: "
                             + ", ".join(MODELS))
        if data.name not in AUTO_MODEL:
            raise ValueError(f"no automatic model for dataset {data.name!r}; pick one of: {', '.join(MODELS)}")
        name = AUTO_MODEL[data.name]
    check_choice("model", name, MODELS)
    seed = check_seed(seed)
    if num_classes is None:
        if data is None:
            raise ValueError("num_classes is required when data is None")
        num_classes = data.num_classes
    shape = tuple(data.input_shape) if data is not None else None

    if name == "mlp":
        if in_features is None:
            if shape is None:
                raise ValueError("in_features is required for the mlp when data is None")
            in_features = math.prod(shape)
        cls, args = MLP, dict(in_features=in_features, num_classes=num_classes)
    elif name == "cnn1d":
        length = in_features if in_features is not None else (shape[-1] if shape else 40)
        cls, args = CNN1D, dict(num_classes=num_classes, length=length)
    else:
        cls = {"cnn": SmallCNN, "cnn8": CNN8, "resnet34": CifarResNet}[name]
        args = dict(num_classes=num_classes)
        if shape is not None:
            if len(shape) != 3:
                raise ValueError(f"model {name!r} needs image data (C, H, W), got input shape {shape}")
            args["in_channels"] = shape[0]
            if name != "resnet34":
                args["image_size"] = shape[1]
    args.update(kw)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # CPU generator only: CUDA/MPS states untouched
        model = cls(**args)
    return model.to(data.device) if data is not None else model
