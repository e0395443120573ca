#!/usr/bin/env bash
# Client VM: a route to the VIP on the lab LAN (on-link, so the client ARPs for it and sees the
# owner change) and lab-probe, which keeps connecting to VIP:3306 and prints who answered.
# Usage: provision-client.sh NAME VIP LAN_PREFIX      (idempotent)
set -euo pipefail
vip=${2:?vip}; lan=${3:?lan prefix}
iface=$(ip -o -4 addr show | awk -v p="$lan." 'index($4, p) == 1 {print $2; exit}')
[ -n "$iface" ] || { echo "no interface with an address in $lan.0/24" >&2; exit 1; }
install -m 0755 /vagrant/vagrant/lab-probe.py /usr/local/bin/lab-probe
cat > /etc/systemd/system/lab-vip-route.service <<UNIT
[Unit]
Description=lab: on-link route to the VIP $vip
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip route replace $vip/32 dev $iface
ExecStop=/sbin/ip route del $vip/32 dev $iface

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now lab-vip-route.service >/dev/null 2>&1
echo "client: route to $vip via $iface; run lab-probe"
