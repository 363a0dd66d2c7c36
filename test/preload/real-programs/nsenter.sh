# Case for compare.sh: util-linux's nsenter joins the mount namespace of a
# process started here (unshare -m, with a private tmpfs on /mnt holding a
# marker file) and reads the marker. setns() into a mount namespace needs a
# caller whose filesystem context is not shared, i.e. no other thread.
case_check() {
	command -v nsenter >/dev/null && command -v unshare >/dev/null ||
		{ echo "nsenter/unshare are not installed"; return 1; }
	[ "$(id -u)" = 0 ] || { echo "needs root (mount namespace)"; return 1; }
	unshare -m --propagation private true 2>/dev/null || { echo "no mount namespaces here"; return 1; }
}
ns_pid=
case_cleanup() {
	if [ -n "$ns_pid" ]; then
		kill "$ns_pid" 2>/dev/null || true
		wait "$ns_pid" 2>/dev/null || true
		ns_pid=
	fi
}
case_run() {
	# The target (not under test): a shell in its own mount namespace.
	unshare -m --propagation private -- sh -c \
		'mount -t tmpfs pageflex-test /mnt && echo "marker $0" >/mnt/marker && exec sleep 60' \
		"$$" &
	ns_pid=$!
	for _ in $(seq 50); do
		[ "$(readlink /proc/$ns_pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
			[ "$(cat /proc/$ns_pid/comm)" = sleep ] && break
		sleep 0.1
	done
	under_test nsenter -t "$ns_pid" -m -- cat /mnt/marker 2>&1 | sed "s/$$/PID/"
	under_test nsenter -t "$ns_pid" -m -u -i -- sh -c 'cat /mnt/marker; echo in' 2>&1 | sed "s/$$/PID/"
	echo "exit $?"
	case_cleanup
}
