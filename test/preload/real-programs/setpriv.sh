# Case for compare.sh: util-linux's setpriv drops root to nobody. It sets the
# uid first, keeps its capabilities with capset() (per thread: only the
# calling thread keeps them), then sets the gid; glibc applies set*id to every
# thread of the process and aborts if one thread fails. An extra shim thread
# without those capabilities makes setresgid fail there: SIGABRT.
case_check() {
	command -v setpriv >/dev/null || { echo "setpriv is not installed"; return 1; }
	[ "$(id -u)" = 0 ] || { echo "needs root (setpriv --reuid)"; return 1; }
	setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null ||
		{ echo "setpriv cannot switch to uid 65534 here"; return 1; }
}
case_run() {
	under_test setpriv --reuid=65534 --regid=65534 --clear-groups id 2>&1
	echo "exit $?"
	under_test setpriv --reuid=65534 --regid=65534 --init-groups --inh-caps=-all id -u 2>&1
	echo "exit $?"
}
