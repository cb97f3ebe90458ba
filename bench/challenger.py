"""``python -m bench challenger``: training the challenger score, time and peak memory.

For each size, a fresh temporary SQLite lead store gets that many seeded
synthetic leads with the planted ground truth (``bot/leads/synthetic.py``,
written through the lead service, not timed), then ``python -m bot scoring
challenger train`` runs in a child process: its wall time and its own peak
resident memory (``wait4``) are the figures, and the time split (``backtest
--challenger`` at 7 days) checks what it learned. Two sizes show whether memory
stays flat as the store grows.

Target: training on 1,000,000 leads in at most 120 s with flat memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.leads import LeadService
from bot.leads.synthetic import generate, write_history
from bot.scoring import DEFAULT_CONFIG_PATH, scorer_for
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade

TRAIN_SECONDS_TARGET = 120.0
TARGET_LEADS = 1_000_000


def seed(url: str, leads: int, now: datetime) -> float:
    """Write ``leads`` planted synthetic histories; the seconds it took."""
    settings = Settings(database_url=url)
    scorer = scorer_for(settings)
    engine = create_db_engine(url)
    started = time.perf_counter()
    try:
        history = generate(leads, seed=5, now=now, catalog=scorer.catalog, outcomes="planted")
        write_history(LeadService(engine, scorer), history, batch_size=2000, now=now)
    finally:
        engine.dispose()
    return time.perf_counter() - started


def run(command: list[str], environment: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``python -m bot <command>`` in a child: wall time, its own peak RSS, its output.

    Standard output goes to ``log``, standard error (logging) next to it.
    """
    started = time.perf_counter()
    errors = log.with_suffix(".err")
    with open(log, "wb") as output, open(errors, "wb") as error_output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *command],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=error_output,
        )
        # wait4 gives this child's own resource usage (peak RSS), not all children's.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace")
    if process.returncode != 0:
        problem = errors.read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"python -m bot {' '.join(command)} failed: {problem[-2000:]}")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output": text,
    }


def measure(base: Path, leads: int) -> dict[str, Any]:
    """Seed a store of ``leads`` leads, train on it and run the time split."""
    url = f"sqlite:///{base / f'challenger-{leads}.db'}"
    upgrade(url)
    now = datetime.now(timezone.utc)
    print(f"  seeding {leads:,} planted synthetic leads …", file=sys.stderr, flush=True)
    seed_seconds = seed(url, leads, now)
    config = base / f"scoring-{leads}.yml"
    # The shipped rules, with the models kept in the scratch folder.
    rules = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    rules.setdefault("challenger", {})["model_dir"] = str(base / f"models-{leads}")
    config.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "SCORING_CONFIG": str(config),
        "RASA_TELEMETRY_ENABLED": "false",
    }
    print(f"  training on {leads:,} leads …", file=sys.stderr, flush=True)
    trained = run(
        ["scoring", "challenger", "train", "--quiet"], environment, base / f"train-{leads}.log"
    )
    print(f"  time split over {leads:,} leads …", file=sys.stderr, flush=True)
    split = run(["backtest", "--challenger", "--json"], environment, base / f"split-{leads}.log")
    comparison = json.loads(split["output"])
    return {
        "leads": leads,
        "seed_seconds": round(seed_seconds, 1),
        "train_seconds": trained["seconds"],
        "train_peak_rss_mb": trained["peak_rss_mb"],
        "leads_per_second": round(leads / trained["seconds"]),
        "trained": trained["output"].strip().splitlines()[0],
        "split_seconds": split["seconds"],
        "rules_auc": comparison["rules"]["auc"],
        "challenger_auc": comparison["challenger"]["auc"],
    }


def render(report: dict[str, Any]) -> str:
    """Markdown table of the challenger benchmark."""
    lines = [
        f"Challenger benchmark, {report['machine']}",
        "",
        "| leads | train | peak RSS | time split (AUC rules / challenger) | target |",
        "|---|---|---|---|---|",
    ]
    for row in report["runs"]:
        lines.append(
            f"| {row['leads']:,} | {row['train_seconds']} s ({row['leads_per_second']:,} "
            f"leads/s) | {row['train_peak_rss_mb']} MB | {row['split_seconds']} s "
            f"({row['rules_auc']:.3f} / {row['challenger_auc']:.3f}) | \u2264 "
            f"{TRAIN_SECONDS_TARGET:.0f} s for {TARGET_LEADS:,}, memory flat |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench challenger")
    parser.add_argument(
        "--leads",
        default="100000,1000000",
        help="comma-separated store sizes (default: 100000,1000000)",
    )
    parser.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "var" / "bench" / "challenger.json"
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(size) for size in args.leads.split(",") if size.strip()]
    except ValueError:
        parser.error(f"--leads: expected comma-separated whole numbers, got {args.leads!r}")
    if not args.sizes or min(args.sizes) < 1:
        parser.error(f"--leads: expected sizes of at least 1, got {args.leads!r}")
    return args


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Run the challenger benchmark; prints Markdown and writes JSON."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-challenger-") as scratch:
        runs = [measure(Path(scratch), size) for size in args.sizes]
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "runs": runs,
    }
    print(render(report) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    return 0
