#!/usr/bin/env python3
"""Network-iSCSI attach/detach cycles through a running tetherd, measuring per cycle: client
latency (attach, detach) and tetherd's CPU (utime+stime from /proc/PID/stat) and context
switches (/proc/PID/status), and GET /v1/attachments latency under N concurrent clients.
Run inside a private netns by scripts/probe-iscsi.sh. Asserts nothing; prints figures."""
import http.client, json, os, socket, statistics, sys, time, multiprocessing

class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)

def call(conn, method, path, body=None):
    data = None if body is None else json.dumps(body)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    r = conn.getresponse()
    payload = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {payload[:400]!r}")
    return json.loads(payload) if payload else None

def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    # /proc/PID/status counts the main thread's switches only: sum every thread's.
    switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        for line in open(f"/proc/{pid}/task/{tid}/status"):
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    return ticks / os.sysconf("SC_CLK_TCK"), switches

def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(round(len(s) * p / 100.0 + 0.4999)) - 1))]

def cycles(sock, pid, info, runs):
    conn = UnixHTTP(sock)
    for _ in range(10):
        a = call(conn, "POST", "/v1/attachments", {"connection_info": info})
        call(conn, "DELETE", f"/v1/attachments/{a['id']}")
    att, det = [], []
    c0, s0 = cpu(pid)
    for _ in range(runs):
        t = time.perf_counter()
        a = call(conn, "POST", "/v1/attachments", {"connection_info": info})
        t1 = time.perf_counter()
        call(conn, "DELETE", f"/v1/attachments/{a['id']}")
        t2 = time.perf_counter()
        att.append((t1 - t) * 1000); det.append((t2 - t1) * 1000)
    c1, s1 = cpu(pid)
    print(f"attach  median {statistics.median(att):6.2f} ms  p99 {pct(att, 99):6.2f} ms  ({runs} runs)")
    print(f"detach  median {statistics.median(det):6.2f} ms  p99 {pct(det, 99):6.2f} ms")
    print(f"tetherd CPU per attach+detach cycle {(c1 - c0) * 1000 / runs:6.2f} ms; context switches per cycle {(s1 - s0) / runs:6.1f}")

def lister(args):
    sock, seconds, queue = args
    conn = UnixHTTP(sock)
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        conn.request("GET", "/v1/attachments")
        r = conn.getresponse(); body = r.read()
        samples.append((time.perf_counter() - t) * 1000)
        if r.status != 200:
            raise SystemExit(f"GET: {r.status}")
    return samples, len(body)

def listing(sock, pid, clients, seconds):
    c0, s0 = cpu(pid)
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(lister, [(sock, seconds, None)] * clients)
    c1, s1 = cpu(pid)
    samples = [x for r in results for x in r[0]]
    n = len(json.loads(UnixHTTP_get(sock))["attachments"])
    print(f"GET /v1/attachments, {n} records, {clients} clients, {seconds} s: {len(samples)} requests, "
          f"median {statistics.median(samples):6.2f} ms  p99 {pct(samples, 99):6.2f} ms  max {max(samples):6.1f} ms; "
          f"body {results[0][1]} bytes; tetherd CPU per request {(c1 - c0) * 1000 / len(samples):5.2f} ms")

def UnixHTTP_get(sock):
    conn = UnixHTTP(sock); conn.request("GET", "/v1/attachments"); return conn.getresponse().read()

if __name__ == "__main__":
    mode, sock, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "cycles":
        info = json.load(open(sys.argv[4]))
        cycles(sock, pid, info, int(sys.argv[5]))
    elif mode == "export":
        conn = UnixHTTP(sock)
        r = call(conn, "POST", "/v1/exports", {"volume": {"id": sys.argv[4], "path": sys.argv[5], "size_bytes": 64 << 20}, "connector": {"initiator": sys.argv[6]}})
        print(json.dumps(r["connection_info"]))
    elif mode == "list":
        listing(sock, pid, int(sys.argv[4]), float(sys.argv[5]))
    elif mode == "reconcile":
        conn = UnixHTTP(sock)
        c0, _ = cpu(pid)
        t = time.perf_counter()
        r = call(conn, "POST", "/v1/reconcile", {"heal": False})
        el = (time.perf_counter() - t) * 1000
        c1, _ = cpu(pid)
        print(f"reconcile of {len(r.get('attachments', []))} records: {el:7.1f} ms, tetherd CPU {(c1 - c0) * 1000:7.1f} ms")
