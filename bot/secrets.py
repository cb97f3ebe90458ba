"""Secrets and personal data on disk.

API tokens are taken from the environment, or generated once and kept in
``var/tokens.json``; that file, ``var/`` and the data files are readable by their
owner only.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.settings import VAR_DIR, Settings

TOKEN_VARIABLES = ("LEADS_API_TOKEN", "STOREFRONT_TOKEN", "SESSION_SECRET", "ACTIONS_TOKEN")
TOKENS_FILE = VAR_DIR / "tokens.json"
# Files and folders created by this process and its children: owner only.
PRIVATE_UMASK = 0o077
# Files SQLite writes next to a database (WAL mode, rollback journal).
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def ensure_tokens(environ: dict[str, str], store: Path = TOKENS_FILE) -> set[str]:
    """Fill missing token variables in ``environ`` from ``store``, creating the ones it lacks.

    Created tokens are saved (mode 0600) so they stay the same across restarts.
    Returns the names of the tokens created now, which nobody has seen yet.
    """
    saved = _saved_tokens(store)
    created: set[str] = set()
    for name in TOKEN_VARIABLES:
        if environ.get(name):
            continue
        if not saved.get(name):
            saved[name] = secrets.token_urlsafe(32)
            created.add(name)
        environ[name] = saved[name]
    if created:
        store.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a crash mid-write must not leave a torn file,
        # which would otherwise stop the next start (see _saved_tokens).
        staging = store.with_name(f".{store.name}.tmp")
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(saved, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, store)
    return created


class TokenFileError(ValueError):
    """``var/tokens.json`` exists but cannot be read as the saved tokens."""


def _saved_tokens(store: Path) -> dict[str, str]:
    # A damaged file is refused rather than replaced: new tokens would silently
    # lock out every integration and signed-in salesperson using the old ones.
    try:
        text = store.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        saved = json.loads(text)
    except ValueError as exc:
        raise TokenFileError(
            f"{store} is not valid JSON ({exc}): restore it, or delete it to generate new tokens"
        ) from exc
    if not isinstance(saved, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in saved.items()
    ):
        raise TokenFileError(
            f"{store} must be a JSON object of token names to strings: restore it, or delete "
            "it to generate new tokens"
        )
    return saved


def _owner_only(path: Path) -> None:
    """Drop group and other permissions from ``path`` if it exists and is ours."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return
    if status.st_uid == os.getuid() and status.st_mode & 0o077:
        path.chmod(stat.S_IMODE(status.st_mode) & ~0o077)


def _sqlite_files(url: str) -> list[Path]:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return []  # the process opening it reports the bad URL
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return []
    return [Path(f"{parsed.database}{suffix}") for suffix in SQLITE_COMPANIONS]


def make_data_private(settings: Settings) -> None:
    """Keep the lead data, conversations, tokens and spool to their owner.

    Sets this process's umask (children inherit it) so everything created from now
    on is owner-only, and tightens ``var/``, SQLite stores and the spool left
    readable by an earlier run.
    """
    os.umask(PRIVATE_UMASK)
    VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(VAR_DIR)
    _owner_only(TOKENS_FILE)
    for url in (settings.database_url, settings.tracker_store_url):
        for path in _sqlite_files(url):
            _owner_only(path)
    if settings.spool_dir.is_dir():
        _owner_only(settings.spool_dir)
        for path in settings.spool_dir.iterdir():
            _owner_only(path)
