#!/usr/bin/env bash
# Install a kiosk on Raspberry Pi OS (Bookworm, 64-bit), as root:
#   sudo hardware/scripts/install-kiosk.sh /path/to/kiosk.toml
# kiosk.toml is the file the server's "provision kiosk" produced (see
# hardware/kiosk.example.toml). Safe to run again after an update.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
config=${1:?usage: install-kiosk.sh KIOSK_TOML}
[ -f "$config" ] || { echo "no such file: $config" >&2; exit 1; }
prefix=$(cd "$(dirname "$0")/../.." && pwd)

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends \
  python3-venv python3-dev gcc swig libpcsclite-dev pcscd libccid pcsc-tools \
  python3-lgpio i2c-tools libmtdev1 libgl1-mesa-dri
# Readers: pcscd is socket-activated by systemd on Raspberry Pi OS.
systemctl enable --now pcscd.socket
# I2C for the GPIO expanders of larger banks.
command -v raspi-config >/dev/null && raspi-config nonint do_i2c 0 || true

id lockers >/dev/null 2>&1 || useradd --system --home /var/lib/lockers --shell /usr/sbin/nologin lockers
for g in gpio i2c video input render; do getent group "$g" >/dev/null && usermod -aG "$g" lockers; done

[ -x "$prefix/.venv/bin/python" ] || python3 -m venv --system-site-packages "$prefix/.venv"
"$prefix/.venv/bin/pip" install -q --upgrade pip
"$prefix/.venv/bin/pip" install -q "$prefix"

install -d -m 750 -o root -g lockers /etc/lockers
install -m 640 -o root -g lockers "$config" /etc/lockers/kiosk.toml
install -d /etc/systemd/system.conf.d
install -m 644 "$prefix/hardware/systemd/watchdog.conf" /etc/systemd/system.conf.d/lockers-watchdog.conf
sed "s|@PREFIX@|$prefix|g" "$prefix/hardware/systemd/lockers-kiosk.service" \
  > /etc/systemd/system/lockers-kiosk.service
systemd-analyze verify /etc/systemd/system/lockers-kiosk.service
systemctl daemon-reload
systemctl enable --now lockers-kiosk.service
echo "kiosk installed: journalctl -u lockers-kiosk -f shows its log"
