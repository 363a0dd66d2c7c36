# Case for compare.sh: Debian's gcc compiles prog.c and a generated 1000-
# function C file (cc1 needs ~100 MB for it at -O2), links and runs
# the program. Compared: compiler messages, the object and executable bytes,
# and the program's output.
# Many short processes: also run against a hung agent (they must not wait).
CASE_HUNG_AGENT=1
case_check() {
	command -v gcc >/dev/null || { echo "gcc is not installed"; return 1; }
}
gen_source() {
	echo '#include <stdint.h>'
	for i in $(seq 0 999); do
		echo "static uint64_t f$i(uint64_t x) { uint64_t y = x * ${i}u + 0x9e3779b9u;" \
			"for (int k = 0; k < (int)(x % 7); k++) y ^= (y << 13) + (y >> 7) + $i;" \
			"return y ^ (x >> $((i % 61 + 1))); }"
	done
	echo 'typedef uint64_t (*fn)(uint64_t);'
	echo 'static const fn table[] = {'
	for i in $(seq 0 999); do echo "f$i,"; done
	echo '};'
	echo 'uint64_t gen_mix(uint64_t x) { return table[x % 1000](x) * 0x2545F4914F6CDD1Dull + (x >> 17); }'
}
case_run() {
	cp "$HERE/prog.c" prog.c
	gen_source >gen.c
	under_test gcc -O2 -Wall -c prog.c -o prog.o 2>&1
	under_test gcc -O2 -Wall -c gen.c -o gen.o 2>&1
	under_test gcc -o prog prog.o gen.o 2>&1
	sha256sum prog.o gen.o prog
	under_test ./prog
}
