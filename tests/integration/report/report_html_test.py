#!/usr/bin/env python3
"""report.html in headless Chromium (issue 17).

usage: report_html_test.py KUBEPROOF FIXTURE.report.json.gz OUT_DIR [SOAK_FIXTURE.report.json.gz]

For the fixture (a real run's report.json) and for a copy with hostile strings in the plan name, a note and an
INVALID reason: `kubeproof report DIR --format html`, then chromium --dump-dom with console logging, and:
- no console message at all (the page logs nothing when it works; an exception is a console error);
- the page ran to its end (body data-rendered="true");
- every chart drew exactly the data points its model holds, and more than 0; the expected charts are there
  (per phase with data: rate over time with the offered rate of each second, P50/P99 per second, throughput
  over time, latency percentiles, one per stress series), and the time-series charts drew as many points as
  report.json holds (counted here from the file, not from the page);
- the hostile strings appear as text, never as elements;
and a screenshot beside each report. With a soak's report.json (a real soak with a load profile), its hours are
extended to four (hours 1-3 copied from hour 0 with P50/P99 rising, since a test soak lasts seconds, not hours)
and the page must show the soak's hour table (every row, with the load factor) and its hour chart with every
point: each hour's P50 and P99 per metric and the load profile's factor steps.
Exit 0 on success; each failure is printed.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys

HOSTILE = '</script><img src=x onerror="document.title=\'pwned\'">'
CHROMIUM = ["chromium", "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            "--user-data-dir={profile}", "--enable-logging=stderr", "--v=0"]

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def chromium(profile, *args):
    command = [a.format(profile=profile) for a in CHROMIUM] + list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def open_report(kubeproof, folder, report, label):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "report.json"), "w") as out:
        json.dump(report, out)
    ran = subprocess.run([kubeproof, "report", folder, "--format", "html"], capture_output=True, text=True,
                         timeout=60)
    check(ran.returncode == 0, f"{label}: kubeproof report exited {ran.returncode}: {ran.stderr.strip()}")
    page = "file://" + os.path.abspath(os.path.join(folder, "report.html"))
    profile = os.path.join(folder, "chromium-profile")
    dom = chromium(profile, "--dump-dom", page)
    check(dom.returncode == 0, f"{label}: chromium --dump-dom exited {dom.returncode}")
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    check(not console, f"{label}: console messages: {console}")
    shot = chromium(profile, "--screenshot=" + os.path.join(folder, "report.png"), "--window-size=1280,2400",
                    "--hide-scrollbars", page)
    check(shot.returncode == 0 and os.path.getsize(os.path.join(folder, "report.png")) > 10000,
          f"{label}: no screenshot ({shot.returncode})")
    shutil.rmtree(profile, ignore_errors=True)
    return dom.stdout


def charts(dom):
    found = {}
    for canvas in re.findall(r"<canvas\b[^>]*>", dom):
        ident = re.search(r'\bid="([^"]*)"', canvas)
        expected = re.search(r'data-expected-points="(\d+)"', canvas)
        drawn = re.search(r'data-points="(\d+)"', canvas)
        found[ident.group(1) if ident else "?"] = (int(expected.group(1)) if expected else -1,
                                                   int(drawn.group(1)) if drawn else -1)
    return found


def has_percentiles(series):
    return any(p["p50"] is not None or p["p99"] is not None for p in series["points"])


def expected_charts(report):
    names = []
    for phase in report["phases"]:
        timeseries = phase["timeseries"]
        if timeseries["series"]:
            names.append("rate-" + phase["phase"])
        if any(has_percentiles(s) for s in timeseries["series"]):
            names.append("percentiles-" + phase["phase"])
        if timeseries.get("throughput"):
            names.append("throughput-" + phase["phase"])
        if phase["histograms"]:
            names.append("latency-" + phase["phase"])
        names += [f"stress-{phase['phase']}-{n}" for n in range(len(phase["stress"]))]
    return names


def expected_points(report):
    """Points of the time-series charts, from report.json itself."""
    points = {}
    for phase in report["phases"]:
        timeseries = phase["timeseries"]
        name = phase["phase"]
        if timeseries["series"]:
            rate = 0
            for series in timeseries["series"]:
                rate += len(series["points"])
                if any(p["errors"] > 0 for p in series["points"]):
                    rate += len(series["points"])
            if timeseries.get("offered_points"):
                rate += len(timeseries["offered_points"])
            elif timeseries["offered"] is not None:
                rate += 2
            points["rate-" + name] = rate
        percentiles = sum(sum(p[k] is not None for p in s["points"] for k in ("p50", "p99"))
                          for s in timeseries["series"])
        if percentiles:
            points["percentiles-" + name] = percentiles
        if timeseries.get("throughput"):
            points["throughput-" + name] = sum(len(s["points"]) for s in timeseries["throughput"])
    return points


def soak_points(report):
    """Points of the soak's hour chart, from report.json itself."""
    soak = report["soak"]
    points = sum((h["p50"] is not None) + (h["p99"] is not None) for h in soak["hours"])
    profile = soak.get("load_profile")
    if profile and profile["factors"]:
        points += len(profile["factors"]) + 1  # each change, and the last factor held to the soak's time so far
    return points


def check_soak(kubeproof, fixture, out):
    with gzip.open(fixture, "rt") as f:
        report = json.load(f)
    soak = report["soak"]
    check(soak is not None and soak["hours"], "the soak fixture should have soak.hours")
    check(soak.get("load_profile") and len(soak["load_profile"]["factors"]) >= 2,
          "the soak fixture should have a load profile with a step")
    first = [h for h in soak["hours"] if h["hour"] == 0]
    for hour in range(1, 4):
        for row in first:
            later = json.loads(json.dumps(row))
            later["hour"] = hour
            later["p50"] = row["p50"] * (1 + 0.1 * hour)
            later["p99"] = row["p99"] * (1 + 0.2 * hour)
            later["load_factors"] = [1.0]
            soak["hours"].append(later)
    dom = open_report(kubeproof, os.path.join(out, "soak"), report, "soak")
    check('data-rendered="true"' in dom, "soak: the page's script did not run to its end")
    drawn = charts(dom)
    wanted = expected_charts(report) + ["soak-hours"]
    check(sorted(drawn) == sorted(wanted), f"soak charts: wanted {sorted(wanted)}, page has {sorted(drawn)}")
    for name, (expected, points) in drawn.items():
        check(expected > 0 and points == expected, f"soak chart {name}: {points} points drawn of {expected}")
    check(drawn.get("soak-hours", (0, -1))[1] == soak_points(report),
          f"chart soak-hours: {drawn.get('soak-hours', (0, -1))[1]} points drawn, "
          f"report.json holds {soak_points(report)}")
    section = re.search(r'<section[^>]*id="soak".*?</section>', dom, re.S)
    check(section is not None, "soak: no soak section")
    if section:
        text = section.group(0)
        check("Soak: latency hour by hour" in text and "Load factor" in text, "soak: no hour table")
        rows = re.findall(r"<tr>(.*?)</tr>", text, re.S)
        check(len(rows) == len(soak["hours"]) + 1,
              f"soak: {len(rows) - 1} table rows for {len(soak['hours'])} hours")
        for hour in range(4):
            check(f"<td>{hour}-{hour + 1}h</td>" in text, f"soak: no row for hour {hour}")
        check("<td>10%, 100%</td>" in text, "soak: hour 0's load factors (10%, 100%) are not shown")
        check(soak["load_profile"]["text"] in text, "soak: the load profile is not shown")


def main():
    kubeproof, fixture, out = sys.argv[1:4]
    shutil.rmtree(out, ignore_errors=True)
    with gzip.open(fixture, "rt") as f:
        report = json.load(f)

    dom = open_report(kubeproof, os.path.join(out, "run"), report, "real run")
    check('data-rendered="true"' in dom, "real run: the page's script did not run to its end")
    drawn = charts(dom)
    wanted = expected_charts(report)
    check(len(wanted) >= 6, f"the fixture should have rate, latency and stress charts, has {wanted}")
    check(sorted(drawn) == sorted(wanted), f"charts: wanted {sorted(wanted)}, page has {sorted(drawn)}")
    for name, (expected, points) in drawn.items():
        check(expected > 0 and points == expected, f"chart {name}: {points} points drawn of {expected}")
    for name, points in expected_points(report).items():
        check(drawn.get(name, (0, -1))[1] == points,
              f"chart {name}: {drawn.get(name, (0, -1))[1]} points drawn, report.json holds {points}")
    # The fixture has what each kind of chart draws: offered per second, the network's streams and request/
    # response tests, fio's jobs.
    for name in ("rate-network", "percentiles-network", "throughput-network", "rate-storage",
                 "percentiles-storage", "throughput-storage"):
        check(name in wanted, f"the fixture should have the chart {name}")
    check(any(p["timeseries"].get("offered_points") for p in report["phases"]),
          "the fixture should have an offered rate per second")
    check(report["overall"]["verdict_text"] in dom and "breaking point:" in dom,
          "the overall verdict or the breaking point is missing")

    hostile = json.loads(json.dumps(report))
    hostile["meta"]["plan"] = HOSTILE
    hostile["overall"]["reason"] = HOSTILE
    dns = next(p for p in hostile["phases"] if p["phase"] == "dns")
    dns["notes"].append(HOSTILE)
    dns["invalid_reasons"].append(HOSTILE)
    dom = open_report(kubeproof, os.path.join(out, "hostile"), hostile, "hostile strings")
    check('data-rendered="true"' in dom, "hostile strings: the page's script did not run to its end")
    check(re.search(r"<img\b", dom) is None, "hostile strings: an <img> element was created")
    check("<title>pwned</title>" not in dom, "hostile strings: the handler ran")
    check(dom.count("&lt;/script&gt;&lt;img src=x onerror=") >= 4,
          "hostile strings: not shown as text in the header, meta table, notes and INVALID reasons")

    if len(sys.argv) > 4:
        check_soak(kubeproof, sys.argv[4], out)

    for failure in failures:
        print("FAIL:", failure)
    print(f"report_html_test: {len(failures)} failure(s); screenshots in {out}/*/report.png")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
