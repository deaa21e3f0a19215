"""A server process for the crash tests, killed by the test with SIGKILL.

    python -m tests.notify_child DATABASE_URL SMTP_PORT move   # confiscate, then wait
    python -m tests.notify_child DATABASE_URL SMTP_PORT send   # run the sender, then wait

It prints one line when it has reached the point the test kills it at.
"""

from __future__ import annotations

import sys

from lockers.clock import FakeClock
from server.notify.sender import Sender
from server.services import Services
from server.store import Store
from tests.notify_kit import PARENT, notify_config, put_contact
from tests.server_kit import MORNING

__all__ = ["PARENT", "main"]


def main() -> None:
    url, smtp_port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    store = Store(url)
    clock = FakeClock(MORNING)
    if mode == "move":
        services = Services(store, clock)
        put_contact(services, "A001", PARENT)
        services.confiscations.confiscate(
            "office1", "A001", "phone used to film a fight", serious=True)
        print("committed", flush=True)
    else:
        Sender(store, clock, notify_config(smtp_port)).start()
        print("sending", flush=True)
    sys.stdin.readline()  # wait to be killed


if __name__ == "__main__":
    main()
