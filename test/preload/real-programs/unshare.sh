# Case for compare.sh: util-linux's unshare enters a new user namespace
# (unshare(CLONE_NEWUSER), which the kernel refuses to a multi-threaded
# process) and runs a command in it. A shim that starts a thread in every
# process breaks this (and bubblewrap, rootless containers, sandboxes).
case_check() {
	command -v unshare >/dev/null || { echo "unshare is not installed"; return 1; }
	unshare -r true 2>/dev/null || { echo "user namespaces are not available here"; return 1; }
}
case_run() {
	under_test unshare -r id -u 2>&1
	under_test unshare --user --map-root-user -- sh -c 'tr -s " " </proc/self/uid_map; id -u' 2>&1
	echo "exit $?"
	# 100 more times: a race with the shim's thread shows up as a lost "0".
	for _ in $(seq 100); do under_test unshare -r id -u 2>&1; done | sort | uniq -c
}
