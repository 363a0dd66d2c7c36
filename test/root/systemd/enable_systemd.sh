#!/usr/bin/env bash
# `pageflexctl enable` on a real unit under a running systemd (issue 13):
# a transient /run/systemd/system/pageflex-enable-test.service (sleep 300) is
# enabled with --lib LIB --now, started, and its main process must map
# libpageflex.so and see the --env value; `disable --now` restarts it without
# the shim. Everything it creates is removed at the end. Needs root and
# systemd as PID 1; otherwise exit 77 with one line.
# Usage: enable_systemd.sh PAGEFLEXCTL LIB
set -euo pipefail
CTL=${1:?pageflexctl}
LIB=${2:?libpageflex.so}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (writes /etc/systemd/system, runs systemctl)"; exit 77; }
[ -d /run/systemd/system ] ||
	{ echo "SKIP: systemd is not PID 1 here (no /run/systemd/system; PID 1 is $(cat /proc/1/comm))"; exit 77; }
[ -x "$CTL" ] || { echo "SKIP: $CTL not built"; exit 77; }
[ -f "$LIB" ] || { echo "SKIP: libpageflex.so is not built ($LIB)"; exit 77; }

U=pageflex-enable-test
UF=/run/systemd/system/$U.service
DROP=/etc/systemd/system/$U.service.d
SOCK=/run/$U-no-agent.sock
[ ! -e "$UF" ] && [ ! -e "$DROP" ] || { echo "FAIL: $UF or $DROP exists already (an earlier run?)"; exit 1; }
cleanup() {
	systemctl stop "$U.service" 2>/dev/null || true
	rm -f "$UF" "$DROP/pageflex.conf"
	rmdir "$DROP" 2>/dev/null || true
	systemctl daemon-reload || true
}
trap cleanup EXIT
bad=0
fail() { echo "FAIL: $*"; bad=1; }
ok() { echo "ok: $*"; }
mainpid() { systemctl show -p MainPID --value "$U.service"; }

printf '[Unit]\nDescription=pageflexctl enable test\n\n[Service]\nExecStart=/bin/sleep 300\n' >"$UF"
systemctl daemon-reload

out=$("$CTL" enable "$U" --lib "$LIB" --env "PAGEFLEX_SOCKET=$SOCK" --now 2>&1) || fail "enable: $out"
grep -qx "enabled $U.service: wrote $DROP/pageflex.conf" <<<"$out" && grep -qx 'ran systemctl daemon-reload' <<<"$out" &&
	ok "enable: $(tr '\n' ';' <<<"$out")" || fail "enable said: $out"
systemctl start "$U.service"
pid=$(mainpid)
[ "$pid" -gt 0 ] || fail "no MainPID"
grep -q libpageflex.so "/proc/$pid/maps" && ok "MainPID $pid maps $(grep -m1 -o '/.*libpageflex.so' "/proc/$pid/maps")" ||
	fail "MainPID $pid does not map libpageflex.so"
tr '\0' '\n' <"/proc/$pid/environ" | grep -qxF "PAGEFLEX_SOCKET=$SOCK" && ok "it sees PAGEFLEX_SOCKET=$SOCK" ||
	fail "PAGEFLEX_SOCKET not in its environment"

out=$("$CTL" disable "$U" --now 2>&1) || fail "disable: $out"
[ ! -e "$DROP" ] && ok "disable: $(tr '\n' ';' <<<"$out")" || fail "disable left $DROP"
pid2=$(mainpid)
[ "$pid2" -gt 0 ] && [ "$pid2" != "$pid" ] || fail "disable --now did not restart it (MainPID $pid -> $pid2)"
! grep -q libpageflex.so "/proc/$pid2/maps" && ok "restarted without the shim (MainPID $pid2)" ||
	fail "MainPID $pid2 still maps libpageflex.so"
systemctl stop "$U.service"
[ $bad -eq 0 ] && echo PASS
exit $bad
