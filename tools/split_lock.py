"""Write requirements.lock and requirements-dev.lock from one pip resolution.

``make lock`` resolves requirements.in and requirements-dev.in together with
rasa in ONE pip run (``pip install --dry-run --report``), so rasa's own pins
win for both. This script reads that report and writes the runtime subset
(what requirements.in needs, followed through each package's requirements
with their markers) and the whole set, both with the same versions.

Usage: python tools/split_lock.py REPORT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
# pip is pinned by the Makefile before it installs a lock.
UNPINNED = {"pip"}
HEADERS = {
    "requirements.lock": (
        "# Runtime pins (make run): the runtime subset of one resolution of\n"
        "# requirements.in + requirements-dev.in with rasa (make lock). Do not edit by hand.\n"
    ),
    "requirements-dev.lock": (
        "# Everything make test / make check installs: requirements.lock plus the dev tools,\n"
        "# from the same single resolution (make lock). Do not edit by hand.\n"
    ),
}

Resolved = dict[str, tuple[str, str, list[str]]]


def read_inputs(path: Path) -> list[Requirement]:
    """The requirements listed in a ``.in`` file (comments and blank lines skipped)."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def closure(roots: list[Requirement], resolved: Resolved) -> set[str]:
    """Every package ``roots`` need on this platform, by canonical name."""
    seen: set[tuple[str, frozenset[str]]] = set()
    stack = [(canonicalize_name(r.name), frozenset(r.extras)) for r in roots]
    while stack:
        name, extras = stack.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
        for spec in resolved[name][2]:
            needed = Requirement(spec)
            if needed.marker is None or any(needed.marker.evaluate(e) for e in environments):
                stack.append((canonicalize_name(needed.name), frozenset(needed.extras)))
    return {name for name, _ in seen}


def write_lock(path: Path, names: set[str], resolved: Resolved) -> int:
    """Write ``names`` pinned at their resolved versions; returns how many."""
    pins = sorted(
        (f"{resolved[n][0]}=={resolved[n][1]}" for n in names if n not in UNPINNED),
        key=str.lower,
    )
    path.write_text(HEADERS[path.name] + "\n".join(pins) + "\n")
    return len(pins)


def main(report_path: str) -> None:
    """Split the report at ``report_path`` into the two lock files."""
    report = json.loads(Path(report_path).read_text())
    resolved: Resolved = {}
    for item in report["install"]:
        metadata = item["metadata"]
        resolved[canonicalize_name(metadata["name"])] = (
            metadata["name"],
            metadata["version"],
            metadata.get("requires_dist") or [],
        )
    runtime = read_inputs(ROOT / "requirements.in")
    dev = read_inputs(ROOT / "requirements-dev.in")
    counts = (
        write_lock(ROOT / "requirements.lock", closure(runtime, resolved), resolved),
        write_lock(ROOT / "requirements-dev.lock", closure(runtime + dev, resolved), resolved),
    )
    print(f"requirements.lock: {counts[0]} pins, requirements-dev.lock: {counts[1]} pins")


if __name__ == "__main__":
    main(sys.argv[1])
