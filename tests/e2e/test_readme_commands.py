"""The set-up as the README gives it: ``make run`` with nothing set but PATH and HOME.

``make run`` installs, migrates, trains, then runs ``python -m bot run``; this test
does the last two steps in a copy of the project (its own ``var/``, the shared
``.venv`` and ``models/``) with the documented default ports, completes a
qualification over REST and reads the lead back with the generated API token.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from bot.devstack import StackPorts
from bot.settings import PROJECT_ROOT
from tests.e2e.supervised import SupervisedRun, port_open

pytestmark = pytest.mark.e2e

DEFAULT_PORTS = StackPorts(rasa=5005, actions=5055, web=8000)
MIGRATE_TIMEOUT_SECONDS = 120
# (shopper says, a word the reply must contain) — see test_chat_e2e's full qualification.
SCRIPT = [
    "hi",
    "sometime next month",
    "the blue hoodie in M",
    "Lyon",
    "around 300 bucks",
    "yes",
    "Jane Doe",
    "jane.readme@example.com",
]
# Written by the first start; the README says they are readable by their owner only.
PRIVATE_FILES = ("leads.db", "tracker.db", "tokens.json")


def _copy_project(target: Path) -> Path:
    """The project's files as a checkout has them, with ``.venv`` and ``models/`` linked.

    Tracked files plus new ones git does not ignore: what a commit of this working
    tree would hold (nothing of ``var/``, ``.venv`` or ``models/``).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = PROJECT_ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    (target / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    (target / "models").symlink_to(PROJECT_ROOT / "models")
    return target


def _scrubbed_environment(home: str) -> dict[str, str]:
    # The README asks the user to set nothing; a shell always has these two.
    return {"PATH": os.environ["PATH"], "HOME": home}


def test_make_run_as_documented_completes_a_qualification(tmp_path: Path) -> None:
    model = PROJECT_ROOT / "models" / "current.tar.gz"
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` first", pytrace=False)
    taken = [port for port in (5005, 5055, 8000) if port_open(port)]
    if taken:
        pytest.fail(
            f"the README's default ports must be free for this test; in use: {taken}",
            pytrace=False,
        )
    project = _copy_project(tmp_path / "project")
    env = _scrubbed_environment(os.environ["HOME"])
    subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-m", "bot", "migrate"],
        cwd=project,
        env=env,
        check=True,
        timeout=MIGRATE_TIMEOUT_SECONDS,
    )
    run = SupervisedRun(
        project,
        env,
        DEFAULT_PORTS,
        Path("models/current.tar.gz"),
        tmp_path / "run.out",
    )
    with run:
        run.wait_ready()
        sender = f"readme-{uuid.uuid4()}"
        for said in SCRIPT:
            texts = run.chat(sender, said)
            assert texts and all(texts), f"empty reply to {said!r}:\n{run.output()[-4000:]}"
        assert "specialist" in texts[-1].lower(), texts

        tokens = json.loads((project / "var" / "tokens.json").read_text(encoding="utf-8"))
        page = run.api(
            "GET", "/api/v2/leads", tokens["LEADS_API_TOKEN"], params={"session_id": sender}
        ).json()
        assert len(page["items"]) == 1, page
        lead = page["items"][0]
        assert {"timeline", "variant", "location", "budget"} <= set(lead["answers"]), lead
        assert lead["answers"]["variant"]["value"] == "hoodie-classic-blue-m", lead["answers"]
        assert lead["email"] == "jane.readme@example.com"

        # A newly generated token is shown once, at this first start.
        assert run.output().count(tokens["LEADS_API_TOKEN"]) == 1, run.output()[-4000:]

        var = project / "var"
        assert stat.S_IMODE(var.stat().st_mode) == 0o700
        written = [path for path in var.rglob("*") if path.is_file()]
        assert {path.name for path in written} >= set(PRIVATE_FILES), written
        readable = {
            str(path.relative_to(var)): oct(stat.S_IMODE(path.stat().st_mode))
            for path in [var, *var.rglob("*")]
            if path.stat().st_mode & 0o077
        }
        assert readable == {}, f"group/world-accessible under var/: {readable}"
        assert run.interrupt() == 0
    assert "All processes stopped." in run.output()
