"""Rendering a play's template: subject, plain-text part and HTML part (autoescaped).

A template is three files in ``templates/``: ``<name>.subject.txt``,
``<name>.txt`` and ``<name>.html``. Only ``.html`` files are autoescaped: a
shopper's name written ``<b>`` shows as text in the HTML part and as itself in
the plain-text part. Templates are rendered in a sandbox with undefined
variables as errors, so a template mistake fails the preview, not a send.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from bot.followups.config import TEMPLATES_DIR

MAX_SUBJECT_CHARS = 150


@dataclass(frozen=True)
class Rendered:
    """One message, ready to send."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=8)
def environment(directory: Path = TEMPLATES_DIR) -> SandboxedEnvironment:
    """The templates of ``directory`` (HTML autoescaped, undefined variables refused)."""
    return SandboxedEnvironment(
        loader=FileSystemLoader(str(directory)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
    )


def render(template: str, context: dict[str, Any], directory: Path = TEMPLATES_DIR) -> Rendered:
    """The three parts of ``template`` for ``context``."""
    env = environment(directory)
    subject = " ".join(env.get_template(f"{template}.subject.txt").render(context).split())
    text = env.get_template(f"{template}.txt").render(context)
    html = env.get_template(f"{template}.html").render(context)
    return Rendered(subject[:MAX_SUBJECT_CHARS], _tidy(text), html)


def _tidy(text: str) -> str:
    """At most one blank line in a row, no trailing spaces."""
    lines: list[str] = []
    for line in (raw.rstrip() for raw in text.splitlines()):
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip() + "\n"
