"""``barenet import``: weights PyTorch trained (on inputs prepared as barenet prepares them) and
saved with the real ``safetensors.torch.save_file`` become a run that ``evaluate`` scores
exactly as PyTorch does, and that ``predict``, ``explain``, ``attack`` and ``runs`` use; a
barenet export comes back as the same weights; every file or option that does not fit is
refused in one line with nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from error_checks import one_error_line

from barenet import load_run, save_run
from barenet.cli.main import main
from barenet.data import Normalize, load_dataset
from barenet.io import load_safetensors, save_safetensors
from barenet.models import architecture_of

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
tnn = torch.nn

N_TRAIN = 3000
#: What PyTorch and barenet may disagree on: only a near tie between PyTorch's two best logits
TIE = 1e-4

CNN_ARCHITECTURE = {"type": "Sequential", "layers": [
    {"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 8, "kernel_size": 3}},
    {"type": "BatchNorm2d", "args": {"num_features": 8}},
    {"type": "ReLU", "args": {}},
    {"type": "MaxPool2d", "args": {"kernel_size": 2}},
    {"type": "Flatten", "args": {}},
    {"type": "Linear", "args": {"in_features": 8 * 13 * 13, "out_features": 10}},
]}


def torch_cnn() -> object:
    """CNN_ARCHITECTURE written in torch.nn."""
    return tnn.Sequential(tnn.Conv2d(1, 8, 3), tnn.BatchNorm2d(8), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Flatten(), tnn.Linear(8 * 13 * 13, 10))


def torch_mlp(hidden: int = 200) -> object:
    """barenet's preset ``mlp`` written in torch.nn."""
    return tnn.Sequential(tnn.Linear(784, hidden), tnn.ReLU(), tnn.Linear(hidden, 10))


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", "train"), load_dataset("mnist", "test")


def train_in_pytorch(model, flatten: bool, mnist, epochs: int = 2) -> np.ndarray:
    """``epochs`` of SGD on the first N_TRAIN training images, normalised by barenet's
    ``Normalize`` exactly as barenet's training does; returns PyTorch's logits on the test
    set (model left in eval mode)."""
    train, test = mnist
    norm = Normalize(train.mean, train.std, flatten=flatten)
    x = torch.from_numpy(norm(train.images[:N_TRAIN]))
    y = torch.from_numpy(train.labels[:N_TRAIN].astype(np.int64))
    gen = torch.Generator().manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(N_TRAIN, generator=gen)
        for i in range(0, N_TRAIN, 64):
            batch = order[i:i + 64]
            loss = tnn.functional.cross_entropy(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(norm(test.images))).numpy()


@pytest.fixture(scope="module")
def pytorch_mlp(mnist, tmp_path_factory):
    """(file, PyTorch's test logits) of the preset mlp trained in PyTorch."""
    torch.manual_seed(0)
    model = torch_mlp()
    logits = train_in_pytorch(model, True, mnist)
    path = tmp_path_factory.mktemp("torch") / "mlp.safetensors"
    st_torch.save_file(model.state_dict(), str(path))
    return path, logits


@pytest.fixture(scope="module")
def pytorch_cnn(mnist, tmp_path_factory):
    """(file, architecture file, PyTorch's test logits, state) of a CNN with BatchNorm."""
    torch.manual_seed(1)
    model = torch_cnn()
    logits = train_in_pytorch(model, False, mnist, epochs=1)
    where = tmp_path_factory.mktemp("torch")
    path = where / "cnn.safetensors"
    st_torch.save_file(model.state_dict(), str(path))
    arch = where / "cnn.json"
    arch.write_text(json.dumps(CNN_ARCHITECTURE))
    return path, arch, logits, model.state_dict()


def evaluate(run: Path, capsys, *extra: str) -> dict:
    assert main(["evaluate", str(run), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def check_same_accuracy(evaluated: dict, torch_logits: np.ndarray, run: Path, mnist) -> None:
    """evaluate's accuracy is PyTorch's: the same predictions on every test image, except
    where PyTorch's two best logits are within TIE of each other (float32 rounding may order
    a tie either way)."""
    labels = mnist[1].labels
    ours = load_run(run).logits(mnist[1].images).argmax(axis=1)
    theirs = torch_logits.argmax(axis=1)
    flips = np.flatnonzero(ours != theirs)
    best2 = np.sort(torch_logits, axis=1)[:, -2:]
    assert np.all(best2[flips, 1] - best2[flips, 0] < TIE), \
        f"{len(flips)} predictions differ from PyTorch's where it saw no tie"
    assert evaluated["n"] == len(labels) == 10_000
    assert evaluated["accuracy"] == np.mean(ours == labels)
    if not len(flips):
        assert evaluated["accuracy"] == np.mean(theirs == labels)
    print(f"\n{run.name}: PyTorch {np.sum(theirs == labels)} correct, barenet evaluate "
          f"{round(evaluated['accuracy'] * len(labels))} of {len(labels)} ({len(flips)} ties)")


def test_a_pytorch_mlp_scores_in_barenet_as_in_pytorch(pytorch_mlp, mnist, tmp_path, capsys):
    path, logits = pytorch_mlp
    run = tmp_path / "torch-mlp"
    assert main(["import", str(path), "--model", "mlp", "--out", str(run)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"imported 4 tensors (159,010 numbers) from {path} into {run} ")
    evaluated = evaluate(run, capsys)          # with its figures: no history is needed
    check_same_accuracy(evaluated, logits, run, mnist)
    assert evaluated["accuracy"] > 0.85
    config = json.loads((run / "config.json").read_text())
    assert config["preprocessing"] == {"name": "normalize", "mean": 0.1307, "std": 0.3081,
                                       "flatten": True}
    assert config["architecture"] == architecture_of("mlp") and config["input_shape"] == [784]
    assert config["imported"]["architecture_from"] == "--model mlp"


def test_a_pytorch_cnn_with_batchnorm_from_an_architecture_file(pytorch_cnn, mnist, tmp_path,
                                                                 capsys):
    path, arch, logits, state = pytorch_cnn
    run = tmp_path / "torch-cnn"
    assert main(["import", str(path), "--architecture", str(arch), "--out", str(run)]) == 0
    assert "imported 9 tensors" in capsys.readouterr().out
    check_same_accuracy(evaluate(run, capsys, "--no-plots"), logits, run, mnist)
    weights = np.load(run / "weights.npz")
    assert int(weights["1.num_batches_tracked"]) == int(state["1.num_batches_tracked"]) == 47
    np.testing.assert_array_equal(weights["1.running_var"], state["1.running_var"].numpy())


def test_predict_explain_attack_and_runs_use_the_imported_run(pytorch_cnn, mnist, tmp_path,
                                                              capsys):
    from PIL import Image

    path, arch, logits, _ = pytorch_cnn
    run = tmp_path / "runs" / "torch-cnn"
    assert main(["import", str(path), "--architecture", str(arch), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["predict", str(run), "--index", "0", "1", "2", "--json"]) == 0
    predicted = [p["prediction_index"] for p in json.loads(capsys.readouterr().out)]
    assert predicted == logits[:3].argmax(axis=1).tolist()
    picture = tmp_path / "digit.png"
    Image.fromarray(255 - mnist[1].images[0]).resize((112, 112)).save(picture)
    assert main(["predict", str(run), str(picture), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["prediction_index"] == mnist[1].labels[0]
    assert main(["explain", str(run), "--index", "0", "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)[0]
    assert explained["prediction"] == predicted[0]
    assert np.asarray(explained["input_gradient"]).shape == (28, 28)
    assert main(["attack", str(run), "--eps", "0,0.1", "--limit", "100", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["runs", str(run.parent), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["status"]) for r in listed] == [("torch-cnn", "saved")]


def test_an_export_imports_back_as_the_same_weights(tmp_path, capsys):
    first = tmp_path / "trained"
    assert main(["train", "--model", "mlp-deep", "--hidden", "64,32", "--epochs", "1",
                 "--limit-train", "2000", "--out", str(first), "--quiet", "--no-plots"]) == 0
    exported = tmp_path / "trained.safetensors"
    assert main(["export", str(first), "--out", str(exported)]) == 0
    again = tmp_path / "again"
    assert main(["import", str(exported), "--out", str(again)]) == 0
    assert "(model: the file's metadata; dataset: mnist" in capsys.readouterr().out
    a, b = np.load(first / "weights.npz"), np.load(again / "weights.npz")
    assert sorted(a.files) == sorted(b.files) and "1.num_batches_tracked" in a.files
    for k in a.files:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(a[k], b[k])
    one = json.loads((first / "config.json").read_text())
    two = json.loads((again / "config.json").read_text())
    for key in ("architecture", "input_shape", "dataset", "preprocessing", "classes"):
        assert one[key] == two[key], key
    assert evaluate(first, capsys, "--no-plots", "--limit", "2000") == \
        {**evaluate(again, capsys, "--no-plots", "--limit", "2000"), "run": str(first)}


# ---------------------------------------------------------------- refusals ----------------
def mlp_file(tmp_path: Path, name: str = "w.safetensors", hidden: int = 200,
             rename: dict | None = None, metadata: dict | None = None, **change) -> Path:
    """An untrained torch mlp's state as a .safetensors file, keys renamed and values
    replaced as asked."""
    torch.manual_seed(0)
    state = {k: v.numpy() for k, v in torch_mlp(hidden).state_dict().items()}
    for old, new in (rename or {}).items():
        state[new] = state.pop(old)
    state.update(change)
    return save_safetensors(state, tmp_path / name, metadata)


def not_safetensors(where: Path) -> Path:
    """A zip file (what torch.save writes) named .safetensors."""
    path = where / "w.safetensors"
    path.write_bytes(b"PK\3\4" + bytes(60))
    return path


def link_to(target: Path) -> Path:
    link = target.with_name("l.safetensors")
    link.symlink_to(target)
    return link


def export_metadata(**change: str) -> dict:
    meta = {"format": "pt", "barenet_export": "1",
            "architecture": json.dumps(architecture_of("mlp"))}
    meta.update(change)
    return meta


REFUSED = {
    "a shape that differs": (lambda t: mlp_file(t, hidden=100), ["--model", "mlp"],
                             "does not match the model: 0.weight has shape [100, 784], "
                             "expected [200, 784]; 0.bias has shape [100], expected [200]"),
    "names that differ": (lambda t: mlp_file(t, rename={"0.weight": "fc1.weight",
                                                        "2.bias": "fc2.bias"}),
                          ["--model", "mlp"], "does not match the model: missing 2 keys: "
                          "0.weight, 2.bias; unexpected 2 keys: fc1.weight, fc2.bias"),
    "another preset": (mlp_file, ["--model", "cnn"], "does not match the model: missing"),
    "an integer weight": (lambda t: mlp_file(t, **{"2.bias": np.zeros(10, np.int64)}),
                          ["--model", "mlp"], "2.bias is I64, expected one of F16, BF16, F32"),
    "NaN": (lambda t: mlp_file(t, **{"2.bias": np.full(10, np.nan, np.float32)}),
            ["--model", "mlp"], "tensor '2.bias' holds NaN or infinite values"),
    "float64 beyond float32": (lambda t: mlp_file(t, **{"2.bias": np.full(10, 1e300)}),
                               ["--model", "mlp"], "holds NaN or infinite values (as float32)"),
    "not a safetensors file": (lambda t: not_safetensors(t), ["--model", "mlp"],
                               "the header length says"),
    "no such file": (lambda t: t / "none.safetensors", ["--model", "mlp"], "no such file"),
    "a symbolic link": (lambda t: link_to(mlp_file(t)), ["--model", "mlp"],
                        "l.safetensors: a symbolic link (to "),
    "two models": (mlp_file, ["--model", "mlp", "--architecture", "a.json"],
                   "--model and --architecture both describe the model; give one"),
    "no model at all": (mlp_file, [], "its metadata does not describe the model (it was not "
                                      "written by barenet export); pass --model NAME"),
    "an unknown preset": (mlp_file, ["--model", "nope"], "unknown model 'nope'"),
    "an unknown dataset": (mlp_file, ["--model", "mlp", "--dataset", "cifar"],
                           "unknown dataset 'cifar'"),
    "an architecture for other images": (
        mlp_file, ["--architecture", "{small}"], "the model takes input [100], but mnist's "
                                                "images give [784] or [1, 28, 28]"),
    "an architecture that is not one": (mlp_file, ["--architecture", "{junk}"], "junk.json"),
    "another normalisation": (
        lambda t: mlp_file(t, metadata=export_metadata(preprocessing=json.dumps(
            {"name": "normalize", "mean": 0.5, "std": 0.5, "flatten": True}))), [],
        "its model takes (pixel / 255 - 0.5) / 0.5, but barenet prepares mnist as (pixel / "
        "255 - 0.1307) / 0.3081"),
    "metadata that is not JSON": (lambda t: mlp_file(t, metadata=export_metadata(
        architecture="{nope")), [], "metadata 'architecture' is not JSON"),
    "an unknown layer in the metadata": (lambda t: mlp_file(t, metadata=export_metadata(
        architecture=json.dumps({"type": "Sequential", "layers": [{"type": "Evil", "args": {}}
                                                                  ]}))), [],
        "metadata 'architecture': "),
    "a newer export": (lambda t: mlp_file(t, metadata=export_metadata(barenet_export="99")),
                       [], "made by a newer barenet"),
    "a dataset barenet lacks": (lambda t: mlp_file(t, metadata=export_metadata(
        dataset="cifar10")), [], "its metadata names the dataset 'cifar10', which is not "
                                 "built into barenet; pass --dataset"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_refusal_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    make, args, expected = REFUSED[case]
    (tmp_path / "small.json").write_text(json.dumps({"type": "Sequential", "layers": [
        {"type": "Linear", "args": {"in_features": 100, "out_features": 10}}]}))
    (tmp_path / "junk.json").write_text("[1, 2")
    args = [a.format(small=tmp_path / "small.json", junk=tmp_path / "junk.json")
            for a in args]
    path = make(tmp_path)
    out = tmp_path / "run"
    rc = main(["import", str(path), *args, "--out", str(out)])
    line = one_error_line(capsys, rc, stdout_empty=True)
    assert expected in line, line
    assert not out.exists()


def test_an_existing_run_is_replaced_only_with_overwrite(pytorch_mlp, tmp_path, capsys):
    path, _ = pytorch_mlp
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "metrics.csv").write_text("epoch\n1\n")
    (run / "notes.txt").write_text("mine")
    rc = main(["import", str(path), "--model", "mlp", "--out", str(run)])
    assert "already holds a run" in one_error_line(capsys, rc, stdout_empty=True)
    assert (run / "config.json").read_text() == "{}"
    assert main(["import", str(path), "--model", "mlp", "--out", str(run), "--overwrite"]) == 0
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "notes.txt", "weights.npz"]
    assert load_run(run).name == "custom"


def test_another_library_s_metadata_means_nothing_and_an_export_s_dataset_is_kept(tmp_path,
                                                                                   capsys):
    foreign = mlp_file(tmp_path, "f.safetensors", metadata={
        "format": "pt", "dataset": "imagenet", "architecture": "resnet", "preprocessing": "?"})
    assert main(["import", str(foreign), "--model", "mlp", "--out", str(tmp_path / "a")]) == 0
    assert load_run(tmp_path / "a").dataset == "mnist"
    fashion = save_run(tmp_path / "fashion", load_run(tmp_path / "a").model,
                       dataset="fashion-mnist")
    exported = tmp_path / "fashion.safetensors"
    assert main(["export", str(fashion), "--out", str(exported)]) == 0
    assert main(["import", str(exported), "--model", "mlp", "--out", str(tmp_path / "b")]) == 0
    run = load_run(tmp_path / "b")
    assert run.dataset == "fashion-mnist" and run.normalize == load_run(fashion).normalize
    assert run.normalize.mean != 0.1307 and "dataset: fashion-mnist" in capsys.readouterr().out


def test_float16_and_bfloat16_weights_become_float32(tmp_path, capsys):
    torch.manual_seed(0)
    model = torch_mlp().to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    st_torch.save_file(model.state_dict(), str(path))
    assert main(["import", str(path), "--model", "mlp", "--out", str(tmp_path / "r")]) == 0
    weights = np.load(tmp_path / "r" / "weights.npz")
    assert weights["0.weight"].dtype == np.float32
    np.testing.assert_array_equal(weights["0.weight"], model[0].weight.detach().float().numpy())
    tensors, _ = load_safetensors(mlp_file(tmp_path, "h.safetensors"))
    half = save_safetensors({k: v.astype(np.float16) for k, v in tensors.items()},
                            tmp_path / "h.safetensors")
    assert main(["import", str(half), "--model", "mlp", "--out", str(tmp_path / "h")]) == 0
    weights = np.load(tmp_path / "h" / "weights.npz")
    for k, v in tensors.items():
        assert weights[k].dtype == np.float32
        np.testing.assert_array_equal(weights[k], v.astype(np.float16).astype(np.float32))
