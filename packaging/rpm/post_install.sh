# $1: 1 on first install, 2+ on upgrade. Only make systemd see the new unit;
# the service is neither enabled nor started, and a running one is not
# restarted on upgrade (restarting a MASTER is a failover).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
