"""Message bodies from Jinja2 templates: a plain-text and an HTML body for each kind.

Templates live in server/notify/templates as ``<kind>.txt`` (first line ``Subject: ...``)
and ``<kind>.html``. HTML is autoescaped; text is not (it is never shown as HTML).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).with_name("templates")

_env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=True)


@dataclass(frozen=True)
class Rendered:
    """A message ready to store: subject, text body and HTML body."""

    subject: str
    text: str
    html: str


def render(kind: str, **context: Any) -> Rendered:
    """Render the ``kind`` templates; a missing value is an error, never a blank."""
    text = _env.get_template(f"{kind}.txt").render(**context)
    first, _, rest = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"template {kind}.txt must start with a 'Subject: ' line")
    html = _env.get_template(f"{kind}.html").render(subject=first[9:].strip(), **context)
    return Rendered(first[9:].strip(), rest.lstrip("\n"), html)
