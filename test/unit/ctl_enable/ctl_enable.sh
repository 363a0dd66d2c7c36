#!/usr/bin/env bash
# `pageflexctl enable|disable UNIT` (issue 13) without root or systemd, in a
# temporary tree given as --root. Usage: ctl_enable.sh MODE PAGEFLEXCTL [LIB]
#   root    the exact drop-in, idempotence, --env, disable, and the refusals:
#           unknown unit (one line, nothing created), set-uid/set-gid program
#           (also through a drop-in's ExecStart=), LD_PRELOAD set elsewhere,
#           static program, missing program, foreign pageflex.conf; templates
#   verify  systemd-analyze verify reads the unit with the written drop-in and
#           finds nothing wrong (a broken control drop-in shows it is read)
#   load    the unit's program, run by hand with the environment parsed from
#           the drop-in (systemd's quoting), maps LIB and sees the exact values
# Exit 77 = skipped, with one line saying why.
set -euo pipefail
MODE=${1:?mode}
CTL=${2:?pageflexctl}
LIB=${3:-}
[ -x "$CTL" ] || { echo "SKIP: $CTL not built"; exit 77; }

D=$(mktemp -d /tmp/pf-ctl-enable.XXXXXX)
T=$D/root
BG=
cleanup() {
	if [ -n "$BG" ]; then kill "$BG" 2>/dev/null || true; fi
	rm -rf "$D"
}
trap cleanup EXIT
bad=0
skipped=
fail() { echo "FAIL: $*"; bad=1; }
ok() { echo "ok: $*"; }
DROP=etc/systemd/system
PATHS="/etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system, /usr/lib/systemd/system, /lib/systemd/system"
# shellcheck disable=SC2016 # the backquotes are text
HEADER='# Written by `pageflexctl enable`; `pageflexctl disable` removes it.'

# run NAME ARGS...: pageflexctl ARGS; keeps rc, out (stdout), err, nerr (stderr lines).
run() {
	local name=$1
	shift
	rc=0
	"$CTL" "$@" >"$D/$name.out" 2>"$D/$name.err" || rc=$?
	out=$(cat "$D/$name.out")
	err=$(cat "$D/$name.err")
	nerr=$(wc -l <"$D/$name.err")
}
# refused NAME RC REGEX: exit RC, nothing on stdout, exactly one stderr line matching REGEX.
refused() {
	if [ "$rc" != "$2" ] || [ -n "$out" ] || [ "$nerr" -ne 1 ] || ! grep -Eq -- "$3" <<<"$err"; then
		fail "$1: exit $rc (want $2), stdout '$out', $nerr stderr lines: $err"
		return 1
	fi
	ok "$1: exit $rc, '$err'"
}
# The whole tree (names, modes, sizes, contents): to prove nothing was written.
snap() { (cd "$T" && find . -printf '%p %m %s %l\n' | sort && find . -type f -exec md5sum {} + | sort); }
unit() { mkdir -p "$T/usr/lib/systemd/system" && printf '%b' "$2" >"$T/usr/lib/systemd/system/$1"; }

# A tree with a dynamically linked program and a unit running it.
mkdir -p "$T/usr/bin" "$T/opt/pf"
ln -s usr/bin "$T/bin"
cp /bin/sleep "$T/usr/bin/sleep"
: >"$T/opt/pf/libpageflex.so"
unit pf-sleep.service '[Unit]\nDescription=sleeps\n\n[Service]\nExecStart=/bin/sleep 300\n'

mode_root() {
	local f=$T/$DROP/pf-sleep.service.d/pageflex.conf want before

	# 1. enable: exactly this drop-in, 0644 in a 0755 directory, no temp file left
	run enable enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so
	want=$(printf '%s\n[Service]\nEnvironment="LD_PRELOAD=/opt/pf/libpageflex.so"\n' "$HEADER")
	if [ $rc -eq 0 ] && [ -z "$err" ] &&
		[ "$out" = "enabled pf-sleep.service: wrote $f" ] &&
		[ "$(cat "$f")" = "$want" ] && [ "$(stat -c %a "$f")" = 644 ] &&
		[ "$(stat -c %a "$(dirname "$f")")" = 755 ] &&
		[ "$(ls -A "$(dirname "$f")")" = pageflex.conf ]; then
		ok "enable: '$out'"
	else
		fail "enable: exit $rc, '$out' '$err':"
		cat "$f" 2>/dev/null || true
	fi
	# 2. again: the same file, the same tree
	before=$(snap)
	run again enable pf-sleep.service --root "$T" --lib /opt/pf/libpageflex.so
	[ $rc -eq 0 ] && [ "$(snap)" = "$before" ] && ok "enable twice: identical tree" ||
		fail "enable twice: exit $rc $err"

	# 3. --env: quoted for Environment= (\ and " escaped, % doubled)
	run env enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so --env PAGEFLEX_LOG=debug \
		--env 'PAGEFLEX_SOCKET=/run/a b"c\d%e.sock'
	want=$(printf '%s\n[Service]\nEnvironment="LD_PRELOAD=/opt/pf/libpageflex.so"\nEnvironment="PAGEFLEX_LOG=debug"\nEnvironment="PAGEFLEX_SOCKET=/run/a b\\"c\\\\d%%%%e.sock"\n' "$HEADER")
	[ $rc -eq 0 ] && [ -z "$err" ] && [ "$(cat "$f")" = "$want" ] && ok "--env: $(tail -n 1 "$f")" ||
		{ fail "--env: exit $rc $err:"; cat "$f"; }
	before=$(snap)
	for e in LD_PRELOAD=/x PAGEFLEX_=1 PAGEFLEX_LOG 'PAGEFLEX-LOG=1' 'X_PAGEFLEX_LOG=1'; do
		run badenv enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so --env "$e"
		refused "--env $e" 2 "^pageflexctl: enable: --env wants PAGEFLEX_NAME=VALUE" || true
	done
	run ctlchar enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so --env "$(printf 'PAGEFLEX_LOG=a\nb')"
	refused "--env with a newline" 2 "control character" || true
	[ "$(snap)" = "$before" ] && ok "bad --env: the drop-in is unchanged" || fail "bad --env changed the tree"
	run unknownvar enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so --env PAGEFLEX_SOKET=/x
	[ $rc -eq 0 ] && [ "$err" = "pageflexctl: enable: warning: libpageflex.so does not read PAGEFLEX_SOKET" ] &&
		ok "unknown PAGEFLEX_ variable: written, '$err'" || fail "unknown variable: exit $rc $err"

	# 4. the default library is the installed one (as --help says)
	local deflib
	deflib=$("$CTL" --help | sed -n 's/^ *--lib: default //p')
	mkdir -p "$T$(dirname "$deflib")"
	: >"$T$deflib"
	run default enable pf-sleep --root "$T"
	[ $rc -eq 0 ] && grep -qxF "Environment=\"LD_PRELOAD=$deflib\"" "$f" && ok "default --lib: $deflib" ||
		fail "default --lib $deflib: exit $rc $err"
	rm -f "$T$deflib"
	before=$(snap)
	run nolib enable pf-sleep --root "$T"
	refused "library missing" 1 "^pageflexctl: enable: library $T$deflib is not a regular file" || true
	[ "$(snap)" = "$before" ] || fail "library missing: the tree changed"

	# 5. disable: the file and the directory go; again: not enabled, exit 0
	run disable disable pf-sleep --root "$T"
	[ $rc -eq 0 ] && [ -z "$err" ] && [ "$out" = "disabled pf-sleep.service: removed $f" ] &&
		[ ! -e "$(dirname "$f")" ] && ok "disable: '$out'" || fail "disable: exit $rc '$out' $err"
	run disable2 disable pf-sleep --root "$T"
	[ $rc -eq 0 ] && [ -z "$err" ] && [ "$out" = "pf-sleep.service is not enabled (no $f): nothing to do" ] &&
		ok "disable when not enabled: exit 0, '$out'" || fail "disable twice: exit $rc '$out' $err"

	# 6. unknown unit: one line, exit 1, nothing created (not even etc/systemd)
	rm -rf "${T:?}/etc"
	before=$(snap)
	run unknown enable no-such-unit --root "$T" --lib /opt/pf/libpageflex.so
	refused "unknown unit" 1 "^pageflexctl: enable: unit 'no-such-unit.service' not found in $PATHS under $T\$" || true
	[ "$(snap)" = "$before" ] && ok "unknown unit: nothing created" || fail "unknown unit: the tree changed"
	run unknown2 disable no-such-unit --root "$T"
	refused "disable unknown unit" 1 "^pageflexctl: disable: unit 'no-such-unit.service' not found in " || true
	run socket enable pf-sleep.socket --root "$T"
	refused "a .socket unit" 2 "only .service units" || true
	run noarg enable --root "$T"
	refused "no unit" 2 "^pageflexctl: enable: which unit" || true
	for a in "--bogus" "extra" "--lib"; do
		run args enable pf-sleep --root "$T" $a
		refused "enable pf-sleep $a" 2 "^pageflexctl: enable: " || true
	done
	[ "$(snap)" = "$before" ] || fail "bad input changed the tree"

	# 7. set-uid and set-gid programs: refused with the reason, nothing written
	local m
	for m in u g; do
		cp /bin/sleep "$T/usr/bin/pf-set${m}id"
		if ! chmod "$m+s" "$T/usr/bin/pf-set${m}id" 2>/dev/null ||
			! find "$T/usr/bin/pf-set${m}id" -perm "-$m=s" | grep -q .; then
			skipped="$skipped set-${m}id (the filesystem of $D refuses chmod $m+s)"
			continue
		fi
		unit "pf-set${m}id.service" "[Service]\nExecStart=-/usr/bin/pf-set${m}id 300\n"
		before=$(snap)
		run "set${m}id" enable "pf-set${m}id" --root "$T" --lib /opt/pf/libpageflex.so
		refused "set-${m}id program" 1 "^pageflexctl: enable: pf-set${m}id.service: refused: its program $T/usr/bin/pf-set${m}id is set-${m}id, and the dynamic loader ignores LD_PRELOAD for set-uid/set-gid programs \(secure-execution mode\)" || true
		[ "$(snap)" = "$before" ] || fail "set-${m}id: the tree changed"
	done
	# ... also when a drop-in replaces ExecStart= with one
	if [ -u "$T/usr/bin/pf-setuid" ]; then
		mkdir -p "$T/run/systemd/system/pf-sleep.service.d"
		printf '[Service]\nExecStart=\nExecStart=pf-setuid 300\n' >"$T/run/systemd/system/pf-sleep.service.d/50-exec.conf"
		before=$(snap)
		run dropin-suid enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so
		refused "set-uid program from a drop-in's ExecStart=" 1 "refused: its program $T/usr/bin/pf-setuid is set-uid" || true
		[ "$(snap)" = "$before" ] || fail "drop-in set-uid: the tree changed"
		rm -r "$T/run/systemd/system/pf-sleep.service.d"
	fi

	# 8. LD_PRELOAD set already: by the unit, or by another drop-in
	unit pf-lp.service '[Service]\nEnvironment=A=1 "LD_PRELOAD=/usr/lib/other.so"\nExecStart=/bin/sleep 1\n'
	before=$(snap)
	run lp enable pf-lp --root "$T" --lib /opt/pf/libpageflex.so
	refused "unit sets LD_PRELOAD" 1 "^pageflexctl: enable: pf-lp.service: refused: $T/usr/lib/systemd/system/pf-lp.service sets LD_PRELOAD in Environment= already; ours would replace it\$" || true
	mkdir -p "$T/usr/lib/systemd/system/pf-sleep.service.d"
	printf '[Service]\nEnvironment=LD_PRELOAD=/x.so\n' >"$T/usr/lib/systemd/system/pf-sleep.service.d/10-lp.conf"
	before=$(snap)
	run lp2 enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so
	refused "a drop-in sets LD_PRELOAD" 1 "refused: $T/usr/lib/systemd/system/pf-sleep.service.d/10-lp.conf sets LD_PRELOAD" || true
	printf 'X=1\nLD_PRELOAD=/y.so\n' >"$T/opt/pf/env"
	printf '[Service]\nEnvironment=\nEnvironmentFile=-/opt/pf/env\n' >"$T/usr/lib/systemd/system/pf-sleep.service.d/20-reset.conf"
	before=$(snap)
	run lp3 enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so
	refused "an EnvironmentFile sets LD_PRELOAD" 1 "refused: its EnvironmentFile $T/opt/pf/env sets LD_PRELOAD" || true
	[ "$(snap)" = "$before" ] || fail "LD_PRELOAD elsewhere: the tree changed"
	printf '[Service]\nEnvironment=\n' >"$T/usr/lib/systemd/system/pf-sleep.service.d/20-reset.conf"
	run lp4 enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so
	[ $rc -eq 0 ] && ok "a later Environment= (empty) resets LD_PRELOAD: enabled" || fail "reset: exit $rc $err"
	run lp4d disable pf-sleep --root "$T"
	rm -r "$T/usr/lib/systemd/system/pf-sleep.service.d"

	# 9. programs that cannot take LD_PRELOAD, or do not exist
	if [ -x /bin/busybox ] && ! grep -q 'interpreter' <(file -L /bin/busybox 2>/dev/null || echo interpreter); then
		cp /bin/busybox "$T/usr/bin/pf-static"
		unit pf-static.service '[Service]\nExecStart=pf-static sleep 1\n'
		run static enable pf-static --root "$T" --lib /opt/pf/libpageflex.so
		refused "static program" 1 "refused: its program $T/usr/bin/pf-static is statically linked" || true
	else
		echo "note: no statically linked /bin/busybox here: static-program case not run"
	fi
	unit pf-gone.service '[Service]\nExecStart=/usr/bin/pf-gone\n'
	run gone enable pf-gone --root "$T" --lib /opt/pf/libpageflex.so
	refused "missing program" 1 "^pageflexctl: enable: pf-gone.service: its program $T/usr/bin/pf-gone \(ExecStart= in $T/usr/lib/systemd/system/pf-gone.service\) does not exist\$" || true
	unit pf-none.service '[Service]\nType=oneshot\nExecStop=/bin/sleep 1\n'
	run none enable pf-none --root "$T" --lib /opt/pf/libpageflex.so
	refused "no ExecStart=" 1 "^pageflexctl: enable: pf-none.service has no ExecStart=" || true
	mkdir -p "$T/$DROP"
	ln -s /dev/null "$T/$DROP/pf-masked.service"
	run masked enable pf-masked --root "$T" --lib /opt/pf/libpageflex.so
	refused "masked unit" 1 "is masked" || true
	rm "$T/$DROP/pf-masked.service"

	# 10. a pageflex.conf we did not write is neither replaced nor removed
	mkdir -p "$T/$DROP/pf-sleep.service.d"
	printf '[Service]\nNice=5\n' >"$f"
	before=$(snap)
	run foreign enable pf-sleep --root "$T" --lib /opt/pf/libpageflex.so
	refused "foreign pageflex.conf, enable" 1 "was not written by pageflexctl; not replaced" || true
	run foreign2 disable pf-sleep --root "$T"
	refused "foreign pageflex.conf, disable" 1 "was not written by pageflexctl enable; not removed" || true
	[ "$(snap)" = "$before" ] || fail "foreign pageflex.conf: the tree changed"
	rm -r "$T/$DROP/pf-sleep.service.d"

	# 11. a template instance: looked up as pf-t@.service, written for pf-t@one.service
	unit pf-t@.service '[Service]\nExecStart=@/bin/sleep pf-t-%i 300\n'
	run tmpl enable pf-t@one --root "$T" --lib /opt/pf/libpageflex.so
	[ $rc -eq 0 ] && [ "$out" = "enabled pf-t@one.service: wrote $T/$DROP/pf-t@one.service.d/pageflex.conf" ] &&
		[ -f "$T/$DROP/pf-t@one.service.d/pageflex.conf" ] && [ ! -e "$T/$DROP/pf-t@.service.d" ] &&
		ok "template instance: '$out'" || fail "template instance: exit $rc '$out' $err"
	run tmpl2 disable pf-t@one.service --root "$T"
	[ $rc -eq 0 ] && [ ! -e "$T/$DROP/pf-t@one.service.d" ] && ok "template instance: disabled" ||
		fail "template disable: exit $rc $err"
	run tmpl3 enable pf-u@one --root "$T" --lib /opt/pf/libpageflex.so
	refused "unknown template" 1 "unit 'pf-u@one.service' not found" || true
}

mode_verify() {
	command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
	# The unit lives in T/etc/systemd/system; verify adds a unit file's directory
	# to its search path, so it reads T/etc/systemd/system/UNIT.d/ too. Its
	# program must exist both on the host (verify checks it) and in T.
	mkdir -p "$T/$DROP"
	printf '[Unit]\nDescription=pageflexctl enable verify test\n\n[Service]\nExecStart=/bin/sleep 300\n' \
		>"$T/$DROP/pf-verify.service"
	rm "$T/bin" && mkdir "$T/bin" && cp /bin/sleep "$T/bin/sleep"
	local v
	v=$(systemd-analyze verify "$T/$DROP/pf-verify.service" 2>&1) ||
		{ echo "SKIP: systemd-analyze verify does not work offline here: $(head -n 1 <<<"$v")"; exit 77; }
	[ -z "$v" ] || { echo "SKIP: systemd-analyze verify warns about a plain unit here: $(head -n 1 <<<"$v")"; exit 77; }
	run enable enable pf-verify --root "$T" --lib /opt/pf/libpageflex.so --env PAGEFLEX_LOG=info \
		--env 'PAGEFLEX_SOCKET=/run/pf x/"q"\back%slash.sock'
	[ $rc -eq 0 ] || fail "enable: exit $rc $err"
	# control: a broken drop-in next to ours is reported, so the directory is read
	printf '[Service]\nEnvironment="PAGEFLEX_LOG=\\q"\n' >"$T/$DROP/pf-verify.service.d/zz-control.conf"
	v=$(systemd-analyze verify "$T/$DROP/pf-verify.service" 2>&1) || true
	grep -q 'zz-control.conf' <<<"$v" && ok "control: verify reads the drop-in directory ($(head -n 1 <<<"$v"))" ||
		fail "control: verify did not report the broken drop-in: $v"
	rm "$T/$DROP/pf-verify.service.d/zz-control.conf"
	rc=0
	v=$(systemd-analyze verify "$T/$DROP/pf-verify.service" 2>&1) || rc=$?
	[ $rc -eq 0 ] && [ -z "$v" ] && ok "systemd-analyze verify: unit + pageflex.conf accepted, no warning" ||
		fail "systemd-analyze verify: exit $rc: $v"
}

# Environment= values of a drop-in, as systemd reads them: words unquoted with
# C escapes (we only write \\ and \"), then %% -> %. NUL-separated.
parse_env() {
	python3 - "$1" <<'EOF'
import shlex, sys
sec = None
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line[0] in "#;":
        continue
    if line.startswith("["):
        sec = line
        continue
    key, _, val = line.partition("=")
    if sec == "[Service]" and key.strip() == "Environment":
        for w in shlex.split(val):
            sys.stdout.write(w.replace("%%", "%") + "\0")
EOF
}

mode_load() {
	[ -n "$LIB" ] && [ -f "$LIB" ] || { echo "SKIP: libpageflex.so is not built (${LIB:-no path given})"; exit 77; }
	command -v python3 >/dev/null || { echo "SKIP: no python3 (parses the drop-in)"; exit 77; }
	# The library sits at the same absolute path in T as on the host, so the
	# drop-in written under --root T is also right for this machine.
	mkdir -p "$T$(dirname "$LIB")"
	cp "$LIB" "$T$LIB"
	unit pf-load.service '[Service]\nExecStart=/usr/bin/sleep 300\n'
	local sock="$D/no agent/\"q\" 100%.sock" f=$T/$DROP/pf-load.service.d/pageflex.conf envs
	run enable enable pf-load --root "$T" --lib "$LIB" --env "PAGEFLEX_SOCKET=$sock" --env PAGEFLEX_LOG=off
	[ $rc -eq 0 ] || { fail "enable: exit $rc $err"; return; }
	mapfile -d '' envs < <(parse_env "$f")
	[ "${#envs[@]}" -eq 3 ] || fail "parsed ${#envs[@]} variables from $f, want 3"
	# the unit's program, with exactly that environment
	env -i PATH=/usr/bin:/bin "${envs[@]}" /usr/bin/sleep 300 &
	BG=$!
	for _ in $(seq 100); do
		grep -q libpageflex.so "/proc/$BG/maps" 2>/dev/null && break
		sleep 0.05
	done
	if grep -qF "$(readlink -f "$LIB")" "/proc/$BG/maps"; then
		ok "sleep (pid $BG) run with the drop-in's environment maps $(readlink -f "$LIB")"
	else
		fail "sleep (pid $BG) with the drop-in's environment does not map $LIB: ${envs[*]}"
	fi
	tr '\0' '\n' <"/proc/$BG/environ" | grep -qxF "PAGEFLEX_SOCKET=$sock" &&
		ok "it sees PAGEFLEX_SOCKET exactly: $sock" || fail "PAGEFLEX_SOCKET differs: $(tr '\0' ' ' <"/proc/$BG/environ")"
	kill "$BG"
	wait "$BG" 2>/dev/null || true
	# control: without the drop-in's environment the library is not there
	env -i PATH=/usr/bin:/bin /usr/bin/sleep 300 &
	BG=$!
	sleep 0.3
	! grep -q libpageflex.so "/proc/$BG/maps" && ok "control: without it, no libpageflex.so" ||
		fail "control: libpageflex.so mapped without LD_PRELOAD"
	kill "$BG"
	wait "$BG" 2>/dev/null || true
	BG=
}

case $MODE in
root) mode_root ;;
verify) mode_verify ;;
load) mode_load ;;
*) echo "usage: $0 root|verify|load PAGEFLEXCTL [LIB]"; exit 2 ;;
esac
[ $bad -eq 0 ] || exit 1
if [ -n "$skipped" ]; then
	echo "SKIP: everything else passed; not run:$skipped"
	exit 77
fi
echo PASS
