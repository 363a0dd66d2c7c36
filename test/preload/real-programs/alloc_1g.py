"""Allocates about 1 GiB in Python objects, frees it, and does it again in a
different order, printing a digest of the contents after each step. With the
1 GiB live, it also digests parts of it in 4 threads and in 2 forked worker
processes (multiprocessing), so fork under the shim is exercised too. Run by
python.sh with and without libpageflex.so: the output must be identical.

Four kinds of objects, ~256 MiB each, so every allocator path is used:
small bytes objects (pymalloc arenas, 256 KiB mmaps), dict entries and str
keys (growing hash tables), lists of floats (multi-MiB list buffers that
realloc as they grow), and 4 MiB bytearrays (mmap-sized malloc blocks).
"""
import gc
import hashlib
import multiprocessing
import sys
from concurrent.futures import ThreadPoolExecutor

MIB = 1 << 20


def small_bytes(n):
    # ~128 B per object (33 B header + payload), deterministic content.
    return [b"%08d" % i * 12 for i in range(n)]


def str_dict(n):
    # ~250 B per entry: a 100-character key, an int, the hash table slot.
    return {"key-%09d-%s" % (i, "x" * 87): i * 2654435761 % 4294967296 for i in range(n)}


def float_lists(lists, per):
    return [[float(j * lists + i) / 7.0 for j in range(per)] for i in range(lists)]


def big_arrays(count, size):
    out = []
    for i in range(count):
        b = bytearray(size)
        b[::4096] = bytes([i & 0xFF]) * len(b[::4096])
        out.append(b)
    return out


def digest(objs):
    h = hashlib.sha256()
    a, d, f, g = objs
    h.update(b"".join(a[::997]))
    h.update(("%d" % len(a)).encode())
    h.update(("%d" % sum(d.values())).encode())
    h.update(("%d|%r" % (len(d), list(d)[::10007])).encode())
    h.update(("%r" % [sum(x) for x in f]).encode())
    for b in g:
        h.update(hashlib.sha256(b).digest())
    return h.hexdigest()


def chunk_digest(args):
    # Runs in forked children (which inherit the 1 GiB) and in threads.
    i, blobs = args
    h = hashlib.sha256(("%d" % i).encode())
    tmp = [bytes(b) + b"%d" % i for b in blobs]  # allocates in the child
    for t in tmp:
        h.update(t)
    return h.hexdigest()


def parallel_digests(objs):
    jobs = [(i, objs[3][i::8]) for i in range(8)]
    with ThreadPoolExecutor(4) as ex:
        threads = list(ex.map(chunk_digest, jobs))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        forked = pool.map(chunk_digest, [(i, objs[3][i : i + 2]) for i in range(0, 16, 2)])
    return hashlib.sha256("".join(threads + forked).encode()).hexdigest()


def build(order):
    objs = [None] * 4
    makers = [
        lambda: small_bytes(2 * MIB),  # ~256 MiB
        lambda: str_dict(MIB),  # ~250 MiB with the keys and ints
        lambda: float_lists(32, 256 * 1024),  # 8 Mi floats: ~256 MiB
        lambda: big_arrays(64, 4 * MIB),  # 256 MiB
    ]
    for k in order:
        objs[k] = makers[k]()
    return objs


def main():
    for rnd, order in enumerate([(0, 1, 2, 3), (3, 1, 0, 2)]):
        objs = build(order)
        print("round %d built: %s" % (rnd, digest(objs)))
        if rnd == 0:
            print("round 0 threads and forks: %s" % parallel_digests(objs))

        # Free half, churn, rebuild: exercises reuse of freed memory.
        objs[0] = None
        objs[3] = None
        gc.collect()
        objs[0] = small_bytes(MIB)
        objs[3] = big_arrays(16, 8 * MIB)
        print("round %d churned: %s" % (rnd, digest(objs)))
        del objs
        gc.collect()
        print("round %d freed" % rnd)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
