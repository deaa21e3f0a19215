"""The steps that bring one new kiosk onto the broker, as a shell script an IT person can copy
or download and run on the server as printed.

The script ADDS the kiosk's account to the broker's existing password file and ACL and asks
Mosquitto to re-read them. It never rewrites either file (``mosquitto_passwd -c`` starts an
empty file, and ``lockers broker config`` regenerates every account): run from a web page
either would lock out every other kiosk and the server itself.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from lockers.broker import kiosk_acl_lines

BROKER_DIR = "/etc/mosquitto/lockers"  # where hardware/scripts/install-server.sh puts it
SECRETS_DIR = "/etc/lockers/broker-secrets"  # install-server.sh's --secrets folder
TLS_DIR = "/etc/lockers/tls"  # hardware/scripts/make-tls.sh's output on the server
RELOAD = "systemctl reload mosquitto"  # Debian's unit sends SIGHUP: files re-read, no drops


@dataclass(frozen=True)
class BrokerEndpoint:
    """Where kiosks reach the broker: one port, with or without TLS, used everywhere."""

    host: str
    port: int
    tls: bool

    @property
    def words(self) -> str:
        """The endpoint as the page says it."""
        return f"{self.host} port {self.port} " + ("with TLS" if self.tls else
                                                   "WITHOUT TLS (a bench only)")


def server_script(site: str, kiosk: str, kiosk_name: str, username: str, password: str,
                  endpoint: BrokerEndpoint) -> str:
    """The script to run on the server (as root) that gives the kiosk its broker account."""
    q_user, q_pass = shlex.quote(username), shlex.quote(password)
    acl = "\n".join(kiosk_acl_lines(site, kiosk))
    return f"""#!/bin/sh
# Broker account for kiosk {site}/{kiosk} ({kiosk_name}). Run on the server as root:
#   sudo sh provision-{site}-{kiosk}.sh
# It ADDS this one account; every other kiosk and the server keep theirs. Run again, it
# sets this kiosk's new password (the kiosk then needs its new kiosk.toml).
set -eu
BROKER_DIR="${{BROKER_DIR:-{BROKER_DIR}}}"
SECRETS_DIR="${{SECRETS_DIR:-{SECRETS_DIR}}}"
RELOAD_BROKER="${{RELOAD_BROKER:-{RELOAD}}}"
if [ ! -f "$BROKER_DIR/passwd" ] || [ ! -f "$BROKER_DIR/acl" ]; then
  echo "no broker set-up in $BROKER_DIR: run hardware/scripts/install-server.sh first" >&2
  exit 1
fi

# 1. The kiosk's password, added to the existing password file (no -c: that would empty it).
mosquitto_passwd -b "$BROKER_DIR/passwd" {q_user} {q_pass}

# 2. Kept with the other accounts' passwords, so a later `lockers broker config --secrets`
#    keeps this kiosk working.
mkdir -p "$SECRETS_DIR"
chmod 700 "$SECRETS_DIR"
printf '%s\\n' {q_pass} > "$SECRETS_DIR/{username}.password"
chmod 600 "$SECRETS_DIR/{username}.password"

# 3. The kiosk's own topics in the ACL (only its own), added once.
if ! grep -qx {shlex.quote('user ' + username)} "$BROKER_DIR/acl"; then
  cat >> "$BROKER_DIR/acl" <<'ACL'

{acl}
ACL
fi

# 4. Mosquitto re-reads the password file and the ACL; no connection is dropped.
eval "$RELOAD_BROKER"
echo "kiosk {site}/{kiosk} may now connect to the broker at {endpoint.words}"
"""


def kiosk_steps(site: str, kiosk: str, endpoint: BrokerEndpoint) -> str:
    """What to do on the kiosk's Pi, as root, from the lockers checkout."""
    tls = (f"install -d -m 755 {TLS_DIR}\n"
           f"# copy the school's CA certificate from the server's {TLS_DIR}/ca.crt:\n"
           f"scp root@{endpoint.host}:{TLS_DIR}/ca.crt {TLS_DIR}/ca.crt\n") if endpoint.tls \
        else ""
    return (f"{tls}hardware/scripts/install-kiosk.sh kiosk-{site}-{kiosk}.toml\n"
            f"systemctl status lockers-kiosk --no-pager\n")
