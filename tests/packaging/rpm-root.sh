# shellcheck shell=bash
# Sourced by tests/packaging.sh (uses its ok/bad/check/step, TMP, ON_EXIT, and the old
# root's helpers from old-root.sh).
#
# The .rpm installed for real with rpm, into a copy of the old root (it has the /bin/sh
# the scriptlets run with; rpm --root runs them chrooted there): rpm -V, the installed
# files against the .deb's, then an upgrade to a newer build of the package while a
# daemon started from it runs: the daemon goes on with the old binary, a changed config
# file is kept, a restart runs the new binary. No systemd runs in this root, so the
# scriptlets' systemctl calls are skipped by their own test for /run/systemd/system.
#
# Not an RPM distribution: the root's libc is dpkg's, so rpm's database knows nothing
# provides libc.so.6, and the installs use --nodeps (and rpm -V --nodeps). Instead each
# requirement is checked against the root itself: the library file is there and its
# version definitions include the symbol version asked for, the files exist (whether
# the systemd package is there is only reported: Ubuntu 18.04's minbase lacks it).

# rpm_reqs_met ROOT RPM: every requirement of RPM is satisfied by what ROOT holds.
rpm_reqs_met() {
    local root=$1 req so ver lib rc=0
    while read -r req; do
        case $req in
        rpmlib\(* | config\(*) continue ;;
        /*) [ -e "$root$req" ] || { echo "missing file $req"; rc=1; } ;;
        *.so.*\(*\)\(64bit\))
            so=${req%%(*}
            ver=${req#*(}
            ver=${ver%%)*}
            lib=
            for d in lib/x86_64-linux-gnu lib64 usr/lib64 lib usr/lib; do
                [ -e "$root/$d/$so" ] && lib=$root/$d/$so && break
            done
            if [ -z "$lib" ]; then
                echo "no $so in the root"
                rc=1
            # Not grep -q: under pipefail, objdump killed by SIGPIPE would fail the test.
            elif [ -n "$ver" ] && ! objdump -p "$lib" | grep -w "$ver" >/dev/null; then
                echo "$so in the root does not define $ver"
                rc=1
            fi
            ;;
        *\ *) echo "unexpected versioned requirement: $req"; rc=1 ;;
        # A package (systemd): informative only, a minbase root may lack it.
        *) chroot "$root" dpkg -s "$req" >/dev/null 2>&1 ||
            echo "# rpm requires package $req, not in this root" >&2 ;;
        esac
    done < <(rpm -qpR "$2" 2>/dev/null)
    return "$rc"
}
# rpm_scripts_leave_service RPM: the scriptlets' systemctl lines (comments aside) neither
# restart, start nor enable baton, and the one that stops it (disable --now) runs only
# when the package is removed, not on upgrade.
rpm_scripts_leave_service() {
    local text
    text=$(rpm -qp --scripts "$1" 2>/dev/null | grep -v '^ *#')
    echo "$text" | grep systemctl >/dev/null || {
        echo "no systemctl in the scriptlets"
        return 1
    }
    ! echo "$text" | grep systemctl | grep -E 'restart|[^-]start|(^| )enable' &&
        echo "$text" | awk '/systemctl/ && /--now| stop / && prev !~ /"\$1" -eq 0/ { bad = 1; print }
            { prev = $0 } END { exit bad }'
}
has_vip_r() { ip -n "$1" -4 addr show dev vr0 2>/dev/null | grep 10.98.1.100/ >/dev/null; }

rpm_root_test() {
    local tree=$1 r=$TMP/rpm-root c=baton-pkg-r-$$ pid pid2 rpmq
    step "rpm --root"
    rpmq=$(rpm -qpR "$TMP/baton.rpm" 2>/dev/null)
    echo "$rpmq" | sed 's/^/       requires: /'
    check "rpm requires libc.so.6 symbol versions" sh -c "echo '$rpmq' | grep -q 'libc.so.6(GLIBC_'"
    check "rpm requires no glibc newer than 2.17" sh -c \
        "! echo '$rpmq' | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | awk -F. '\$1 > 2 || (\$1 == 2 && \$2 > 17)' | grep -q ."
    # Without systemd in the root the scriptlets' systemctl calls do not run, so what
    # they would do on an RPM system is read from them.
    check "rpm scriptlets: no restart, start or enable; a stop only on removal (\$1 = 0)" \
        rpm_scripts_leave_service "$TMP/baton.rpm"
    cp -a "$tree" "$r"
    ON_EXIT+=("rm -rf --one-file-system '$r'")
    check "rpm requirements met by the old root (files, libraries, glibc symbol versions)" \
        rpm_reqs_met "$r" "$TMP/baton.rpm"
    check "rpm --initdb --root" rpm --root "$r" --initdb
    check "rpm -i --root (scriptlets run in the root, none failed)" sh -c \
        "rpm --root '$r' -i --nodeps '$TMP/baton.rpm' 2>&1 | tee /dev/stderr | { ! grep -q 'scriptlet failed'; }"
    check "rpm -V clean after install" sh -c "[ -z \"\$(rpm --root '$r' -V --nodeps baton 2>&1)\" ]"
    rpm --root "$r" -ql baton 2>/dev/null | sort >"$TMP/rpm-installed"
    check "rpm -ql after install: the deb's files (as mapped above)" \
        diff -u "$TMP/deb-as-rpm" "$TMP/rpm-installed"
    check "every listed file is in the root" sh -c \
        "while read -r f; do [ -e '$r'\"\$f\" ] || { echo missing \$f; exit 1; }; done <'$TMP/rpm-installed'"
    check "baton --version in the rpm root" sh -c "chroot '$r' /usr/sbin/baton --version | grep -qx 'baton $VERSION'"

    # A daemon from the installed package, master of one address in its own namespace.
    ip netns add "$c" || {
        bad "rpm: namespace"
        return
    }
    ON_EXIT+=("ip netns del $c 2>/dev/null")
    ip -n "$c" link add vr0 type veth peer name vr1
    ip -n "$c" addr add 10.98.1.1/24 dev vr0
    ip -n "$c" link set vr1 up
    ip -n "$c" link set vr0 up
    cat >"$r/etc/keepalived/r.conf" <<'EOF'
vrrp_instance VI_1 {
    state MASTER
    interface vr0
    virtual_router_id 43
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.98.1.100/24
    }
}
EOF
    old_daemon "$r" "$c" r
    pid=$DAEMON
    check "rpm: daemon from the package holds its address" \
        wait_for 20 has_vip_r "$c"
    echo 'BATON_ARGS=-D' >>"$r/etc/sysconfig/baton"
    cp -p "$r/etc/sysconfig/baton" "$TMP/sysconfig.changed"
    check "rpm -U --root to the newer build (release 2)" sh -c \
        "rpm --root '$r' -U --nodeps '$TMP/baton-2.rpm' 2>&1 | tee /dev/stderr | { ! grep -q 'scriptlet failed'; }"
    check "rpm -q says release 2" sh -c "rpm --root '$r' -q baton | grep -q -- '-2\.'"
    check "upgrade left the running daemon alone (same process, old binary)" sh -c \
        "kill -0 $pid && exe=\$(readlink /proc/$pid/exe) && case \$exe in *deleted*) ;; *) exit 1;; esac"
    check "... and it still holds the address" has_vip_r "$c"
    check "changed /etc/sysconfig/baton kept, no .rpmnew" sh -c \
        "cmp -s '$TMP/sysconfig.changed' '$r/etc/sysconfig/baton' && ! ls '$r'/etc/sysconfig/baton.rpm* 2>/dev/null"
    check "rpm -V after upgrade: only the changed config file" sh -c \
        "[ \"\$(rpm --root '$r' -V --nodeps baton 2>&1 | grep -v ' c /etc/sysconfig/baton$')\" = '' ]"
    stop_daemon "$pid"
    old_daemon "$r" "$c" r
    pid2=$DAEMON
    check "a restart runs the new binary" wait_for 10 sh -c \
        "[ \"\$(stat -c %i '$r/usr/sbin/baton')\" = \"\$(stat -L -c %i /proc/$pid2/exe 2>/dev/null)\" ]"
    check "... which takes the address again" \
        wait_for 20 has_vip_r "$c"
    stop_daemon "$pid2"
    check "rpm -e --root" rpm --root "$r" -e baton
    check "rpm -e: package files gone" sh -c \
        "while read -r f; do [ -e '$r'\"\$f\" ] && [ \"\$f\" != /etc/sysconfig/baton ] && { echo left \$f; exit 1; }; done <'$TMP/rpm-installed'; exit 0"
    check "rpm -e: the changed config saved as .rpmsave" test -e "$r/etc/sysconfig/baton.rpmsave"
    ip netns del "$c"
}
