"""``multipart/form-data`` uploads (``curl -F``, a browser's FormData): the parser on its own,
then through a live server."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barenet.data.images import from_bytes, to_mnist
from barenet.serve.multipart import FormError, file_from_form

B = "----barenetBoundary7MA4YWxkTrZu0gW"
CT = f"multipart/form-data; boundary={B}"


def part(name: str, data: bytes, filename: str | None = None,
         content_type: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"Content-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + data


def form(*parts: bytes, boundary: str = B, preamble: bytes = b"", end: bytes = b"--\r\n") -> bytes:
    d = b"--" + boundary.encode()
    return preamble + d + b"\r\n" + (b"\r\n" + d + b"\r\n").join(parts) + b"\r\n" + d + end


PNGISH = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b"\r\n--" + B[:-1].encode() + b"\r\n\r\n--"


def test_one_file_part_like_curl_sends() -> None:
    got = file_from_form(CT, form(part("file", PNGISH, "digit.png", "image/png")))
    assert got.data == PNGISH and got.filename == "digit.png" and got.name == "file"
    assert got.content_type == "image/png"


def test_browser_form_with_other_fields_and_a_quoted_boundary() -> None:
    b = "----WebKitFormBoundary x'y"
    body = form(part("note", b"hello"), part("picture", b"abc\r\n", "a b.jpg"),
                boundary=b, preamble=b"ignored preamble\r\n", end=b"--")
    got = file_from_form(f'multipart/form-data; boundary="{b}"; charset=utf-8', body)
    assert got.data == b"abc\r\n" and got.filename == "a b.jpg"
    assert got.content_type == "application/octet-stream"  # the default when none is sent


@pytest.mark.parametrize("content_type,body,fragment", [
    ("multipart/form-data", form(part("f", b"x", "a.png")), "boundary"),
    ("multipart/form-data; boundary=" + "b" * 71, b"", "boundary"),
    ("multipart/form-data; boundary=", b"", "boundary"),
    (CT, form(part("note", b"hello")), "no file"),
    (CT, form(part("a", b"1", "a.png"), part("b", b"2", "b.png")), "one file"),
    (CT, form(part("f", b"x", "a.png"), end=b""), "closing"),
    (CT, form(part("f", b"x", "a.png"))[:-10], "closing"),
    (CT, b"no delimiter at all", "delimiter"),
    (CT, b"", "delimiter"),
    (CT, form(*[part(f"n{i}", b"v") for i in range(40)], part("f", b"x", "a.png")), "parts"),
    (CT, form(b"Content-Disposition: form-data; name=\"f\"; filename=\"a\"\r\nno blank line"),
     "headers"),
    (CT, form(b"X-Long: " + b"a" * 5000 + b"\r\n\r\nx"), "headers"),
    (CT, form(part("f", b"x", "a.png", "multipart/mixed; boundary=zz")), "nested"),
    (CT, form(b"Content-Type: image/png\r\n\r\nx"), "Content-Disposition"),
])
def test_bad_forms_raise_one_line_errors(content_type, body, fragment) -> None:
    with pytest.raises(FormError, match=fragment) as info:
        file_from_form(content_type, body)
    assert "\n" not in str(info.value)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 400))
def test_random_and_corrupted_bodies_parse_or_raise_form_error(junk, cut) -> None:
    good = form(part("note", b"n"), part("file", PNGISH, "d.png", "image/png"))
    for body in (junk, good[:cut] + junk, good[:cut] + junk + good[cut + len(junk):]):
        try:
            got = file_from_form(CT, body)
        except FormError:
            continue
        assert isinstance(got.data, bytes)


# -- through the server -----------------------------------------------------------------------
def expected_answer(run, png: bytes) -> int:
    return int(np.argmax(run.predict_proba(to_mnist(from_bytes(png))[None])[0]))


def test_form_upload_predicts_like_a_picture(client, run, test_set, make_png) -> None:
    png = make_png(test_set.images[5], 200)
    status, doc = client.post(form(part("file", png, "five.png", "image/png")), CT)
    assert status == 200, doc
    assert doc["prediction"] == expected_answer(run, png)
    assert doc["input"] == to_mnist(from_bytes(png)).reshape(-1).tolist()


@pytest.mark.parametrize("body,status,fragment", [
    (form(part("note", b"hello")), 400, "no file"),
    (form(part("f", b"not a picture", "x.png", "image/png")), 400, "not a picture"),
    (form(part("f", b"x", "a.png"), end=b""), 400, "closing"),
])
def test_bad_form_uploads_get_a_json_400(client, body, status, fragment) -> None:
    got, doc = client.post(body, CT)
    assert got == status and fragment in doc["error"], doc


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl on this machine")
def test_curl_form_upload(server, run, test_set, make_png, tmp_path) -> None:
    png = make_png(test_set.images[7], 160)
    (tmp_path / "digit.png").write_bytes(png)
    out = subprocess.run(["curl", "-s", "--max-time", "20", "-F", f"file=@{tmp_path / 'digit.png'}",
                          server.url + "api/predict"], capture_output=True, timeout=30, check=True)
    import json

    doc = json.loads(out.stdout)
    assert doc["prediction"] == expected_answer(run, png), doc
