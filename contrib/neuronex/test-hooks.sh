#!/bin/bash
#
# Self-test for the NeuronEX hooks: runs each script against stub systemctl
# and docker commands and a local HTTP server on 127.0.0.1, and checks what
# a user relies on (exit codes, which command ran, recorded state). Needs
# bash, python3, curl and coreutils; no root, no real NeuronEX.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -u
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd) || exit 2
work=$(mktemp -d) || exit 2
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
    rm -rf -- "$work"
}
trap cleanup EXIT

mkdir -p "$work/bin" "$work/state"
for cmd in systemctl docker; do
    cat >"$work/bin/$cmd" <<'STUB'
#!/bin/bash
printf '%s %s\n' "${0##*/}" "$*" >>"$STUB_LOG"
# Field 5 of /proc/PID/stat: the process group this command runs in.
if [ -n "${STUB_PGID:-}" ]; then cut -d' ' -f5 "/proc/$$/stat" >"$STUB_PGID"; fi
# STUB_SLEEP: the start or stop takes this long; "end CMD" is logged only
# when it ran to its end. A TERM (from timeout) ends the sleep too.
if [ -n "${STUB_SLEEP:-}" ]; then
    pid=
    trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; exit 143' TERM
    sleep "$STUB_SLEEP" &
    pid=$!
    wait "$pid"
    printf 'end %s\n' "${0##*/}" >>"$STUB_LOG"
fi
exit "${STUB_RC:-0}"
STUB
    chmod +x "$work/bin/$cmd"
done

# HTTP server: / answers 200, /broken answers 500.
port_file="$work/port"
python3 - "$port_file" >/dev/null 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(500 if self.path.startswith("/broken") else 200)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
server_pid=$!
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.05; done
port=$(cat "$port_file" 2>/dev/null) || { echo "HTTP server did not start"; exit 1; }
# A port nothing listens on: bind one, note it, close it.
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

export NEURONEX_ENV_FILE=/dev/null NEURONEX_PATH="$work/bin:/usr/bin:/bin"
export NEURONEX_STATE_DIR="$work/state" NEURONEX_LOG_TAG=baton-neuronex-test
export STUB_LOG="$work/calls"

passed=0 failed=0
# expect NAME WANT_RC WANT_CALL CMD... : run CMD, compare exit code and the
# stub call log (exact text; "" means no stub may have been called).
expect() {
    local name=$1 want_rc=$2 want_call=$3 rc=0 calls
    shift 3
    : >"$STUB_LOG"
    "$@" 2>/dev/null || rc=$?
    calls=$(cat "$STUB_LOG")
    if [ "$rc" = "$want_rc" ] && [ "$calls" = "$want_call" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $rc (want $want_rc), calls '$calls' (want '$want_call')"
    fi
}
# ok NAME CMD... : CMD must succeed.
ok() {
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL $name"; fi
}
state_is() {
    local got
    got=$(cat "$work/state/state" 2>/dev/null)
    if [ "$got" = "$1" ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL recorded state '$got', want '$1'"; fi
}

expect "master starts unit" 0 "systemctl start -- neuronex.service" "$here/master.sh"
state_is MASTER
expect "backup stops unit" 0 "systemctl stop -- neuronex.service" "$here/backup.sh"
state_is BACKUP
expect "fault stops unit" 0 "systemctl stop -- neuronex.service" "$here/fault.sh"
state_is FAULT
expect "stop stops unit" 0 "systemctl stop -- neuronex.service" "$here/stop.sh"
expect "docker start" 0 "docker start -- edge1" env NEURONEX_DEPLOY=docker NEURONEX_CONTAINER=edge1 "$here/master.sh"
expect "docker stop" 0 "docker stop -t 10 -- neuronex" env NEURONEX_DEPLOY=docker "$here/backup.sh"
expect "failed start is reported" 1 "systemctl start -- neuronex.service" env STUB_RC=1 "$here/master.sh"
expect "hung start is cut off" 124 "systemctl start -- neuronex.service" \
    env STUB_SLEEP=10 NEURONEX_ACTION_TIMEOUT=1 "$here/master.sh"
expect "unknown deploy" 2 "" env NEURONEX_DEPLOY=podman "$here/master.sh"

# The hooks that leave MASTER return only once the stop has ended (with a
# linked peer, baton sends the release when they return), and say so when
# it failed or was cut off.
stopped=$'systemctl stop -- neuronex.service\nend systemctl'
for hook in backup fault stop; do
    expect "$hook.sh waits for the stop" 0 "$stopped" env STUB_SLEEP=0.3 "$here/$hook.sh"
    expect "$hook.sh reports a failed stop" 1 "systemctl stop -- neuronex.service" env STUB_RC=1 "$here/$hook.sh"
done
expect "docker stop is waited for" 0 $'docker stop -t 10 -- neuronex\nend docker' \
    env NEURONEX_DEPLOY=docker STUB_SLEEP=0.3 "$here/backup.sh"
expect "hung stop is cut off" 124 "systemctl stop -- neuronex.service" \
    env STUB_SLEEP=10 NEURONEX_ACTION_TIMEOUT=1 "$here/backup.sh"
expect "docker grace kept below the action timeout" 0 "docker stop -t 15 -- neuronex" \
    env NEURONEX_DEPLOY=docker NEURONEX_DOCKER_STOP_GRACE=30 NEURONEX_ACTION_TIMEOUT=20 "$here/backup.sh"
# baton runs a hook as the leader of a process group of its own and kills
# that group at notify_timeout: systemctl must be in it (timeout without
# --foreground would move it to a group of timeout's own).
expect "stop in the hook's process group" 0 "systemctl stop -- neuronex.service" \
    env STUB_PGID="$work/pgid" python3 -c 'import os, sys
os.setpgid(0, 0)
open(sys.argv[1], "w").write(str(os.getpid()))
os.execv(sys.argv[2], sys.argv[2:])' "$work/hook-pid" "$here/backup.sh"
ok "stop's process group is the hook's" [ "$(cat "$work/pgid" 2>/dev/null)" = "$(cat "$work/hook-pid" 2>/dev/null)" ]

url="http://127.0.0.1:$port/"
dead="http://127.0.0.1:$dead_port/"
expect "check: answering" 0 "" env NEURONEX_CHECK_URL="$url" "$here/check_alive.sh"
expect "check: nothing listening" 1 "" env NEURONEX_CHECK_URL="$dead" "$here/check_alive.sh"
expect "check: HTTP 500" 1 "" env NEURONEX_CHECK_URL="${url}broken" "$here/check_alive.sh"
expect "check: bad mode" 2 "" env NEURONEX_CHECK_WHEN=sometimes "$here/check_alive.sh"
printf 'BACKUP\n' >"$work/state/state"
expect "check master-mode: backup passes" 0 "" \
    env NEURONEX_CHECK_WHEN=master NEURONEX_CHECK_URL="$dead" "$here/check_alive.sh"
printf 'MASTER\n' >"$work/state/state"
expect "check master-mode: starting within grace" 0 "" \
    env NEURONEX_CHECK_WHEN=master NEURONEX_CHECK_URL="$dead" "$here/check_alive.sh"
expect "check master-mode: dead after grace" 1 "" \
    env NEURONEX_CHECK_WHEN=master NEURONEX_START_GRACE=0 NEURONEX_CHECK_URL="$dead" "$here/check_alive.sh"

expect "notify MASTER" 0 "systemctl start -- neuronex.service" "$here/notify.sh" INSTANCE VI_1 MASTER 100
expect "notify BACKUP" 0 "systemctl stop -- neuronex.service" "$here/notify.sh" INSTANCE VI_1 BACKUP 100
expect "notify BACKUP keep" 0 "" env NEURONEX_ON_BACKUP=keep "$here/notify.sh" INSTANCE VI_1 BACKUP 100
expect "notify FAULT" 0 "systemctl stop -- neuronex.service" "$here/notify.sh" INSTANCE VI_1 FAULT 100
expect "notify STOP stops by default" 0 "systemctl stop -- neuronex.service" "$here/notify.sh" INSTANCE VI_1 STOP 100
expect "notify STOP keep" 0 "" env NEURONEX_ON_STOP=keep "$here/notify.sh" INSTANCE VI_1 STOP 100
for state in BACKUP FAULT STOP; do
    expect "notify $state waits for the stop" 0 "$stopped" env STUB_SLEEP=0.3 "$here/notify.sh" INSTANCE VI_1 "$state" 100
    expect "notify $state reports a failed stop" 1 "systemctl stop -- neuronex.service" \
        env STUB_RC=1 "$here/notify.sh" INSTANCE VI_1 "$state" 100
done
expect "notify bad action" 2 "" env NEURONEX_ON_STOP=halt "$here/notify.sh" INSTANCE VI_1 STOP 100
expect "notify other instance ignored" 0 "" env NEURONEX_NOTIFY_NAME=VI_1 "$here/notify.sh" INSTANCE VI_2 MASTER 50
expect "notify bad arguments" 2 "" "$here/notify.sh" MASTER
expect "notify bad kind" 2 "" "$here/notify.sh" PEER VI_1 MASTER 100

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
