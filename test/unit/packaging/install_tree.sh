#!/usr/bin/env bash
# `cmake --install` into a staging directory (DESTDIR), as `make install`
# and packagers do: every file lands under the configured prefix, the unit's
# ExecStart and rules file name files of the same tree, the man pages are
# valid roff, pageflexctl's default library for `enable` is the installed
# one. No root: nothing leaves the staging directory.
set -euo pipefail
B=${PAGEFLEX_BUILD_DIR:?}
D=$(mktemp -d /tmp/pf-install.XXXXXX)
trap 'rm -rf "$D"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

DESTDIR=$D cmake --install "$B" >"$D.log" 2>&1 || { cat "$D.log"; rm -f "$D.log"; fail "cmake --install"; }
rm -f "$D.log"
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$B/CMakeCache.txt")
UNIT=$(find "$D" -name pageflexd.service)
[ -n "$UNIT" ] || fail "no pageflexd.service installed"
EXEC=$(sed -n 's/^ExecStart=//p' "$UNIT")
BIN=$(echo "$EXEC" | awk '{print $1}')
CONF=$(echo "$EXEC" | sed -n 's/.*--config \([^ ]*\).*/\1/p')
[ -x "$D$BIN" ] || fail "ExecStart names $BIN, not installed (prefix $PREFIX)"
[ -f "$D$CONF" ] || fail "ExecStart's --config $CONF is not installed"
case $BIN in "$PREFIX"/*) ;; *) fail "ExecStart $BIN is outside the prefix $PREFIX" ;; esac
LIB=$(find "$D$PREFIX" -name libpageflex.so)
[ -n "$LIB" ] || fail "libpageflex.so not installed under $PREFIX"
for f in sbin/pageflexd sbin/pageflexctl bin/pageflex-sim bin/pageflex-report include/pageflex.h \
	share/man/man8/pageflexd.8 share/man/man8/pageflexctl.8 share/man/man1/pageflex-sim.1 \
	share/man/man1/pageflex-report.1 share/man/man7/libpageflex.7 \
	share/bash-completion/completions/pageflexctl share/doc/pageflex/example.yaml; do
	[ -e "$D$PREFIX/$f" ] || fail "$PREFIX/$f not installed"
done
[ -f "$(dirname "$LIB")/pkgconfig/pageflex.pc" ] || fail "pageflex.pc not next to the library"
[ "$(PKG_CONFIG_PATH=$(dirname "$LIB")/pkgconfig pkg-config --variable=includedir pageflex)" = "$PREFIX/include" ] ||
	fail "pageflex.pc's includedir is not $PREFIX/include"
for m in "$D$PREFIX"/share/man/man*/*; do
	out=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$m" 2>&1) || fail "groff rejects $m"
	[ -z "$out" ] || fail "groff warns on $(basename "$m"): $out"
done
"$D$PREFIX/sbin/pageflexctl" --help | grep -q -- "--lib: default ${LIB#"$D"}" ||
	fail "pageflexctl enable's default --lib is not the installed ${LIB#"$D"}"
echo "installed $(find "$D" -type f | wc -l) files under $PREFIX; unit, rules, man pages, pkg-config and pageflexctl's library path agree"
echo PASS
