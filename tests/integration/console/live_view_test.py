#!/usr/bin/env python3
"""The live terminal view in tmux (issue 17).

usage: live_view_test.py KUBEPROOF OUT_DIR

Starts an HTTP server on 127.0.0.1 (a free port), writes a plan with only the ingress phase against it at
200 requests/s for 9 s (1m, --duration-scale 0.15), and:
1. runs `kubeproof run` in a detached tmux session on its own server socket (send-keys), reads the screen with
   capture-pane while the phase runs, and asserts the status block is there (phase name, elapsed of planned,
   a 20-cell bar, time left, offered 200/s, an achieved rate, P50, P99, errors), that it is redrawn in place
   (the elapsed time moves on while the block stays at the same screen row, and the whole scrollback holds
   exactly one block), and that after the run the block is gone and the final table follows the progress
   lines;
2. runs the same plan with stderr to a file (not a terminal): plain progress lines, no escape sequence, no
   block;
3. runs a storage phase (fio on a directory of the test's own, one random-read job of 6 s) in tmux and asserts
   its status block shows live figures while fio runs (an achieved rate, P50, P99, and the job running now),
   read from fio's status dumps, not the "no live counts" line.
Exit 0 on success; each failure is printed.
"""
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time

failures = []
BLOCK_HEAD = re.compile(r"\[ingress\] (\d+)s of 9s \[[#-]{20}\] (\d+)s left")
BLOCK_BODY = re.compile(r"offered 200/s · achieved [0-9.]+(k)?/s · P50 [0-9.]+[µm]?s · P99 [0-9.]+[µm]?s · "
                        r"errors \d+")


def check(condition, message):
    if not condition:
        failures.append(message)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def write_plan(folder, port):
    path = os.path.join(folder, "plan.yaml")
    with open(path, "w") as out:
        out.write(f"""name: console-live-view
type: smoke
target: local
capacity:
  ingress_rps: 2k
phases:
  - phase: ingress
    duration: 1m
    load: 10%
    settings:
      url: http://127.0.0.1:{port}/
      connections: 4
      threads: 1
      connection_rate: off
""")
    return path


STORAGE_HEAD = re.compile(r"\[storage\] (\d+)s of 9s \[[#-]{20}\]")
STORAGE_BODY = re.compile(r"offered \S+ · achieved [0-9.]+(k)?/s · P50 [0-9.]+(us|µs|ms|s) · P99 [0-9.]+(us|µs|ms|s) · "
                          r"errors \d+ · now randread-4k")


def write_storage_plan(folder):
    volume = os.path.join(folder, "volume")
    os.makedirs(volume, exist_ok=True)
    path = os.path.join(folder, "storage-plan.yaml")
    with open(path, "w") as out:
        out.write(f"""name: console-live-view-storage
type: smoke
target: local
phases:
  - phase: storage
    duration: 1m
    settings:
      volume: {volume}
      workloads: [randread]
      size: 16MiB
      runtime: 6s
      ramp_time: 0s
""")
    return path


def tmux(socket, *args, check_rc=True):
    ran = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=20)
    if check_rc and ran.returncode != 0:
        raise RuntimeError(f"tmux {' '.join(args)}: {ran.stderr.strip()}")
    return ran.stdout


def screen(socket):
    # -J joins wrapped lines; -S - includes the scrollback, so a block that scrolled away would still show.
    return tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-t", "kp")


def in_tmux(kubeproof, folder, plan):
    socket = f"kp-console-{os.getpid()}"
    results = os.path.join(folder, "tty-results")
    command = (f"'{kubeproof}' run --plan '{plan}' --duration-scale 0.15 --results '{results}'; "
               f"echo KP-EXIT=$?")
    tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "kp", "-x", "200", "-y", "50", "bash", "--norc",
         "--noprofile")
    try:
        tmux(socket, "send-keys", "-t", "kp", command, "Enter")
        seen = []  # (elapsed, row of the head line) per capture showing the block
        deadline = time.monotonic() + 60
        final = ""
        while time.monotonic() < deadline:
            text = screen(socket)
            if "KP-EXIT=" in text.split(command)[-1]:
                final = text
                break
            lines = text.splitlines()
            heads = [(i, BLOCK_HEAD.search(line)) for i, line in enumerate(lines)]
            heads = [(i, m) for i, m in heads if m]
            if heads:
                check(len(heads) == 1, f"the block is on the screen {len(heads)} times:\n{text}")
                row, match = heads[0]
                body = lines[row + 1] if row + 1 < len(lines) else ""
                if BLOCK_BODY.search(body):
                    seen.append((int(match.group(1)), row, int(match.group(2))))
            time.sleep(0.2)  # the next look at the screen: polling what a person would see
        check(final, "the run did not end within 60 s")
        check(len(seen) >= 3, f"the full block was seen {len(seen)} times (want >= 3): {seen}")
        if seen:
            elapsed = [s[0] for s in seen]
            check(max(elapsed) > min(elapsed), f"the elapsed time never moved: {elapsed}")
            check(all(s[0] + s[2] in (8, 9, 10) for s in seen),
                  f"elapsed + left is not the planned 9 s: {seen}")
        # After the run: no block left behind, the progress lines and the table are there.
        after = final.split(command)[-1]
        check(not BLOCK_HEAD.search(after), f"a block was left on the screen:\n{after}")
        check("[ingress] starting" in after, f"no progress lines:\n{after}")
        check("Overall:" in after, f"no final table:\n{after}")
        check("\x1b" not in after, "escape sequences on the captured screen")
        exit_line = re.search(r"KP-EXIT=(\d+)", after)
        check(exit_line and exit_line.group(1) in ("0", "1", "3", "4"), f"unexpected exit: {after[-400:]}")
        with open(os.path.join(folder, "screen.txt"), "w") as out:
            out.write(final)
    finally:
        tmux(socket, "kill-server", check_rc=False)


def storage_in_tmux(kubeproof, folder):
    if shutil.which("fio") is None:
        failures.append("fio is not installed (scripts/install-deps.sh)")
        return
    plan = write_storage_plan(folder)
    socket = f"kp-console-storage-{os.getpid()}"
    results = os.path.join(folder, "storage-results")
    command = (f"'{kubeproof}' run --plan '{plan}' --duration-scale 0.15 --results '{results}'; "
               f"echo KP-EXIT=$?")
    tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "kp", "-x", "200", "-y", "50", "bash", "--norc",
         "--noprofile")
    try:
        tmux(socket, "send-keys", "-t", "kp", command, "Enter")
        live = []  # bodies seen with live figures
        heads = 0
        deadline = time.monotonic() + 90
        final = ""
        while time.monotonic() < deadline:
            text = screen(socket)
            if "KP-EXIT=" in text.split(command)[-1]:
                final = text
                break
            lines = text.splitlines()
            for i, line in enumerate(lines):
                if STORAGE_HEAD.search(line):
                    heads += 1
                    body = lines[i + 1] if i + 1 < len(lines) else ""
                    check("no live counts" not in body, f"the storage block has no live counts: {body}")
                    if STORAGE_BODY.search(body):
                        live.append(body)
            time.sleep(0.2)  # the next look at the screen: polling what a person would see
        check(final, "the storage run did not end within 90 s")
        check(heads > 0, f"no storage block was ever on the screen:\n{final}")
        check(len(live) >= 2, f"the storage block showed live figures {len(live)} times (want >= 2): {live}")
        after = final.split(command)[-1]
        check(not STORAGE_HEAD.search(after), f"a storage block was left on the screen:\n{after}")
        exit_line = re.search(r"KP-EXIT=(\d+)", after)
        check(exit_line and exit_line.group(1) in ("0", "1", "3", "4"), f"unexpected exit: {after[-600:]}")
        with open(os.path.join(folder, "storage-screen.txt"), "w") as out:
            out.write(final)
    finally:
        tmux(socket, "kill-server", check_rc=False)


def plain(kubeproof, folder, plan):
    results = os.path.join(folder, "plain-results")
    with open(os.path.join(folder, "stderr.txt"), "w+") as err:
        ran = subprocess.run([kubeproof, "run", "--plan", plan, "--duration-scale", "0.15", "--results", results], stdout=subprocess.PIPE,
                             stderr=err, text=True, timeout=60)
        err.seek(0)
        text = err.read()
    check(ran.returncode in (0, 1, 3, 4), f"plain run exited {ran.returncode}: {text}")
    check("[ingress] starting" in text, f"no plain progress lines: {text}")
    check("\x1b" not in text, "escape sequences on a stderr that is not a terminal")
    check(not BLOCK_HEAD.search(text) and "offered 200/s ·" not in text, f"a live block on a file: {text}")


def main():
    kubeproof, folder = sys.argv[1], sys.argv[2]
    if shutil.which("tmux") is None:
        print("tmux is not installed (scripts/install-deps.sh)")
        return 1
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        plan = write_plan(folder, server.server_address[1])
        in_tmux(os.path.abspath(kubeproof), os.path.abspath(folder), plan)
        plain(kubeproof, folder, plan)
        storage_in_tmux(os.path.abspath(kubeproof), os.path.abspath(folder))
    finally:
        server.shutdown()
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
