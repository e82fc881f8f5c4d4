#!/usr/bin/env bash
# Builds baton's .deb and .rpm from the Cargo metadata, with a release binary linked
# against glibc 2.17 (cargo zigbuild), checks that it needs nothing newer, installs the
# .deb on this machine, checks what a user gets (binary, man pages, unit, example config,
# disabled service), removes and purges it, checks that nothing but the user's own
# keepalived.conf is left, and compares the .rpm's file list with the .deb's. Then:
# - tests/packaging/old-root.sh: the .deb installed into an Ubuntu 16.04 root (glibc
#   2.23), `baton --version`, `baton check` on the examples and a two-node failover
#   with both daemons running from that root;
# - tests/packaging/rpm-root.sh: the .rpm installed with `rpm -i --root` into a copy of
#   that root, `rpm -V`, the files against the .deb's, and an upgrade while its daemon
#   runs.
#
# Run as root on Debian or Ubuntu. Installs what it needs if missing: cargo-deb and
# cargo-generate-rpm (cargo install), rpm, man-db, systemd, debootstrap and binutils
# (apt-get); those stay installed. Zig and cargo-zigbuild come from the Python package
# index into a virtualenv under target/packaging-tools. Everything else is put back as
# it was, also on failure: the package is purged, an existing
# /etc/keepalived/keepalived.conf is left byte-identical, one this script created is
# removed, namespaces and copied trees are deleted.
#
# BATON_PKG_CACHE=DIR (an existing directory, kept between runs) holds the bootstrapped
# distribution trees, so that later runs only copy them; without it each run
# bootstraps into a temporary directory (2-3 minutes each).
#
# BATON_SYSTEMD_TEST=1 also boots a Debian bookworm container (debootstrap +
# systemd-nspawn, private network) and checks, under a real systemd:
# `systemctl enable --now baton`, READY/STATUS, the virtual address, `systemctl reload`
# picking up a change without a restart, `systemctl stop` removing the address, and an
# upgrade to a newer build of the .deb while the service runs: not restarted, changed
# conffile kept, `systemctl restart` then runs the new binary.
# BATON_NSPAWN_ROOT=DIR reuses a bootstrapped tree (it is copied, never modified);
# without it the tree comes from BATON_PKG_CACHE or a temporary bootstrap.
#
# Known differences between the two packages, allowed by the file-list comparison:
#   /etc/default/baton (Debian)              <-> /etc/sysconfig/baton (RPM distros)
#   /usr/share/zsh/vendor-completions/_baton <-> /usr/share/zsh/site-functions/_baton
#   /usr/share/doc/baton/copyright           only in the .deb (Debian policy)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PASS=0
FAIL=0
TMP=$(mktemp -d /tmp/baton-packaging.XXXXXX)
KCONF=/etc/keepalived/keepalived.conf
KDIR_EXISTED=0
KCONF_EXISTED=0
KCONF_CREATED=0
INSTALLED=0
T0=$(date +%s)
# Commands cleanup runs first, newest first: daemons, then namespaces, then copied trees.
ON_EXIT=()
# The release binary the packages ship: glibc 2.17 symbols (CentOS 7), built by Zig's
# linker against that glibc's stubs; cargo-deb and cargo-generate-rpm read
# target/TRIPLE/release/ for target/release/ in the assets when given --target.
TRIPLE=x86_64-unknown-linux-gnu
GLIBC_FLOOR=2.17
# Set by old_root_test: the bootstrapped old root (cached or temporary), never changed.
OLD_TREE=

ok() {
    PASS=$((PASS + 1))
    echo "ok   - $*"
}
bad() {
    FAIL=$((FAIL + 1))
    echo "FAIL - $*"
}
# check DESCRIPTION COMMAND...: passes when the command exits 0; shows its output if not.
check() {
    local what=$1
    shift
    if "$@" >"$TMP/out" 2>&1; then
        ok "$what"
    else
        bad "$what"
        sed 's/^/       /' "$TMP/out" | tail -20
    fi
}
step() { echo "# $* ($(($(date +%s) - T0))s)"; }

cleanup() {
    local rc=$? i
    # A second Ctrl-C or TERM must not cut the cleanup short.
    trap '' INT TERM
    for ((i = ${#ON_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${ON_EXIT[i]}" || true
    done
    if [ "$INSTALLED" = 1 ] && dpkg -s baton >/dev/null 2>&1; then
        dpkg --purge baton >/dev/null 2>&1 || true
    fi
    if [ "$KCONF_EXISTED" = 1 ]; then
        if ! cmp -s "$TMP/keepalived.conf.orig" "$KCONF"; then
            echo "FAIL - $KCONF changed; restoring the original"
            cp -p "$TMP/keepalived.conf.orig" "$KCONF"
            rc=1
        fi
    elif [ "$KCONF_CREATED" = 1 ]; then
        rm -f "$KCONF"
    fi
    if [ "$KCONF_CREATED" = 1 ] && [ "$KDIR_EXISTED" = 0 ]; then
        rmdir /etc/keepalived 2>/dev/null || true
    fi
    # man-db's cache of formatted pages (package files carry old mtimes, so a stale
    # cached page would win on the next run).
    find /var/cache/man -name 'baton*' -delete 2>/dev/null || true
    if [ -n "${NSPAWN_TREE:-}" ]; then
        rm -rf --one-file-system "$NSPAWN_TREE"
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/packaging.sh: run as root (it installs the package)" >&2
    exit 1
fi
if dpkg -s baton >/dev/null 2>&1; then
    echo "tests/packaging.sh: a baton package is already installed; not touching it" >&2
    exit 1
fi

# --- Tools ------------------------------------------------------------------------
step "tools"
export PATH="$HOME/.cargo/bin:$PATH"
apt_need=()
command -v rpm >/dev/null || apt_need+=(rpm)
command -v man >/dev/null || apt_need+=(man-db)
command -v systemd-analyze >/dev/null || apt_need+=(systemd)
command -v debootstrap >/dev/null || apt_need+=(debootstrap)
command -v objdump >/dev/null || apt_need+=(binutils)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_need+=(python3-venv)
if [ "${BATON_SYSTEMD_TEST:-0}" = 1 ]; then
    command -v systemd-nspawn >/dev/null || apt_need+=(systemd-container)
fi
if [ ${#apt_need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${apt_need[@]}" >/dev/null
fi
# --debug: on 2 cores it installs in about 2/3 of the time of a release build of the two
# tools (measured 313 s against 473 s here), and costs some 10 s of rpm compression.
for tool in cargo-deb cargo-generate-rpm; do
    command -v "$tool" >/dev/null || cargo install --locked --quiet --debug "$tool"
done
# Zig (the linker and the old glibc's stubs) and cargo-zigbuild, both as wheels from the
# Python package index, pinned; about 30 s on a fresh machine, then kept in target/.
ZIGENV=$PWD/target/packaging-tools/venv
if [ ! -x "$ZIGENV/bin/cargo-zigbuild" ]; then
    t=$(date +%s)
    python3 -m venv "$ZIGENV" &&
        "$ZIGENV/bin/pip" install --quiet --disable-pip-version-check \
            ziglang==0.17.1 cargo-zigbuild==0.24.1
    echo "# zig and cargo-zigbuild installed in $(($(date +%s) - t))s"
fi
export PATH="$ZIGENV/bin:$PATH"

# --- Build --------------------------------------------------------------------------
step "build"
t=$(date +%s)
# The packages ship the etcd arbiter (cargo feature `etcd`).
check "cargo zigbuild --release --features etcd --target $TRIPLE.$GLIBC_FLOOR" \
    cargo zigbuild --release --locked --quiet --features etcd --target "$TRIPLE.$GLIBC_FLOOR"
echo "# release build (zigbuild) took $(($(date +%s) - t))s"
BIN=target/$TRIPLE/release/baton
rm -rf target/man target/completions
check "baton generate (man pages, completions)" \
    "$BIN" generate --man target/man --completions target/completions
check "man pages gzipped for the rpm" sh -c "gzip -9nkf target/man/*.8 target/man/*.5"
check "cargo deb" cargo deb --no-build --locked --quiet --target "$TRIPLE" --output "$TMP/baton.deb"
# xz: CentOS 7's rpm cannot unpack cargo-generate-rpm's default (zstd).
check "cargo generate-rpm" cargo generate-rpm --target "$TRIPLE" --payload-compress xz \
    --output "$TMP/baton.rpm"
# The same build packaged once more as a newer package version, for the upgrade tests.
check "cargo deb (revision 2, for the upgrade)" cargo deb --no-build --locked --quiet \
    --target "$TRIPLE" --deb-revision 2 --output "$TMP/baton-2.deb"
check "cargo generate-rpm (release 2, for the upgrade)" cargo generate-rpm --target "$TRIPLE" \
    --payload-compress xz -s 'release = "2"' --output "$TMP/baton-2.rpm"
if [ ! -s "$TMP/baton.deb" ] || [ ! -s "$TMP/baton.rpm" ]; then
    echo "packaging: $PASS passed, $FAIL failed (no packages to test)"
    exit 1
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

# --- Runs where the users run: glibc 2.17 ------------------------------------------------
step "glibc"
mkdir -p "$TMP/deb-x"
dpkg-deb -x "$TMP/baton.deb" "$TMP/deb-x"
bash tests/glibc-floor.sh "$TMP/deb-x/usr/sbin/baton" "$GLIBC_FLOOR" | head -1 | sed 's/^/# /'
check "packaged binary needs glibc $GLIBC_FLOOR at most" \
    bash tests/glibc-floor.sh "$TMP/deb-x/usr/sbin/baton" "$GLIBC_FLOOR"
DEPENDS=$(dpkg-deb -f "$TMP/baton.deb" Depends)
echo "# deb Depends: $DEPENDS"
check "deb Depends: libc6 (>= $GLIBC_FLOOR) or older" sh -c \
    "echo '$DEPENDS' | grep -o 'libc6 (>= [0-9.]*)' | grep -o '[0-9][0-9.]*' |
     awk -F. '\$1 < 2 || (\$1 == 2 && \$2 <= ${GLIBC_FLOOR#2.}) { ok = 1 } END { exit !ok }'"
# Whatever else the binary links must come with libc6 (a libgcc-s1 dependency, say,
# would not install on Ubuntu 18.04, which calls that package libgcc1).
check "binary links only glibc's own libraries" sh -c \
    "! readelf -d '$TMP/deb-x/usr/sbin/baton' | grep NEEDED | grep -v -e 'libc.so.6' -e 'ld-linux' -e 'libpthread.so.0' -e 'libdl.so.2' -e 'librt.so.1' -e 'libm.so.6'"

# --- The user's configuration ---------------------------------------------------------
[ -d /etc/keepalived ] && KDIR_EXISTED=1
if [ -e "$KCONF" ]; then
    KCONF_EXISTED=1
    cp -p "$KCONF" "$TMP/keepalived.conf.orig"
else
    mkdir -p /etc/keepalived
    KCONF_CREATED=1
    printf '! written by tests/packaging.sh; the package must leave it alone\n' >"$KCONF"
fi
cp -p "$KCONF" "$TMP/keepalived.conf.before"

# --- Install ------------------------------------------------------------------------
step "install"
INSTALLED=1
# Minimal images (Docker's debian:*-slim, some CI runners) tell dpkg to skip man pages
# and docs (path-exclude in /etc/dpkg/dpkg.cfg.d); the test needs ours.
check "dpkg -i" dpkg --path-include='/usr/share/man/man*/baton*' \
    --path-include='/usr/share/doc/baton/*' -i "$TMP/baton.deb"
check "baton --version is $VERSION" sh -c "/usr/sbin/baton --version | grep -qx 'baton $VERSION'"
for ex in /etc/keepalived/keepalived.conf.baton-example \
    /usr/share/doc/baton/examples/unicast-pair.conf; do
    check "baton check $ex (warnings at most)" /usr/sbin/baton check -f "$ex"
done
check "man -w baton" man -w baton
check "man -w baton-keepalived.conf" man -w 5 baton-keepalived.conf
check "baton-keepalived.conf(5) renders and lists virtual_router_id" \
    sh -c 'LC_ALL=C MANWIDTH=80 man -l $(man -w 5 baton-keepalived.conf) 2>/dev/null | grep -q virtual_router_id'
check "man -w baton.conf" man -w 5 baton.conf
check "baton.conf(5) renders and lists notify_timeout" \
    sh -c 'LC_ALL=C MANWIDTH=80 man -l $(man -w 5 baton.conf) 2>/dev/null | grep -q notify_timeout'
check "/etc/baton/baton.conf installed, baton check accepts it" \
    /usr/sbin/baton check -f /etc/keepalived/keepalived.conf.baton-example --baton-conf /etc/baton/baton.conf
check "baton(8) renders and refers to baton-run(8)" \
    sh -c 'LC_ALL=C man -l $(man -w 8 baton) 2>/dev/null | grep -q "baton-run(8)"'
check "man -w baton-run (every page baton(8) refers to exists)" sh -c \
    'for p in $(LC_ALL=C man -l $(man -w 8 baton) 2>/dev/null | grep -o "baton-[a-z]*(8)" | sed "s/(8)//"); do man -w 8 "$p" || exit 1; done'
UNIT=/usr/lib/systemd/system/baton.service
check "unit file installed" test -s "$UNIT"
check "systemd-analyze verify" systemd-analyze verify --man=no "$UNIT"
check "service not enabled" \
    sh -c '! ls /etc/systemd/system/*.wants/baton.service >/dev/null 2>&1'
check "bash completion installed" test -s /usr/share/bash-completion/completions/baton
check "conffiles: /etc/default/baton and the example" sh -c \
    "dpkg-query -W -f='\${Conffiles}' baton | grep -q /etc/default/baton &&
     dpkg-query -W -f='\${Conffiles}' baton | grep -q keepalived.conf.baton-example &&
     dpkg-query -W -f='\${Conffiles}' baton | grep -q /etc/baton/baton.conf"
check "keepalived.conf untouched by install" cmp -s "$TMP/keepalived.conf.before" "$KCONF"

# --- Remove and purge -------------------------------------------------------------------
step "remove"
dpkg-deb -c "$TMP/baton.deb" | awk '{print $6}' | sed 's|^\./|/|' >"$TMP/deb-all"
grep -v '/$' "$TMP/deb-all" | sort >"$TMP/deb-files"
check "dpkg -r" dpkg -r baton
check "binary gone after dpkg -r" test ! -e /usr/sbin/baton
check "dpkg --purge" dpkg --purge baton
INSTALLED=0
left=$(while read -r f; do [ -e "$f" ] && echo "$f"; done <"$TMP/deb-files")
check "no packaged file left after purge" test -z "$left"
[ -n "$left" ] && echo "$left" | sed 's/^/       left: /'
check "no /usr/share/doc/baton left" test ! -e /usr/share/doc/baton
check "keepalived.conf untouched by purge" cmp -s "$TMP/keepalived.conf.before" "$KCONF"

# --- The rpm has the same files -------------------------------------------------------------
step "rpm"
rpm -qlp "$TMP/baton.rpm" 2>/dev/null | sort >"$TMP/rpm-files"
sed -e 's|^/etc/default/baton$|/etc/sysconfig/baton|' \
    -e 's|^/usr/share/zsh/vendor-completions/|/usr/share/zsh/site-functions/|' \
    -e '\|^/usr/share/doc/baton/copyright$|d' "$TMP/deb-files" | sort >"$TMP/deb-as-rpm"
check "rpm -qlp lists $(wc -l <"$TMP/rpm-files") files, as the deb does" \
    diff -u "$TMP/deb-as-rpm" "$TMP/rpm-files"
check "rpm: config files are noreplace" sh -c \
    "rpm -qp --configfiles '$TMP/baton.rpm' 2>/dev/null | grep -q /etc/sysconfig/baton &&
     rpm -qp --configfiles '$TMP/baton.rpm' 2>/dev/null | grep -q /etc/baton/baton.conf"
check "rpm: xz payload (CentOS 7's rpm reads no zstd)" sh -c \
    "[ \"\$(rpm -qp --qf '%{PAYLOADCOMPRESSOR}' '$TMP/baton.rpm' 2>/dev/null)\" = xz ]"

# --- An old distribution, and the rpm installed ---------------------------------------------
# shellcheck source=tests/packaging/old-root.sh
. tests/packaging/old-root.sh
# shellcheck source=tests/packaging/rpm-root.sh
. tests/packaging/rpm-root.sh
old_root_test
[ -n "${OLD_TREE:-}" ] && rpm_root_test "$OLD_TREE"

# The check that runs inside the container, under its systemd: PASS/FAIL/INFO lines.
container_script() {
    cat <<'EOF'
set -u
t() { if "$@" >/tmp/out 2>&1; then echo "PASS $WHAT"; else echo "FAIL $WHAT"; sed 's/^/  | /' /tmp/out | tail -15; fi; }
# wait_for SECONDS COMMAND...: poll until the command succeeds or the deadline passes.
wait_for() { end=$(( $(date +%s) + $1 )); shift; until "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.2; done; }
WHAT="dpkg -i in the container"; t dpkg -i /root/baton.deb
WHAT="service installed disabled"; t sh -c '[ "$(systemctl is-enabled baton)" = disabled ]'
WHAT="service not started by the install"; t sh -c '! systemctl is-active -q baton'
ip link add bt0 type veth peer name bt1 && ip addr add 10.99.0.1/24 dev bt0 &&
    ip link set bt1 up && ip link set bt0 up
cat >/etc/keepalived/keepalived.conf <<'CONF'
vrrp_instance VI_1 {
    state MASTER
    interface bt0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.99.0.100/24
    }
}
CONF
WHAT="systemctl enable --now baton"; t systemctl enable --now baton
WHAT="active (Type=notify: READY=1 came)"; t systemctl is-active baton
WHAT="master holds 10.99.0.100"; t wait_for 20 sh -c 'ip -4 addr show bt0 | grep -q 10.99.0.100'
echo "INFO $(systemctl show -p StatusText -p WatchdogUSec -p NRestarts baton | tr '\n' ' ')"
WHAT="baton status over the control socket"; t sh -c 'baton status | grep -q VI_1'
echo "INFO systemd-analyze security: $(systemd-analyze security --no-pager baton 2>/dev/null | tail -1)"
PID1=$(systemctl show -p MainPID --value baton)
sed -i 's|^        10.99.0.100/24|        10.99.0.100/24\n        10.99.0.101/24|' /etc/keepalived/keepalived.conf
WHAT="systemctl reload baton"; t systemctl reload baton
WHAT="active after reload, same main PID"; t sh -c "systemctl is-active -q baton && [ \"\$(systemctl show -p MainPID --value baton)\" = $PID1 ]"
WHAT="reload applied: 10.99.0.101 added"; t wait_for 20 sh -c 'ip -4 addr show bt0 | grep -q 10.99.0.101'
echo "INFO after reload: $(systemctl show -p StatusText baton)"
WHAT="systemctl stop baton"; t systemctl stop baton
WHAT="addresses removed on stop"; t sh -c '! ip -4 addr show bt0 | grep -q 10.99.0.10'
WHAT="stopped cleanly"; t sh -c '[ "$(systemctl show -p Result --value baton)" = success ]'
journalctl -u baton --no-pager -o cat 2>/dev/null | tail -6 | sed 's/^/INFO journal: /'
mv /etc/keepalived/keepalived.conf /etc/keepalived/other.conf
echo BATON_CONFIG=/etc/keepalived/other.conf >>/etc/default/baton
WHAT="BATON_CONFIG in /etc/default/baton picks the file"; t sh -c 'systemctl start baton &&
    tr "\0" " " </proc/$(systemctl show -p MainPID --value baton)/cmdline | grep -q "run -f /etc/keepalived/other.conf"'
WHAT="... and it runs from it"; t wait_for 20 sh -c 'ip -4 addr show bt0 | grep -q 10.99.0.101'
# Upgrade while it runs: dpkg must not restart a master (that is a failover).
cp -p /etc/default/baton /root/default.changed
cp -p /etc/keepalived/other.conf /root/other.conf.before
PID2=$(systemctl show -p MainPID --value baton)
WHAT="upgrade: dpkg -i the newer build while baton runs"; t dpkg -i /root/baton-2.deb
WHAT="upgrade: installed version is revision 2"; t sh -c "dpkg-query -W -f='\${Version}' baton | grep -q -- '-2\$'"
WHAT="upgrade: not restarted (active, same main PID, no restarts)"; t sh -c "systemctl is-active -q baton &&
    [ \"\$(systemctl show -p MainPID --value baton)\" = $PID2 ] && [ \"\$(systemctl show -p NRestarts --value baton)\" = 0 ]"
WHAT="upgrade: the running daemon is still the old binary"; t sh -c "readlink /proc/$PID2/exe | grep -q deleted"
WHAT="upgrade: it still holds its addresses"; t sh -c 'ip -4 addr show bt0 | grep -q 10.99.0.101'
WHAT="upgrade: changed conffile /etc/default/baton kept"; t cmp /root/default.changed /etc/default/baton
WHAT="upgrade: keepalived configuration untouched"; t cmp /root/other.conf.before /etc/keepalived/other.conf
WHAT="systemctl restart baton after the upgrade"; t systemctl restart baton
WHAT="the restart runs the new binary"; t sh -c "P=\$(systemctl show -p MainPID --value baton); [ \"\$P\" != $PID2 ] &&
    [ \"\$(stat -L -c %i /proc/\$P/exe)\" = \"\$(stat -c %i /usr/sbin/baton)\" ]"
WHAT="... and it holds the addresses again"; t wait_for 20 sh -c 'ip -4 addr show bt0 | grep -q 10.99.0.101'
systemctl stop baton
rm /etc/keepalived/other.conf
WHAT="dpkg --purge in the container"; t dpkg --purge baton
echo DONE
EOF
}

# --- Optional: a real systemd ------------------------------------------------------------------
if [ "${BATON_SYSTEMD_TEST:-0}" = 1 ]; then
    step "systemd (nspawn)"
    NSPAWN_TREE=$(mktemp -d /var/tmp/baton-nspawn.XXXXXX)
    # mktemp makes it 0700: the container's / would then be closed to its non-root
    # services (dbus, journald's helpers) and boot would hang.
    chmod 0755 "$NSPAWN_TREE"
    if [ -n "${BATON_NSPAWN_ROOT:-}" ]; then
        cp -a "$BATON_NSPAWN_ROOT/." "$NSPAWN_TREE/"
    elif tree=$(root_tree bookworm-systemd bookworm \
        --include=systemd,systemd-sysv,dbus,iproute2,libpam-systemd); then
        cp -a "$tree/." "$NSPAWN_TREE/"
    else
        bad "debootstrap bookworm"
    fi
    cp "$TMP/baton.deb" "$NSPAWN_TREE/root/baton.deb"
    cp "$TMP/baton-2.deb" "$NSPAWN_TREE/root/baton-2.deb"
    container_script >"$NSPAWN_TREE/root/run-test.sh"
    cat >"$NSPAWN_TREE/etc/systemd/system/baton-packaging-test.service" <<'EOF'
[Unit]
Description=baton packaging test
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/bin/sh /root/run-test.sh
StandardOutput=file:/root/test.log
StandardError=inherit
ExecStopPost=/bin/systemctl --no-block poweroff
[Install]
WantedBy=multi-user.target
EOF
    ln -sf /etc/systemd/system/baton-packaging-test.service \
        "$NSPAWN_TREE/etc/systemd/system/multi-user.target.wants/"
    t=$(date +%s)
    # --keep-unit --register=no: the host needs no systemd or machined of its own.
    timeout 180 systemd-nspawn -q -D "$NSPAWN_TREE" --keep-unit --register=no \
        --private-network -M "baton-pkg-$$" -b --console=pipe >"$TMP/boot.log" 2>&1
    echo "# container ran $(($(date +%s) - t))s"
    if [ -s "$NSPAWN_TREE/root/test.log" ]; then
        while read -r word rest; do
            case $word in
            PASS) ok "systemd: $rest" ;;
            FAIL) bad "systemd: $rest" ;;
            *) echo "       $word $rest" ;;
            esac
        done <"$NSPAWN_TREE/root/test.log"
        grep -q '^DONE' "$NSPAWN_TREE/root/test.log" || bad "systemd: the test did not finish"
    else
        bad "systemd: no result from the container"
        tail -30 "$TMP/boot.log"
    fi
fi

step "done"
echo "packaging: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
