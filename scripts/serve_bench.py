#!/usr/bin/env python3
"""Load generator of scripts/serve-bench.sh (stdlib only): one client sending sentences one at a time,
then N concurrent clients each sending one sentence per request, against a running `nmt serve`.
Prints sentences/s, p50/p95/p99 latency and errors of both runs, and the server's RSS after 1,000 and
after all requests of the concurrent run.

    serve_bench.py --port PORT --pid PID --input FILE [--clients 32] [--requests 20000] [--sequential 1000]
"""
import argparse
import http.client
import json
import threading
import time


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def translate(self, sentence):
        """→ (ok, seconds)."""
        body = json.dumps({"text": sentence})
        start = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.conn.request("POST", "/v1/translate", body, {"Content-Type": "application/json"})
            resp = self.conn.getresponse()
            data = resp.read()
            ok = resp.status == 200 and "translations" in json.loads(data)
        except (OSError, http.client.HTTPException, ValueError):
            self.conn = None
            ok = False
        return ok, time.perf_counter() - start


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def report(name, latencies, errors, seconds):
    lat = sorted(latencies)
    done = len(lat)
    print(
        f"{name}: {done} requests in {seconds:.1f} s: {(done - errors) / seconds:.1f} sentences/s, "
        f"latency p50 {percentile(lat, 50) * 1000:.1f} ms, p95 {percentile(lat, 95) * 1000:.1f} ms, "
        f"p99 {percentile(lat, 99) * 1000:.1f} ms, errors {errors}",
        flush=True,
    )
    return (done - errors) / seconds


def sequential(port, sentences):
    client = Client(port)
    latencies, errors = [], 0
    start = time.perf_counter()
    for s in sentences:
        ok, t = client.translate(s)
        latencies.append(t)
        errors += not ok
    return report("sequential (1 client)", latencies, errors, time.perf_counter() - start)


def concurrent(port, pid, sentences, clients, requests):
    lock = threading.Lock()
    state = {"next": 0, "errors": 0, "rss_1000": None}
    latencies = []

    def work():
        client = Client(port)
        while True:
            with lock:
                i = state["next"]
                if i >= requests:
                    return
                state["next"] += 1
            ok, t = client.translate(sentences[i % len(sentences)])
            with lock:
                latencies.append(t)
                state["errors"] += not ok
                if len(latencies) == 1000:
                    state["rss_1000"] = rss_mib(pid)

    threads = [threading.Thread(target=work) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    rss_end = rss_mib(pid)
    rate = report(f"concurrent ({clients} clients)", latencies, state["errors"], seconds)
    if state["rss_1000"] is not None:
        growth = (rss_end / state["rss_1000"] - 1) * 100
        print(
            f"server RSS: {state['rss_1000']:.1f} MiB after 1,000 requests, {rss_end:.1f} MiB after "
            f"{len(latencies):,} ({growth:+.1f}%)",
            flush=True,
        )
    return rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--sequential", type=int, default=1000, help="sentences of the one-client run")
    a = ap.parse_args()
    with open(a.input, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f if line.strip()]
    warm = Client(a.port)
    for s in sentences[:20]:
        warm.translate(s)
    seq = sequential(a.port, sentences[: a.sequential])
    conc = concurrent(a.port, a.pid, sentences, a.clients, a.requests)
    print(f"concurrent / sequential throughput: {conc / seq:.2f}x", flush=True)


if __name__ == "__main__":
    main()
