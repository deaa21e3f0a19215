"""The simulator's monitor: a server-account client on the broker that sees every event and
every acknowledgement, so losses and commit latency are measured from outside the parts."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from lockers.wire import WireError, decode_topic
from lockers.wire import messages as m


@dataclass
class Monitor:
    """A server-account client that watches events and acknowledgements on the broker."""

    first_seen: dict[tuple[str, int], float] = field(default_factory=dict)
    commit_ms: list[float] = field(default_factory=list)
    acked: set[tuple[str, int]] = field(default_factory=set)
    # Every deposit and collection the kiosks made, once each (by kiosk, epoch and sequence).
    deposits: set[tuple[str, str | None, int]] = field(default_factory=set)
    collections: set[tuple[str, str | None, int]] = field(default_factory=set)
    deposit_records: set[str] = field(default_factory=set)  # the custody ids they named
    board_faults: int = 0  # lock boards reported silent (alarms raised)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        """Note when each event is first seen and how long until the server acknowledged it."""
        now = time.monotonic()
        try:
            parsed, message = decode_topic(msg.topic, msg.payload)
        except WireError:  # the monitor only counts what is valid
            return
        with self.lock:
            if isinstance(message, m.EventBase):
                self.first_seen.setdefault((parsed.kiosk, message.seq), now)
                made = (parsed.kiosk, message.epoch, message.seq)
                if isinstance(message, m.DepositEvent):
                    self.deposits.add(made)
                    if message.custody_id:
                        self.deposit_records.add(message.custody_id)
                elif isinstance(message, m.CollectionEvent):
                    self.collections.add(made)
                elif (isinstance(message, m.AlarmEvent) and message.state == "raised"
                      and message.alarm == m.AlarmKind.BOARD_FAULT):
                    self.board_faults += 1
            elif isinstance(message, m.EventAck):
                for seq in message.seqs:
                    key = (parsed.kiosk, seq)
                    if key not in self.acked and key in self.first_seen:
                        self.commit_ms.append((now - self.first_seen[key]) * 1000)
                    self.acked.add(key)
