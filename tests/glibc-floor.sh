#!/usr/bin/env bash
# glibc-floor.sh BINARY [MAX]: fails when BINARY needs a glibc newer than MAX (default
# 2.17, CentOS 7's, the oldest system baton's packages are for). Prints the newest
# GLIBC_x.y version it references and, on failure, the symbols that need more than MAX.
#
# The dynamic linker refuses to start a program whose versioned symbols the installed
# glibc does not define, so the newest version named in the dynamic symbol table (and in
# the version-needs section, which objdump -T does not show for weak-only references)
# is the oldest glibc that can run the binary.
set -uo pipefail

bin=${1:?usage: glibc-floor.sh BINARY [MAX]}
max=${2:-2.17}
if ! syms=$(objdump -T "$bin" 2>&1); then
    echo "glibc-floor: objdump -T $bin failed: $syms" >&2
    exit 2
fi
needs=$(objdump -p "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' || true)
newest=$(printf '%s\n%s\n' "$syms" "$needs" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' |
    sort -uV | tail -1)
if [ -z "$newest" ]; then
    echo "glibc-floor: $bin references no versioned glibc symbol (static?)"
    exit 0
fi
echo "glibc-floor: $bin needs glibc $newest (allowed: $max)"
if [ "$(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -1)" != "$max" ]; then
    printf '%s\n' "$syms" | awk -v max="$max" '
        match($0, /GLIBC_[0-9.]+/) {
            v = substr($0, RSTART + 6, RLENGTH - 6)
            split(v, a, "."); split(max, m, ".")
            if (a[1] + 0 > m[1] + 0 || (a[1] + 0 == m[1] + 0 && a[2] + 0 > m[2] + 0))
                print "    needs glibc " v ": " $NF
        }' | sort -u | head -20
    exit 1
fi
