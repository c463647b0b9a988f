#!/usr/bin/env python3
"""Purchase-model fit: clv vs lifetimes (BetaGeoFitter or ParetoNBDFitter) on the same simulated
1,000,000-customer log.

Usage (from the repository root):
  python3 bench/fit.py [--model bgnbd|pareto] [--customers 1000000] [--runs 5] [--peer-runs 3]
Needs: pip install lifetimes pandas; the log from bench/summary.py (made here if missing).

Timed for both: the fit alone, on the weekly (frequency, recency, T) summary of the log. clv's fit
time is the `fit` phase it logs with -v (compressing identical rows included); the whole
`clv fit` command (read, summarise, fit) is timed too. lifetimes fits its summary of the same
log (clv's summary file, identical to lifetimes' own as bench/summary.py checks), without
weights, as its docs show.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

from common import CLV, END, OUT, setup

PEER = r"""
import sys, time, json, pandas as pd
from lifetimes import BetaGeoFitter, ParetoNBDFitter
s = pd.read_csv(sys.argv[1])
start = time.perf_counter()
f = {"bgnbd": BetaGeoFitter, "pareto": ParetoNBDFitter}[sys.argv[2]]().fit(s["frequency"], s["recency"], s["T"])
print(json.dumps({"seconds": time.perf_counter() - start, "params": {k: float(v) for k, v in f.params_.items()}}))
"""


def elapsed_seconds(text):
    m = re.search(r"fit elapsed=([0-9.]+)(ms|s|µs)", re.sub(r"\x1b\[[0-9;]*m", "", text))
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "ms" else value / 1e6 if unit == "µs" else value


def main():
    args, log = setup(lambda ap: ap.add_argument("--model", choices=["bgnbd", "pareto"], default="bgnbd"))
    names = {"bgnbd": ("r", "alpha", "a", "b"), "pareto": ("r", "alpha", "s", "beta")}[args.model]
    end = END
    summary = os.path.join(OUT, "fit_summary.csv")
    subprocess.run([CLV, "summary", log, "--time-unit", "week", "--observation-end", end, "-o", summary],
                   check=True, stderr=subprocess.DEVNULL)
    model = os.path.join(OUT, f"{args.model}.json")
    fits, wholes = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        done = subprocess.run([CLV, "-v", "fit", log, "--model", args.model, "--time-unit", "week",
                               "--observation-end", end, "-o", model],
                              capture_output=True, text=True, check=True)
        wholes.append(time.perf_counter() - start)
        fits.append(elapsed_seconds(done.stderr))
    ours = json.load(open(model))["parameters"]
    peer = []
    for _ in range(args.peer_runs):
        done = subprocess.run([sys.executable, "-c", PEER, summary, args.model], capture_output=True, text=True, check=True)
        peer.append(json.loads(done.stdout.strip().splitlines()[-1]))
    theirs = peer[-1]["params"]
    worst = max(abs(ours[k] - theirs[k]) / abs(theirs[k]) for k in names)
    clv_fit = statistics.median(fits)
    peer_fit = statistics.median(p["seconds"] for p in peer)
    print(f"model: {args.model}; data: {args.customers:,} customers ({log})")
    print(f"clv fit        median {clv_fit:7.3f} s  (runs: {', '.join(f'{f:.3f}' for f in fits)})")
    print(f"clv fit, whole median {statistics.median(wholes):7.3f} s  (read + summarise + fit)")
    peer_runs = ", ".join("%.3f" % p["seconds"] for p in peer)
    print(f"lifetimes fit  median {peer_fit:7.3f} s  (runs: {peer_runs})")
    print(f"parameters: clv {ours}; lifetimes {theirs}; worst relative difference {worst:.1e}")
    print(f"ratio: lifetimes / clv (fit alone) = {peer_fit / clv_fit:.0f}x")


if __name__ == "__main__":
    main()
