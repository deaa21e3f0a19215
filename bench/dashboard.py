"""Benchmark: the live dashboard with 2,000 slots and 20 kiosks, in headless Chromium
(bench/dashboard_6000.py runs it at 20 kiosks x 300 slots).

Measures the first render (navigation to the load event, and first contentful paint) and
the time from a kiosk's event published on the broker to the slot's colour changing in the
page (through the real server ingest, its post-commit listener and server-sent events).

Run: .venv/bin/python bench/dashboard.py [--updates 60] [--kiosks 20] [--slots 100]
Last line: dashboard first_render_ms=... live_update_p95_ms=...
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None, label: str = "dashboard") -> int:
    """Run the benchmark; ``label`` starts the last line of figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=60)
    parser.add_argument("--kiosks", type=int, default=20)
    parser.add_argument("--slots", type=int, default=100, help="slots per kiosk")
    args = parser.parse_args(argv)
    kiosks, slots_each = args.kiosks, args.slots

    import uvicorn
    from playwright.sync_api import sync_playwright

    from lockers.broker import BrokerProcess, BrokerSetup, KioskAccount, free_port, new_password
    from lockers.mqtt import make_client
    from lockers.wire import encode
    from lockers.wire import messages as m
    from lockers.wire import topics as t
    from server.config import ServerConfig
    from server.migrate import upgrade
    from server.mqtt_link import MqttSettings
    from server.runtime import ServerRuntime
    from server.web.app import create_app

    work = Path(tempfile.mkdtemp(prefix="lockers-bench-dash-"))
    codes = [f"k{i + 1}" for i in range(kiosks)]
    broker = BrokerProcess(BrokerSetup(
        config_dir=work / "broker", port=free_port(), server_password=new_password(),
        kiosks=[KioskAccount("main", k, new_password()) for k in codes],
        run_as_user=getpass.getuser() if os.geteuid() == 0 else None,
        server_processes=2))  # the bench's publisher needs an account of its own
    broker.start()
    url = f"sqlite:///{work / 'lockers.db'}"
    upgrade(url)
    rt = ServerRuntime(ServerConfig(database_url=url, mqtt=MqttSettings(
        port=broker.setup.port, password=broker.setup.server_password,
        client_id="bench-server")))
    s = rt.services
    s.admin.create_staff(None, "admin", "Admin", "admin", "bench-password")
    s.admin.create_staff("admin", "head", "Head", "leadership", "bench-password")
    s.admin.create_site("admin", "main", "Bench School")
    for code in codes:
        s.admin.add_kiosk("admin", code, slots=slots_each)
    rt.start()
    app = create_app(s)
    rt.ingest.listeners.append(app.state.broadcaster.on_commit)
    port = free_port()
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=web.run, daemon=True).start()
    while not web.started:
        time.sleep(0.05)
    # The server's second account may write any kiosk's topics (each account one client id).
    pub = make_client("bench-kiosks", username="server-2",
                      password=broker.setup.server_password)
    pub.connect("127.0.0.1", broker.setup.port)
    pub.loop_start()
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/signin")
            page.fill("input[name=username]", "head")
            page.fill("input[name=password]", "bench-password")
            page.click("button:has-text('Sign in')")
            page.wait_for_selector("#live:has-text('live')")
            renders = []
            for _ in range(3):  # first render of the whole page, a few times
                page.reload(wait_until="load")
                timing = page.evaluate("""() => {
                  const n = performance.getEntriesByType('navigation')[0];
                  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                  return [n.loadEventEnd - n.startTime, fcp ? fcp.startTime : 0,
                          n.responseEnd - n.requestStart, n.transferSize];
                }""")
                renders.append(timing)
            slots = page.locator(".grid .slot").count()
            page.wait_for_selector("#live:has-text('live')")
            page.evaluate("""() => {
              window.changed = {};
              new MutationObserver(ms => { for (const mu of ms) {
                const el = mu.target;
                if (el.dataset && el.dataset.state === 'occupied')
                  window.changed[el.id] = performance.timeOrigin + performance.now();
              }}).observe(document.body, {attributes: true, subtree: true,
                                          attributeFilter: ['data-state']});
            }""")
            latencies = []
            seqs = dict.fromkeys(codes, 0)
            for i in range(args.updates):
                kiosk, slot = codes[i % kiosks], 1 + (i // kiosks) % slots_each
                seqs[kiosk] += 1
                event = m.SlotStateEvent(kiosk=kiosk, site="main", seq=seqs[kiosk],
                                         at=datetime.now(UTC), slot=slot,
                                         state=m.SlotState.OCCUPIED,
                                         previous=m.SlotState.FREE, pupil_ref=f"P{i}")
                sent = time.time() * 1000
                pub.publish(t.topic(t.EVENTS, "main", kiosk), encode(event), qos=1)
                el = f"slot-{kiosk}-{slot}"
                page.wait_for_function(f"() => window.changed['{el}'] !== undefined",
                                       timeout=5000)
                latencies.append(page.evaluate(f"window.changed['{el}']") - sent)
            browser.close()
    finally:
        pub.loop_stop()
        web.should_exit = True
        rt.stop()
        broker.stop()
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    first = renders[0]
    print(f"slots on the page: {slots}; renders (load ms, first paint ms, server response "
          f"ms, bytes): {[tuple(round(x) for x in r) for r in renders]}")
    print(f"live update ms: p50={latencies[len(latencies) // 2]:.0f} p95={p95:.0f} "
          f"max={latencies[-1]:.0f} over {len(latencies)} updates")
    print(f"{label} slots={slots} first_render_ms={first[0]:.0f} live_update_p95_ms={p95:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
