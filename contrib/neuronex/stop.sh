#!/bin/bash
#
# notify_stop hook. Stop NeuronEX: the VRRP agent itself is stopping.
# This trades a possible duplicate (two NeuronEX running while no agent
# watches) for a possible gap (nobody running NeuronEX): see README. Do not
# use it on a node whose health check needs NeuronEX running
# (NEURONEX_CHECK_WHEN=always), or that node cannot leave FAULT after a restart.
# Idempotent: safe to run again. Exit 0 on success, non-zero when the
# stop failed or timed out (baton logs a failed hook).
set -u
set -o pipefail
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
# shellcheck source=neuronex-common.sh
. "$here/neuronex-common.sh" || exit 2

record_state STOP
neuronex_stop
