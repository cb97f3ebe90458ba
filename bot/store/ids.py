"""Ids of rows other systems refer to (leads, API tokens): stable, URL-safe strings."""

from __future__ import annotations

import uuid


def new_lead_id() -> str:
    """A stable, URL-safe lead id."""
    return uuid.uuid4().hex
