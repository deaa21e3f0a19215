"""The kiosk's words, one TOML file per language (kiosk_ui/strings/<lang>.toml)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent


@cache
def load(language: str = "en") -> dict[str, dict[str, str]]:
    """Every string of ``language`` (falling back to English for anything missing)."""
    english = tomllib.loads((HERE / "en.toml").read_text(encoding="utf-8"))
    if language == "en":
        return english
    path = HERE / f"{language}.toml"
    if not path.exists():
        raise FileNotFoundError(f"no kiosk strings for language {language!r}: add {path}")
    other = tomllib.loads(path.read_text(encoding="utf-8"))
    return {k: {**english.get(k, {}), **other.get(k, {})} for k in english}


def text(key: str, field: str, language: str = "en", **values: object) -> str:
    """One string, filled in."""
    template = load(language)[key][field]
    return template.format(**{k: ("" if v is None else v) for k, v in values.items()})
