# SPDX-License-Identifier: MIT
"""The benchmark's workloads: the bundled C programs (build/bin/pf-wl-*) and
unmodified real programs (redis-server + redis-benchmark, memcached +
pf-kv-load, sqlite3). Each run() returns one result dict: status, runtime,
throughput, p99, checksum and the memory metrics of the measured process.
Servers run in the configuration's cgroup; their load generators run outside
it. Every workload checks its data: the bundled ones verify what they read,
redis and memcached values are compared with what was written, sqlite's query
answers must match the run without memory pressure."""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import runner

MIB = 1 << 20


def parse_result(text):
    """The RESULT line of a bundled workload as a dict."""
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return dict(tok.split("=", 1) for tok in line.split()[1:] if "=" in tok)
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Workload:
    name = ""
    kind = "bundled"
    has_p99 = False
    in_quick = True  # part of --quick (when no --workloads are named)

    def available(self, ctx):
        return True, ""

    def params(self, ctx):
        return ""


class Bundled(Workload):
    """A pf-wl-* program (pf-wl-NAME unless prog names another); sizes
    (full, quick) in MiB and extra options."""

    def __init__(self, name, full, quick, has_p99=False, prog=None, in_quick=True):
        self.name, self.full, self.quick, self.has_p99 = name, full, quick, has_p99
        self.prog = prog or name
        self.in_quick = in_quick

    def argv(self, ctx):
        return [os.path.join(ctx.bindir, f"pf-wl-{self.prog}"), "-q"] + (
            self.quick if ctx.quick else self.full)

    def params(self, ctx):
        return " ".join(self.argv(ctx)[2:])

    def available(self, ctx):
        exe = self.argv(ctx)[0]
        return (os.access(exe, os.X_OK), f"{exe} not built")

    def run(self, ctx, env, cgroup):
        r = runner.run_measured(self.argv(ctx), env=env, cgroup=cgroup, timeout=ctx.timeout)
        res = parse_result(r["stdout"]) or {}
        ok = r["rc"] == 0 and res.get("verify") == "ok"
        out = {k: r[k] for k in ("rss_avg_mib", "rss_peak_mib", "swap_peak_mib", "majflt",
                                 "cpu_s", "swap_reads")}
        out.update(status="ok" if ok else "FAIL", runtime_s=float(res.get("runtime_s", r["wall_s"])),
                   throughput=float(res.get("throughput", 0)), unit=res.get("unit", ""),
                   p99_us=float(res["p99_us"]) if "p99_us" in res else None,
                   checksum=res.get("checksum", ""))
        if not ok:
            out["error"] = (f"exit {r['rc']}, verify={res.get('verify')}: "
                            + r["stderr"].strip().splitlines()[-1:][0] if r["stderr"].strip() else
                            f"exit {r['rc']}, verify={res.get('verify')}")
        return out


class Server(Workload):
    """Shared life cycle of a server measured under load: start it in the
    cgroup, sample it, drive it from outside, stop it."""

    kind = "real"
    has_p99 = True

    def start(self, argv, env, cgroup, port, thp=True):
        proc = runner.spawn(argv, env=env, cgroup=cgroup, stdout=subprocess.DEVNULL, thp=thp)
        if not wait_port(port, proc):
            proc.kill()
            _, err = proc.communicate()
            raise RuntimeError(f"{argv[0]} did not start: {err.strip()[-300:]}")
        sampler = runner.Sampler(proc.pid)
        sampler.start()
        return proc, sampler

    def stop(self, proc, sampler, sig=signal.SIGTERM, since=None, t0=None, until=None):
        """Stops the server; mem["server_gone"] says how it died if it was
        already dead (a crash or an OOM kill explains a failed load). since:
        memory averaged from then on (the measured steady state); until: its
        end, for the refaults within it (swapins_window). t0: also
        mem["timeline"], the samples from then on (Sampler.timeline)."""
        rc = proc.poll()
        sampler.sample()
        mem = sampler.summary(since, until)
        if t0 is not None:
            mem["timeline"] = sampler.timeline(t0)
        sampler.stop()
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        mem["majflt"] = sampler.majflt
        mem["cpu_s"] = sampler.cpu_s  # the server's, at its last sample
        if rc is not None:
            how = f"killed by signal {-rc}" if rc < 0 else f"exited with {rc}"
            mem["server_gone"] = f"; the server had {how} before the load ended"
        return mem


def redis_argv(ctx, port):
    """redis-server on loopback, no persistence, in the foreground."""
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", ctx.tmpdir, "--protected-mode", "yes",
            "--daemonize", "no", "--logfile", ""]


def memcached_argv(port, mib):
    """memcached on loopback, one thread, mib MiB of cache."""
    return ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "1",
            "-m", str(mib), "-u", "root"]


def redis_value(k, size):
    """Deterministic value of key k: hex digest (little redundancy) + a
    repeated tail, about 3x compressible like typical cache data."""
    h = hashlib.blake2b(str(k).encode(), digest_size=64).hexdigest()
    tail = (f"redis-value-{k}-" * (size // 8 + 1))
    return (h * 3 + tail)[:size]


class Redis(Server):
    name = "redis"

    def sizes(self, ctx):
        # keys, requests, value bytes
        return (60000, 60000, 1000) if ctx.quick else (700000, 600000, 1000)

    def params(self, ctx):
        k, n, d = self.sizes(ctx)
        return f"keys={k} requests={n} value={d}B get 90% on 10% of keys"

    def available(self, ctx):
        for exe in ("redis-server", "redis-benchmark", "redis-cli"):
            if not shutil.which(exe):
                return False, f"{exe} not installed (apt-get install redis-server redis-tools)"
        return True, ""

    def run(self, ctx, env, cgroup):
        keys, requests, size = self.sizes(ctx)
        port = free_port()
        proc, sampler = self.start(redis_argv(ctx, port), env, cgroup, port)
        try:
            t0 = time.monotonic()
            self.load(port, keys, size)
            t1 = time.monotonic()
            # skew: 90% of the gets go to the first 10% of the keyspace
            hot = max(1, keys // 10)
            common = ["redis-benchmark", "-p", str(port), "-t", "get", "-c", "4", "--csv",
                      "--precision", "3"]
            b_hot = subprocess.Popen(common + ["-r", str(hot), "-n", str(requests * 9 // 10)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            b_all = subprocess.Popen(common + ["-r", str(keys), "-n", str(requests // 10)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            o_hot, e_hot = b_hot.communicate(timeout=ctx.timeout)
            o_all, e_all = b_all.communicate(timeout=ctx.timeout)
            t2 = time.monotonic()
            if b_hot.returncode or b_all.returncode:
                raise RuntimeError(f"redis-benchmark failed: {(e_hot + e_all).strip()[-300:]}")
            p99 = max(self.csv_p99(o_hot), self.csv_p99(o_all))
            checksum, bad = self.verify(port, keys, size)
        finally:
            mem = self.stop(proc, sampler)
        out = dict(mem, runtime_s=t2 - t0, throughput=requests / (t2 - t1), unit="gets/s",
                   p99_us=p99 * 1000, checksum=checksum, status="ok" if not bad else "FAIL")
        if bad:
            out["error"] = bad
        return out

    @staticmethod
    def csv_p99(text):
        lines = [l for l in text.splitlines() if l.strip()]
        head = [h.strip('"') for h in lines[0].split(",")]
        row = [v.strip('"') for v in lines[-1].split(",")]
        return float(row[head.index("p99_latency_ms")])

    def load(self, port, keys, size):
        """SET key:%012d for every key through redis-cli --pipe."""
        p = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        chunk = []
        for k in range(keys):
            key = f"key:{k:012d}"
            v = redis_value(k, size)
            chunk.append(f"*3\r\n$3\r\nSET\r\n${len(key)}\r\n{key}\r\n${len(v)}\r\n{v}\r\n")
            if len(chunk) == 4096:
                p.stdin.write("".join(chunk).encode())
                chunk = []
        p.stdin.write("".join(chunk).encode())
        p.stdin.close()
        out = p.stdout.read().decode()
        p.wait()
        if p.returncode or "errors: 0" not in out:
            raise RuntimeError(f"redis load failed: {out.strip()[-200:]}")

    def verify(self, port, keys, size):
        """DBSIZE and 2000 values spread over the keyspace, compared with
        what was written; the checksum is over those values."""
        sample = [(i * 7919) % keys for i in range(min(2000, keys))]
        cmds = "DBSIZE\n" + "".join(f"GET key:{k:012d}\n" for k in sample)
        r = subprocess.run(["redis-cli", "-p", str(port)], input=cmds, capture_output=True,
                           text=True, timeout=120)
        lines = r.stdout.splitlines()
        h = hashlib.sha256()
        if not lines or lines[0].strip().split()[-1] != str(keys):
            return "", f"DBSIZE is {lines[:1]}, want {keys}"
        bad = 0
        for k, got in zip(sample, lines[1:]):
            want = redis_value(k, size)
            bad += got != want
            h.update(got.encode())
        if bad or len(lines) - 1 != len(sample):
            return "", f"{bad} of {len(sample)} sampled values differ from what was written"
        return "0x" + h.hexdigest()[:16], ""


class Memcached(Server):
    name = "memcached"

    def sizes(self, ctx):
        return (64, 40000) if ctx.quick else (768, 300000)  # MiB of values, ops

    def params(self, ctx):
        mib, ops = self.sizes(ctx)
        return f"values={mib}MiB ops={ops} zipf=0.99 get/set 90/10"

    def available(self, ctx):
        if not shutil.which("memcached"):
            return False, "memcached not installed"
        exe = os.path.join(ctx.bindir, "pf-kv-load")
        return os.access(exe, os.X_OK), f"{exe} not built"

    def run(self, ctx, env, cgroup):
        mib, ops = self.sizes(ctx)
        port = free_port()
        proc, sampler = self.start(memcached_argv(port, mib * 3), env, cgroup, port)
        try:
            r = subprocess.run([os.path.join(ctx.bindir, "pf-kv-load"), "-q", "-P", str(port),
                                "--proto", "memcached", "--depth", "1", "-s", str(mib), "-n",
                                str(ops)], capture_output=True, text=True,
                               timeout=ctx.timeout)
        finally:
            mem = self.stop(proc, sampler)
        res = parse_result(r.stdout) or {}
        ok = r.returncode == 0 and res.get("verify") == "ok"
        out = dict(mem, status="ok" if ok else "FAIL",
                   runtime_s=float(res.get("runtime_s", 0)),
                   throughput=float(res.get("throughput", 0)), unit="ops/s",
                   p99_us=float(res.get("p99_us", 0)), checksum=res.get("checksum", ""))
        if not ok:
            out["error"] = (f"pf-kv-load exit {r.returncode}: {r.stderr.strip()[-300:]}"
                            + mem.get("server_gone", ""))
        return out


# Value bytes of the *-kv* workloads: a 4000-byte value is one 4 KiB page in
# redis's jemalloc (its 4096-byte size class), so the one-hit values and the
# read ones do not share pages (with 1000-byte values, four objects of mixed
# kinds share each page, and nothing can page the one-hit ones out alone).
KV_VALUE = 4000


class KvSteady(Server):
    """redis-server or memcached holding a dataset of KV_VALUE-byte values, a
    share of them written once and never read again, driven by pf-kv-load
    (pipelined, zipf 0.99 over the keys that are read, 90% gets) for a
    measured steady state after a warm-up that is not measured; memory is
    averaged over the measured window only."""

    def __init__(self, server, one_hit):
        self.server, self.one_hit = server, one_hit
        self.name = f"{server}-kv{one_hit}"
        # --quick runs one of them (CI's time): redis with 30% one-hit keys
        self.in_quick = server == "redis" and one_hit == 30

    def sizes(self, ctx):
        # dataset MiB, measured s, warm-up s (pfbench --kv sets them)
        if getattr(ctx, "kv", None):
            return ctx.kv
        return (48, 2, 1, KV_VALUE) if ctx.quick else (2048, 180, 60, KV_VALUE)

    def expected_rss_mib(self, ctx):
        return int(self.sizes(ctx)[0] * 1.25) + 16

    def params(self, ctx):
        mib, secs, warm, value = self.sizes(ctx)
        return (f"{mib} MiB of {value} B values, {self.one_hit}% written once, zipf 0.99, "
                f"90% gets, depth 16, {secs} s after {warm} s warm-up")

    def available(self, ctx):
        exe = "redis-server" if self.server == "redis" else "memcached"
        if not shutil.which(exe):
            return False, f"{exe} not installed"
        load = os.path.join(ctx.bindir, "pf-kv-load")
        return os.access(load, os.X_OK), f"{load} not built"

    def run(self, ctx, env, cgroup):
        mib, secs, warm, value = self.sizes(ctx)
        port = free_port()
        if self.server == "redis":
            argv = redis_argv(ctx, port)
        else:
            # One value per page, as in redis: a single 4096-byte slab class
            # (a KV_VALUE value and its item header fit), in a cache that -L
            # preallocates 2 MiB-aligned (malloc'd slab pages start 16 bytes
            # into a page, and each chunk would then share a page with the
            # next item's header); -L also asks for huge pages, which
            # thp=False turns off so that its pages are 4 KiB as redis's.
            argv = memcached_argv(port, mib * 2)
            if value <= KV_VALUE:
                argv += ["-L", "-o", "slab_sizes=4096"]
        series = tempfile.mktemp(prefix="kv-series.", dir=ctx.tmpdir)
        proc, sampler = self.start(argv, env, cgroup, port, thp=self.server == "redis")
        t0 = time.monotonic()
        since, until, res, r = None, None, {}, None
        try:
            r = subprocess.run([os.path.join(ctx.bindir, "pf-kv-load"), "-q", "-P", str(port),
                                "--proto", self.server, "-s", str(mib), "-o",
                                str(self.one_hit), "--value", str(value), "--seconds",
                                str(secs), "--warmup", str(warm), "--series", series],
                               capture_output=True, text=True, timeout=ctx.timeout)
            res = parse_result(r.stdout) or {}
            if "runtime_s" in res and "work_s" in res:
                until = t0 + float(res["runtime_s"])  # before its read of the cold keys
                since = until - float(res["work_s"])
        finally:
            mem = self.stop(proc, sampler, since=since, t0=t0, until=until)
        ok = r.returncode == 0 and res.get("verify") == "ok"
        tput = float(res.get("throughput", 0))
        # A timed run does a fixed time, not a fixed work: its "runtime" is the
        # seconds per million requests, so that runtime ratios are slowdowns.
        out = dict(mem, status="ok" if ok else "FAIL",
                   runtime_s=1e6 / tput if tput else 0.0,
                   throughput=tput, unit="ops/s",
                   p99_us=float(res.get("p99_us", 0)), checksum=res.get("checksum", ""))
        try:
            with open(series) as f:
                out["series"] = f.read()
            os.unlink(series)
        except OSError:
            pass
        # the time series of the run (report.timeline_plot): memory and
        # faults from the server's start, requests from the measured window's
        out["timeline"] = {"mem": mem.pop("timeline", []),
                           "series_offset_s": round(since - t0, 2) if since else 0.0,
                           "series": [[float(x) for x in ln.split()[:3]]
                                      for ln in out.get("series", "").splitlines()
                                      if len(ln.split()) >= 3
                                      and ln.split()[0].replace(".", "", 1).isdigit()]}
        if not ok:
            out["error"] = (f"pf-kv-load exit {r.returncode}: {r.stderr.strip()[-300:]}"
                            + mem.get("server_gone", ""))
        return out


class Sqlite(Workload):
    name = "sqlite"
    kind = "real"

    def rows(self, ctx):
        return 60000 if ctx.quick else 800000

    def params(self, ctx):
        return f"rows={self.rows(ctx)} (~1 KiB each, in-memory db), then point and range queries"

    def available(self, ctx):
        return bool(shutil.which("sqlite3")), "sqlite3 not installed"

    def script(self, n):
        q = n  # point lookups
        return f"""
PRAGMA journal_mode=OFF;
PRAGMA synchronous=OFF;
PRAGMA cache_size=-2000000;
CREATE TABLE t(k INTEGER PRIMARY KEY, a INTEGER, v TEXT);
WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < {n - 1})
INSERT INTO t SELECT x, (x * 2654435761) % 1000003,
  printf('%08x', (x * 2654435761) % 4294967296) || replace(hex(zeroblob(100)), '00',
  printf('%04x', x % 65536)) || printf('%.500c', 'v') FROM c;
CREATE INDEX ta ON t(a);
WITH RECURSIVE q(i, key) AS (SELECT 0, 12345 UNION ALL
  SELECT i + 1, (key * 1103515245 + 12345) % {n} FROM q WHERE i < {q})
SELECT count(*), sum(length(v)), sum(a) FROM q JOIN t ON t.k = q.key;
SELECT count(*), sum(k) FROM t WHERE a BETWEEN 1000 AND 300000;
SELECT count(*), sum(length(v)) FROM t WHERE v LIKE '%ffff%';
"""

    def run(self, ctx, env, cgroup):
        n = self.rows(ctx)
        r = runner.run_measured(["sqlite3", ":memory:"], env=env, cgroup=cgroup,
                                timeout=ctx.timeout, stdin_data=self.script(n))
        out = {k: r[k] for k in ("rss_avg_mib", "rss_peak_mib", "swap_peak_mib", "majflt",
                                 "cpu_s")}
        lines = r["stdout"].split()[-3:]  # the three query answers
        ok = r["rc"] == 0 and len(lines) == 3 and lines[0].split("|")[0] == str(n + 1)
        out.update(status="ok" if ok else "FAIL", runtime_s=r["wall_s"],
                   throughput=n / r["wall_s"], unit="rows/s", p99_us=None,
                   checksum="0x" + hashlib.sha256(" ".join(lines).encode()).hexdigest()[:16])
        if not ok:
            out["error"] = f"sqlite3 exit {r['rc']}: {r['stderr'].strip()[-300:]} {lines}"
        return out


def all_workloads():
    return [
        Bundled("seq", ["-s", "1024", "-p", "3"], ["-s", "128", "-p", "3"]),
        Bundled("stride", ["-s", "1024", "-p", "3"], ["-s", "128", "-p", "3"]),
        # Read-mostly scans (PageFlex Fig. 8): nothing written after the fill,
        # so swap-ins are not queued behind the swap writes of reclaim.
        Bundled("seq-ro", ["-s", "1024", "-p", "3", "-w", "0"],
                ["-s", "128", "-p", "3", "-w", "0"], prog="seq", in_quick=False),
        Bundled("stride-ro", ["-s", "1024", "-p", "3", "-w", "0"],
                ["-s", "128", "-p", "3", "-w", "0"], prog="stride"),
        Bundled("mixed-ro", ["-s", "1024", "-p", "3", "-w", "0", "-t", "mixed"],
                ["-s", "128", "-p", "3", "-w", "0", "-t", "mixed"], prog="stride",
                in_quick=False),
        Bundled("random-ro", ["-s", "1024", "-p", "3", "-w", "0", "-t", "random"],
                ["-s", "128", "-p", "3", "-w", "0", "-t", "random"], prog="stride",
                in_quick=False),
        Bundled("kv", ["-s", "1024", "-n", "2000000"], ["-s", "128", "-n", "200000"], True),
        Bundled("phase", ["-s", "1024", "-n", "4000000"], ["-s", "128", "-n", "400000"], True),
        Bundled("pagerank", ["-s", "1024", "-p", "3"], ["-s", "128", "-p", "2"]),
        Redis(),
        Memcached(),
        Sqlite(),
    ] + [KvSteady(s, p) for s in ("redis", "memcached") for p in (0, 30, 60)]
