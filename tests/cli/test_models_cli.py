"""`barenet models` run for real."""
import json

import pytest

from barenet.cli.main import main
from barenet.models import MODEL_NAMES


def test_table_lists_every_model_with_its_parameter_count(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in MODEL_NAMES:
        assert f"\n{name} " in out
    assert "159,010" in out and "flat" in out


def test_json(capsys):
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(MODEL_NAMES)
    mlp = rows[0]
    assert mlp["params"] == 159010 and mlp["input"] == "flat"
    assert mlp["train"]["optimizer"] == "sgd" and mlp["spec"] == {"name": "mlp", "hidden": 200}


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["models", "--help"])
    assert "examples:" in capsys.readouterr().out
