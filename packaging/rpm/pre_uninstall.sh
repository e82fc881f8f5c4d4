# $1: 0 when the package is being removed, 1+ on upgrade.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now baton.service >/dev/null 2>&1 || :
fi
