"""API tokens: taken from the environment, or generated once and kept in var/."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from bot.settings import VAR_DIR

TOKEN_VARIABLES = ("LEADS_API_TOKEN", "STOREFRONT_TOKEN", "SESSION_SECRET")


def ensure_tokens(environ: dict[str, str], store: Path = VAR_DIR / "tokens.json") -> dict[str, str]:
    """Fill missing token variables in ``environ``; returns the generated ones.

    Generated tokens are saved (mode 0600) so they stay the same across restarts.
    """
    try:
        saved: dict[str, str] = json.loads(store.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        saved = {}
    generated: dict[str, str] = {}
    for name in TOKEN_VARIABLES:
        if environ.get(name):
            continue
        token = saved.get(name) or secrets.token_urlsafe(32)
        environ[name] = saved[name] = generated[name] = token
    if generated:
        store.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(saved, handle)
    return generated
