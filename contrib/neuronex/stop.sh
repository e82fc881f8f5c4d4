#!/bin/bash
#
# notify_stop hook. Stop NeuronEX: the VRRP agent itself is stopping.
# A stopping MASTER hands the work to its peer; without this hook its
# NeuronEX would go on collecting next to the peer's, with no agent
# watching it. Returns only once NeuronEX has stopped: a stopping baton
# keeps its link open until then, and a linked peer starts its NeuronEX
# when this hook has ended. If the peer is down too, nothing collects until
# baton runs again (README, section 7). Do not use it on a node whose health
# check needs NeuronEX running (NEURONEX_CHECK_WHEN=always), or that node
# cannot leave FAULT after a restart of baton.
# Idempotent: safe to run again. Exit 0 on success, non-zero when the
# stop failed or timed out (baton logs a failed hook).
set -u
set -o pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
# shellcheck source-path=SCRIPTDIR source=neuronex-common.sh
. "$here/neuronex-common.sh" || exit 2

record_state STOP
neuronex_stop
