"""The audit head anchored outside the database: deleting the newest rows with the head,
deleting everything, rewriting the chain from a row onwards, or editing the checkpoint file
are all caught by ``lockers audit verify``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from launcher.cli import main as lockers_cli
from server import audit
from server.models import AuditEntry, AuditHead
from tests.server_kit import database_url

pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def school(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """A school made with `lockers init`, a few audited actions, every commit anchored."""
    from lockers.clock import SystemClock
    from server.audit_anchor import anchor_for
    from server.config import load
    from server.services import Services
    from server.store import Store

    cfg = tmp_path / "etc" / "server.toml"
    cfg.parent.mkdir()
    cfg.write_text(f'[database]\nurl = "{database_url(tmp_path)}"\n')
    done = CliRunner().invoke(lockers_cli, ["init", "--config", str(cfg), "--password",
                                            "a long secret", "--site", "main"])
    assert done.exit_code == 0, done.output
    config = load(cfg)
    store = Store(config.database_url)
    store.anchor = anchor_for(config)
    store.anchor.min_interval_s = 0  # a checkpoint after every commit, for the test
    services = Services(store, SystemClock())
    for code in ("k1", "k2", "k3", "k4"):
        services.admin.add_kiosk("admin", code, slots=2, site="main")
    yield store, cfg
    store.anchor.stop()
    store.dispose()


def _verify(cfg: Path) -> Any:
    return CliRunner().invoke(lockers_cli, ["audit", "verify", "--config", str(cfg)])


def test_an_untouched_chain_is_intact_and_anchored_beside_server_toml(
        school: tuple[Any, Path]) -> None:
    _store, cfg = school
    assert (cfg.parent / "audit-anchor.key").exists()
    assert (cfg.parent / "audit-anchor.jsonl").read_text().count("\n") >= 5
    result = _verify(cfg)
    assert result.exit_code == 0 and "intact" in result.output


def test_deleting_the_newest_rows_and_the_head_row_is_detected(
        school: tuple[Any, Path]) -> None:
    store, cfg = school
    with store.write() as s:
        last = s.scalar(select(AuditHead.last_id))
        s.execute(delete(AuditEntry).where(AuditEntry.id > last - 2))
        s.execute(delete(AuditHead))
    result = _verify(cfg)
    assert result.exit_code == 1
    assert "gone" in result.output and f"audit row {last}" in result.output


def test_deleting_every_row_and_the_head_is_detected(school: tuple[Any, Path]) -> None:
    store, cfg = school
    with store.write() as s:
        s.execute(delete(AuditEntry))
        s.execute(delete(AuditHead))
    result = _verify(cfg)
    assert result.exit_code == 1 and "TAMPERED" in result.output


def test_rewriting_the_chain_from_a_row_onwards_is_detected(school: tuple[Any, Path]) -> None:
    store, cfg = school
    with store.write() as s:
        # The longest chain (the school's: its office actions) is the one rewritten.
        chain = s.scalar(select(AuditEntry.chain).group_by(AuditEntry.chain)
                         .order_by(func.count().desc()).limit(1))
        rows = s.scalars(select(AuditEntry).where(AuditEntry.chain == chain)
                         .order_by(AuditEntry.id)).all()
        assert len(rows) >= 3
        prev = rows[1].row_hash
        for row in rows[2:]:  # someone with the database rewrites history, hashes and all
            if row.id == rows[2].id:
                row.reason = "nothing happened here"
            row.prev_hash = prev
            row.row_hash = prev = audit.row_hash(prev, {c: getattr(row, c)
                                                        for c in (*audit.HASHED, "chain")})
        s.execute(update(AuditHead).where(AuditHead.chain == chain).values(last_hash=prev))
    with store.read() as s:
        assert audit.verify(s) == []  # the chain alone cannot tell
    result = _verify(cfg)
    assert result.exit_code == 1 and "rewritten" in result.output


def test_an_edited_or_missing_checkpoint_file_is_reported(school: tuple[Any, Path]) -> None:
    _store, cfg = school
    anchor = cfg.parent / "audit-anchor.jsonl"
    lines = anchor.read_text().splitlines()
    anchor.write_text("\n".join([*lines[:-1], lines[-1].replace('"id": ', '"id": 1')]) + "\n")
    edited = _verify(cfg)
    assert edited.exit_code == 1 and "not signed" in edited.output
    anchor.unlink()
    missing = _verify(cfg)
    assert missing.exit_code == 1 and "no audit anchor" in missing.output
