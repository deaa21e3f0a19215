"""The live dashboard across a trust's processes (#17): how long a kiosk's slot change takes to
reach an open dashboard on the process that received it, and on the other process.

    .venv/bin/python bench/trust_live.py [--changes 200]

Everything is real: a private PostgreSQL cluster, one Mosquitto with the production ACL, two
``lockers server`` processes (web and runtime each; tests/serve_kit.py) with affinity, so
North's kiosk is received by one process only, and a kiosk speaking the wire. Two dashboard
streams (/events, signed in as North's head) are open, one on each process. The kiosk sends
one slot change at a time and waits until both streams have it. The last line:

    trust_live changes=... same_p50_ms=... same_p95_ms=... other_p50_ms=... other_p95_ms=...
    other_max_ms=... missed=0 cores=...
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from lockers.clock import SystemClock  # noqa: E402
from lockers.wire import messages as m  # noqa: E402
from server.services import Services  # noqa: E402
from server.store import Store  # noqa: E402
from tests.fixtures.broker import Broker  # noqa: E402
from tests.fixtures.postgres import PostgresCluster, server_bin  # noqa: E402
from tests.serve_kit import PASSWORD, ServeProcess, sign_in  # noqa: E402
from tests.server_kit import FakeKiosk, wait_until  # noqa: E402


def seed(url: str) -> None:
    """Two schools, a kiosk k1 at each, North's head."""
    store = Store(url)
    try:
        admin = Services(store, SystemClock()).admin
        admin.create_staff(None, "admin", "Trust Admin", "admin", PASSWORD)
        for code in ("north", "south"):
            admin.create_site("admin", code, f"{code.title()} School")
            admin.add_kiosk("admin", "k1", slots=6, site=code)
        admin.create_staff("admin", "north_head", "North Head", "leadership", PASSWORD,
                           site="north")
    finally:
        store.dispose()


class Stream:
    """An open dashboard's event stream: each slot update with the time it arrived."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=None))
        assert sign_in(self.http, "north_head", PASSWORD).status_code == 303
        self.heard: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self.open = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.open.wait(30):
            raise RuntimeError(f"the dashboard stream on {base} did not open")

    def _read(self) -> None:
        try:
            with self.http.stream("GET", "/events") as response:
                self.open.set()
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        now = time.perf_counter()
                        for update in json.loads(line[6:]):
                            if update.get("kind") == "slot":
                                self.heard.put((now, update))
        except httpx.HTTPError:
            pass  # the server stopped at the end of the run (a missed update shows as such)

    def wait_for(self, slot: int, state: str, timeout: float = 30.0) -> float | None:
        """When the update arrived, or None if it did not within ``timeout``."""
        deadline = time.perf_counter() + timeout
        while (left := deadline - time.perf_counter()) > 0:
            try:
                at, update = self.heard.get(timeout=left)
            except queue.Empty:
                return None
            if (update["slot"], update["state"]) == (slot, state):
                return at
        return None


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    bin_dir = server_bin()
    if bin_dir is None:
        print("PostgreSQL is not installed: apt-get install -y postgresql")
        return 1
    folder = Path(tempfile.mkdtemp(prefix="lockers-trust-live-"))
    cluster = PostgresCluster(bin_dir)
    broker = Broker(folder / "broker", [("north", "k1"), ("south", "k1")])
    processes: list[ServeProcess] = []
    try:
        cluster.start()
        broker.start()
        url = cluster.create_database()
        key = folder / "web-session.key"
        key.write_text("bench-trust-key")
        processes = [ServeProcess(url, broker, n, folder / f"host{n}", key).start()
                     for n in (1, 2)]
        for proc in processes:
            wait_until(proc.ready, 120, f"server process {proc.number}")
        seed(url)
        wait_until(lambda: sorted(str(p.schools()) for p in processes) == ["north", "south"],
                   60, "the schools to be split")
        receiver = next(p for p in processes if p.schools() == "north")
        other = next(p for p in processes if p is not receiver)
        same, far = Stream(receiver.base), Stream(other.base)
        account = broker.kiosk("north", "k1")
        kiosk = FakeKiosk(broker.host, broker.port, "north", "k1", account.username,
                          account.password)
        same_ms: list[float] = []
        other_ms: list[float] = []
        missed = 0
        for seq in range(1, args.changes + 1):
            slot, filled = (seq - 1) // 2 % 6 + 1, seq % 2 == 1
            state = m.SlotState.OCCUPIED if filled else m.SlotState.FREE
            sent = time.perf_counter()
            kiosk.publish(m.SlotStateEvent(
                kiosk="k1", site="north", seq=seq, at=datetime.now(UTC), slot=slot,
                state=state, previous=m.SlotState.FREE if filled else m.SlotState.OCCUPIED,
                pupil_ref="A001" if filled else None))
            for stream, out in ((same, same_ms), (far, other_ms)):
                at = stream.wait_for(slot, state.value)
                if at is None:
                    missed += 1
                else:
                    out.append((at - sent) * 1000)
        kiosk.close()
        print(f"{args.changes} slot changes of North's kiosk, received by process "
              f"{receiver.number}; dashboards on process {receiver.number} (same) and "
              f"{other.number} (other)")
        print(f"same process:  p50 {percentile(same_ms, 50):.1f} ms, "
              f"p95 {percentile(same_ms, 95):.1f} ms, max {max(same_ms):.1f} ms")
        print(f"other process: p50 {percentile(other_ms, 50):.1f} ms, "
              f"p95 {percentile(other_ms, 95):.1f} ms, max {max(other_ms):.1f} ms")
        print(f"trust_live changes={args.changes} same_p50_ms={percentile(same_ms, 50):.1f} "
              f"same_p95_ms={percentile(same_ms, 95):.1f} "
              f"other_p50_ms={percentile(other_ms, 50):.1f} "
              f"other_p95_ms={percentile(other_ms, 95):.1f} "
              f"other_max_ms={max(other_ms):.1f} missed={missed} cores={os.cpu_count()}")
        return 0 if missed == 0 else 1
    finally:
        for proc in processes:
            proc.stop()
        broker.close()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
