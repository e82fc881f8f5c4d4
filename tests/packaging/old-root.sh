# shellcheck shell=bash
# Sourced by tests/packaging.sh (uses its ok/bad/check/step, TMP and ON_EXIT).
#
# Runs the packaged baton inside the oldest distribution root debootstrap can fetch
# here (Ubuntu 16.04 "xenial", glibc 2.23; Debian's own archive only still serves
# bullseye, glibc 2.31, which is newer): the .deb is installed there with that root's
# dpkg (so its Depends are checked against that root's libc6), then `baton --version`,
# `baton check` on the examples, and a two-node failover with both daemons chrooted into
# the old root, each in a network namespace of its own, running a notify hook with the
# old root's /bin/sh.

# root_tree NAME SUITE [DEBOOTSTRAP-ARGS...]: prints the directory of a minbase tree of
# SUITE. With BATON_PKG_CACHE set to a directory, the tree is bootstrapped once into it
# and reused (callers copy it, never change it); otherwise into $TMP, removed on exit.
root_tree() {
    local name=$1 suite=$2 dir
    shift 2
    if [ -n "${BATON_PKG_CACHE:-}" ] && [ -d "$BATON_PKG_CACHE" ]; then
        dir=$BATON_PKG_CACHE/$name
        if [ -e "$dir/.baton-complete" ]; then
            echo "$dir"
            return 0
        fi
        rm -rf --one-file-system "$dir" "$dir.partial"
    else
        dir=$TMP/$name
    fi
    # Bootstrapped under another name first: an interrupted run leaves no tree that
    # looks complete.
    if ! debootstrap --variant=minbase "$@" "$suite" "$dir.partial" >"$TMP/debootstrap-$name.log" 2>&1; then
        tail -20 "$TMP/debootstrap-$name.log" >&2
        rm -rf --one-file-system "$dir.partial"
        return 1
    fi
    touch "$dir.partial/.baton-complete"
    mv "$dir.partial" "$dir"
    echo "$dir"
}

# in_old COMMAND...: runs a command inside the old root.
in_old() { chroot "$OLD" "$@"; }

# old_daemon ROOT NS NAME: starts `baton run` chrooted into ROOT inside namespace NS, with
# /etc/keepalived/NAME.conf, and sets DAEMON to its pid (`ip netns exec`, sh and chroot
# each exec the next). /proc and /sys are mounted for it in the mount namespace that
# `ip netns exec` makes, so they go away with the daemon.
old_daemon() {
    ip netns exec "$2" sh -c 'mount -t proc proc "$1/proc" && mount -t sysfs sysfs "$1/sys" &&
        exec chroot "$1" /usr/sbin/baton run -f "/etc/keepalived/$2.conf" --socket "/run/$2.sock"' \
        sh "$1" "$3" >"$TMP/daemon-$3.log" 2>&1 &
    DAEMON=$!
    ON_EXIT+=("kill $DAEMON 2>/dev/null")
}
# stop_daemon PID: SIGTERM, then wait until it has exited (a zombie until reaped: the
# deadline bounds a daemon that does not exit, where a bare wait would hang).
stop_daemon() {
    kill -TERM "$1" 2>/dev/null
    wait_for 20 sh -c "[ ! -e /proc/$1 ] || grep -q ') Z ' /proc/$1/stat 2>/dev/null" || kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# wait_for SECONDS COMMAND...: polls until the command succeeds or the deadline passes.
wait_for() {
    local end=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.1
    done
}
# grep without -q: under pipefail an early exit could fail ip with SIGPIPE.
has_vip() { ip -n "$1" -4 addr show dev vr0 2>/dev/null | grep "10.98.0.100/" >/dev/null; }

old_root_test() {
    local suite=${BATON_OLD_SUITE:-xenial} tree glibc
    step "old root ($suite)"
    # Ubuntu's archive key is not packaged in Debian: the tree only runs the test, and
    # what is tested (our binary and package) comes from this build, not from the mirror.
    if ! tree=$(root_tree "$suite" "$suite" --no-check-gpg); then
        bad "debootstrap $suite"
        return
    fi
    ok "debootstrap $suite (minbase)"
    # shellcheck disable=SC2034 # read by tests/packaging.sh, which sources this file
    OLD_TREE=$tree
    OLD=$TMP/old-root
    cp -a "$tree" "$OLD"
    ON_EXIT+=("rm -rf --one-file-system '$OLD'")
    glibc=$(in_old /usr/bin/ldd --version 2>/dev/null | head -1 | grep -o '[0-9.]*$')
    echo "# $suite: glibc $glibc"
    cp "$TMP/baton.deb" "$OLD/root/baton.deb"
    check "$suite: dpkg -i (Depends met by its glibc $glibc)" in_old dpkg \
        --path-include='/usr/share/doc/baton/*' -i /root/baton.deb
    check "$suite: baton --version" sh -c "chroot '$OLD' /usr/sbin/baton --version | grep -qx 'baton $VERSION'"
    local ex n_ex=0
    for ex in "$OLD"/etc/keepalived/keepalived.conf.baton-example \
        "$OLD"/usr/share/doc/baton/examples/*.conf "$OLD"/usr/share/doc/baton/examples/*/*.conf; do
        n_ex=$((n_ex + 1))
        check "$suite: baton check ${ex#"$OLD"}" in_old /usr/sbin/baton check -f "${ex#"$OLD"}"
    done
    check "$suite: the examples are there to check ($n_ex files)" test "$n_ex" -ge 6

    # Two nodes, a (priority 150) and b (100), on one veth link.
    local a=baton-pkg-a-$$ b=baton-pkg-b-$$ n prio pa pb t0 t1
    if ! ip netns add "$a" || ! ip netns add "$b"; then
        bad "$suite: namespaces"
        return
    fi
    ON_EXIT+=("ip netns del $a 2>/dev/null; ip netns del $b 2>/dev/null")
    ip link add vr0 netns "$a" type veth peer name vr0 netns "$b"
    ip -n "$a" addr add 10.98.0.1/24 dev vr0
    ip -n "$b" addr add 10.98.0.2/24 dev vr0
    ip -n "$a" link set vr0 up
    ip -n "$b" link set vr0 up
    cat >"$OLD/root/hook.sh" <<'EOF'
#!/bin/sh
# notify hook: node name, then keepalived's arguments (type, instance, state, priority).
echo "$NODE $*" >>/root/hooks.log
EOF
    chmod 755 "$OLD/root/hook.sh"
    for n in a b; do
        prio=150
        [ "$n" = b ] && prio=100
        cat >"$OLD/etc/keepalived/$n.conf" <<EOF
vrrp_instance VI_1 {
    state BACKUP
    interface vr0
    virtual_router_id 42
    priority $prio
    advert_int 1
    notify "/usr/bin/env NODE=$n /root/hook.sh"
    virtual_ipaddress {
        10.98.0.100/24
    }
}
EOF
    done
    old_daemon "$OLD" "$a" a
    pa=$DAEMON
    old_daemon "$OLD" "$b" b
    pb=$DAEMON
    check "$suite: node a (priority 150) takes the address" wait_for 20 has_vip "$a"
    check "$suite: node b stays backup" sh -c "! ip -n $b -4 addr show dev vr0 | grep -q 10.98.0.100/"
    check "$suite: b's status over its control socket says BACKUP" \
        sh -c "chroot '$OLD' /usr/sbin/baton status --socket /run/b.sock | grep VI_1 | grep -q BACKUP"
    t0=$(date +%s%N)
    kill -TERM "$pa"
    check "$suite: after SIGTERM to a, b takes the address" wait_for 20 has_vip "$b"
    t1=$(date +%s%N)
    echo "# $suite: b held the address $(((t1 - t0) / 1000000)) ms after SIGTERM to a"
    check "$suite: a removed it" sh -c "! ip -n $a -4 addr show dev vr0 | grep -q 10.98.0.100/"
    check "$suite: hooks ran with the old root's /bin/sh: a MASTER, then b MASTER" \
        wait_for 10 sh -c "grep -q '^a INSTANCE VI_1 MASTER' '$OLD/root/hooks.log' &&
            grep -q '^b INSTANCE VI_1 MASTER' '$OLD/root/hooks.log'"
    stop_daemon "$pb"
    stop_daemon "$pa"
    if [ "$FAIL" -gt 0 ]; then
        sed 's/^/       a: /' "$TMP/daemon-a.log" | tail -8
        sed 's/^/       b: /' "$TMP/daemon-b.log" | tail -8
        sed 's/^/       hook: /' "$OLD/root/hooks.log" 2>/dev/null
    fi
    check "$suite: dpkg --purge" in_old dpkg --purge baton
    ip netns del "$a"
    ip netns del "$b"
}
