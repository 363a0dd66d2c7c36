#!/usr/bin/env bash
# pageflex.h from C++ (and the pkg-config file): a C++ program using the API
# and the RAII scope compiles with -Wall -Wextra -Werror, runs without the
# shim (weak no-ops) and under it, with the same output. Exit 77: no c++.
set -euo pipefail
src=${PAGEFLEX_SOURCE_DIR:?}
build=${PAGEFLEX_BUILD_DIR:?}
command -v c++ >/dev/null || { echo "skip: no C++ compiler"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

PKG_CONFIG_PATH=$build/lib/pkgconfig pkg-config --validate pageflex
PKG_CONFIG_PATH=$build/lib/pkgconfig pkg-config --cflags pageflex | grep -q -- -I

cat >"$tmp/t.cpp" <<'CPP'
#include <pageflex.h>
#include <cstdio>
#include <vector>
int main()
{
	pageflex_phase("cxx");
	std::vector<int> v;
	{
		pageflex::tag_scope s("cxx-scope");
		v.resize(1 << 20, 7);
	}
	pageflex_tag(v.data(), v.size() * sizeof(int), "vector");
	long sum = 0;
	for (int x : v)
		sum += x;
	std::printf("sum %ld\n", sum);
	return 0;
}
CPP
c++ -std=c++11 -Wall -Wextra -Werror -I"$src/annotate-api" "$tmp/t.cpp" -o "$tmp/t"
plain=$("$tmp/t")
shim=$(PAGEFLEX_SOCKET="$tmp/none.sock" LD_PRELOAD="$build/lib/libpageflex.so" "$tmp/t")
[ "$plain" = "sum 7340032" ] || { echo "unexpected output: $plain"; exit 1; }
[ "$plain" = "$shim" ] || { echo "output differs under the shim: $shim"; exit 1; }
# The same program as C, with -Wall -Wextra -Werror -pedantic.
cat >"$tmp/t.c" <<'C'
#include <pageflex.h>
#include <stdio.h>
int main(void)
{
	pageflex_phase("c");
	pageflex_tag_scope_begin("c-scope");
	pageflex_tag_scope_end();
	printf("active %d\n", pageflex_active());
	return 0;
}
C
cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$src/annotate-api" "$tmp/t.c" -o "$tmp/c"
[ "$("$tmp/c")" = "active 0" ] || { echo "pageflex_active() without the shim is not 0"; exit 1; }
[ "$(PAGEFLEX_SOCKET="$tmp/none.sock" LD_PRELOAD="$build/lib/libpageflex.so" "$tmp/c")" = "active 1" ] ||
	{ echo "pageflex_active() under the shim is not 1"; exit 1; }
echo "1 passed, 0 failed"
