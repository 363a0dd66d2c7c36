# Case for compare.sh: util-linux's nsenter joins the mount namespace of a
# process started here (unshare -m, with a private tmpfs on /mnt holding a
# marker file) and reads the marker, then the time namespace of another one.
# setns() into a mount namespace needs a caller whose filesystem context is
# not shared (EINVAL), into a time namespace a single thread (EUSERS).
case_check() {
	command -v nsenter >/dev/null && command -v unshare >/dev/null ||
		{ echo "nsenter/unshare are not installed"; return 1; }
	[ "$(id -u)" = 0 ] || { echo "needs root (mount namespace)"; return 1; }
	unshare -m --propagation private true 2>/dev/null || { echo "no mount namespaces here"; return 1; }
}
ns_pid= time_parent= time_pid=
case_cleanup() {
	local p
	for p in $time_pid $ns_pid $time_parent; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	ns_pid= time_parent= time_pid=
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
	# Time namespace (kernel >= 5.6): the target is unshare's forked child.
	if unshare -T true 2>/dev/null; then
		unshare -T --monotonic 1000 --fork -- sleep 60 &
		time_parent=$!
		for _ in $(seq 50); do
			time_pid=$(pgrep -P "$time_parent" sleep) && break
			sleep 0.1
		done
		under_test nsenter -t "$time_pid" -T -- sh -c 'echo in the time namespace' 2>&1
		echo "exit $?"
	else
		echo "in the time namespace"
		echo "exit 0"
	fi
	case_cleanup
}
