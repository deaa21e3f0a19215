"""The one place a paho MQTT client is built (paho-mqtt 2.x, MQTT 5).

Every part that speaks to the broker (the kiosk's link, the server's publisher and receiver,
the simulator's monitor, the tests' fixtures, the benchmarks) builds its client here, so the
protocol version, the callback API version, credentials and TLS are set one way everywhere.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import paho.mqtt.client as mqtt


def make_client(client_id: str, *, username: str | None = None, password: str | None = None,
                tls_ca: str | Path | None = None) -> mqtt.Client:
    """A paho 2.x MQTT 5 client (``VERSION2`` callbacks), with credentials and TLS if given.

    Callbacks run on paho's network thread: they must hand work to a queue and never call the
    client back (paho #354, #527).
    """
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    if tls_ca is not None:
        client.tls_set(ca_certs=str(tls_ca), tls_version=ssl.PROTOCOL_TLS_CLIENT)
    return client
