#!/bin/bash
#
# vrrp_script health check for NeuronEX. Exit 0 = healthy, 1 = unhealthy,
# 2 = bad configuration (also counted as a failure by baton and keepalived).
#
# Healthy means the HTTP port answered with any status below 500 within
# NEURONEX_CHECK_TIMEOUT seconds (the guide's check accepted any answer; a 5xx
# means the process is up but not serving). Proxy variables are ignored: the
# check is always local. It writes nothing to syslog by default because at
# "interval 0.1" a dead NeuronEX would log ten lines a second; baton already
# logs the resulting state change. Set NEURONEX_CHECK_LOG=1 to log failures.
set -u
set -o pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
# shellcheck source-path=SCRIPTDIR source=neuronex-common.sh
. "$here/neuronex-common.sh" || exit 2

fail() {
    if [ "${NEURONEX_CHECK_LOG:-0}" = 1 ]; then
        log warning "health check failed: $*"
    fi
    exit 1
}

case $NEURONEX_CHECK_WHEN in
always) ;;
master)
    # Only the MASTER must be serving. Any other state (BACKUP, FAULT, no
    # state recorded yet after boot) passes, so a node whose NeuronEX was
    # stopped by backup.sh or fault.sh can come back to BACKUP on its own.
    state=$(cat -- "$NEURONEX_STATE_DIR/state" 2>/dev/null) || state=UNKNOWN
    if [ "$state" != MASTER ]; then
        exit 0
    fi
    ;;
*)
    die_config "NEURONEX_CHECK_WHEN must be always or master, not '$NEURONEX_CHECK_WHEN'"
    ;;
esac

rc=0
code=$(curl --silent --output /dev/null --write-out '%{http_code}' --noproxy '*' \
    --max-time "$NEURONEX_CHECK_TIMEOUT" "$NEURONEX_CHECK_URL" 2>/dev/null) || rc=$?

if [ "$rc" -eq 0 ]; then
    case $code in
    5??) fail "HTTP $code from $NEURONEX_CHECK_URL" ;;
    [1-4]??) exit 0 ;;
    *) fail "unexpected HTTP status '$code' from $NEURONEX_CHECK_URL" ;;
    esac
fi

if [ "$NEURONEX_CHECK_WHEN" = master ]; then
    # Just became MASTER: master.sh may still be starting NeuronEX. The grace
    # counts from the state master.sh recorded, not from VRRP's MASTER: with a
    # linked peer, master.sh waits until the peer's NeuronEX has stopped.
    now=$(date +%s)
    since=$(stat -c %Y -- "$NEURONEX_STATE_DIR/state" 2>/dev/null) || since=0
    if [ $((now - since)) -lt "$NEURONEX_START_GRACE" ]; then
        exit 0
    fi
fi
fail "no answer from $NEURONEX_CHECK_URL (curl exit $rc)"
