"""Tests of nblib.models: shapes, parameter counts, seeded creation that leaves the global RNG alone."""
import pytest
import torch

from nblib.data import Dataset
from nblib.models import CNN1D, CNN8, MLP, MODELS, CifarResNet, SmallCNN, make_model


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def fake_data(name, shape, k=10, n=8):
    """A Dataset with random tensors, so model tests need no loading."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, *shape, generator=g)
    y = torch.arange(n) % k
    return Dataset(name, x, y, x.clone(), y.clone(), [str(i) for i in range(k)])


@pytest.fixture(scope="module")
def resnet34():
    return CifarResNet(depth=34)


@pytest.mark.parametrize("build, shape", [
    (lambda: MLP(64, 10), (4, 64)),
    (lambda: MLP(784, 10, hidden=(32,)), (4, 1, 28, 28)),  # flattens images
    (CNN1D, (4, 40)),
    (CNN1D, (4, 1, 40)),
    (lambda: SmallCNN(1, 10, 28), (4, 1, 28, 28)),
    (lambda: SmallCNN(3, 10, 32), (4, 3, 32, 32)),
    (CNN8, (4, 3, 32, 32)),
    (lambda: CifarResNet(depth=18), (2, 3, 16, 16)),  # global pooling: any size
    (None, (1, 3, 32, 32)),  # the shared ResNet-34
])
def test_forward_gives_logits(build, shape, resnet34):
    model, x = (build() if build else resnet34), torch.randn(*shape)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == (len(x), 10) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_parameter_counts(resnet34):
    assert n_params(MLP(64, 10)) == (64 * 128 + 128) + (128 * 128 + 128) + (128 * 10 + 10)
    assert n_params(MLP(2, 3, hidden=())) == 2 * 3 + 3
    # APL MNIST CNN: conv 1->32, conv 32->64 (+BN), fc 64*7*7->128 (+BN1d), fc 128->10
    assert n_params(SmallCNN(1, 10, 28)) == (9 * 32 + 32 + 64) + (9 * 32 * 64 + 64 + 128) \
        + (64 * 49 * 128 + 128 + 256) + (128 * 10 + 10)
    assert n_params(CNN8()) == 1_639_794
    assert n_params(CifarResNet(depth=18)) == 11_173_962  # the usual CIFAR ResNet-18 count
    assert n_params(resnet34) == 21_282_122  # and ResNet-34
    assert 2_000 < n_params(CNN1D()) < 20_000


def test_resnet34_stages(resnet34):
    blocks = [m for m in resnet34.modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 3 + 4 + 6 + 3
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in resnet34.modules())
    assert resnet34.features[0].kernel_size == (3, 3) and resnet34.features[0].stride == (1, 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="length"):
        CNN1D(length=40)(torch.randn(2, 41))
    with pytest.raises(ValueError, match="image_size"):
        SmallCNN(1, 10, 30)
    with pytest.raises(ValueError, match="depth"):
        CifarResNet(depth=50)
    with pytest.raises(ValueError, match="num_classes"):
        MLP(4, 1)


@pytest.mark.parametrize("name, shape, expected", [
    ("digits", (64,), MLP), ("toy2d", (2,), MLP), ("mnist1d", (40,), CNN1D),
    ("fashion_mnist", (1, 28, 28), SmallCNN), ("cifar10", (3, 32, 32), CNN8), ("cifar10n", (3, 32, 32), CNN8)])
def test_auto_picks_a_model_for_each_dataset(name, shape, expected):
    d = fake_data(name, shape, k=2 if name == "toy2d" else 10)
    model = make_model("auto", d, seed=0)
    assert type(model) is expected
    model.eval()
    assert model(d.x_train).shape == (len(d.y_train), d.num_classes)


def test_make_model_sizes_and_kwargs():
    d = fake_data("cifar10", (3, 32, 32))
    assert type(make_model("resnet34", d, depth=18)) is CifarResNet
    assert make_model("mlp", d).net[1].in_features == 3 * 32 * 32
    assert make_model("mlp", in_features=64, num_classes=5, hidden=(16,))(torch.randn(3, 64)).shape == (3, 5)
    assert make_model("cnn1d", num_classes=10, channels=8).head.in_features == 8
    assert make_model("cnn", num_classes=10)(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert next(make_model("cnn8", d).parameters()).device == d.device


def test_make_model_errors():
    with pytest.raises(ValueError, match="mlp.*resnet34"):
        make_model("vgg", num_classes=10)
    with pytest.raises(ValueError, match="data"):
        make_model("auto")
    with pytest.raises(ValueError, match="in_features"):
        make_model("mlp", num_classes=10)
    with pytest.raises(ValueError, match="num_classes"):
        make_model("cnn8")
    with pytest.raises(ValueError, match="image"):
        make_model("cnn", fake_data("digits", (64,)))
    assert MODELS == ("mlp", "cnn1d", "cnn", "cnn8", "resnet34")


@pytest.mark.parametrize("name", ["mlp", "cnn1d", "cnn", "cnn8"])
def test_seeded_creation_is_reproducible_and_leaves_global_rng_alone(name):
    kw = dict(in_features=64, num_classes=10)
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    a, b = make_model(name, seed=7, **kw), make_model(name, seed=7, **kw)
    c = make_model(name, seed=8, **kw)
    assert torch.equal(torch.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point() and sa[k].numel() > 1)
    # creation in between does not shift the caller's random stream
    torch.manual_seed(5)
    first = torch.rand(3)
    torch.manual_seed(5)
    make_model(name, seed=0, **kw)
    assert torch.equal(torch.rand(3), first)
