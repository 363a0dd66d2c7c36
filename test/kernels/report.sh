#!/usr/bin/env bash
# Kernel matrix, host side: reads what each guest left in OUT/SERIES/ (boot
# status, the guest's results file) and prints one table, steps by kernels,
# then one line per step that did not pass. A step not required on a kernel
# is marked '*' and cannot fail it; a failed boot or a hang always does.
# Usage: report.sh OUT "STEPS" MATRIX_ROW...   (rows as in kernel-matrix.sh)
# Exit status: 0 every kernel that ran passed, 1 otherwise.
set -euo pipefail

out=${1:?usage: report.sh OUT STEPS ROW...}
steps=${2:?usage: report.sh OUT STEPS ROW...}
shift 2

W=24
series_list=()
declare -A cell=() required=() result=()
notes=()
rc=0

for r in "$@"; do
	IFS=$'\t' read -r s _ req <<<"$r"
	series_list+=("$s")
	ovr=PAGEFLEX_KM_REQUIRE_${s//./_}
	req=${!ovr:-$req}
	[ "$req" = all ] && req=$steps
	required[$s]=" $req "
	d=$out/$s
	if [ ! -f "$d/kver" ]; then
		cell[$s.head]=$s
		for k in boot wall $steps; do
			cell[$s.$k]=n/a
		done
		result[$s]="SKIP (no kernel)"
		continue
	fi
	cell[$s.head]=$(sed 's/-cloud-amd64$//' "$d/kver")
	res=$d/guest/results
	[ -f "$res" ] || res=/dev/null
	status=
	[ -f "$d/status" ] && read -r status wall note <"$d/status"
	if [ -z "$status" ]; then
		status=failed wall=- note="boot.sh: $(tail -n1 "$out/boot-$s.log" 2>/dev/null)"
	fi
	booted=$(awk '$1 == "booted" {print $2}' "$res")
	ok=1
	case $status in
	ok) cell[$s.boot]="PASS ${booted}s" ;;
	timeout)
		[ -n "$booted" ] && cell[$s.boot]="PASS ${booted}s" || cell[$s.boot]=HANG
		notes+=("$s: $note")
		ok=0
		;;
	*)
		[ -n "$booted" ] && cell[$s.boot]="PASS ${booted}s" || cell[$s.boot]=FAIL
		notes+=("$s: $note")
		ok=0
		;;
	esac
	cell[$s.wall]="${wall}s"
	hung=$(awk '$1 == "start" {s = $2} $1 == "step" && $2 == s {s = ""} END {print s}' "$res")
	for st in $steps; do
		line=$(awk -v st="$st" '$1 == "step" && $2 == st' "$res")
		mark=
		[[ ${required[$s]} == *" $st "* ]] || mark='*'
		if [ -n "$line" ]; then
			read -r _ _ v secs why <<<"$line"
			cell[$s.$st]="$v ${secs}s$mark"
			[ "$v" = PASS ] || notes+=("$s $st: $v${why:+ $why}${mark:+ (not required)}")
		elif [ "$st" = "$hung" ]; then
			v=HANG
			cell[$s.$st]="HANG$mark"
		else
			v=-
			cell[$s.$st]="-$mark"
		fi
		if [ -z "$mark" ] && [ "$v" != PASS ] && [ "$v" != SKIP ]; then
			ok=0
		fi
	done
	if [ $ok -eq 1 ]; then
		result[$s]=PASS
	else
		result[$s]=FAIL
		rc=1
	fi
done

row() {
	local name=$1 key=$2 s
	printf '  %-11s' "$name"
	for s in "${series_list[@]}"; do
		printf ' %-*s' $W "${cell[$s.$key]:-}"
	done
	echo
}
echo
echo "== kernel matrix ('*': not required on that kernel; '-': did not run)"
row kernel head
row boot boot
for st in $steps; do
	row "$st" "$st"
done
row wall wall
printf '  %-11s' result
for s in "${series_list[@]}"; do
	printf ' %-*s' $W "${result[$s]}"
done
echo
if [ ${#notes[@]} -gt 0 ]; then
	echo
	printf '  %s\n' "${notes[@]}"
fi
exit $rc
