#!/usr/bin/env bash
# Real-server VM: the VIP on lo with arp_ignore/arp_announce (direct routing, as for IPVS DR) and
# the "database": lab-db.service, a TCP service on port 3306 answering with the host name.
# Usage: provision-rs.sh NAME VIP LAN_PREFIX      (idempotent)
set -euo pipefail
name=${1:?name}; vip=${2:?vip}
install -m 0755 /vagrant/vagrant/lab-db.py /usr/local/bin/lab-db
cat > /etc/sysctl.d/90-lab-dr.conf <<'SYSCTL'
net.ipv4.conf.all.arp_ignore = 1
net.ipv4.conf.all.arp_announce = 2
SYSCTL
sysctl -q -p /etc/sysctl.d/90-lab-dr.conf
cat > /etc/systemd/system/lab-vip.service <<UNIT
[Unit]
Description=lab: VIP $vip on lo for direct routing
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip addr replace $vip/32 dev lo
ExecStop=/sbin/ip addr del $vip/32 dev lo

[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/systemd/system/lab-db.service <<UNIT
[Unit]
Description=lab: the seed's database stand-in (answers with its name on port 3306)
After=network.target

[Service]
ExecStart=/usr/local/bin/lab-db --name $name --port 3306
Restart=no

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now lab-vip.service lab-db.service >/dev/null 2>&1
systemctl restart lab-db.service
echo "$name: lab-db on :3306, VIP $vip on lo"
