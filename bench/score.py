#!/usr/bin/env python3
"""`clv score` with and without intervals, and lifetimes' scoring of the same customers.

Usage (from the repository root):
  python3 bench/score.py [--model bgnbd|pareto] [--format csv|parquet] [--customers 1000000]
                         [--runs 3] [--peer-runs 1]
Needs: pip install lifetimes pandas (only with --peer-runs > 0).

clv: the whole command (read the log, summarise, fit the purchase and Gamma-Gamma models, score
every customer, write the file), timed with /usr/bin/time for wall time and peak RSS, with
`--intervals none` and with the default delta-method intervals (`_lower`/`_upper` on every
prediction and a predictive interval for the count). lifetimes: from its summary of the same log
(clv's summary file, identical to lifetimes' own as bench/summary.py checks), fit BG/NBD (or
Pareto/NBD) and Gamma-Gamma, then P(alive), expected purchases and a 12-month CLV at 10%/year
for every customer, as its docs show; reading the summary is not timed for it.
"""
import os
import re
import statistics
import subprocess
import sys

from common import CLV, END, OUT, setup

PEER = r"""
import sys, time, pandas as pd
from lifetimes import BetaGeoFitter, ParetoNBDFitter, GammaGammaFitter
s = pd.read_csv(sys.argv[1])
start = time.perf_counter()
m = {"bgnbd": BetaGeoFitter, "pareto": ParetoNBDFitter}[sys.argv[2]]().fit(s["frequency"], s["recency"], s["T"])
alive = m.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
expected = m.conditional_expected_number_of_purchases_up_to_time(52.18, s["frequency"], s["recency"], s["T"])
r = s[s["frequency"] > 0]
gg = GammaGammaFitter().fit(r["frequency"], r["monetary_value"])
clv = gg.customer_lifetime_value(m, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                 time=12, discount_rate=1.10 ** (1 / 12) - 1, freq="W")
print(time.perf_counter() - start)
"""


def timed(cmd):
    """Wall seconds and peak RSS (MiB) of one run."""
    done = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + cmd, capture_output=True, text=True, check=True)
    wall, kb = re.search(r"TIME ([0-9.]+) ([0-9]+)", done.stderr).groups()
    return float(wall), int(kb) / 1024


def main():
    def extra(ap):
        ap.add_argument("--model", choices=["bgnbd", "pareto"], default="bgnbd")
        ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
        ap.add_argument("--out-dir", default=OUT, help="where clv writes the scores (e.g. /dev/shm to leave the disk out)")
    args, log = setup(extra)
    out = os.path.join(args.out_dir, f"scores.{args.format}")
    results = {}
    for intervals in ["none", "delta"]:
        runs = [timed([CLV, "score", log, "--observation-end", END, "--model", args.model,
                       "--intervals", intervals, "-o", out]) for _ in range(args.runs)]
        results[intervals] = runs
        walls = [w for w, _ in runs]
        print(f"clv score --intervals {intervals:5}  median {statistics.median(walls):6.2f} s  "
              f"peak {max(m for _, m in runs):5.0f} MiB  (runs: {', '.join(f'{w:.2f}' for w in walls)}; "
              f"{os.path.getsize(out) / 1e6:.0f} MB {args.format})")
    none = statistics.median(w for w, _ in results["none"])
    delta = statistics.median(w for w, _ in results["delta"])
    print(f"intervals add {100 * (delta / none - 1):.0f}% to clv score "
          f"({args.model}, {args.customers:,} customers, {args.format})")
    if args.peer_runs:
        summary = os.path.join(OUT, "fit_summary.csv")
        subprocess.run([CLV, "summary", log, "--time-unit", "week", "--observation-end", END, "-o", summary],
                       check=True, stderr=subprocess.DEVNULL)
        peer = []
        for _ in range(args.peer_runs):
            done = subprocess.run([sys.executable, "-c", PEER, summary, args.model],
                                  capture_output=True, text=True, check=True)
            peer.append(float(done.stdout.strip().splitlines()[-1]))
        print(f"lifetimes fit + score  median {statistics.median(peer):6.2f} s  (runs: {', '.join(f'{p:.2f}' for p in peer)})")
        print(f"ratio: lifetimes / clv score --intervals none = {statistics.median(peer) / none:.0f}x")


if __name__ == "__main__":
    main()
