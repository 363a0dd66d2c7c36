# Case for compare.sh: Debian's python3 allocates and frees ~1 GiB in objects
# (alloc_1g.py) and prints digests of what it built.
# It allocates 1 GiB at once: the agent must hear of at least that much.
CASE_MIN_MAP_BYTES=$((1 << 30))
case_check() {
	[ -x /usr/bin/python3 ] || { echo "/usr/bin/python3 is not installed"; return 1; }
}
case_run() {
	# Debian's interpreter, not whatever python3 comes first in PATH.
	PYTHONHASHSEED=0 under_test /usr/bin/python3 -I "$HERE/alloc_1g.py"
}
