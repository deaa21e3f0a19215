"""One server process of a trust's installation, for the several-processes tests and bench.

    python -m tests.server_child '{"url": ..., "host": ..., "port": ..., "username": ...,
                                   "password": ..., "folder": ...}'

It runs the real ServerRuntime (receiver, ingest, elected work) on its own broker account,
prints ``ready`` once it is receiving, and runs until SIGTERM (then stops cleanly) or until a
test kills it with SIGKILL. Its clock is frozen on a school morning, as the tests' events are.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from lockers.clock import FakeClock
from server.config import ServerConfig
from server.migrate import upgrade
from server.mqtt_link import MqttSettings
from server.runtime import ServerRuntime
from tests.server_kit import MORNING


def config_from(settings: dict[str, Any]) -> ServerConfig:
    """The server configuration the test hands over as JSON."""
    return ServerConfig(
        database_url=settings["url"], config_dir=settings["folder"],
        replica_tick_s=settings.get("replica_tick_s", 30.0),
        mqtt=MqttSettings(host=settings["host"], port=settings["port"],
                          username=settings["username"], password=settings["password"],
                          client_id=settings["username"],
                          affinity=settings.get("affinity", False)))


def main() -> None:
    """Run until SIGTERM."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = json.loads(sys.argv[1])
    if settings.get("migrate"):
        # As `[database] migrate_on_start` does, at the moment the test releases us all.
        go = Path(settings["start_when"])
        while not go.exists():
            time.sleep(0.01)
        upgrade(settings["url"])
    runtime = ServerRuntime(config_from(settings), clock=FakeClock(MORNING + timedelta(hours=1)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    runtime.start()
    print("ready", flush=True)
    stop.wait()
    runtime.stop()


if __name__ == "__main__":
    main()
