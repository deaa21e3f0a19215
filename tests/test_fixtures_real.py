"""The fixtures are the real components: pcscd + pyscard, Mosquitto with the generated ACL,
and gpiozero's mock pins."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
from gpiozero import Button, OutputDevice
from gpiozero.pins.mock import MockFactory
from smartcard.scard import SCARD_STATE_EMPTY, SCARD_STATE_PRESENT
from smartcard.System import readers

from lockers.broker import BrokerError, BrokerProcess, acl_text
from lockers.wire import topics as t
from tests.fixtures.broker import Broker
from tests.fixtures.pcsc import Pcsc, wait_reader_state

NOT_AUTHORIZED = 135


def test_virtual_card_uid_is_read_through_pcscd_and_pyscard(pcscd: Pcsc) -> None:
    name = pcscd.reader_names[0]
    assert name in [str(r) for r in readers()]
    card = pcscd.card(0)
    card.present_uid("04A1B2C3D4E5F6")
    wait_reader_state(name, SCARD_STATE_PRESENT)
    reader = next(r for r in readers() if str(r) == name)
    conn = reader.createConnection()
    conn.connect()
    data, sw1, sw2 = conn.transmit([0xFF, 0xCA, 0x00, 0x00, 0x00])
    conn.disconnect()
    assert bytes(data).hex().upper() == "04A1B2C3D4E5F6"
    assert (sw1, sw2) == (0x90, 0x00)


def test_card_removal_is_seen_by_pcscd(pcscd: Pcsc) -> None:
    name = pcscd.reader_names[1]
    card = pcscd.card(1)
    card.present_uid("0102030405")
    wait_reader_state(name, SCARD_STATE_PRESENT)
    card.remove()
    wait_reader_state(name, SCARD_STATE_EMPTY)


def test_kiosk_cannot_publish_into_another_kiosks_namespace(broker: Broker) -> None:
    k1 = broker.kiosk_client("school1", "k1")
    own = k1.publish_and_wait(t.topic(t.EVENTS, "school1", "k1"), b"{}")
    other = k1.publish_and_wait(t.topic(t.EVENTS, "school1", "k2"), b"{}")
    fake_policy = k1.publish_and_wait(t.topic(t.POLICY, "school1", "k1"), b"{}")
    assert not own.is_failure  # 0, or 16 "no matching subscribers"
    assert other.value == NOT_AUTHORIZED
    assert fake_policy.value == NOT_AUTHORIZED  # a kiosk cannot write its own policy either


def test_kiosk_cannot_read_another_kiosks_commands(broker: Broker) -> None:
    k1 = broker.kiosk_client("school1", "k1")
    k1.subscribe_and_wait(t.topic(t.COMMANDS, "school1", "k2"))
    k1.subscribe_and_wait(t.topic(t.COMMANDS, "school1", "k1"))
    server = broker.server_client()
    # The broker delivers in order: once k1 has its own command, k2's would have arrived first.
    server.publish_and_wait(t.topic(t.COMMANDS, "school1", "k2"), b"for k2")
    server.publish_and_wait(t.topic(t.COMMANDS, "school1", "k1"), b"for k1")
    first = k1.next_message()
    assert (first.topic, first.payload) == (t.topic(t.COMMANDS, "school1", "k1"), b"for k1")
    with pytest.raises(queue.Empty):
        k1.messages.get_nowait()


def test_wrong_credentials_are_refused_with_a_reason(broker: Broker) -> None:
    with pytest.raises(ConnectionRefusedError, match="(?i)bad user name or password|not authori"):
        broker.client("kiosk-school1-k1", "wrong-password")
    with pytest.raises(ConnectionRefusedError):
        broker.client(None, None)


def test_last_will_marks_a_killed_kiosk_offline(broker: Broker) -> None:
    status = t.topic(t.STATUS, "school1", "k1")
    watcher = broker.server_client()
    watcher.subscribe_and_wait(status)
    account = broker.kiosk("school1", "k1")
    script = textwrap.dedent(f"""
        import sys, paho.mqtt.client as mqtt
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="k1", protocol=mqtt.MQTTv5)
        c.username_pw_set({account.username!r}, {account.password!r})
        c.will_set({status!r}, b"offline", qos=1, retain=True)
        c.connect({broker.host!r}, {broker.port})
        c.loop_start()
        c.publish({status!r}, b"online", qos=1, retain=True).wait_for_publish(5)
        print("ready", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        assert watcher.next_message().payload == b"online"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
        will = watcher.next_message()
        assert (will.topic, will.payload, will.retain) == (status, b"offline", False)
    finally:
        proc.kill()
        proc.wait(5)
    late = broker.server_client()
    late.subscribe_and_wait(status)
    assert late.next_message().payload == b"offline"  # retained for whoever looks later


def test_servers_share_kiosk_events_through_a_shared_subscription(broker: Broker) -> None:
    server = broker.server_client()
    rc = server.subscribe_and_wait(t.shared(t.filter_all_kiosks(t.EVENTS), "lockers-server"))
    assert not rc[0].is_failure
    broker.kiosk_client("school1", "k2").publish_and_wait(t.topic(t.EVENTS, "school1", "k2"),
                                                          b"hello")
    msg = server.next_message()
    assert (msg.topic, msg.payload) == (t.topic(t.EVENTS, "school1", "k2"), b"hello")


def test_retained_policy_survives_a_broker_restart(broker: Broker) -> None:
    topic = t.topic(t.POLICY, "school1", "k1")
    broker.server_client().publish_and_wait(topic, b"snapshot-v7", retain=True)
    broker.stop()
    broker.start()
    k1 = broker.kiosk_client("school1", "k1")
    k1.subscribe_and_wait(topic)
    assert k1.next_message().payload == b"snapshot-v7"


def test_acl_lets_each_kiosk_write_only_what_a_kiosk_publishes(broker: Broker) -> None:
    text = acl_text(broker.setup)
    assert "user kiosk-school1-k1\n" in text
    assert f"topic write {t.topic(t.EVENTS, 'school1', 'k1')}" in text
    assert f"topic read {t.topic(t.COMMANDS, 'school1', 'k1')}" in text
    assert f"topic write {t.topic(t.COMMANDS, 'school1', 'k1')}\n" not in text
    assert "topic readwrite lockers/v1/school1/k1" not in text


def test_a_broker_on_a_port_in_use_says_so_in_one_line(broker: Broker) -> None:
    with pytest.raises(BrokerError, match=f"port {broker.port} .* already in use") as info:
        BrokerProcess(broker.setup).start()
    assert "\n" not in str(info.value)


def test_relay_pin_and_door_pin_through_gpiozero_mock_pins(mock_pins: MockFactory) -> None:
    relay = OutputDevice(17, active_high=False, initial_value=False)
    door = Button(27, pull_up=True, bounce_time=None)
    pin = mock_pins.pin(17)
    assert pin.state is True  # active-low board: high means the coil is off
    relay.on()
    assert pin.state is False
    relay.off()
    opened = threading.Event()
    door.when_released = opened.set  # reed switch opens: pulled up, reads released
    mock_pins.pin(27).drive_low()
    assert door.is_pressed
    mock_pins.pin(27).drive_high()
    assert opened.wait(2)

