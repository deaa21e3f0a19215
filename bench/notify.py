"""Benchmark: telling people. How much a parent message adds to a confiscation (the outbox
row, its render and its audit line, in the same transaction), and how many e-mails a second
the sender hands to a real SMTP server on loopback (aiosmtpd), one claim and one mark each.

Run: .venv/bin/python bench/notify.py [--messages 300]
Last line: notify confiscate_p50_ms=... with_parent_p50_ms=... emails_per_s=...
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()

    from server.models import Pupil
    from server.notify import triggers
    from server.notify.recipients import EMAIL, Recipient
    from server.notify.sender import Sender
    from tests.notify_kit import SmtpServer, notify_config, school

    parent = [Recipient(EMAIL, "parent@example.org", "Mrs Bench", "mother")]
    smtp = SmtpServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, school(Path(tmp)) as services:
            with services.store.write() as s:
                site_id = s.scalar(Pupil.__table__.select().with_only_columns(
                    Pupil.site_id).limit(1))
                for i in range(args.messages):
                    s.add(Pupil(site_id=site_id, reference=f"B{i:04d}", first_name="Bea",
                                last_name="Bench", form="9X"))

            def timed(refs: list[str], serious: bool) -> list[float]:
                out = []
                for ref in refs:
                    t0 = time.perf_counter()
                    services.confiscations.confiscate("office1", ref, "bench", serious=serious)
                    out.append((time.perf_counter() - t0) * 1000)
                return out

            half = args.messages // 2
            # A first, minor breach: released to the pupil, nobody is told.
            without = timed([f"B{i:04d}" for i in range(half)], serious=False)
            triggers.recipients_for_pupil = lambda s, p: parent  # type: ignore[assignment]
            with_parent = timed([f"B{i:04d}" for i in range(half, args.messages)], serious=True)
            sender = Sender(services.store, services.clock, notify_config(smtp.port))
            t0 = time.perf_counter()
            sent = 0
            while True:
                n = sender.run_once()
                if n == 0:
                    break
                sent += n
            elapsed = time.perf_counter() - t0
            assert len(smtp.inbox.messages) == sent == args.messages - half
    finally:
        smtp.stop()
    rate = sent / elapsed
    p50_without, p50_with = statistics.median(without), statistics.median(with_parent)
    print(f"machine: {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} cores, "
          f"SQLite (WAL), aiosmtpd on loopback")
    print(f"confiscation, nobody told, ms: p50={p50_without:.1f}")
    print(f"confiscation with a parent e-mail queued, ms: p50={p50_with:.1f}")
    print(f"sender: {sent} e-mails in {elapsed:.2f} s (connect, claim, send, mark each)")
    print(f"notify confiscate_p50_ms={p50_without:.1f} with_parent_p50_ms={p50_with:.1f} "
          f"emails_per_s={rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
