"""Shared fixtures: seeded random generators so every test is reproducible."""
import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
