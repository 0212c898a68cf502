"""Untrusted run directories: npz members checked from their headers before anything is
unpacked, regular files only (no FIFO, no device), bounded reads, short one-line errors,
classes that fit the model, atomic writes that name their file, stale temporary files."""
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barenet import atomic
from barenet.cli.main import main
from barenet.errors import CheckpointError
from barenet.train import fileio, load_run
from barenet.train.checkpoint import write_run

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_run_mlp"
MAX_LINE = 500  # an error line a person can read (the path included)


def legacy_copy(tmp_path, **changes):
    dst = tmp_path / "legacy"
    shutil.copytree(LEGACY, dst)
    cfg = json.loads((dst / "config.json").read_text())
    for key, value in changes.items():
        if key == "hidden":
            cfg["model"]["hidden"] = value
        else:
            cfg[key] = value
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


def load_error(path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_run(path)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) <= MAX_LINE, msg[:2000]
    return msg


def add_member(npz: Path, name: str, shape: tuple, fill: int = 0, extra: bytes = b"",
               compress: bool = True) -> None:
    """Append ``name.npy`` to ``npz``: a float32 header for ``shape``, then its bytes (``fill``
    repeated, streamed so no big buffer exists), then ``extra``."""
    kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(npz, "a", compression=kind, compresslevel=1) as zf:
        with zf.open(name + ".npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(
                fh, {"descr": "<f4", "fortran_order": False, "shape": shape})
            left = int(np.prod(shape)) * 4
            chunk = bytes([fill]) * (1 << 20)
            while left:
                n = min(left, len(chunk))
                fh.write(chunk[:n])
                left -= n
            fh.write(extra)


def cli(args, timeout=60):
    """``python -m barenet ARGS`` in a child with 2 GiB of address space and a time limit, so a
    read without bound fails instead of taking the machine."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        return subprocess.run([sys.executable, "-m", "barenet", *args], capture_output=True,
                              text=True, timeout=timeout, preexec_fn=limit, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"barenet {' '.join(args)} still running after {timeout} s")


def one_line(proc) -> str:
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("barenet: error: "), proc.stderr[-2000:]
    assert len(lines[0]) <= MAX_LINE
    return lines[0]


# -- npz members are checked from their headers ---------------------------------------------
def test_a_zip_bomb_member_is_refused_before_it_is_unpacked(copy):
    add_member(copy / "weights.npz", "extra", (64 << 20,))  # 256 MiB of zeros, ~0.3 MB on disk
    tracemalloc.start()
    try:
        msg = load_error(copy)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "weights.npz" in msg and "unexpected" in msg and "extra" in msg
    assert peak < 32 << 20, f"{peak / 2**20:.0f} MiB allocated to refuse the archive"


def test_a_bomb_in_any_archive_is_refused_from_its_headers(tmp_path):
    path = tmp_path / "any.npz"
    np.savez(path, a=np.zeros(3))
    add_member(path, "big", (64 << 20,))
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"any\.npz: .*expand") as info:
            fileio.read_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20 and "\n" not in str(info.value)


def test_a_member_whose_size_disagrees_with_its_header_is_refused(copy):
    with np.load(copy / "weights.npz") as z:
        w = {k: z[k] for k in z.files}
    del w["2.bias"]
    np.savez(copy / "weights.npz", **w)
    add_member(copy / "weights.npz", "2.bias", (10,), extra=b"\0\0", compress=False)
    msg = load_error(copy)
    assert "2.bias" in msg and "bytes" in msg


def test_thousands_of_unexpected_names_make_one_short_line(copy):
    with np.load(copy / "weights.npz") as z:
        w = {k: z[k] for k in z.files}
    w.update({f"junk{i}": np.zeros(1, np.float32) for i in range(3000)})
    np.savez(copy / "weights.npz", **w)
    msg = load_error(copy)
    assert "unexpected 3,000 keys: junk0, junk1, junk2" in msg and "and 2,997 more" in msg


def test_a_text_file_as_weights_is_not_an_npz_archive(copy):
    (copy / "weights.npz").write_text("these are not weights\n" * 10)
    msg = load_error(copy)
    assert "weights.npz: corrupt or not an .npz archive" in msg and "allow_pickle" not in msg


def test_a_pickled_member_is_refused(copy):
    with np.load(copy / "weights.npz") as z:
        w = {k: z[k] for k in z.files}
    w["0.bias"] = np.array([None] * 8, dtype=object)
    np.savez(copy / "weights.npz", **w)
    msg = load_error(copy)
    assert "0.bias" in msg and "Python objects" in msg


# -- sizes and lengths of what a config.json asks for ----------------------------------------
def test_a_legacy_spec_over_the_parameter_cap_allocates_nothing(tmp_path):
    run = legacy_copy(tmp_path, hidden=[20000, 20000])
    tracemalloc.start()
    try:
        msg = load_error(run)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "more than the limit of 50,000,000" in msg and peak < 32 << 20


def test_a_legacy_spec_of_200000_layers_is_one_short_line(tmp_path):
    msg = load_error(legacy_copy(tmp_path, hidden=[1] * 200_000))
    assert "config.json" in msg and "more characters" in msg


def test_classes_must_match_the_legacy_models_output(tmp_path, capsys):
    run = legacy_copy(tmp_path, classes=["a"])
    assert "outputs [10] per sample, expected [1]" in load_error(run)
    assert main(["predict", str(run), "--index", "0"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "expected [1], one score per class" in err[0]


# -- regular files only, bounded reads ---------------------------------------------------------
def test_a_symlink_to_a_regular_file_is_fine(copy, tmp_path):
    real = tmp_path / "elsewhere.json"
    (copy / "config.json").rename(real)
    (copy / "config.json").symlink_to(real)
    assert load_run(copy).classes == [str(i) for i in range(10)]


@pytest.mark.parametrize("name", ["config.json", "weights.npz"])
def test_a_device_instead_of_a_run_file_is_refused(copy, name):
    (copy / name).unlink()
    (copy / name).symlink_to("/dev/zero")
    line = one_line(cli(["evaluate", str(copy), "--limit", "10", "--no-plots"]))
    assert f"{name}: not a regular file" in line


@pytest.mark.parametrize("name", ["config.json", "weights.npz"])
def test_a_fifo_instead_of_a_run_file_never_blocks(copy, name):
    (copy / name).unlink()
    os.mkfifo(copy / name)
    line = one_line(cli(["evaluate", str(copy), "--limit", "10", "--no-plots"]))
    assert f"{name}: not a regular file" in line


def test_a_fifo_as_resume_state_never_blocks(copy):
    (copy / "resume.npz").unlink()
    os.mkfifo(copy / "resume.npz")
    line = one_line(cli(["train", "--resume", str(copy), "--quiet", "--no-plots"]))
    assert "resume.npz: not a regular file" in line


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_train_config_must_be_a_regular_file(tmp_path, kind):
    conf = tmp_path / "best.json"
    if kind == "fifo":
        os.mkfifo(conf)
    else:
        conf.symlink_to("/dev/zero")
    line = one_line(cli(["train", "--config", str(conf), "--out", str(tmp_path / "r")]))
    assert "best.json: not a regular file" in line
    assert not (tmp_path / "r").exists()


def test_json_reads_stop_at_the_cap_whatever_stat_says(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"x": "y" * 500}))
    monkeypatch.setattr(fileio, "MAX_JSON_BYTES", 100)
    real_fstat = os.fstat
    monkeypatch.setattr(fileio.os, "fstat", lambda fd: os.stat_result(
        (*real_fstat(fd)[:6], 0, *real_fstat(fd)[7:])))  # st_size 0, as procfs reports
    with pytest.raises(CheckpointError, match=r"big\.json: larger than 100 bytes"):
        fileio.read_json(path)


# -- writes name their file; stale temporary files are removed ---------------------------------
def test_a_failing_atomic_write_names_the_file(tmp_path, capsys):
    path = tmp_path / "weights.npz"

    def disk_full(fh):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as info:
        atomic.atomic_write(path, disk_full)
    assert info.value.errno == 28 and info.value.filename == str(path)
    assert str(path) in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_no_space_left_during_training_is_one_line_naming_the_file(tmp_path, capsys,
                                                                  monkeypatch):
    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    out = tmp_path / "r"
    rc = main(["train", "--limit-train", "300", "--limit-test", "50", "--epochs", "1",
               "--hidden", "8", "--no-plots", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert str(out) in err[0] and "No space left on device" in err[0]


def _temp(run: Path, name: str, age_s: float) -> Path:
    path = run / name
    path.write_bytes(b"half a file")
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_stale_temporary_files_are_removed_when_a_run_is_written(copy):
    old = [_temp(copy, ".weights.npz.0123456789ab.tmp", 2 * 3600),
           _temp(copy, ".resume.npz.4242-fedcba987654.tmp", 7200)]
    fresh = _temp(copy, ".config.json.a1b2c3d4e5f6.tmp", 60)   # maybe a live writer's
    other = _temp(copy, ".notes.tmp", 2 * 3600)                   # not one of ours
    run = load_run(copy)
    write_run(copy, run.model, {k: v for k, v in run.config.items()})
    assert not any(p.exists() for p in old)
    assert fresh.exists() and other.exists()
    assert atomic.remove_stale_temp_files(copy) == []


def test_a_training_checkpoint_removes_stale_temporary_files(copy, capsys):
    (copy / "resume.npz").unlink()
    for p in copy.iterdir():
        if p.name != "config.json":
            p.unlink()
    cfg = json.loads((copy / "config.json").read_text())
    assert cfg["model"] == {"name": "mlp", "hidden": 8}
    old = _temp(copy, ".metrics.csv.0123456789ab.tmp", 3 * 3600)
    from barenet.train.api import _setup
    from barenet.train.config import flat_from_run_config, resolve_config
    from barenet.train.resume import save_training_state

    trainer = _setup(resolve_config(flat_from_run_config(cfg)), [], copy).trainer
    save_training_state(copy, trainer)
    assert not old.exists() and (copy / "resume.npz").exists()


# -- property: any damage to an .npz reads or raises CheckpointError, never anything else ------
FUZZ_EXAMPLES = int(os.environ.get("BARENET_FUZZ_EXAMPLES", 60))


@settings(max_examples=FUZZ_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(compress=st.booleans(), cut=st.one_of(st.none(), st.floats(0, 1)),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=6))
def test_damaged_npz_reads_or_raises_checkpoint_error(tmp_path_factory, compress, cut, flips):
    path = tmp_path_factory.mktemp("npz") / "a.npz"
    save = np.savez_compressed if compress else np.savez
    save(path, w=np.arange(60, dtype=np.float32).reshape(6, 10), state=np.array("{\"a\": 1}"),
         f=np.asfortranarray(np.ones((3, 4))), b=np.array([True, False]), e=np.zeros((0, 3)))
    data = bytearray(path.read_bytes())
    for where, value in flips:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if cut is not None:
        data = data[:int(cut * len(data))]
    path.write_bytes(bytes(data))
    try:
        arrays = fileio.read_npz(path)
    except CheckpointError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert all(isinstance(a, np.ndarray) and not a.dtype.hasobject for a in arrays.values())


def test_an_undamaged_npz_reads_exactly_as_numpy_does(tmp_path):
    path = tmp_path / "a.npz"
    arrays = {"w": np.arange(60, dtype=np.float32).reshape(6, 10), "s": np.array("héllo"),
              "f": np.asfortranarray(np.arange(12.0).reshape(3, 4)), "b": np.array([True]),
              "e": np.zeros((0, 3), np.int64),
              "big": np.arange(1_200_000, dtype=">i4")}  # more than one read chunk
    for save in (np.savez, np.savez_compressed):
        save(path, **arrays)
        got = fileio.read_npz(path)
        assert got.keys() == arrays.keys()
        for k, a in arrays.items():
            assert got[k].dtype == a.dtype and got[k].shape == a.shape
            assert np.array_equal(got[k], a)


def test_a_member_needing_a_newer_zip_version_is_a_checkpoint_error(tmp_path):
    """zipfile raises NotImplementedError ("zip file version 6.4") for such a member."""
    path = tmp_path / "a.npz"
    np.savez(path, w=np.zeros(3, np.float32))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6:central + 8] = (64).to_bytes(2, "little")   # version needed to extract
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        fileio.read_npz(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
