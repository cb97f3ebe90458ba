"""One way to run the schemathesis CLI against a server of the suite (no 5xx allowed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_schemathesis(
    schema: str,
    base_url: str,
    cwd: Path,
    *,
    max_examples: int,
    seed: int,
    headers: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """``schemathesis run`` of ``schema`` against ``base_url``, checking only for server errors.

    ``max_examples`` is per operation and phase (every phase runs); the fixed seed
    keeps a run reproducible.
    """
    header_options = [option for header in headers for option in ("--header", header)]
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            schema,
            "--url",
            base_url,
            *header_options,
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(max_examples),
            "--seed",
            str(seed),
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "20",
            "--no-color",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
