"""`make run` refuses to start with a broken scoring configuration, naming the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import supervisor
from tests.scoring import SCORING_CONFIG


def _refused_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> str:
    """Run `make run`'s supervisor: it must exit 1 before starting any process; its stderr."""
    monkeypatch.setenv("LEADS_API_TOKEN", "t1")
    monkeypatch.setenv("STOREFRONT_TOKEN", "t2")
    started: list[object] = []
    monkeypatch.setattr(supervisor.subprocess, "Popen", lambda *a, **k: started.append(a))
    assert supervisor.run(tmp_path / "model.tar.gz") == 1
    assert started == []
    return capsys.readouterr().err


def test_broken_scoring_config_stops_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "scoring.yml"
    default = SCORING_CONFIG.read_text(encoding="utf-8")
    broken.write_text(default.replace("cap: 30}", "cap: 30, bonus: 2}", 1), encoding="utf-8")
    line = next(
        number
        for number, text in enumerate(broken.read_text().splitlines(), start=1)
        if "bonus: 2" in text
    )
    monkeypatch.setenv("SCORING_CONFIG", str(broken))
    error = _refused_start(tmp_path, monkeypatch, capsys)
    assert f"{broken}:{line}:" in error
    assert "bonus" in error


def test_broken_flows_stop_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    default = Path("data/flows/default.yml").read_text(encoding="utf-8")
    (flows / "default.yml").write_text(
        default.replace("answer_type: budget", "answer_type: budgit"), encoding="utf-8"
    )
    monkeypatch.setenv("FLOWS_DIR", str(flows))
    error = _refused_start(tmp_path, monkeypatch, capsys)
    assert f"{flows / 'default.yml'}, line " in error
    assert "`answer_type: budgit` — expected one of" in error
