#!/usr/bin/env bash
# Router VM: install hadaemon from the checked-out tree (/vagrant), write the seed config for this
# router as /etc/hadaemon/hadaemon.conf, the seed's notify script /data/sh/mysql.sh, and start the
# service. With IMPL=keepalived the same config runs under keepalived instead (interoperation).
# Usage: provision-router.sh NAME IMPL VIP LAN_PREFIX      (idempotent)
set -euo pipefail
name=${1:?router name}; impl=${2:-hadaemon}; vip=${3:?vip}; lan=${4:?lan prefix}
export DEBIAN_FRONTEND=noninteractive

pkgs=(python3-venv python3-pip python3-nftables nftables iproute2 rsync)
[ "$impl" = keepalived ] && pkgs+=(keepalived)
if ! dpkg-query -W "${pkgs[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

# the interface that carries the lab LAN (eth1 on the Debian boxes; found, not assumed)
iface=$(ip -o -4 addr show | awk -v p="$lan." 'index($4, p) == 1 {print $2; exit}')
[ -n "$iface" ] || { echo "no interface with an address in $lan.0/24" >&2; exit 1; }

# hadaemon into its own venv (system site packages: python3-nftables is a Debian package)
if [ ! -x /opt/hadaemon/bin/python ]; then
    python3 -m venv --system-site-packages /opt/hadaemon
fi
/opt/hadaemon/bin/pip install -q --upgrade /vagrant
ln -sfn /opt/hadaemon/bin/hadaemon /usr/local/sbin/hadaemon
ln -sfn /opt/hadaemon/bin/hadaemon /usr/local/bin/hadaemon     # the path systemd/hadaemon.service uses
install -d -m 0755 /etc/hadaemon /usr/local/share/man/man5 /usr/local/share/man/man8
for page in /vagrant/man/*.5 /vagrant/man/*.8; do
    [ -f "$page" ] && install -m 0644 "$page" "/usr/local/share/man/man${page##*.}/"
done

# the seed config, adapted only in addresses (and the interface name if the box differs)
sed "s/\beth1\b/$iface/g" "/vagrant/vagrant/configs/$name.conf" > /etc/hadaemon/hadaemon.conf

# the seed's notify_down script: the tutorial's "pkill keepalived" stops the local daemon so that
# the VIP moves to the router whose database still answers
install -d /data/sh
cat > /data/sh/mysql.sh <<SCRIPT
#!/bin/sh
logger -t mysql.sh "notify_down \$*: stopping $impl on $name"
systemctl stop --no-block $impl
SCRIPT
chmod 0755 /data/sh/mysql.sh

if [ "$impl" = keepalived ]; then
    install -d /etc/keepalived
    cp /etc/hadaemon/hadaemon.conf /etc/keepalived/keepalived.conf
    systemctl disable --now hadaemon >/dev/null 2>&1 || true
    systemctl enable keepalived >/dev/null 2>&1
    systemctl restart keepalived
    exit 0
fi

# the systemd unit from the tree, started from the venv
if [ -f /vagrant/systemd/hadaemon.service ]; then
    install -m 0644 /vagrant/systemd/hadaemon.service /etc/systemd/system/hadaemon.service
else
    cat > /etc/systemd/system/hadaemon.service <<'UNIT'
[Unit]
Description=hadaemon: VRRP failover and health-checked load balancer
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/hadaemon --foreground -f /etc/hadaemon/hadaemon.conf
ExecReload=/bin/kill -HUP $MAINPID
KillMode=mixed
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
fi
install -d /etc/systemd/system/hadaemon.service.d
# The unit checks the config first; "hadaemon -t" exits 5 for the seed config (its notify script
# exists but enable_script_security is not set: keepalived(8)'s status 5), which is a warning
# here, not a reason not to start.
cat > /etc/systemd/system/hadaemon.service.d/vagrant.conf <<'UNIT'
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c '/usr/local/bin/hadaemon -t -f /etc/hadaemon/hadaemon.conf; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]'
ExecStart=
ExecStart=/usr/local/bin/hadaemon --foreground -f /etc/hadaemon/hadaemon.conf --run-dir /run/hadaemon
UNIT
systemctl daemon-reload
systemctl disable --now keepalived >/dev/null 2>&1 || true
systemctl enable hadaemon >/dev/null 2>&1
systemctl restart hadaemon
echo "$name: $impl running with /etc/hadaemon/hadaemon.conf on $iface"
