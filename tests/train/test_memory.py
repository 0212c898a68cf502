"""The memory a training step needs, estimated from the architecture, against what NumPy
really allocates (tracemalloc sees every NumPy array), and the memory a machine has free."""
import tracemalloc

import numpy as np
import pytest

from barenet import nn
from barenet.errors import ConfigError
from barenet.models import architecture_of, build_model, input_shape, resolve_spec
from barenet.nn.kernels import conv2d
from barenet.train import memory
from barenet.train.api import make_optimizer
from barenet.train.config import resolve_config


def measured_step_bytes(name, batch):
    """Bytes NumPy holds at the peak of a training step at ``batch`` (after two warm-up steps,
    so the layers' reused work arrays exist), beyond the model and its optimizer."""
    spec = resolve_spec({"name": name})
    tracemalloc.start()
    try:
        model = build_model(spec, rng=0)
        opt = make_optimizer("adam", model.parameters(), 1e-3, 0.9, 0.0)
        criterion = nn.CrossEntropyLoss()
        x = np.random.default_rng(0).standard_normal((batch, *input_shape(spec)))
        x = x.astype(np.float32)
        y = np.zeros(batch, np.int64)
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            model.train()
            criterion(model(x), y)
            opt.zero_grad()
            model.backward_params_only(criterion.backward())
            opt.step()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", ["mlp", "mlp-deep", "lenet5", "cnn", "cnn-large", "rnn", "lstm",
                                  "gru", "vit"])
def test_the_estimate_per_sample_bounds_what_a_step_really_allocates(name, monkeypatch):
    # convolutions make dL/dcols in blocks of up to DCOLS_BLOCK_BYTES (a fixed cost, counted
    # apart); at 0 every block is one output row, as at any batch large enough to matter
    monkeypatch.setattr(conv2d, "DCOLS_BLOCK_BYTES", 0)
    spec = resolve_spec({"name": name})
    small, large = 32, 160
    real = (measured_step_bytes(name, large) - measured_step_bytes(name, small)) / (large - small)
    est = memory.step_bytes_per_sample(architecture_of(spec), input_shape(spec))
    assert real <= est <= 1.6 * real, (name, real, est)


def test_the_cnn_at_batch_60000_needs_tens_of_gigabytes():
    cfg = resolve_config({"model": "cnn", "batch_size": 60000})
    need = memory.training_bytes(cfg)
    assert 20e9 < need < 60e9


def test_a_batch_that_does_not_fit_is_refused_with_one_that_does(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 2 << 30)
    cfg = resolve_config({"model": "cnn", "batch_size": 60000})
    with pytest.raises(ConfigError) as info:
        memory.check_memory(cfg)
    msg = str(info.value)
    assert "\n" not in msg and "--batch-size 60000" in msg and "GB" in msg
    suggested = int(msg.rsplit("--batch-size ", 1)[1].split()[0])
    assert memory.training_bytes({**cfg, "batch_size": suggested}) <= 2 << 30
    assert memory.training_bytes({**cfg, "batch_size": 2 * suggested}) > 2 << 30
    memory.check_memory({**cfg, "batch_size": suggested})   # accepted


def test_a_small_training_set_caps_the_batch():
    cfg = resolve_config({"model": "cnn", "batch_size": 60000, "limit_train": 500})
    assert memory.training_bytes(cfg) == memory.training_bytes({**cfg, "batch_size": 500})
    assert memory.training_bytes(cfg) < memory.training_bytes({**cfg, "limit_train": None}) / 40


def test_the_block_of_column_gradients_is_counted_once_per_convolution_after_the_first():
    cnn, mlp = (architecture_of(resolve_spec({"name": n})) for n in ("cnn", "mlp"))
    assert memory.step_fixed_bytes(cnn, (1, 28, 28)) == conv2d.DCOLS_BLOCK_BYTES  # 2nd conv only
    assert memory.step_fixed_bytes(mlp, (784,)) == 0


def test_nothing_fits_says_so(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)
    with pytest.raises(ConfigError, match="not enough memory.*even --batch-size 1"):
        memory.check_memory(resolve_config({"model": "cnn"}))


def test_unknown_available_memory_checks_nothing(monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: None)
    memory.check_memory(resolve_config({"model": "cnn", "batch_size": 60000}))


def test_available_memory_is_the_smaller_of_meminfo_and_the_cgroup_room(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemFree:  100 kB\n"
                       "MemAvailable:   20000000 kB\n")
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "memory.max").write_text("8589934592\n")      # 8 GiB limit
    (cg / "memory.current").write_text("1073741824\n")  # 1 GiB used
    assert memory.available_memory(meminfo, [cg]) == 7 << 30
    (cg / "memory.max").write_text("max\n")
    assert memory.available_memory(meminfo, [cg]) == 20000000 * 1024
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "memory.limit_in_bytes").write_text("4294967296\n")
    (v1 / "memory.usage_in_bytes").write_text("1073741824\n")
    assert memory.available_memory(meminfo, [v1]) == 3 << 30
    (meminfo).write_text("garbage\n")
    assert memory.available_memory(meminfo, []) is None
    assert memory.available_memory(tmp_path / "missing", []) is None


def test_available_memory_on_this_machine_is_a_positive_number_or_none():
    got = memory.available_memory()
    assert got is None or got > 0
