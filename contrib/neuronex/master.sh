#!/bin/bash
#
# notify_master hook. Start NeuronEX: this node just became MASTER. With a
# linked baton peer, baton runs it once the peer's stopping hook has ended
# (or the wait for it ran out: README, section 6).
# Idempotent: safe to run again. Exit 0 on success, non-zero when the
# start failed or timed out (baton logs a failed hook).
set -u
set -o pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
# shellcheck source-path=SCRIPTDIR source=neuronex-common.sh
. "$here/neuronex-common.sh" || exit 2

record_state MASTER
neuronex_start
