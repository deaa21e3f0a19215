"""A pupil as the office reads them in any list: "Amira Khan (8B)", never a bare reference.

One place says how a pupil is named on screen and in exports, so every list agrees.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Pupil


def pupil_label(first_name: str, last_name: str, form: str | None) -> str:
    """"Amira Khan (8B)"; without a form, just the name."""
    name = f"{first_name} {last_name}".strip()
    return f"{name} ({form})" if form else name


def labels_for(s: Session, refs: Iterable[str | None], site_id: int | None = None
               ) -> dict[str, str]:
    """Each reference's label; a reference with no pupil (a card never enrolled, a pupil
    since deleted by retention) keeps its reference so the row still says something."""
    wanted = {r for r in refs if r}
    if not wanted:
        return {}
    q = select(Pupil.reference, Pupil.first_name, Pupil.last_name, Pupil.form).where(
        Pupil.reference.in_(wanted))
    if site_id is not None:
        q = q.where(Pupil.site_id == site_id)
    found = {ref: pupil_label(first, last, form) for ref, first, last, form in s.execute(q)}
    return {ref: found.get(ref, ref) for ref in wanted}
