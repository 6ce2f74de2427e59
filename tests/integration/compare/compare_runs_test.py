#!/usr/bin/env python3
"""`kubeproof compare` on two real runs (issue 17): one server, the second run with twice its latency.

usage: compare_runs_test.py KUBEPROOF OUT_DIR

A real slow upstream: an HTTP/1.1 keep-alive server on loopback (a port the kernel picks) that takes 25 ms to
answer each request for run A, and 50 ms for run B: twice the latency. (netem would delay a veth instead, but
this kernel has no sch_netem; nginx's `echo_sleep` is not in Debian's nginx.) Two short smoke runs of the
ingress phase (`kubeproof run --only ingress`, 6 s each at 100/s) against it, then:
- `compare A A` exits 0 and no row is significant (ingress.p99 is judged from its histograms);
- `compare A B` exits 1 and flags ingress.p99 significant and worse (its change is printed: about +100 % on a
  quiet machine, less where the machine's own scheduling delays add to both runs' tails);
- the table and Markdown outputs say so too.
Exit 0 on success; each failure is printed.
"""
import glob
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


class SlowServer:
    """Answers every request after `delay` seconds: the server's own work, as a slow application would."""

    def __init__(self, delay):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle and the client's delayed ACK add 40 ms.
            disable_nagle_algorithm = True

            def do_GET(self):
                time.sleep(delay)
                body = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *args):
        self.server.shutdown()
        self.server.server_close()


def plan(work, name, url):
    path = os.path.join(work, f"{name}.yaml")
    with open(path, "w") as out:
        out.write(f"""name: compare-test
type: smoke
target: local
capacity:
  ingress_rps: 100
  ingress_connection_rate: 50/s
phases:
  - phase: ingress
    duration: 1m
    load: 100%
    settings:
      url: {url}
      connections: 64
      rate: 100/s
      connection_rate: "off"
""")
    return path


def run(kubeproof, work, name, delay):
    results = os.path.join(work, name)
    with SlowServer(delay) as url:
        ran = subprocess.run([kubeproof, "run", "--plan", plan(work, name, url), "--only", "ingress",
                              "--duration-scale", "0.1", "--results", results],
                             capture_output=True, text=True, timeout=120)
    # The verdict is not the subject here (both miss the 10 ms target; a loaded machine may make a run
    # INVALID); a usage error is.
    check(ran.returncode in (0, 1, 3, 4),
          f"run {name} exited {ran.returncode}: {ran.stdout[-2000:]} {ran.stderr[-2000:]}")
    folders = glob.glob(os.path.join(results, "*"))
    if len(folders) != 1:
        raise RuntimeError(f"{results}: expected one results folder, got {folders}: {ran.stderr[-2000:]}")
    return folders[0]


def compare(kubeproof, a, b, *flags):
    return subprocess.run([kubeproof, "compare", a, b, *flags], capture_output=True, text=True, timeout=120)


def p99_of(folder):
    with open(os.path.join(folder, "report.json")) as report:
        for phase in json.load(report)["phases"]:
            for row in phase["rows"]:
                if row["metric"] == "ingress.p99":
                    return row["measured"]
    return None


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    kubeproof, out = sys.argv[1], sys.argv[2]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    started = time.monotonic()
    a = run(kubeproof, out, "a", 0.025)
    b = run(kubeproof, out, "b", 0.050)
    print(f"two runs: {time.monotonic() - started:.1f} s; ingress.p99 A {p99_of(a)} s, B {p99_of(b)} s")
    check(p99_of(a) is not None and p99_of(b) is not None, "a run did not measure ingress.p99")

    same = compare(kubeproof, a, a, "--format", "json")
    check(same.returncode == 0, f"compare A A exited {same.returncode}: {same.stderr}")
    if same.returncode in (0, 1):
        rows = json.loads(same.stdout)["rows"]
        check(rows, "compare A A: no rows")
        significant = [row["key"] for row in rows if row["significance"]["state"] == "significant"]
        check(not significant, f"compare A A: significant rows {significant}")
        judged = [row["key"] for row in rows if row["significance"]["state"] == "not significant"]
        check("ingress.p99 [Ingress]" in judged, f"compare A A: ingress.p99 not judged from histograms: {rows}")

    slower = compare(kubeproof, a, b, "--format", "json")
    check(slower.returncode == 1, f"compare A B exited {slower.returncode}: {slower.stdout} {slower.stderr}")
    if slower.returncode in (0, 1):
        document = json.loads(slower.stdout)
        rows = {row["key"]: row for row in document["rows"]}
        p99 = rows.get("ingress.p99 [Ingress]")
        check(p99 is not None, f"compare A B: no ingress.p99 row: {list(rows)}")
        if p99 is not None:
            check(p99["significance"]["state"] == "significant", f"ingress.p99 not significant: {p99}")
            check(p99["result"] == "worse", f"ingress.p99 not worse: {p99}")
            check(p99["change_percent"] is not None and p99["change_percent"] > 20,
                  f"ingress.p99 change not an increase: {p99['change_percent']}")
        check("ingress.p99 [Ingress]" in document["worse"], f"worse: {document['worse']}")

    table = compare(kubeproof, a, b)
    check(table.returncode == 1 and "ingress.p99 [Ingress]" in table.stdout and "significant (+" in table.stdout,
          f"compare A B table: exit {table.returncode}:\n{table.stdout}")
    markdown = compare(kubeproof, a, b, "--format", "md")
    check(markdown.returncode == 1 and "| ingress.p99 [Ingress] |" in markdown.stdout and "**worse**" in markdown.stdout,
          f"compare A B markdown: exit {markdown.returncode}:\n{markdown.stdout}")
    print(table.stdout)
    print(f"total {time.monotonic() - started:.1f} s")

    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
