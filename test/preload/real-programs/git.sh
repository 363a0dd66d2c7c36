# Case for compare.sh: Debian's git imports 1500 commits (a generated
# fast-import stream with fixed authors and dates, a few 1 MiB blobs), makes
# more commits, repacks, clones the repository over file:// (upload-pack and
# pack-objects run as children, under the shim too) and prints the clone's
# log, stats, blame and a fsck; commit ids make the comparison exact.
# Many short processes: also run against a hung agent (they must not wait).
CASE_HUNG_AGENT=1
case_check() {
	command -v git >/dev/null || { echo "git is not installed"; return 1; }
}
fast_import_stream() {
	awk 'BEGIN {
		t = 1700000000
		for (c = 1; c <= 1500; c++) {
			printf "commit refs/heads/main\nmark :%d\n", c
			printf "author A U Thor <author@example.com> %d +0000\n", t + 60 * c
			printf "committer C O Mitter <committer@example.com> %d +0000\n", t + 60 * c
			printf "data <<EOM\ncommit %d: touch files %d and %d\nEOM\n", c, c % 200, (c * 7) % 200
			if (c > 1) printf "from :%d\n", c - 1
			for (f = 0; f < 2; f++) {
				n = f ? (c * 7) % 200 : c % 200
				printf "M 100644 inline dir%d/file%03d.txt\ndata <<EOF\n", n % 10, n
				for (l = 0; l < 40 + (c * n) % 60; l++)
					printf "line %d of file %d, revision %d: %d\n", l, n, c, (c * 2654435761 + l * n) % 1000003
				printf "EOF\n"
			}
			if (c % 300 == 0) {
				printf "M 100644 inline big/blob%d.dat\ndata <<EOF\n", c
				for (l = 0; l < 16384; l++)
					printf "%063d\n", (c * 40503 + l * 2654435761) % 1000000007
				printf "EOF\n"
			}
			printf "\n"
		}
	}'
}
case_run() {
	export HOME=$PWD/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
	export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
	mkdir -p home
	fast_import_stream >stream
	under_test git init -q -b main src 2>&1
	(
		cd src
		under_test git fast-import --quiet <../stream 2>&1
		under_test git reset -q --hard main 2>&1
		for i in 1 2 3 4 5; do
			export GIT_AUTHOR_DATE="2024-01-0$i 12:00:00 +0000" GIT_COMMITTER_DATE="2024-01-0$i 12:00:00 +0000"
			seq "$i" 1000 >>dir1/file001.txt
			under_test git commit -q -a -m "ordinary commit $i" 2>&1
		done
		under_test git repack -a -d -f -q 2>&1
	)
	under_test git clone -q --no-local "file://$PWD/src" clone 2>&1
	cd clone
	under_test git log --format='%H %an <%ae> %ad %s' --date=iso 2>&1 | sha256sum
	under_test git log --stat --format='%H %s' -n 20 2>&1
	under_test git rev-list --objects --all 2>&1 | sort | sha256sum
	under_test git blame -s dir1/file001.txt 2>&1 | tail -5
	under_test git diff --stat HEAD~700 HEAD 2>&1 | tail -3
	under_test git grep -c 'revision 1499' 2>&1
	under_test git fsck --full --strict 2>&1
	under_test git archive --format=tar HEAD 2>&1 | sha256sum
	under_test git count-objects -v 2>&1 | grep -v -e size -e prune
}
