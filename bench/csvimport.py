"""``python -m bench csv``: CSV import of leads into a fresh SQLite store.

A seeded file of 100,000 realistic rows (French and international names,
phones written in several ways, some notes and statuses; about 2 % invalid
rows and 3 % rows repeating an earlier e-mail address) is imported with
``import_csv`` (what ``python -m bot leads import`` runs), then imported a
second time: every row is then a duplicate of a stored lead and is skipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.leads.csvimport import COLUMNS, DEFAULT_BATCH_SIZE, import_csv
from bot.settings import PROJECT_ROOT
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade

SECONDS_TARGET = 30.0
TARGET_ROWS = 100_000
FIRST_NAMES = (
    "Ada",
    "Amélie",
    "Bruno",
    "Camille",
    "Chloé",
    "Élodie",
    "Étienne",
    "François",
    "Hugo",
    "Inès",
    "Jules",
    "Léa",
    "Manon",
    "Noémie",
    "Raphaël",
    "Zoé",
    "Aiko",
    "Carlos",
    "Fatima",
    "Priya",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Lefèvre",
    "Garcia",
    "Roux",
    "Fournier",
    "Girard",
    "André",
    "Mercier",
    "Dupont",
    "Müller",
    "Rossi",
    "Tanaka",
    "Nguyen",
    "O'Brien",
)
COMPANIES = (
    "",
    "",
    "Boulangerie Moreau",
    "Atelier Roux & Fils",
    "Hoodies Unlimited SARL",
    "Lyon Sports Club",
    "Studio Graphique, Paris",
    "Acme Corp",
    "Northwind Traders",
)
POSITIONS = ("", "", "", "Buyer", "Head of purchasing", "Owner", "Office manager", "Coach")
STREETS = ("rue de la Paix", "avenue Jean Jaurès", "boulevard Voltaire", "place Bellecour")
CITIES = ("75002 Paris", "69002 Lyon", "13001 Marseille", "33000 Bordeaux", "59000 Lille")
SOURCES = ("", "", "", "trade-show", "newsletter", "partner.referral", "website")
STATUSES = ("", "", "", "", "New", "Contacted", "In Progress", "Qualified", "Won", "Lost")
NOTES = (
    "",
    "",
    "",
    "",
    "Wants a quote for 40 team hoodies",
    'Asked about "express" shipping, call back Monday',
    "Met at the fair;\nprefers e-mail",
)
DOMAINS = ("example.com", "example.fr", "mail.example.org", "shop.example.net")


def _phone(rng: random.Random) -> str:
    # Mobile prefixes in use (069x, 0639 and 070-072 are not allocated).
    prefix = rng.choice(("60", "61", "62", "64", "65", "66", "67", "68", "73", "75", "77"))
    digits = f"{prefix}{rng.randrange(10**7):07d}"
    pairs = " ".join(digits[i : i + 2] for i in range(1, 9, 2))
    return rng.choice(
        (
            f"0{digits}",
            f"0{digits[0]} {pairs}",
            f"+33 {digits[0]} {pairs}",
            f"+33{digits}",
        )
    )


def _invalid(row: dict[str, str], rng: random.Random) -> None:
    """Break one thing of ``row`` the way real files are broken."""
    kind = rng.randrange(5)
    if kind == 0:
        row["email"] = (row["email"] or "someone@example.com").replace("@", " at ")
    elif kind == 1:
        row["last_name"] = ""
    elif kind == 2:
        row["email"], row["phone"] = "", "12 34"
    elif kind == 3:
        row["company"] = "x" * 400
    else:
        row["status"] = "Maybe"


def generate(path: Path, rows: int, seed: int) -> dict[str, int]:
    """Write ``rows`` data rows to ``path``; how many of them were made invalid or duplicates."""
    rng = random.Random(seed)
    emails: list[str] = []
    counts = {"invalid": 0, "duplicates": 0}
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for index in range(rows):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if emails and rng.random() < 0.03:
                # The same person again, their address typed differently.
                email = rng.choice(emails).upper()
                counts["duplicates"] += 1
            else:
                # Addresses are ASCII even when names are not (élodie → elodie).
                name = unicodedata.normalize("NFKD", f"{first}.{last}".lower())
                local = name.encode("ascii", "ignore").decode().replace("'", "")
                email = f"{local}{index}@{rng.choice(DOMAINS)}"
                emails.append(email)
            row = {
                "first_name": first,
                "last_name": last,
                "email": email if rng.random() > 0.05 else "",
                "phone": _phone(rng) if rng.random() < 0.6 else "",
                "company": rng.choice(COMPANIES),
                "position": rng.choice(POSITIONS),
                "address": (
                    f"{rng.randrange(1, 200)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"
                    if rng.random() < 0.4
                    else ""
                ),
                "source": rng.choice(SOURCES),
                "status": rng.choice(STATUSES),
                "notes": rng.choice(NOTES),
            }
            if not row["email"] and not row["phone"]:
                row["phone"] = _phone(rng)
            if rng.random() < 0.02:
                _invalid(row, rng)
                counts["invalid"] += 1
            writer.writerow(row)
    return counts


def measure(path: Path, url: str, batch_size: int) -> dict[str, Any]:
    """Import ``path`` into ``url``: wall and CPU time, and the import's counts."""
    engine = create_db_engine(url)
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        with path.open("rb") as handle:
            report = import_csv(engine, handle, region="FR", batch_size=batch_size)
        seconds = time.perf_counter() - started
        # Wall time moves with other work on a shared machine; the CPU time much less.
        cpu_seconds = time.process_time() - cpu_started
    finally:
        engine.dispose()
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "rows_per_second": round(report.rows / seconds),
        "rows": report.rows,
        "created": report.created,
        "skipped_duplicates": report.skipped_duplicates,
        "invalid": report.invalid,
    }


def render(report: dict[str, Any]) -> str:
    """Markdown table of the CSV import benchmark."""
    first, again = report["first"], report["again"]
    met = "met" if first["seconds"] <= SECONDS_TARGET * report["rows"] / TARGET_ROWS else "missed"
    return "\n".join(
        [
            f"CSV import benchmark, {report['machine']} (1-minute load average "
            f"{report['load_average_1m'][0]} before, {report['load_average_1m'][1]} after)",
            "",
            "| measurement | result | target | |",
            "|---|---|---|---|",
            f"| import of {first['rows']:,} rows into an empty store, batches of "
            f"{report['batch_size']:,} ({first['created']:,} created, "
            f"{first['skipped_duplicates']:,} duplicates skipped, {first['invalid']:,} invalid) "
            f"| {first['seconds']} s ({first['rows_per_second']:,} rows/s; "
            f"{first['cpu_seconds']} s CPU) "
            f"| \u2264 {SECONDS_TARGET:.0f} s for {TARGET_ROWS:,} | {met} |",
            f"| the same file again (every valid row a duplicate) | {again['seconds']} s "
            f"({again['rows_per_second']:,} rows/s; {again['cpu_seconds']} s CPU) | | |",
            f"| generating the file ({report['file_mb']} MB, not timed above) "
            f"| {report['generate_seconds']} s | | |",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench csv")
    parser.add_argument("--rows", type=int, default=TARGET_ROWS, help="data rows in the file")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="5,000 rows, for a smoke test")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "bench" / "csv.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = 5000
    return args


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Run the CSV import benchmark; prints Markdown and writes JSON."""
    args = parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-csv-") as scratch:
        base = Path(scratch)
        path = base / "leads.csv"
        print(f"generating {args.rows:,} rows …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        generated = generate(path, args.rows, args.seed)
        generate_seconds = round(time.perf_counter() - started, 1)
        url = f"sqlite:///{base / 'leads.db'}"
        upgrade(url)
        print("importing …", file=sys.stderr, flush=True)
        first = measure(path, url, args.batch_size)
        print("importing again (duplicates) …", file=sys.stderr, flush=True)
        again = measure(path, url, args.batch_size)
        file_mb = round(path.stat().st_size / 1e6, 1)
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        # Other work on the machine slows the import: the 1-minute load before and after.
        "load_average_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "rows": args.rows,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "generated": generated,
        "file_mb": file_mb,
        "generate_seconds": generate_seconds,
        "first": first,
        "again": again,
        "seconds_target_per_100k": SECONDS_TARGET,
    }
    print(render(report) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    accounted = first["created"] + first["skipped_duplicates"] + first["invalid"] == args.rows
    return 0 if accounted and first["invalid"] == generated["invalid"] else 1
