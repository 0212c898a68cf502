"""The sequence models in ``barenet serve``: an LSTM reading the digit row by row and a vision
transformer reading it as 16 patches, trained for a few seconds each. Their layers' outputs are
sent as (steps or tokens) x features heat maps, the transformer's class-token attention as one
grid of patches per encoder layer, their first layers' weights as gate or patch images, and
"why" and "teach it" work on them as on any other model."""
from __future__ import annotations

import contextlib
import http.client
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from barenet.nn.functional import softmax
from barenet.serve import make_server
from barenet.serve.inference import Predictor, summarize

HIDDEN, DIM, HEADS, DEPTH = 24, 32, 4, 2
SPECS = {"lstm": {"name": "lstm", "hidden": HIDDEN},
         "vit": {"name": "vit", "dim": DIM, "heads": HEADS, "depth": DEPTH, "mlp": 64}}


@pytest.fixture(scope="module")
def seq_runs(tmp_path_factory) -> dict[str, Any]:
    """An LSTM and a ViT trained for one epoch on 600 images, loaded back from their runs."""
    from barenet.train.api import train_model
    from barenet.train.checkpoint import load_run

    runs = {}
    for name, spec in SPECS.items():
        out = tmp_path_factory.mktemp(f"serve_{name}") / "run"
        train_model({"dataset": "mnist", "model": spec, "epochs": 1, "limit_train": 600,
                     "limit_test": 100, "seed": 0}, out, plots=False)
        runs[name] = load_run(out)
    return runs


class Api:
    """JSON requests to one live server: ``get(path)``, ``post(path, doc)`` -> (status, doc)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def _request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"} if body else {})
            res = conn.getresponse()
            return res.status, json.loads(res.read())
        finally:
            conn.close()

    def get(self, path: str) -> tuple[int, Any]:
        return self._request("GET", path)

    def post(self, path: str, doc: dict) -> tuple[int, Any]:
        return self._request("POST", path, json.dumps(doc).encode())

    def predict(self, image: np.ndarray) -> tuple[int, Any]:
        return self.post("/api/predict", {"pixels": image.tolist()})


@pytest.fixture(scope="module")
def seq_clients(seq_runs, serving) -> Any:
    """A live server per run, as {"lstm": Api, "vit": Api}."""
    with contextlib.ExitStack() as stack:
        clients = {}
        for name, run in seq_runs.items():
            srv = stack.enter_context(serving(make_server(run, "127.0.0.1", 0, seed=0)))
            clients[name] = Api(*srv.server_address[:2])
        yield clients


def outputs(run: Any, image: np.ndarray) -> list[np.ndarray]:
    """Every leaf layer's output for one picture, computed here layer by layer."""
    x, outs = run.normalize(image[None]), []
    for layer in run.model:
        x = layer(x)
        outs.append(x[0].copy())
    return outs


@pytest.mark.parametrize("name,shown,rows", [
    ("lstm", {"1 LSTM": ("LSTM", 1, [28, HIDDEN])}, "steps"),
    ("vit", {"0 PatchEmbedding": ("PatchEmbedding", 0, [17, DIM]),
             "1 TransformerEncoderLayer": ("TransformerEncoderLayer", 1, [17, DIM]),
             f"{DEPTH + 1} LayerNorm": ("TransformerEncoderLayer → LayerNorm", DEPTH + 1,
                                        [17, DIM])}, "tokens"),
])
def test_predict_sends_layers_as_sequences(seq_clients, seq_runs, test_set, name, shown,
                                           rows) -> None:
    """Each block's output is a whole (steps or tokens) x features map, the recurrent
    layer's or encoder's own numbers, not the one step SelectStep keeps."""
    image = test_set.images[3]
    status, doc = seq_clients[name].predict(image)
    assert status == 200, doc
    outs = outputs(seq_runs[name], image)
    assert set(doc["activations"]) == set(shown)
    for key, (label, index, shape) in shown.items():
        a = doc["activations"][key]
        assert (a["kind"], a["label"], a["rows"], a["step"]) == ("sequence", label, rows, 1)
        assert a["shape"] == a["full_shape"] == shape
        np.testing.assert_allclose(np.reshape(a["values"], shape), outs[index], atol=1e-4)
    np.testing.assert_allclose(doc["probabilities"],
                               softmax(outs[-1][None].astype(np.float64), axis=-1)[0], atol=1e-5)
    assert (doc["attention"] == []) == (name == "lstm")


def test_vit_sends_the_class_tokens_attention_per_layer(seq_clients, seq_runs,
                                                        test_set) -> None:
    """One 4x4 grid per encoder layer: row 0 of its attention (the class token's query),
    averaged over heads; with the weight on the class token itself it sums to 1."""
    image = test_set.images[7]
    status, doc = seq_clients["vit"].predict(image)
    assert status == 200, doc
    run = seq_runs["vit"]
    outputs(run, image)                                     # leaves each layer's weights
    att = doc["attention"]
    assert [a["layer"] for a in att] == [f"{i} TransformerEncoderLayer"
                                         for i in range(1, DEPTH + 1)]
    for i, a in enumerate(att, start=1):
        mha = run.model[i].self_attn
        assert (a["grid"], a["patch"], a["num_heads"]) == (4, 7, HEADS)
        weights, heads = np.array(a["weights"]), np.array(a["heads"])
        assert weights.shape == (4, 4) and heads.shape == (HEADS, 4, 4)
        full = mha.attn_weights[0, 0]                        # over all 17 tokens
        assert full.sum() == pytest.approx(1.0, abs=1e-5)
        assert a["cls"] + weights.sum() == pytest.approx(1.0, abs=1e-4)
        np.testing.assert_allclose(weights, full[1:].reshape(4, 4), atol=1e-5)
        np.testing.assert_allclose(a["cls"], full[0], atol=1e-5)
        np.testing.assert_allclose(heads, mha.attn_weights_per_head[0, :, 0, 1:].reshape(
            HEADS, 4, 4), atol=1e-5)
        np.testing.assert_allclose(heads.mean(axis=0), weights, atol=1e-5)


def test_first_layer_weights_are_gates_and_patches(seq_clients, seq_runs) -> None:
    """The LSTM's input weights as one (units x 28 pixels) image per gate; the patch
    embedding's as one 7x7 image per feature; /api/model describes both."""
    status, lstm = seq_clients["lstm"].get("/api/weights")
    assert status == 200, lstm
    w = seq_runs["lstm"].model[1].weight_ih_l0.data              # (4 H, 28)
    assert (lstm["layer"], lstm["kind"], lstm["count"]) == ("1 LSTM", "recurrent", HIDDEN)
    assert lstm["shape"] == [4, HIDDEN, 28] and lstm["gates"][1] == "forget gate"
    np.testing.assert_allclose(np.reshape(lstm["values"], (4 * HIDDEN, 28)), w, atol=1e-4)
    status, vit = seq_clients["vit"].get("/api/weights")
    assert status == 200, vit
    pw = seq_runs["vit"].model[0].weight.data                    # (DIM, 1, 7, 7)
    assert (vit["layer"], vit["kind"], vit["count"], vit["shape"]) == \
        ("0 PatchEmbedding", "patch", DIM, [DIM, 7, 7])
    np.testing.assert_allclose(np.reshape(vit["values"], (DIM, 7, 7)), pw[:, 0], atol=1e-4)
    for name, layer, shape in (("lstm", "LSTM", [28, HIDDEN]), ("vit", "PatchEmbedding",
                                                                [17, DIM])):
        status, info = seq_clients[name].get("/api/model")
        assert status == 200
        assert any(d["type"] == layer and d["output_shape"] == shape for d in info["layers"])


@pytest.mark.parametrize("name", ["lstm", "vit"])
def test_explain_gives_a_28x28_gradient(seq_clients, test_set, name) -> None:
    status, doc = seq_clients[name].post("/api/explain",
                       {"pixels": test_set.images[1].tolist(), "target": 2})
    assert status == 200, doc
    grad = np.array(doc["input_gradient"])
    assert grad.shape == (28, 28) and np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    assert doc["target"] == 2


@pytest.mark.parametrize("name,kind,shape", [
    ("lstm", "recurrent", [4, HIDDEN, 28]), ("vit", "patch", [DIM, 7, 7])])
def test_one_learn_step_moves_the_probabilities(seq_clients, seq_runs, test_set, name, kind,
                                                shape) -> None:
    image = test_set.images[2]
    label = (int(np.argmax(seq_runs[name].predict_proba(image[None]))) + 1) % 10
    status, doc = seq_clients[name].post("/api/learn",
                       {"pixels": image.tolist(), "label": label, "lr": 0.05})
    assert status == 200, doc
    before, after = doc["before"]["probabilities"], doc["after"]["probabilities"]
    assert after[label] > before[label] and doc["after"]["loss"] < doc["before"]["loss"]
    moved = doc["first_layer"]
    assert (moved["kind"], moved["shape"]) == (kind, shape) and moved["change_norm"] > 0
    assert all(g[0] > 0 for g in (layer["gradient_norms"] for layer in doc["layers"]))
    # the run's own model is untouched
    status, again = seq_clients[name].predict(image)
    np.testing.assert_allclose(again["probabilities"], before, atol=1e-5)


def test_summarize_bounds_a_long_sequence() -> None:
    """Over ``max_steps`` steps are averaged in groups of neighbours; features are cut to fit
    ``max_values``; a short sequence is sent as it is."""
    a = np.arange(130 * 300, dtype=np.float32).reshape(130, 300) / 1000
    s = summarize(a, max_values=4096, max_steps=64)
    assert (s["kind"], s["step"], s["full_shape"]) == ("sequence", 3, [130, 300])
    assert s["shape"] == [44, 4096 // 44] and len(s["values"]) == 44 * (4096 // 44)
    got = np.reshape(s["values"], s["shape"])
    np.testing.assert_allclose(got[0], a[:3, :93].mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(got[-1], a[129, :93], atol=1e-4)   # the last, padded group
    small = summarize(np.array([[1.0, -2.0], [3.0, 4.0]]))
    assert (small["shape"], small["step"], small["values"]) == ([2, 2], 1, [1.0, -2.0, 3.0, 4.0])


def test_bidirectional_gru_and_rnn(tmp_path: Path) -> None:
    """Other recurrent presets: a 2-layer bidirectional GRU's sequence holds both directions;
    its weights view shows the GRU's 3 gates in each direction (the reading from the bottom
    row up after the top-down one), an RNN's its one; a learning step moves both."""
    from barenet import load_run, save_run
    from barenet.models import build_model
    from barenet.serve.learn import Teacher
    from barenet.serve.sessions import Session

    def no_test_set():
        raise FileNotFoundError("no test set here")

    image = np.zeros((28, 28), np.uint8)
    image[4:24, 12:16] = 255
    for spec, tiles, width in (({"name": "gru", "hidden": 8, "layers": 2,
                                 "bidirectional": True}, 6, 16),
                               ({"name": "rnn", "hidden": 8}, 1, 8)):
        save_run(tmp_path / spec["name"], build_model(spec, rng=0))
        run = load_run(tmp_path / spec["name"])
        p = Predictor(run)
        doc = p.predict(image)
        (a,) = doc["activations"].values()
        assert (a["kind"], a["full_shape"], a["rows"]) == ("sequence", [28, width], "steps")
        w = p.weights()
        assert (w["kind"], w["shape"], len(w["gates"])) == ("recurrent", [tiles, 8, 28], tiles)
        assert doc["attention"] == []
        if tiles == 6:
            assert w["gates"][:3] == ["reset gate", "update gate", "new state"]
            assert w["gates"][3:] == [g + " (backward)" for g in w["gates"][:3]]
            gru = run.model[1]
            shown = np.reshape(w["values"], w["shape"])
            np.testing.assert_allclose(shown[3:].reshape(24, 28),
                                       gru.weight_ih_l0_reverse.data, atol=1e-4)
            teacher = Teacher(run, test_set=no_test_set)
            session = Session("t", teacher.copy(), 0.0)
            moved = teacher.learn(session, image, 3, steps=1, lr=0.5)["first_layer"]
            assert moved["shape"] == [6, 8, 28]
            assert np.abs(np.reshape(moved["values"], moved["shape"])[3:]).max() > 0
            again = teacher.learn(session, image, 3, steps=1, lr=0.5)["first_layer"]
            stacked = [np.concatenate([m.weight_ih_l0.data, m.weight_ih_l0_reverse.data])
                       for m in (session.model[1], gru)]    # the copy now, the run's weights
            assert again["total_change_norm"] == pytest.approx(
                float(np.linalg.norm(stacked[0] - stacked[1])), rel=1e-5)
            assert again["total_change_norm"] > again["change_norm"]
        else:
            assert w["gates"] == ["hidden state"]


@pytest.mark.parametrize("name", ["vit", "lstm"])
def test_page_draws_sequences_attention_and_gates(seq_clients, name) -> None:
    """In Chromium: a drawn digit gives sequence heat maps, a ViT one attention overlay per
    encoder layer (with one per head), an LSTM one weights tile per gate; no script error."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    import serve_screenshot as ui  # tests/serve/serve_screenshot.py

    if not Path(ui.CHROMIUM).exists():
        pytest.skip(f"no Chromium at {ui.CHROMIUM} (apt-get install chromium)")
    api = seq_clients[name]
    with sync_api.sync_playwright() as p:
        browser = ui.launch(p)
        try:
            page = ui.open_page(browser, f"http://{api.host}:{api.port}/")
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            ui.draw(page, ui.THREE)
            assert ui.settled_prediction(page) in "0123456789"
            rows = page.locator("#layers .layer")
            assert rows.count() == (3 if name == "vit" else 1)
            assert page.locator("#layers canvas.sequence").count() == rows.count()
            assert "rows: " in rows.first.inner_text()
            if name == "vit":
                assert page.locator("#attention figure").count() == DEPTH
                assert page.locator("#attention .att-heads canvas").count() == DEPTH * HEADS
                assert "16 patches" in page.locator("#weights-note").inner_text()
            else:
                assert page.locator("#attention").count() == 0 or \
                    not page.locator("#attention").is_visible()
                assert page.locator("#weights figure").count() == 4
                assert "forget gate" in page.locator("#weights").inner_text()
            page.click("#clear")
            assert page.locator("#attention figure").count() == 0
            assert errors == []
        finally:
            browser.close()
