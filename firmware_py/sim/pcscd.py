"""An isolated pcscd with two virtual readers, for tests, the demo and the simulator.

Only one pcscd can own ``/run/pcscd`` on a host, so this one runs in its own user and mount
namespace (``unshare -Urm``) with a private directory bind-mounted over ``/run/pcscd``.
Clients find it through ``PCSCLITE_CSOCK_NAME``. Its reader.conf gives vpcd's two slots free
TCP ports, so several of these (one per simulated kiosk) and a real pcscd can coexist.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from firmware_py.errors import ReaderError

APT_HINT = "apt-get install -y pcscd vsmartcard-vpcd libpcsclite-dev"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
# Looks like the commonest real reader, so the kiosk's name matching is exercised for real.
FRIENDLY_NAME = "ACS ACR122U PICC Interface"


def _free_port_pair() -> int:
    """A port p such that p and p+1 are free (vpcd's slot 1 listens on channel + 1)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65000:
            with socket.socket() as s2:
                try:
                    s2.bind(("0.0.0.0", port + 1))
                    return port
                except OSError:
                    continue
    raise ReaderError("no free pair of TCP ports for the virtual reader")


class IsolatedPcscd:
    """A private pcscd whose two vpcd slots listen on ``ports``."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="lockers-pcscd-"))
        self.run_dir = self.workdir / "run"
        self.conf_dir = self.workdir / "reader.conf.d"
        self.base_port = _free_port_pair()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def ports(self) -> tuple[int, int]:
        """The TCP ports virtual cards connect to: reader 0 and reader 1."""
        return self.base_port, self.base_port + 1

    @property
    def socket_path(self) -> Path:
        """What clients put in ``PCSCLITE_CSOCK_NAME``."""
        return self.run_dir / "pcscd.comm"

    @property
    def reader_names(self) -> tuple[str, str]:
        """The PC/SC names of the two virtual readers."""
        return f"{FRIENDLY_NAME} 00 00", f"{FRIENDLY_NAME} 00 01"

    def environ(self) -> dict[str, str]:
        """Environment a client process needs to reach this pcscd."""
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def start(self, timeout: float = 10.0) -> None:
        """Start pcscd and return once its socket answers."""
        for tool in ("pcscd", "unshare"):
            if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
                raise ReaderError(f"{tool} not found: run `{APT_HINT}`")
        if not VPCD_DRIVER.exists():
            raise ReaderError(f"the vpcd driver is missing: run `{APT_HINT}`")
        if not Path("/run/pcscd").is_dir():
            try:
                Path("/run/pcscd").mkdir(parents=True)
            except OSError as exc:
                raise ReaderError(f"/run/pcscd does not exist and cannot be made ({exc}): "
                                  "run `mkdir -p /run/pcscd` as root") from None
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "vpcd").write_text(
            f'FRIENDLYNAME "{FRIENDLY_NAME}"\n'
            f"DEVICENAME   /dev/null:0x{self.base_port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{self.base_port:04X}\n"
        )
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        cmd = (f"mount --bind {self.run_dir} /run/pcscd && "
               f"exec {pcscd} -f -e -c {self.conf_dir}")
        log = open(self.workdir / "pcscd.log", "wb")  # noqa: SIM115 - kept for the process
        self._proc = subprocess.Popen(["unshare", "-Urm", "sh", "-c", cmd], stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (self.socket_path.exists() and self._listening()):
            if self._proc.poll() is not None:
                raise ReaderError("pcscd exited at start: "
                                  + (self.workdir / "pcscd.log").read_text(errors="replace")[-300:])
            if time.monotonic() > deadline:
                self.stop()
                raise ReaderError(f"pcscd did not start within {timeout:.0f} s")
            time.sleep(0.02)

    def _listening(self) -> bool:
        # vpcd opens its TCP ports once pcscd has loaded the driver.
        try:
            with socket.create_connection(("127.0.0.1", self.base_port), timeout=0.2):
                pass
        except OSError:
            return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop pcscd (it takes 1-2 s to exit)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def kill(self) -> None:
        """Kill pcscd at once, as a crash would."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None

    @property
    def running(self) -> bool:
        """Whether pcscd is alive."""
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> IsolatedPcscd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
