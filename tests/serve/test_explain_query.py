"""Query options of ``POST /api/explain`` for a picture: each value read whole (never cut to a
prefix), bounded in length, in range, or one JSON 400 naming the option."""
from __future__ import annotations

import pytest

from barenet.serve import jsonbody
from barenet.serve.errors import HTTPError


def post(client, body: bytes, path: str):
    status, _, doc = client.request("POST", path, body, {"Content-Type": "image/png"})
    return status, doc


@pytest.mark.parametrize("query,fragment", [
    ("target=000000000000000000019", "'target'"),     # 21 characters: not cut to class 1
    ("target=19", "'target'"),
    ("smooth=00000000000000000005000", "'smooth'"),   # not cut to smooth 5
    ("smooth=51", "'smooth'"),
    ("target=-1", "'target'"),
    ("target=1_0", "'target'"),
    ("target=%2B1", "'target'"),
    ("target=%201", "'target'"),
    ("target=%D9%A1", "'target'"),                     # an Arabic-Indic digit one
    ("target=1&target=2", "'target'"),
    ("smooth=" + "9" * 5000, "'smooth'"),
])
def test_bad_query_values_are_refused_whole(client, test_set, make_png, query, fragment) -> None:
    got, doc = post(client, make_png(test_set.images[0], 56), f"/api/explain?{query}")
    assert got == 400, doc
    assert fragment in doc["error"] and "\n" not in doc["error"] and len(doc["error"]) < 200


def test_leading_zeros_within_the_bound_are_fine(client, test_set, make_png) -> None:
    got, doc = post(client, make_png(test_set.images[0], 56),
                    "/api/explain?target=0000000000000000003&smooth=00")
    assert got == 200, doc
    assert doc["target"] == 3


@pytest.mark.parametrize("value", ["1" * 21, "x", "", "1.0", "1e3", " 1"])
def test_query_fields_refuses(value) -> None:
    assert jsonbody.MAX_QUERY_CHARS == 20
    with pytest.raises(HTTPError) as info:
        jsonbody.query_fields({"smooth": [value]}, ("target", "smooth"))
    assert info.value.status == 400 and "'smooth'" in str(info.value)
    assert len(str(info.value)) < 200


def test_query_fields_reads_whole_values() -> None:
    assert jsonbody.query_fields({"target": ["0007"], "other": ["x"]}, ("target", "smooth")) == \
        {"target": 7}
    assert jsonbody.query_fields({}, ("target",)) == {}
    with pytest.raises(HTTPError):
        jsonbody.query_fields({"target": ["1", "2"]}, ("target",))
    # a plain int: the range is int_field's to check
    assert jsonbody.query_fields({"smooth": ["-3"]}, ("smooth",)) == {"smooth": -3}
