#!/usr/bin/env python3
"""pageflexd as a service (issue 13): its Prometheus metrics and systemd's
notification protocol, on a live agent managing a real program.

A Python program runs as `nobody` under libpageflex.so with 64 MiB, part of
it tagged with a name full of characters a label must escape; pageflexd
(--cold-age '*=2') pages it out. The test then checks:
  - READY=1 arrives on $NOTIFY_SOCKET only once `pageflexctl status`
    answers; STATUS= names the managed process; SIGHUP gives RELOADING=1
    then READY=1; SIGTERM gives STOPPING=1;
  - the HTTP endpoint, the textfile and `pageflexctl metrics` are valid
    text exposition (HELP and TYPE before each family's samples, families
    contiguous and declared once, counters ending in _total, label values
    escaped) and their values match `stats --json` taken just before and
    just after (counters in between, gauges equal to one of the two);
  - HTTP: 404, 405, HEAD; a client that sends nothing does not stall a
    scrape; a port in use fails a second agent at start with one line;
  - the textfile is 0644 and is removed when the agent stops; an
    unreadable rules file fails the agent at once with one line.
Exit 77: skipped (not root).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

B = os.environ.get("PAGEFLEX_BUILD_DIR")
S = os.environ.get("PAGEFLEX_SOURCE_DIR")
TAG = 'we"ird\\tag'  # a quote and a backslash: both escaped in a label

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return cond


def recv_until(sock, pred, timeout):
    """Notification datagrams until one satisfies pred (returned) or timeout."""
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        seen.append(msg)
        if pred(msg):
            return msg, seen
    return None, seen


def ctl(d, *args):
    return subprocess.run([f"{B}/bin/pageflexctl", "--socket", f"{d}/control.sock", *args],
                          capture_output=True, text=True, timeout=30)


def stats(d):
    r = ctl(d, "stats", "--json")
    if r.returncode:
        raise RuntimeError("stats failed: " + r.stderr)
    return json.loads(r.stdout)


LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:' + LABEL + r',?)*)\})? (\S+)$')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse_exposition(text, where):
    """{(name, frozenset(labels)): value}, checking the format's rules."""
    samples, declared, types, current = {}, set(), {}, None
    help_seen = set()
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            check(name not in declared, f"{where}:{n}: family {name} declared twice")
            help_seen.add(name)
            current = None
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            check(name in help_seen, f"{where}:{n}: TYPE of {name} without HELP before it")
            check(typ in ("counter", "gauge"), f"{where}:{n}: type {typ}")
            check(typ != "counter" or name.endswith("_total"),
                  f"{where}:{n}: counter {name} does not end in _total")
            check(typ != "gauge" or not name.endswith("_total"),
                  f"{where}:{n}: gauge {name} ends in _total")
            declared.add(name)
            types[name] = typ
            current = name
            continue
        m = SAMPLE.match(line)
        if not check(m, f"{where}:{n}: not a sample line: {line!r}"):
            continue
        name = m.group(1)
        check(name == current, f"{where}:{n}: sample of {name} outside its family")
        check(re.fullmatch(r"pageflex_[a-z0-9_]+", name), f"{where}:{n}: name {name}")
        labels = frozenset((k, unescape(v)) for k, v in re.findall(LABEL, m.group(2) or ""))
        try:
            value = float(m.group(m.lastindex))
        except ValueError:
            check(False, f"{where}:{n}: value {m.group(m.lastindex)!r}")
            continue
        check((name, labels) not in samples, f"{where}:{n}: duplicate sample")
        samples[(name, labels)] = value
    return samples, types


def get(samples, name, **labels):
    want = {(k, str(v)) for k, v in labels.items()}
    hits = [v for (n, ls), v in samples.items() if n == name and want <= ls]
    return hits[0] if len(hits) == 1 else None


def between(v, a, b):
    return v is not None and min(a, b) <= v <= max(a, b)


def compare(samples, before, after, where):
    """Values against stats --json taken before and after the scrape."""
    ab, aa = before["agent"], after["agent"]
    check(between(get(samples, "pageflex_agent_scans_total"), ab["scans"], aa["scans"]),
          f"{where}: scans_total vs stats")
    check(between(get(samples, "pageflex_agent_paged_out_bytes_total"),
                  ab["pages_out"] * 4096, aa["pages_out"] * 4096),
          f"{where}: paged_out_bytes_total vs stats")
    check(get(samples, "pageflex_agent_processes") == aa["processes"],
          f"{where}: processes vs stats")
    check(between(get(samples, "pageflex_agent_madvise_calls_total", advice="PAGEOUT"),
                  ab["madvise_PAGEOUT"]["calls"], aa["madvise_PAGEOUT"]["calls"]),
          f"{where}: madvise PAGEOUT calls vs stats")
    for name, ft in aa["features"].items():
        check(get(samples, "pageflex_agent_feature_enabled", feature=name,
                  state=ft["state"]) == (1 if ft["state"] == "on" else 0),
              f"{where}: feature {name}")
    nregions = 0
    for pb, pa in zip(before["processes"], after["processes"]):
        rb = {r["id"]: r for r in pb["regions"]}
        for r in pa["regions"]:
            if r["id"] not in rb:
                continue
            nregions += 1
            lab = dict(pid=pa["pid"], region=r["id"])
            check(get(samples, "pageflex_region_info", tag=r["tag"], policy=r["policy"],
                      **lab) == 1, f"{where}: region {r['id']} info (tag {r['tag']!r})")
            for metric, field in (("resident_bytes", "resident"), ("swapped_bytes", "swapped"),
                                  ("size_bytes", "size")):
                v = get(samples, "pageflex_region_" + metric, **lab)
                check(v in (rb[r["id"]][field], r[field]),
                      f"{where}: region {r['id']} {metric} {v} vs {r[field]}")
            for metric, field in (("refaults_total", "refaults"), ("scans_total", "scans"),
                                  ("paged_out_bytes_total", "paged_out")):
                v = get(samples, "pageflex_region_" + metric, **lab)
                if r[field] is None:
                    check(v is None, f"{where}: region {r['id']} {metric} unknown yet present")
                else:
                    check(between(v, rb[r["id"]][field], r[field]),
                          f"{where}: region {r['id']} {metric} {v} vs {r[field]}")
    check(nregions > 0, f"{where}: no region compared")
    return nregions


def http(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


WORKLOAD = r"""
import ctypes, sys, time
b = bytearray(64 << 20)
for i in range(0, len(b), 4096):
    b[i] = 1
addr = ctypes.addressof((ctypes.c_char * len(b)).from_buffer(b))
half = (addr + (32 << 20) + 4095) & ~4095
ctypes.CDLL(None).pageflex_tag(ctypes.c_void_p(half), ctypes.c_size_t(16 << 20),
                               sys.argv[1].encode())
print("ready", flush=True)
time.sleep(120)
"""


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (pageflexd loads eBPF programs)")
        return 77
    subprocess.run(["bash", f"{S}/scripts/swap-setup.sh"], check=True,
                   stdout=subprocess.DEVNULL)
    d = tempfile.mkdtemp(prefix="pf-metrics.")
    os.chmod(d, 0o755)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(f"{d}/notify.sock")
    log = open(f"{d}/agent.log", "w+")
    prom = f"{d}/pageflex.prom"
    agent = subprocess.Popen(
        [f"{B}/bin/pageflexd", "--socket", f"{d}/agent.sock", "--cold-age", "*=2", "-i", "500",
         "--metrics-listen", "127.0.0.1:0", "--metrics-file", prom],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, NOTIFY_SOCKET=f"{d}/notify.sock"))
    work = None
    try:
        msg, seen = recv_until(notify, lambda m: "READY=1" in m.split("\n"), 60)
        if not check(msg, f"READY=1 within 60 s (got {seen})"):
            return 1
        check(ctl(d, "status").returncode == 0, "pageflexctl status answers at READY=1")
        check("STATUS=managing 0 processes" in msg, f"first STATUS with READY: {msg!r}")
        log.seek(0)
        m = re.search(r"metrics at (http://\S+/metrics)", log.read())
        if not check(m, "the log names the metrics address"):
            return 1
        url = m.group(1)

        work = subprocess.Popen(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env",
             f"LD_PRELOAD={B}/lib/libpageflex.so", f"PAGEFLEX_SOCKET={d}/agent.sock",
             "/usr/bin/python3", "-c", WORKLOAD, TAG], stdout=subprocess.PIPE, text=True)
        check(work.stdout.readline().strip() == "ready", "workload started")
        end = time.monotonic() + 40
        while time.monotonic() < end:
            st = stats(d)
            sw = sum(r["swapped"] for p in st["processes"] for r in p["regions"])
            if sw >= 48 << 20 and any(r["tag"] == TAG for p in st["processes"]
                                      for r in p["regions"]):
                break
            time.sleep(0.5)
        check(sw >= 48 << 20, f"the workload's memory paged out ({sw >> 20} MiB in swap)")
        time.sleep(1.5)  # let the last pageout settle: idle pages stay put

        msg, seen = recv_until(notify, lambda m: "managing 1 process," in m, 15)
        check(msg, f"STATUS= names the managed process within 15 s (got {seen})")

        # The textfile is rewritten every 10 s: wait for one written after the pageout.
        t0 = time.time()
        while time.time() - t0 < 12 and os.stat(prom).st_mtime < t0:
            time.sleep(0.2)
        check(os.stat(prom).st_mode & 0o777 == 0o644, "textfile mode 0644")
        before = stats(d)
        code, headers, body = http(url)
        ctl_text = ctl(d, "metrics").stdout
        file_text = open(prom).read()
        after = stats(d)
        check(code == 200, f"GET /metrics: {code}")
        check(headers.get("Content-Type") == "text/plain; version=0.0.4; charset=utf-8",
              f"content type {headers.get('Content-Type')}")
        n = 0
        for where, text, exact in (("http", body, True), ("pageflexctl metrics", ctl_text, True),
                                   ("textfile", file_text, False)):
            samples, _ = parse_exposition(text, where)
            check(get(samples, "pageflex_region_info", tag=TAG) == 1,
                  f"{where}: the tag {TAG!r} survives escaping")
            if exact:
                n += compare(samples, before, after, where)
            else:
                check(get(samples, "pageflex_agent_processes") == 1, f"{where}: processes")
        print(f"metrics: {len(body.splitlines())} lines, {n} region comparisons against "
              "stats --json", flush=True)

        code, h, _ = http(url, "HEAD")
        check(code == 200 and int(h.get("Content-Length", 0)) > 1000, "HEAD /metrics")
        check(http(url.replace("/metrics", "/nope"))[0] == 404, "404 for another path")
        check(http(url, "POST")[0] == 405, "405 for POST")
        host, port = url.split("//")[1].split("/")[0].split(":")
        idle = [socket.create_connection((host, int(port))) for _ in range(3)]
        t = time.monotonic()
        check(http(url)[0] == 200 and time.monotonic() - t < 2,
              "a scrape is served while 3 clients send nothing")
        for s in idle:
            s.close()

        os.mkdir(f"{d}/other")  # its own sockets: only the port is in use
        other = subprocess.run(
            [f"{B}/bin/pageflexd", "--socket", f"{d}/other/agent.sock",
             "--metrics-listen", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60)
        check(other.returncode != 0 and "Address already in use" in other.stderr,
              f"a second agent on the same port fails: rc {other.returncode}, "
              f"{other.stderr.strip().splitlines()[-2:]}")

        bad = subprocess.run([f"{B}/bin/pageflexd", "--config", f"{d}/missing.yaml"],
                             capture_output=True, text=True, timeout=30)
        check(bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and
              "missing.yaml" in bad.stderr, f"an unreadable config: one line, exit {bad.returncode}")

        agent.send_signal(signal.SIGHUP)
        msg, seen = recv_until(notify, lambda m: "READY=1" in m.split("\n"), 10)
        check(msg and any("RELOADING=1" in s for s in seen), f"SIGHUP: RELOADING then READY: {seen}")
        agent.send_signal(signal.SIGTERM)
        msg, seen = recv_until(notify, lambda m: "STOPPING=1" in m, 20)
        check(msg, f"SIGTERM: STOPPING=1 ({seen})")
        check(agent.wait(timeout=30) == 0, "agent exits 0 on SIGTERM")
        check(not os.path.exists(prom), "textfile removed when the agent stops")
    finally:
        if work:
            work.kill()
        if agent.poll() is None:
            agent.kill()
        agent.wait()
        if failures:
            log.seek(0)
            print("--- agent log ---\n" + log.read()[-4000:])
        subprocess.run(["rm", "-rf", d])
    print("FAIL" if failures else "PASS", f"({len(failures)} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
