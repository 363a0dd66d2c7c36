#!/bin/sh
# The container's entry point (packaging/container/Containerfile): pageflexd
# in a Kubernetes DaemonSet (packaging/k8s/pageflex.yaml). Before the agent
# starts, the shim and the one library it links that a pod's image may lack
# (Debian's jemalloc) are copied to $PAGEFLEX_RUN_DIR/lib, a hostPath that
# application pods mount read-only; the shim socket lives next to them. Then
# pageflexd replaces this shell, with the arguments given (the manifest's).
set -eu
RUN_DIR=${PAGEFLEX_RUN_DIR:-/run/pageflex}
LIBDIR=${PAGEFLEX_LIBDIR:-/usr/lib/x86_64-linux-gnu} # where the package put them
mkdir -p "$RUN_DIR/lib"
for lib in libpageflex.so libjemalloc.so.2; do
	# Copy, then rename: a pod starting now never maps half a library.
	cp -L "$LIBDIR/$lib" "$RUN_DIR/lib/.$lib.new"
	chmod 0644 "$RUN_DIR/lib/.$lib.new"
	mv -f "$RUN_DIR/lib/.$lib.new" "$RUN_DIR/lib/$lib"
done
exec "${PAGEFLEXD:-/usr/sbin/pageflexd}" "$@"
