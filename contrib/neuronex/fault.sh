#!/bin/bash
#
# notify_fault hook. Stop NeuronEX: this node is in FAULT (a tracked check or interface failed).
# Returns only once NeuronEX has stopped: with a linked baton peer, the peer's
# notify_master starts when this hook has ended (README, section 6).
# Idempotent: safe to run again. Exit 0 on success, non-zero when the
# stop failed or timed out (baton logs a failed hook).
set -u
set -o pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
# shellcheck source-path=SCRIPTDIR source=neuronex-common.sh
. "$here/neuronex-common.sh" || exit 2

record_state FAULT
neuronex_stop
