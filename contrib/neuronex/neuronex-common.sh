# shellcheck shell=bash
#
# Shared settings and helpers for the NeuronEX hook scripts (check_alive.sh,
# master.sh, backup.sh, fault.sh, stop.sh, notify.sh). Sourced, never run.
#
# Settings come from the environment, then from $NEURONEX_ENV_FILE
# (default /etc/keepalived/neuronex.env, plain VAR=value lines). That file is
# sourced as shell by root: keep it owned by root and not writable by others.
#
#   NEURONEX_DEPLOY          systemd | docker               (default systemd)
#   NEURONEX_UNIT            systemd unit to start/stop     (default neuronex.service)
#   NEURONEX_CONTAINER       docker container name          (default neuronex)
#   NEURONEX_CHECK_URL       URL the health check fetches   (default http://127.0.0.1:8085/)
#   NEURONEX_CHECK_TIMEOUT   curl --max-time, seconds, fractions allowed (default 0.8)
#                            keep it below the vrrp_script `timeout`
#   NEURONEX_CHECK_WHEN      always | master                (default always)
#                            always: NeuronEX must answer whatever the VRRP state
#                                    (the guide's master node; pairs with preemption)
#                            master: only checked while this node is MASTER, so
#                                    NeuronEX runs only from master.sh to the
#                                    next state's hook: for a linked baton pair
#                                    and for manual recovery (see README)
#   NEURONEX_START_GRACE     seconds after master.sh recorded MASTER during which
#                            a check that gets no answer still passes, so a
#                            NeuronEX that is still starting is not declared dead
#                            (default 30; only used with NEURONEX_CHECK_WHEN=master)
#   NEURONEX_ACTION_TIMEOUT  seconds allowed for one start or stop (default 60)
#   NEURONEX_DOCKER_STOP_GRACE  seconds docker waits before SIGKILL (default 10;
#                            kept at least 5 s below NEURONEX_ACTION_TIMEOUT)
#   NEURONEX_STATE_DIR       where the last VRRP state is recorded (default /run/baton-neuronex)
#   NEURONEX_LOG_TAG         syslog tag                     (default baton-neuronex)
#   NEURONEX_ON_BACKUP, NEURONEX_ON_FAULT, NEURONEX_ON_STOP, NEURONEX_NOTIFY_NAME
#                            used by notify.sh only; see there

NEURONEX_ENV_FILE=${NEURONEX_ENV_FILE:-/etc/keepalived/neuronex.env}
if [ -r "$NEURONEX_ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$NEURONEX_ENV_FILE"
fi

NEURONEX_DEPLOY=${NEURONEX_DEPLOY:-systemd}
NEURONEX_UNIT=${NEURONEX_UNIT:-neuronex.service}
NEURONEX_CONTAINER=${NEURONEX_CONTAINER:-neuronex}
NEURONEX_CHECK_URL=${NEURONEX_CHECK_URL:-http://127.0.0.1:8085/}
NEURONEX_CHECK_TIMEOUT=${NEURONEX_CHECK_TIMEOUT:-0.8}
NEURONEX_CHECK_WHEN=${NEURONEX_CHECK_WHEN:-always}
NEURONEX_START_GRACE=${NEURONEX_START_GRACE:-30}
NEURONEX_ACTION_TIMEOUT=${NEURONEX_ACTION_TIMEOUT:-60}
NEURONEX_DOCKER_STOP_GRACE=${NEURONEX_DOCKER_STOP_GRACE:-10}
NEURONEX_STATE_DIR=${NEURONEX_STATE_DIR:-/run/baton-neuronex}
NEURONEX_LOG_TAG=${NEURONEX_LOG_TAG:-baton-neuronex}

# Hooks may be started with an empty or minimal PATH. NEURONEX_PATH exists
# for the self-test (test-hooks.sh), which puts stub commands first.
PATH=${NEURONEX_PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}
export PATH

# log LEVEL MESSAGE... : syslog when logger exists, stderr otherwise.
# logger gets its own short timeout: a wedged syslog must not wedge a failover.
log() {
    local level=$1
    shift
    if command -v logger >/dev/null 2>&1; then
        timeout --foreground 2 logger -t "$NEURONEX_LOG_TAG" -p "daemon.$level" -- "$*" 2>/dev/null && return 0
    fi
    printf '%s[%s]: %s: %s\n' "$NEURONEX_LOG_TAG" "$$" "$level" "$*" >&2
}

die_config() {
    log err "configuration error: $*"
    exit 2
}

# record_state STATE : remember the last VRRP state for check_alive.sh.
# Written atomically (rename) so the check never reads a half-written file;
# the file's mtime is the moment of the transition.
record_state() {
    local state=$1 tmp
    if ! mkdir -p -- "$NEURONEX_STATE_DIR" 2>/dev/null; then
        log warning "cannot create $NEURONEX_STATE_DIR; state $state not recorded"
        return 0
    fi
    tmp="$NEURONEX_STATE_DIR/.state.$$"
    if printf '%s\n' "$state" >"$tmp" 2>/dev/null && mv -f -- "$tmp" "$NEURONEX_STATE_DIR/state"; then
        return 0
    fi
    rm -f -- "$tmp"
    log warning "cannot record state $state in $NEURONEX_STATE_DIR"
    return 0
}

# run_bounded CMD... : run CMD with the action timeout; TERM, then KILL 5 s later
# (exit 124, or 137 when it had to be killed). --foreground keeps CMD in the
# hook's process group: without it, timeout makes a process group of its own,
# and the agent's kill of the hook (at notify_timeout, or once a newer
# transition made it obsolete) would end this script but not CMD.
run_bounded() {
    timeout --foreground -k 5 "$NEURONEX_ACTION_TIMEOUT" "$@"
}

# docker_stop_grace: the -t for docker stop. docker stop returns once the
# container has exited, and sends SIGKILL after this many seconds; the grace
# is kept 5 s below the action timeout so that the container is gone before
# run_bounded gives up on docker stop. (A stop hook that gave up would
# return with NeuronEX still running, and a linked peer would start its own.)
# Left as it is when either value is not a whole number of seconds.
docker_stop_grace() {
    local grace=$NEURONEX_DOCKER_STOP_GRACE limit=$NEURONEX_ACTION_TIMEOUT cut
    if [[ $grace =~ ^[0-9]+$ && $limit =~ ^[0-9]+$ ]] && [ "$grace" -gt $((limit - 5)) ]; then
        cut=$((limit > 5 ? limit - 5 : 0))
        log warning "NEURONEX_DOCKER_STOP_GRACE=$grace does not fit in NEURONEX_ACTION_TIMEOUT=$limit: using docker stop -t $cut"
        grace=$cut
    fi
    printf '%s\n' "$grace"
}

# neuronex_start / neuronex_stop: idempotent. Starting a running service and
# stopping a stopped one both succeed (systemctl and docker already behave so).
# neuronex_stop returns only once NeuronEX has stopped: systemctl stop waits
# for the stop job (systemd kills what is left at the unit's TimeoutStopSec),
# docker stop waits for the container to exit. Any other return is non-zero.
# Exit status: 0 done, 1 the command failed, 2 bad configuration, 124 timed
# out, 137 timed out and had to be killed.
neuronex_start() {
    local rc=0
    case $NEURONEX_DEPLOY in
    systemd)
        run_bounded systemctl start -- "$NEURONEX_UNIT" || rc=$?
        ;;
    docker)
        run_bounded docker start -- "$NEURONEX_CONTAINER" >/dev/null || rc=$?
        ;;
    *)
        die_config "NEURONEX_DEPLOY must be systemd or docker, not '$NEURONEX_DEPLOY'"
        ;;
    esac
    if [ "$rc" -eq 0 ]; then
        log notice "NeuronEX started ($NEURONEX_DEPLOY)"
    else
        log err "starting NeuronEX ($NEURONEX_DEPLOY) failed with status $rc"
    fi
    return "$rc"
}

neuronex_stop() {
    local rc=0
    case $NEURONEX_DEPLOY in
    systemd)
        run_bounded systemctl stop -- "$NEURONEX_UNIT" || rc=$?
        ;;
    docker)
        run_bounded docker stop -t "$(docker_stop_grace)" -- "$NEURONEX_CONTAINER" >/dev/null || rc=$?
        ;;
    *)
        die_config "NEURONEX_DEPLOY must be systemd or docker, not '$NEURONEX_DEPLOY'"
        ;;
    esac
    if [ "$rc" -eq 0 ]; then
        log notice "NeuronEX stopped ($NEURONEX_DEPLOY)"
    else
        log err "stopping NeuronEX ($NEURONEX_DEPLOY) failed with status $rc"
    fi
    return "$rc"
}
