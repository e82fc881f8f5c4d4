#!/bin/bash
#
# Generic `notify` hook: one script for every state change. baton and
# keepalived call it as
#
#     notify.sh INSTANCE|GROUP NAME STATE PRIORITY
#
# STATE is MASTER, BACKUP, FAULT or STOP. What each state does:
#
#     MASTER  start NeuronEX
#     BACKUP  NEURONEX_ON_BACKUP: stop (default) or keep
#     FAULT   NEURONEX_ON_FAULT:  stop (default) or keep
#     STOP    NEURONEX_ON_STOP:   stop (default) or keep
#
# A stop returns only once NeuronEX has stopped: with a linked baton peer,
# the peer starts its NeuronEX when this script has ended. keep leaves
# NeuronEX running. For STOP (baton itself stops) keep is only for a node
# without a peer that takes over: a stopping MASTER hands the work to its
# peer, and a NeuronEX kept running would collect next to the peer's.
# On the guide's master node (health check with NEURONEX_CHECK_WHEN=always)
# a stopped NeuronEX fails the check and holds the node in FAULT, after a
# BACKUP or after a restart of baton; there NEURONEX_ON_BACKUP=keep and
# NEURONEX_ON_STOP=keep avoid that at the price of two NeuronEX running,
# and NEURONEX_CHECK_WHEN=master avoids both (README, section 5).
# NEURONEX_NOTIFY_NAME, when set, limits the script to the instance or sync
# group of that name; other names are ignored.
# Exit status: 0 done or nothing to do, 1 start/stop failed, 2 bad arguments
# or settings, 124 timed out.
set -u
set -o pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
# shellcheck source-path=SCRIPTDIR source=neuronex-common.sh
. "$here/neuronex-common.sh" || exit 2

if [ "$#" -lt 3 ]; then
    log err "usage: $0 INSTANCE|GROUP NAME STATE [PRIORITY] (got $# arguments)"
    exit 2
fi
kind=$1
name=$2
state=$3
priority=${4:-}

case $kind in
INSTANCE | GROUP) ;;
*)
    log err "first argument must be INSTANCE or GROUP, not '$kind'"
    exit 2
    ;;
esac

if [ -n "${NEURONEX_NOTIFY_NAME:-}" ] && [ "$name" != "$NEURONEX_NOTIFY_NAME" ]; then
    exit 0
fi

# act WHAT : run the configured action for this state.
act() {
    case $1 in
    start) neuronex_start ;;
    stop) neuronex_stop ;;
    keep) log info "$kind $name is $state: leaving NeuronEX as it is" ;;
    *) die_config "action for $state must be stop or keep, not '$1'" ;;
    esac
}

log info "$kind $name entered $state (priority ${priority:-?})"
record_state "$state"
case $state in
MASTER) act start ;;
BACKUP) act "${NEURONEX_ON_BACKUP:-stop}" ;;
FAULT) act "${NEURONEX_ON_FAULT:-stop}" ;;
STOP) act "${NEURONEX_ON_STOP:-stop}" ;;
*)
    log warning "$kind $name: unknown state '$state', nothing done"
    exit 0
    ;;
esac
