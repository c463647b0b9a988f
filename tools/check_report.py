#!/usr/bin/env python3
"""Open a clv HTML report in headless Chromium and check it: the page loads with no console
errors, every chart figure holds a drawn SVG, and a screenshot is written.

Usage: python3 tools/check_report.py REPORT.html SCREENSHOT.png
Needs: Debian's chromium (`apt-get install chromium`). Exits non-zero with the reason on failure.
"""
import os
import re
import subprocess
import sys


def chromium(*args):
    cmd = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--enable-logging=stderr", "--log-level=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def main():
    report, screenshot = sys.argv[1], sys.argv[2]
    url = "file://" + os.path.abspath(report)
    source = open(report, encoding="utf-8").read()
    dom = chromium("--dump-dom", url)
    if dom.returncode != 0 or "<main>" not in dom.stdout:
        sys.exit(f"chromium could not load {report}: {dom.stderr[-2000:]}")
    errors = [line for line in dom.stderr.splitlines()
              if ":CONSOLE" in line and ("rror" in line or "Uncaught" in line)]
    if errors:
        sys.exit("console errors:\n" + "\n".join(errors))
    figures = re.findall(r'<figure class="chart" id="(chart-\d+)">(.*?)</figure>', dom.stdout, re.S)
    expected = source.count('<figure class="chart"')
    if len(figures) != expected or expected == 0:
        sys.exit(f"{len(figures)} chart figures in the rendered page, {expected} in the file")
    for chart_id, body in figures:
        marks = len(re.findall(r"<(rect|polyline|line)\b", body))
        if "<svg" not in body or marks < 2:
            sys.exit(f"{chart_id} did not render: {marks} drawn marks")
    if os.path.exists(screenshot):
        os.remove(screenshot)
    shot = chromium("--window-size=1200,2400", f"--screenshot={os.path.abspath(screenshot)}", url)
    if shot.returncode != 0 or not os.path.exists(screenshot) or os.path.getsize(screenshot) < 20_000:
        sys.exit(f"no screenshot: {shot.stderr[-2000:]}")
    print(f"{report}: loaded with no console errors; {len(figures)} charts drawn; screenshot {screenshot} "
          f"({os.path.getsize(screenshot) // 1024} KB)")


if __name__ == "__main__":
    main()
