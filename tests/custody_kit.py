"""A kiosk played on the wire as a custody-aware kiosk does: each event carries its store's
epoch, each deposit mints its custody id "<kiosk>.<epoch>.<seq>", and the custody picture the
server sends is kept (snapshot plus later updates)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import paho.mqtt.client as mqtt

from lockers.wire import messages as m
from tests.server_kit import MORNING, FakeKiosk, make_clock, running_server

EPOCH_1 = "00000000000000e1"
EPOCH_2 = "00000000000000e2"


class CustodyKiosk(FakeKiosk):
    """A :class:`FakeKiosk` that numbers its own events within a store epoch."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        self.acks: list[m.EventAck] = []
        self.epoch = EPOCH_1
        self.seq = 0
        super().__init__(*args, **kw)

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        super()._on_message(c, u, msg)
        from lockers.wire.codec import decode_topic

        _, message = decode_topic(msg.topic, msg.payload)
        if isinstance(message, m.EventAck):
            with self._cond:
                self.acks.append(message)
                self._cond.notify_all()

    def lose_state(self, epoch: str = EPOCH_2) -> None:
        """The state file is gone: a new store epoch, the sequence starts again at 1."""
        self.epoch, self.seq = epoch, 0

    def send(self, event_type: type[m.EventBase], at: datetime = MORNING, **fields: Any
             ) -> m.EventBase:
        """Publish the next event of this store and wait for its acknowledgement."""
        self.seq += 1
        seq, epoch = self.seq, self.epoch
        event = event_type(kiosk=self.kiosk, site=self.site, seq=seq, at=at, epoch=epoch,
                           **fields)
        self.publish(event)
        self.wait_for(lambda k: any(a.epoch == epoch and seq in a.seqs for a in k.acks),
                      what=f"ack of {epoch}#{seq}")
        return event

    def deposit(self, pupil_ref: str, slot: int, at: datetime = MORNING, **fields: Any
                ) -> str:
        """A device goes into ``slot``; returns the custody id the kiosk minted."""
        custody_id = fields.pop("custody_id", None) or \
            f"{self.kiosk}.{self.epoch}.{self.seq + 1}"
        self.send(m.DepositEvent, at, pupil_ref=pupil_ref, slot=slot, custody_id=custody_id,
                  **fields)
        return custody_id

    def collect(self, slot: int, custody_id: str | None, via: str = "pupil",
                at: datetime = MORNING, **fields: Any) -> None:
        """The slot was emptied and its door closed."""
        self.send(m.CollectionEvent, at, slot=slot, custody_id=custody_id, via=via, **fields)

    def picture(self) -> list[m.SlotCustody]:
        """The custody picture as the server last sent it (snapshot, then newer updates)."""
        if not self.snapshots:
            return []
        snap = self.snapshots[-1]
        custody = snap.custody
        for up in self.updates:
            if up.version > snap.version and up.custody is not None:
                custody = up.custody
        return list(custody)

    def wait_picture(self, predicate: Any, what: str, timeout: float = 5.0
                     ) -> list[m.SlotCustody]:
        """Wait until the custody picture satisfies ``predicate``."""
        return self.wait_for(lambda k: predicate(k.picture()) and (k.picture() or [True]),
                             timeout, what)


@contextmanager
def server_and_custody_kiosk(tmp_path: Any, broker_factory: Any
                             ) -> Iterator[tuple[Any, CustodyKiosk]]:
    """The real broker, the server runtime, and a custody-aware kiosk north/k1."""
    b = broker_factory(kiosks=[("north", "k1")])
    with running_server(tmp_path, b.host, b.port, make_clock(), username=b.server_username,
                        password=b.server_password) as rt:
        from sqlalchemy import select

        from server.models import Kiosk

        rt.services.admin.add_kiosk("admin", "k2", name="Sports hall", slots=10)
        with rt.store.write() as s:  # the office and the kiosk screen say kiosks' names
            s.scalar(select(Kiosk).where(Kiosk.code == "k1")).name = "North entrance"
        rt.replica.changed(None)
        account = b.kiosk("north", "k1")
        kiosk = CustodyKiosk(b.host, b.port, "north", "k1", account.username,
                             account.password)
        try:
            kiosk.wait_for(lambda k: k.snapshots, what="first snapshot")
            yield rt, kiosk
        finally:
            kiosk.close()
