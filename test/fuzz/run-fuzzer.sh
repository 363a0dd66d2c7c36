#!/usr/bin/env bash
# Runs one libFuzzer binary for a bounded time on a scratch copy of its seed
# corpus, then prints what it tried. Fails on a crash, leak, timeout or OOM.
# Usage: run-fuzzer.sh FUZZER CORPUS_DIR SECONDS
set -euo pipefail
fuzzer=$1 corpus=$2 secs=$3
name=$(basename "$fuzzer")
work=$(dirname "$fuzzer")/$name-work
art=$(dirname "$fuzzer")/$name-artifacts/
rm -rf "$work"
mkdir -p "$work" "$art"
cp -r "$corpus"/. "$work"/
# A dictionary of the format's keywords, if one sits beside the corpus.
dict=()
[ -f "$corpus.dict" ] && dict=(-dict="$corpus.dict")
# -fork would use both cores; one process keeps the machine usable for others.
"$fuzzer" "$work" "${dict[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$art" -print_final_stats=1 >"$work.log" 2>&1 || {
	tail -n 60 "$work.log"
	echo "$name: FAILED; the input that broke it is in $art (add it to $corpus)"
	exit 1
}
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log")
cov=$(grep -o 'cov: [0-9]*' "$work.log" | tail -n1)
echo "$name: ${runs:-?} inputs in ${secs}s, $cov, corpus $(ls "$work" | wc -l) files, no crash"
