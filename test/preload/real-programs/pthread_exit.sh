# Case for compare.sh: Debian's python3 ends its main thread with
# pthread_exit() (pthread_exit.py); the process must end when the last of its
# own threads does. A shim thread that is still alive keeps it from exiting.
# Short time limit: a hang here fails in seconds, not minutes.
PF_STEP_TIMEOUT=15
case_check() {
	[ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is not installed"; return 1; }
}
case_run() {
	under_test /usr/bin/python3 -I "$HERE/pthread_exit.py" 2>&1
	echo "exit $?"
}
