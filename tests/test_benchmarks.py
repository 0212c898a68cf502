"""The benchmark harness runs end to end at tiny sizes and writes well-formed results.

No timing is asserted: these tests check structure only.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=BENCH, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    proc = _run("run.py", "--smoke", "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| measurement | barenet | PyTorch | ratio |" in proc.stdout
    return json.loads(out.read_text())


def test_smoke_json_has_every_section(smoke):
    assert smoke["mode"] == "smoke"
    for key in ("cpu", "logical_cores", "blas_threads", "numpy", "torch", "date"):
        assert key in smoke["machine"]
    assert smoke["machine"]["torch_threads"] == smoke["machine"]["blas_threads"]
    res = smoke["results"]
    for key in ("matmul", "mlp_epoch", "cnn_epoch", "mlp_infer", "cnn_infer", "mlp_flops",
                "mlp_tta", "cnn_tta", "memory"):
        assert key in res, key


@pytest.mark.parametrize("key", ["mlp_epoch", "cnn_epoch"])
def test_epoch_times_are_positive(smoke, key):
    e = smoke["results"][key]
    assert e["barenet_s"] > 0 and e["torch_s"] > 0 and e["data_pipeline_s"] > 0
    assert 0 < e["batches_timed"] <= e["batches_per_epoch"]
    assert e["hparams"]["batch_size"] >= 1


def test_inference_flops_and_accuracy_records(smoke):
    res = smoke["results"]
    for key in ("mlp_infer", "cnn_infer"):
        for label in ("batch_1", "batch_large"):
            assert res[key][label]["barenet_img_s"] > 0 and res[key][label]["torch_img_s"] > 0
    f = res["mlp_flops"]
    assert f["flops_per_sample"] == 6 * (784 * 200 + 200 * 10)
    assert f["achieved_gflops"]["barenet"] > 0 and f["flop_bound_epoch_s"] > 0
    for key in ("mlp_tta", "cnn_tta"):
        for fw in ("barenet", "torch"):
            rec = res[key][fw]
            assert len(rec["accuracy"]) == len(rec["epoch_s"]) >= 1
            assert all(0 <= a <= 1 for a in rec["accuracy"])


def test_memory_of_both_training_processes(smoke):
    mem = smoke["results"]["memory"]
    for fw in ("barenet", "torch"):
        assert mem[fw]["returncode"] == 0, mem[fw]
        assert 5 < mem[fw]["peak_rss_mb"] < 4000


def test_rows_are_complete(smoke):
    rows = smoke["rows"]
    assert rows and all(set(r) == {"metric", "barenet", "torch", "ratio", "target", "status"}
                        for r in rows)
    targeted = [r for r in rows if r["target"]]
    assert len(targeted) >= 4 and all(r["status"] == "smoke" for r in targeted)


def test_readme_section_is_replaced_only_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- benchmarks:start -->\nold\n<!-- benchmarks:end -->\nrest\n")
    proc = _run("run.py", "--smoke", "--only", "matmul", "--readme", str(readme))
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = readme.read_text()
    assert text.startswith("intro\n<!-- benchmarks:start -->\n") and text.endswith(
        "<!-- benchmarks:end -->\nrest\n")
    assert "old" not in text and "float32 matmul peak" in text


def test_readme_without_markers_is_left_alone(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import common
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers here\n")
    assert common.replace_between_markers(plain, "table") is False
    assert plain.read_text() == "no markers here\n"
    plain.write_text("<!-- benchmarks:end --> before <!-- benchmarks:start -->\n")
    assert common.replace_between_markers(plain, "table") is False


def test_unknown_section_is_refused():
    proc = _run("run.py", "--smoke", "--only", "mlp,nonsense")
    assert proc.returncode == 2 and "nonsense" in proc.stderr


def test_profile_step_prints_a_table_per_model(tmp_path):
    out = tmp_path / "profile.json"
    proc = _run("profile_step.py", "--models", "mlp", "--steps", "2", "--warmup", "1",
                "--json", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 Linear(784, 200)" in proc.stdout and "optimizer step" in proc.stdout
    res = json.loads(out.read_text())["results"][0]
    assert res["model"] == "mlp" and res["median_ms"]["barenet"]["total"] > 0


def _frameworks(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import frameworks
    return frameworks


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_torch_twin_starts_from_the_same_weights(monkeypatch, name):
    import numpy as np

    from barenet.models import build_model, model_input
    fw = _frameworks(monkeypatch)
    model = build_model({"name": name}, rng=0).eval()
    twin = fw.torch_twin(model).eval()
    shape = (3, 784) if model_input(name) == "flat" else (3, 1, 28, 28)
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(model(x), twin(torch.from_numpy(x)).numpy(), atol=1e-4)


def test_both_frameworks_take_the_same_steps_and_schedule(monkeypatch):
    import numpy as np

    from barenet.models import build_model
    fw = _frameworks(monkeypatch)
    hp = {**fw.cli_hparams("mlp"), "epochs": 1}
    model = build_model({"name": "mlp"}, rng=0)
    rng = np.random.default_rng(1)
    batches = [(rng.standard_normal((16, 784), dtype=np.float32), rng.integers(0, 10, 16))
               for _ in range(4)]
    setups = [fw.make_setup(f, model, hp, schedule=True, steps_per_epoch=len(batches))
              for f in ("barenet", "torch")]
    for s in setups:
        assert fw.train_epoch(s, batches) == len(batches)
    b, t = setups
    assert t.opt.param_groups[0]["lr"] == pytest.approx(b.opt.param_groups[0]["lr"])
    for k, v in b.model.state_dict().items():
        np.testing.assert_allclose(v, t.model.state_dict()[k].numpy(), atol=2e-5, err_msg=k)


def test_numpy_floor_step_trains_exactly_like_barenet(monkeypatch):
    """The hand-written NumPy reference step computes the same SGD updates as barenet."""
    import numpy as np

    from barenet.models import build_model
    fw = _frameworks(monkeypatch)
    hp = fw.cli_hparams("mlp")
    model = build_model({"name": "mlp"}, rng=0)
    rng = np.random.default_rng(2)
    batches = [(rng.standard_normal((16, 784), dtype=np.float32), rng.integers(0, 10, 16))
               for _ in range(5)]
    ours, floor = fw.make_setup("barenet", model, hp), fw.make_setup("numpy", model, hp)
    assert fw.train_epoch(ours, batches) == fw.train_epoch(floor, batches) == len(batches)
    for start, p, q in zip(model.parameters(), ours.model.parameters(), floor.model.params):
        assert np.abs(q - start.data).max() > 1e-3  # the steps moved the weights
        np.testing.assert_allclose(q, p.data, atol=1e-6)


def test_numpy_floor_refuses_other_models(monkeypatch):
    from barenet.models import build_model
    fw = _frameworks(monkeypatch)
    with pytest.raises(ValueError, match="Linear-ReLU-Linear and SGD"):
        fw.make_setup("numpy", build_model({"name": "mlp-deep"}, rng=0), fw.cli_hparams("mlp"))
