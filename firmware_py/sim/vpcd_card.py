"""A virtual contactless card for vsmartcard's ``vpcd`` reader driver.

The card is a TCP client of the reader: connecting is putting the card on the reader, closing
the connection is taking it away. Every message is a 2-byte big-endian length and a payload;
1-byte payloads are control messages (0 power off, 1 power on, 2 reset, 4 get ATR), longer ones
are APDUs. The only APDU a kiosk sends is the contactless GET DATA ``FF CA 00 00 00``, answered
with the UID and ``90 00``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

# ACR122U's ATR for a MIFARE Classic 1K (what real kiosks mostly see).
ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
GET_UID = bytes.fromhex("FFCA000000")
SW_OK = b"\x90\x00"
SW_NOT_SUPPORTED = b"\x6a\x81"

VPCD_PORTS = (35963, 35964)  # Debian's /etc/reader.conf.d/vpcd: slots 00 and 01


class VirtualCard:
    """One card that can be presented to and removed from a virtual reader.

    Hazard: vpcd listens on all interfaces; use it in tests and the demo only, never on a
    kiosk.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = VPCD_PORTS[0]) -> None:
        self.host, self.port = host, port
        self.uid: bytes = b""
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.apdus: list[bytes] = []

    @property
    def present(self) -> bool:
        """Whether the card is on the reader now."""
        return self._sock is not None

    def present_uid(self, uid_hex: str, timeout: float = 5.0) -> None:
        """Put the card with ``uid_hex`` on the reader."""
        if self._sock is not None:
            self.remove()
        self.uid = bytes.fromhex(uid_hex)
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name=f"vpcd-card-{self.port}")
        self._thread.start()

    def remove(self) -> None:
        """Take the card away (pcscd sees it removed within about 100 ms)."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the reader
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(2)
            self._thread = None

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                msg = self._recv(sock)
                if msg is None:
                    return
                reply = self._answer(msg)
                if reply is not None:
                    sock.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            return

    def _answer(self, msg: bytes) -> bytes | None:
        if len(msg) == 1:
            # 0 power off, 1 power on, 2 reset: no reply; 4: the ATR.
            return ATR if msg[0] == 4 else None
        self.apdus.append(msg)
        if msg == GET_UID:
            return self.uid + SW_OK
        return SW_NOT_SUPPORTED

    @staticmethod
    def _recv(sock: socket.socket) -> bytes | None:
        header = VirtualCard._recv_exact(sock, 2)
        if header is None:
            return None
        return VirtualCard._recv_exact(sock, struct.unpack(">H", header)[0])

    @staticmethod
    def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            # Without QUICKACK every APDU waits for a delayed ACK (about 44 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def __enter__(self) -> VirtualCard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
