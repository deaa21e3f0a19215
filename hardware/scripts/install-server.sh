#!/usr/bin/env bash
# Install the server and its Mosquitto on Debian 12, as root:
#   sudo hardware/scripts/install-server.sh BROKER_HOSTNAME SITE KIOSK [KIOSK ...]
# Makes the school CA and the broker's TLS certificate, per-kiosk broker accounts, the
# database, and systemd units (server, nightly backup). Kiosk configs are then made with
# the web console's "provision kiosk". Safe to run again after an update (it migrates).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
host=${1:?usage: install-server.sh BROKER_HOSTNAME SITE KIOSK...}; site=${2:?site}; shift 2
prefix=$(cd "$(dirname "$0")/../.." && pwd)

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends \
  python3-venv python3-dev gcc swig libpcsclite-dev mosquitto mosquitto-clients openssl

id lockers >/dev/null 2>&1 || useradd --system --home /var/lib/lockers --shell /usr/sbin/nologin lockers
[ -x "$prefix/.venv/bin/python" ] || python3 -m venv "$prefix/.venv"
"$prefix/.venv/bin/pip" install -q --upgrade pip
"$prefix/.venv/bin/pip" install -q "$prefix"

install -d -m 750 -o root -g lockers /etc/lockers /etc/lockers/tls
"$prefix/hardware/scripts/make-tls.sh" /etc/lockers/tls "$host"
kiosk_args=(); for k in "$@"; do kiosk_args+=(--kiosk "$k"); done
"$prefix/.venv/bin/lockers" broker config --dir /etc/mosquitto/lockers --port 8883 \
  --host 0.0.0.0 --tls-dir /etc/lockers/tls --site "$site" "${kiosk_args[@]}" \
  --user mosquitto --secrets /etc/lockers/broker-secrets
echo "include_dir /etc/mosquitto/lockers" > /etc/mosquitto/conf.d/lockers.conf
chown -R mosquitto: /etc/mosquitto/lockers
install -m 640 -o root -g lockers /etc/lockers/broker-secrets/server.password /etc/lockers/server.password
[ -f /etc/lockers/server.toml ] || sed \
  -e "s|sqlite:///var/server/lockers.db|sqlite:////var/lib/lockers/lockers.db|" \
  -e "s|^port = 1883|port = 8883|" -e "s|^# tls_ca = .*|tls_ca = \"/etc/lockers/tls/ca.crt\"|" \
  -e "s|^host = \"127.0.0.1\"$|host = \"$host\"|" \
  "$prefix/hardware/server.example.toml" > /etc/lockers/server.toml
install -d -o lockers -g lockers /var/lib/lockers /var/backups/lockers
install -m 644 "$prefix/hardware/logrotate-lockers" /etc/logrotate.d/lockers
for unit in lockers-server.service lockers-backup.service lockers-backup.timer; do
  sed "s|@PREFIX@|$prefix|g" "$prefix/hardware/systemd/$unit" > "/etc/systemd/system/$unit"
done
systemd-analyze verify /etc/systemd/system/lockers-server.service
systemctl daemon-reload
systemctl restart mosquitto
systemctl enable --now lockers-server.service lockers-backup.timer
echo "server installed. First admin: sudo -u lockers $prefix/.venv/bin/lockers init --config /etc/lockers/server.toml --site $site"
