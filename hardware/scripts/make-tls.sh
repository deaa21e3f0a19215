#!/usr/bin/env bash
# Make the school's private CA (once) and the broker's certificate signed by it.
#   hardware/scripts/make-tls.sh OUT_DIR BROKER_HOSTNAME [BROKER_IP]
# Writes OUT_DIR/ca.crt (copy it onto every kiosk), ca.key (keep it offline if you can),
# broker.crt and broker.key. Running it again keeps the CA and renews the broker certificate.
set -euo pipefail
out=${1:?usage: make-tls.sh OUT_DIR BROKER_HOSTNAME [BROKER_IP]}
host=${2:?broker hostname}
ip=${3:-}
command -v openssl >/dev/null || { echo "openssl missing: apt-get install -y openssl" >&2; exit 1; }
mkdir -p "$out"
cd "$out"
umask 077
if [ ! -f ca.key ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -sha256 \
    -subj "/CN=School phone lockers CA" -keyout ca.key -out ca.crt 2>/dev/null
fi
san="DNS:$host"
[ -n "$ip" ] && san="$san,IP:$ip"
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$host" \
  -keyout broker.key -out broker.csr 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$san" > broker.ext
openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -sha256 \
  -extfile broker.ext -out broker.crt 2>/dev/null
rm -f broker.csr broker.ext
chmod 644 ca.crt broker.crt
chmod 640 broker.key
echo "CA: $out/ca.crt  broker certificate: $out/broker.crt (for $san)"
