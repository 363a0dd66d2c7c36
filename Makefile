# The two commands of the README. Both install what is missing, configure and
# build incrementally (a second run reinstalls and rebuilds nothing).
#   make demo   set up swap, run the main job end to end, print its result
#   make test   run every test through CTest
# Also: make build, make asan (unit tests under ASan/UBSan), make format,
# make install (PREFIX, default /usr/local; DESTDIR honoured), make deb.
.PHONY: demo test build deps asan format clean install deb

BUILD ?= build
JOBS ?= $(shell nproc)

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	@cmake --preset release -S . -B $(BUILD) >/dev/null

build: deps $(BUILD)/CMakeCache.txt
	@cmake --build $(BUILD) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 900

asan: deps
	@cmake --preset asan-ubsan >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@ctest --preset asan-ubsan

# make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage]: the prefix is set at
# configure time, because the systemd unit and pageflexctl enable name
# installed paths.
PREFIX ?= /usr/local
install: build
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cmake --install $(BUILD)

# make deb: build/pageflex_<version>_<arch>.deb, from its own tree with prefix
# /usr and without tests (apt-get install ./build/pageflex_*.deb).
deb: deps
	@cmake --preset release -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr \
		-DPAGEFLEX_PACKAGE_ONLY=ON >/dev/null
	@cmake --build build-deb -j $(JOBS)
	@cd build-deb && cpack -G DEB >/dev/null
	@mkdir -p $(BUILD) && cp build-deb/pageflex_*.deb $(BUILD)/
	@ls $(BUILD)/pageflex_*.deb

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) build-debug build-asan build-deb

# make bench: PageFlex vs baselines (bench/harness/pfbench.py; see bench/README.md).
# QUICK=1: small sizes, one repetition, < 10 min. BENCH_ARGS: more options.
.PHONY: bench
bench: build
	@python3 bench/harness/pfbench.py --build $(BUILD) $(if $(QUICK),--quick) $(BENCH_ARGS)

# make kernel-matrix: boot Debian's stock 6.12 and 6.1 kernels under QEMU and run
# a subset of the tests in each (scripts/kernel-matrix.sh --help). KM_ARGS: more options.
.PHONY: kernel-matrix
kernel-matrix: build
	@bash scripts/kernel-matrix.sh $(KM_ARGS) $(BUILD)
