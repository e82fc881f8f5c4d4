#!/usr/bin/env bash
# Differential check of baton's config reader against the real keepalived.
#
#   tests/keepalived_differential.sh [-v] DIR
#
# For every regular file in DIR, in a scratch network namespace of its own (removed
# afterwards, also on Ctrl-C or failure), runs `keepalived -t -f FILE` and
# `baton check -f FILE`, and prints one table row per file:
#
#   file  keepalived-verdict  baton-verdict  class
#
# then the counts. -v also prints both programs' messages for every file that differs.
# Run as root (namespaces need it). BATON=PATH picks the baton binary (default
# target/debug/baton); KEEPALIVED=PATH the keepalived binary (default from PATH).
#
# Before the two programs run, every interface name the file mentions after
# `interface`, `dev`, `lvs_sync_daemon_interface` or inside a `track_interface` block is
# created in the namespace as a bridge (the kernel here has no dummy driver), so that
# most files see the interfaces they were written for.
#
# Host matters: messages that depend on the machine and not on the file, ignored on
# both sides when deciding whether a program accepted the file:
#   - an interface that does not exist (names the file uses but we could not create);
#   - a script, notify program or included file that is not on this machine, or is not
#     executable or not secure (relative include paths point into directories we do
#     not have);
#   - a user or group that does not exist (script_user, `user` in vrrp_script);
#   - keepalived's "SECURITY VIOLATION" notice about scripts without
#     enable_script_security (it depends on the owner of the script files);
#   - a vrrp_script keepalived drops for one of these reasons ("Disabling track script",
#     "Unable to set default user ... removing"), and then every "track script NAME not
#     found" for that same NAME;
#   - an smtp_server host name that does not resolve (the namespace has no DNS);
#   - features this keepalived build lacks ("iptables not supported").
#
# Follow-on messages: keepalived does not skip the block of a keyword it does not know;
# it reports the '{' ("Unexpected '{'"), then every line inside as an unknown keyword,
# then the '}'. A keepalived line is therefore covered by a baton diagnostic at that
# line, or, when all of keepalived's messages at the line are "Unknown keyword" or
# "Unexpected", by a covered line right above it.
#
# Verdicts:
#   keepalived: accept   exit 0, or only host-matter messages
#               reject   exit non-zero with at least one other message
#   baton:      ok       no errors (warnings allowed), host matters aside
#               warn     warnings only, host matters aside
#               error    at least one error that is not a host matter
#
# Classes (a difference is anything but "same" and "host"):
#   same          both accept, or keepalived rejects and baton reports a problem at
#                 every line keepalived named (or anywhere when keepalived named none)
#   host          the programs differ only in host matters
#   baton-error   keepalived accepts, baton reports an error
#   baton-misses  keepalived rejects, baton reports nothing at (one of) its lines
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

VERBOSE=0
if [ "${1:-}" = "-v" ]; then
    VERBOSE=1
    shift
fi
DIR=${1:?usage: $0 [-v] DIR}
BATON=${BATON:-$PWD/target/debug/baton}
KEEPALIVED=${KEEPALIVED:-$(command -v keepalived)}
if [ "$(id -u)" -ne 0 ]; then
    echo "run as root (network namespaces)" >&2
    exit 2
fi
[ -x "$BATON" ] || { echo "no baton binary at $BATON (cargo build)" >&2; exit 2; }
[ -x "$KEEPALIVED" ] || { echo "no keepalived binary" >&2; exit 2; }

NS=""
TMP=$(mktemp -d /tmp/baton-kdiff.XXXXXX)
cleanup() {
    if [ -n "$NS" ]; then
        ip netns del "$NS" 2>/dev/null
        NS=""
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# The host-matter rules above, as extended regular expressions over one message line.
HOST_KEEPALIVED="doesn't exist|Non-existent interface|[Cc]annot find|not executable|\
[Uu]nable to access|SECURITY VIOLATION|script_security|insecure|uid/gid|[Uu]nknown user|\
[Uu]nknown group|Config files missing|[Nn]o such file|[Ff]ailed to open|resolved to|\
Disabling track script|Unable to set default user|Invalid smtp server|not supported"
HOST_BATON="does not exist on this host|not found on this host|no such file|\
not executable|no such user|no such group|cannot read|cannot open"

# Interface names a file mentions; printed one a line.
interfaces_of() {
    awk '
        /^[[:space:]]*track_interface[[:space:]]*\{/ { inblock = 1; next }
        inblock && /\}/ { inblock = 0; next }
        inblock { print $1; next }
        {
            for (i = 1; i < NF; i++)
                if ($i == "interface" || $i == "dev" || $i == "lvs_sync_daemon_interface")
                    print $(i + 1)
        }' "$1" | grep -E '^[A-Za-z][A-Za-z0-9_.:-]{0,14}$' | sed 's/:.*//' | sort -u
}

# Names of vrrp_scripts keepalived dropped for a host matter; one a line.
dropped_scripts() {
    sed -nE -e 's/.*Disabling track script ([^ ]+) since.*/\1/p' \
        -e 's/.*Unable to set default user for vrrp script ([^ ]+) - removing.*/\1/p' "$1" |
        sort -u
}

# "LINE CASCADE" for each line keepalived names in non-host messages, where CASCADE is 1
# when every message at that line is a follow-on kind; "- 0" for a message without a
# line.
keepalived_lines() {
    local dropped pattern
    dropped=$(dropped_scripts "$1" | paste -sd'|')
    pattern=$HOST_KEEPALIVED
    [ -n "$dropped" ] && pattern="$pattern|track script ($dropped) not found"
    # A script user that does not exist makes keepalived drop scripts without naming them.
    grep -q 'uid/gid' "$1" && pattern="$pattern|track script [^ ]+ not found"
    grep -vE "$pattern" "$1" | while IFS= read -r msg; do
        [ -z "$msg" ] && continue
        if [[ $msg =~ Line\ ([0-9]+)\)\ *(.*) ]]; then
            local line=${BASH_REMATCH[1]} text=${BASH_REMATCH[2]}
            case $text in
                "Unknown keyword"* | Unexpected*) echo "$line 1" ;;
                *) echo "$line 0" ;;
            esac
        else
            echo "- 0"
        fi
    done | sort -k1,1n -k2,2n | awk '
        { if (!($1 in c)) { c[$1] = $2; order[n++] = $1 } else if ($2 == 0) c[$1] = 0 }
        END { for (i = 0; i < n; i++) print order[i], c[order[i]] }'
}

TOTAL=0
DIFFS=0
K_ACCEPT=0
K_REJECT=0
declare -A CLASSES=()
printf '%-44s %-10s %-6s %s\n' file keepalived baton class
N=0
for f in "$DIR"/*; do
    [ -f "$f" ] || continue
    N=$((N + 1))
    TOTAL=$((TOTAL + 1))
    NS="kdiff-$$-$N"
    ip netns add "$NS" || { echo "cannot create namespace $NS" >&2; exit 1; }
    ip -n "$NS" link set lo up
    while IFS= read -r ifname; do
        ip -n "$NS" link add "$ifname" type bridge 2>/dev/null &&
            ip -n "$NS" link set "$ifname" up 2>/dev/null
    done < <(interfaces_of "$f")
    kout=$TMP/k.out
    bout=$TMP/b.out
    ip netns exec "$NS" timeout 30 "$KEEPALIVED" -t -f "$f" >"$kout" 2>&1
    krc=$?
    ip netns exec "$NS" timeout 30 "$BATON" check -f "$f" >"$bout" 2>&1
    brc=$?
    ip netns del "$NS"
    NS=""

    klines=$(keepalived_lines "$kout")
    if [ "$krc" -eq 0 ] || [ -z "$klines" ]; then
        kverdict=accept
        K_ACCEPT=$((K_ACCEPT + 1))
    else
        kverdict=reject
        K_REJECT=$((K_REJECT + 1))
    fi
    # baton's diagnostics as "LINE SEVERITY", host matters left out.
    bdiag=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning):' "$bout" |
        grep -vE "$HOST_BATON" |
        sed -E 's/^[^ ]+:([0-9]+):[0-9]+: (error|warning):.*/\1 \2/')
    if grep -q ' error$' <<<"$bdiag"; then
        bverdict=error
    elif [ -n "$bdiag" ]; then
        bverdict=warn
    elif [ "$brc" -ne 0 ]; then
        # A failure with no located diagnostic (a crash, a usage error) is an error.
        bverdict=error
        bdiag="- error"
    else
        bverdict=ok
    fi

    if [ "$kverdict" = accept ]; then
        if [ "$bverdict" = error ]; then
            class=baton-error
        elif [ "$krc" -ne 0 ] || grep -qE "$HOST_BATON" "$bout"; then
            class=host
        else
            class=same
        fi
    else
        class=same
        declare -A covered=()
        while read -r l cascade; do
            [ -z "$l" ] && continue
            if [ "$l" = "-" ]; then
                [ -n "$bdiag" ] || class=baton-misses
            elif grep -qE "^$l (error|warning)$" <<<"$bdiag"; then
                covered[$l]=1
            elif [ "$cascade" = 1 ] && [ -n "${covered[$((l - 1))]:-}" ]; then
                covered[$l]=1
            else
                class=baton-misses
            fi
        done <<<"$klines"
        unset covered
    fi
    case $class in
        same | host) ;;
        *)
            DIFFS=$((DIFFS + 1))
            CLASSES[$class]=$((${CLASSES[$class]:-0} + 1))
            ;;
    esac
    printf '%-44s %-10s %-6s %s\n' "$(basename "$f")" "$kverdict" "$bverdict" "$class"
    if [ "$VERBOSE" -eq 1 ] && [ "$class" != same ] && [ "$class" != host ]; then
        sed 's/^/    keepalived: /' "$kout"
        sed 's/^/    baton:      /' "$bout"
    fi
done

echo
echo "files tried: $TOTAL (keepalived accepted $K_ACCEPT, rejected $K_REJECT)"
echo "differences: $DIFFS"
for c in "${!CLASSES[@]}"; do
    echo "  $c: ${CLASSES[$c]}"
done
[ "$DIFFS" -eq 0 ]
