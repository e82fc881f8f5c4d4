#!/bin/bash
#
# notify_backup hook. Stop NeuronEX: this node just became BACKUP, another node runs it.
# Returns only once NeuronEX has stopped: with a linked baton peer, the peer's
# notify_master starts when this hook has ended (README, section 6).
# Idempotent: safe to run again. Exit 0 on success, non-zero when the
# stop failed or timed out (baton logs a failed hook).
set -u
set -o pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
# shellcheck source-path=SCRIPTDIR source=neuronex-common.sh
. "$here/neuronex-common.sh" || exit 2

record_state BACKUP
neuronex_stop
