# Case for compare.sh: Debian's sqlite3 builds a ~200 MB database from
# deterministic data (sqlite.sql), queries it through a 256 MiB file mapping
# (mmap_size, grown with mremap), then the database file itself is compared.
case_check() {
	command -v sqlite3 >/dev/null || { echo "sqlite3 is not installed"; return 1; }
}
case_run() {
	under_test sqlite3 -batch -bail test.db <"$HERE/sqlite.sql" 2>&1
	echo "db size $(stat -c %s test.db)"
	echo "db sha256 $(sha256sum <test.db | cut -c1-64)"
	under_test sqlite3 -batch test.db 'SELECT count(*), max(id) FROM t; PRAGMA quick_check;' 2>&1
}
