"""The trained model, loaded once for every held-out evaluation of the session."""

from __future__ import annotations

import pytest

from bench.nlu import MODEL, ModelParser


@pytest.fixture(scope="session")
def model_parser() -> ModelParser:
    if not MODEL.exists():
        pytest.fail(
            f"no trained model at {MODEL}: run `make train` first (the held-out sets need it)",
            pytrace=False,
        )
    return ModelParser.load(MODEL)
