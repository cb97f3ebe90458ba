"""``python -m rasa_ext run|shell``: Rasa's command runs only once the extensions are installed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from bot.settings import PROJECT_ROOT

# Runs `python -m rasa_ext …` with Rasa's command functions replaced by a probe,
# so neither a server nor an interactive shell starts and no model is needed. The
# probe reports what the command would run with: the log record factory (does it
# redact?) and Rasa's app factory (is it the hardened one?).
PROBE = """
import json, logging, runpy, sys

import rasa.cli.run
import rasa.cli.shell


def probe(args):
    import rasa.core.run

    record = logging.getLogger("probe").makeRecord(
        "probe", logging.INFO, "probe", 1, "reach me at %s", ("shopper@example.com",), None
    )
    print(json.dumps({
        "command": sys.argv[1],
        "model": args.model,
        "log": record.getMessage(),
        "hardened": hasattr(rasa.core.run.configure_app, "__wrapped__"),
    }))


rasa.cli.run.run = rasa.cli.shell.shell = probe
runpy.run_module("rasa_ext", run_name="__main__", alter_sys=True)
"""


def _run_with_extensions(*arguments: str) -> dict[str, object]:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"Rasa's command did not run:\n{done.stdout}\n{done.stderr}"
    report: dict[str, object] = json.loads(lines[-1])
    return report


@pytest.mark.parametrize("command", ["run", "shell"])
def test_the_command_runs_with_log_redaction_and_the_hardened_server(command: str) -> None:
    report = _run_with_extensions(command, "--model", "models/current.tar.gz")
    assert report == {
        "command": command,
        "model": "models/current.tar.gz",
        "log": "reach me at [email]",
        "hardened": True,
    }


def test_make_shell_chats_through_the_extensions() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^shell:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None, "the Makefile has no shell target"
    assert "$(PY) -m rasa_ext shell " in recipe.group(1)
    assert "/rasa shell" not in recipe.group(1)
