#!/usr/bin/env python3
"""`kubeproof compare` on two real runs (issue 17): one server, the second run with twice its latency.

usage: compare_runs_test.py KUBEPROOF OUT_DIR

A network namespace of its own (named compare-<pid>) joined to this one by a veth pair, Debian's nginx
listening inside it, and netem delaying each direction of the veth: 1 ms per direction for run A, 2 ms for
run B, so a request's round trip (what the ingress phase measures) takes about 2 ms, then about 4 ms: twice
the latency. Two short smoke runs of the ingress phase (`kubeproof run --only ingress`, 3 s each at 400/s)
against it, then:
- `compare A A` exits 0 and no row is significant;
- `compare A B` exits 1 and flags ingress.p99 significant and worse, with its change near +100 %;
- the table and Markdown outputs say so too.
Everything it made (namespace, veth, nginx, files) is removed at the end. Exit 0 on success, 77 (skipped)
without root or the tools; each failure is printed.
"""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time

NAME = f"compare-{os.getpid()}"
HOST_IF = f"cmp{os.getpid() % 100000}h"
NS_IF = f"cmp{os.getpid() % 100000}n"
SUBNET = 10 + os.getpid() % 200
HOST_IP = f"10.213.{SUBNET}.1"
NS_IP = f"10.213.{SUBNET}.2"
PORT = 18080

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def sh(*args, check_rc=True):
    ran = subprocess.run(list(args), capture_output=True, text=True, timeout=60)
    if check_rc and ran.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {ran.returncode}: {ran.stderr.strip()}")
    return ran


def set_delay(delay, verb):
    sh("tc", "qdisc", verb, "dev", HOST_IF, "root", "netem", "delay", delay)
    sh("ip", "netns", "exec", NAME, "tc", "qdisc", verb, "dev", NS_IF, "root", "netem", "delay", delay)


def nginx_config(prefix):
    return f"""
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
daemon off;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen {NS_IP}:{PORT};
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""


def wait_for_server(deadline_seconds=10):
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((NS_IP, PORT), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)  # polling for readiness, bounded by the deadline
    return False


def plan(work):
    path = os.path.join(work, "plan.yaml")
    with open(path, "w") as out:
        out.write(f"""name: compare-test
type: smoke
target: local
capacity:
  ingress_rps: 400
  ingress_connection_rate: 50/s
phases:
  - phase: ingress
    duration: 1m
    load: 100%
    settings:
      url: http://{NS_IP}:{PORT}/
      connections: 16
      rate: 400/s
      connection_rate: "off"
""")
    return path


def run(kubeproof, plan_path, results):
    ran = subprocess.run([kubeproof, "run", "--plan", plan_path, "--only", "ingress", "--duration-scale", "0.05",
                          "--results", results], capture_output=True, text=True, timeout=120)
    # The verdict is not the subject here (a loaded machine may make a run INVALID); a usage error is.
    check(ran.returncode in (0, 1, 3, 4),
          f"run into {results} exited {ran.returncode}: {ran.stdout[-2000:]} {ran.stderr[-2000:]}")
    folders = glob.glob(os.path.join(results, "*"))
    if len(folders) != 1:
        raise RuntimeError(f"{results}: expected one results folder, got {folders}")
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
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("ip", "tc", "nginx")):
        print("SKIP: needs root, ip, tc and nginx")
        return 77
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    prefix = os.path.join(out, "nginx")
    os.makedirs(prefix)
    with open(os.path.join(prefix, "nginx.conf"), "w") as conf:
        conf.write(nginx_config(prefix))

    nginx = None
    try:
        sh("ip", "netns", "add", NAME)
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
        sh("ip", "link", "set", NS_IF, "netns", NAME)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        sh("ip", "netns", "exec", NAME, "ip", "addr", "add", f"{NS_IP}/30", "dev", NS_IF)
        sh("ip", "netns", "exec", NAME, "ip", "link", "set", NS_IF, "up")
        sh("ip", "netns", "exec", NAME, "ip", "link", "set", "lo", "up")
        nginx = subprocess.Popen(["ip", "netns", "exec", NAME, "nginx", "-p", prefix, "-c",
                                  os.path.join(prefix, "nginx.conf")])
        if not wait_for_server():
            raise RuntimeError(f"nginx in {NAME} does not answer on {NS_IP}:{PORT}")

        plan_path = plan(out)
        set_delay("1ms", "add")
        started = time.monotonic()
        a = run(kubeproof, plan_path, os.path.join(out, "a"))
        set_delay("2ms", "change")
        b = run(kubeproof, plan_path, os.path.join(out, "b"))
        print(f"two runs: {time.monotonic() - started:.1f} s; ingress.p99 A {p99_of(a)} s, B {p99_of(b)} s")
        check(p99_of(a) is not None and p99_of(b) is not None, "a run did not measure ingress.p99")
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        sh("ip", "link", "del", HOST_IF, check_rc=False)
        sh("ip", "netns", "del", NAME, check_rc=False)

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
            check(p99["change_percent"] is not None and 60 < p99["change_percent"] < 140,
                  f"ingress.p99 change not near +100 %: {p99['change_percent']}")
        check("ingress.p99 [Ingress]" in document["worse"], f"worse: {document['worse']}")

    table = compare(kubeproof, a, b)
    check(table.returncode == 1 and "ingress.p99 [Ingress]" in table.stdout and "significant (+" in table.stdout,
          f"compare A B table: exit {table.returncode}:\n{table.stdout}")
    markdown = compare(kubeproof, a, b, "--format", "md")
    check(markdown.returncode == 1 and "| ingress.p99 [Ingress] |" in markdown.stdout and "**worse**" in markdown.stdout,
          f"compare A B markdown: exit {markdown.returncode}:\n{markdown.stdout}")
    print(table.stdout)

    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
