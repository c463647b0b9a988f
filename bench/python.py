#!/usr/bin/env python3
"""clv's Python package vs lifetimes, the same calls on the same data in one process each:
summary from transactions, BG/NBD fit, Gamma-Gamma fit, and scoring (P(alive), expected purchases
over 52 weeks and lifetimes' 12-month CLV).

Usage (from the repository root, with the release wheel installed in the venv):
  (cd crates/8-apps/clv-python && maturin build --release --out ../../../target/wheels-release)
  target/pyvenv/bin/pip install --force-reinstall --no-deps target/wheels-release/clv-*.whl
  target/pyvenv/bin/python bench/python.py [--customers 1000000] [--runs 3] [--peer-runs 1]

The log is bench/out/sim_N.csv (simulated by `clv simulate`, made here if missing), read with
pandas before timing. Each step is timed alone, both packages on the same inputs; the medians and
the ratio lifetimes / clv are printed, with each process's peak RSS.
"""
import json
import os
import statistics
import subprocess
import sys

from common import setup

STEPS = r"""
import json, resource, sys, time
import pandas as pd
lib = sys.argv[2]
if lib == "clv":
    import clv as pkg
    from clv.utils import summary_data_from_transaction_data
else:
    import lifetimes as pkg
    from lifetimes.utils import summary_data_from_transaction_data
orders = pd.read_csv(sys.argv[1], parse_dates=["date"])
out = {}
def timed(name, f):
    start = time.perf_counter()
    value = f()
    out[name] = time.perf_counter() - start
    return value
s = timed("summary", lambda: summary_data_from_transaction_data(
    orders, "customer_id", "date", monetary_value_col="amount", freq="D", freq_multiplier=7))
bg = timed("BG/NBD fit", lambda: pkg.BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"]))
repeat = s[s["frequency"] > 0]
gg = timed("Gamma-Gamma fit", lambda: pkg.GammaGammaFitter().fit(repeat["frequency"],
                                                                 repeat["monetary_value"]))
def score():
    alive = bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    expected = bg.conditional_expected_number_of_purchases_up_to_time(
        52, s["frequency"], s["recency"], s["T"])
    value = gg.customer_lifetime_value(bg, repeat["frequency"], repeat["recency"], repeat["T"],
                                       repeat["monetary_value"], time=12, discount_rate=0.01,
                                       freq="W")
    return float(alive.sum() + expected.sum() + value.sum())
out["check"] = timed("scoring", score)
out["params"] = {k: float(v) for k, v in bg.params_.items()}
out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""

STEP_NAMES = ["summary", "BG/NBD fit", "Gamma-Gamma fit", "scoring"]


def run(lib, log):
    done = subprocess.run([sys.executable, "-c", STEPS, log, lib], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    args, log = setup()
    clv_runs = [run("clv", log) for _ in range(args.runs)]
    peer_runs = [run("lifetimes", log) for _ in range(args.peer_runs)]
    print(f"{args.customers:,} customers ({os.path.basename(log)}); medians of {args.runs} clv "
          f"and {args.peer_runs} lifetimes runs")
    print(f"| step | clv | lifetimes | ratio |\n|---|---|---|---|")
    for step in STEP_NAMES:
        ours = statistics.median(r[step] for r in clv_runs)
        theirs = statistics.median(r[step] for r in peer_runs)
        print(f"| {step} | {ours:.3f} s | {theirs:.2f} s | **{theirs / ours:.0f}×** |")
    print(f"peak RSS: clv {max(r['peak_rss_mib'] for r in clv_runs):.0f} MiB, lifetimes "
          f"{max(r['peak_rss_mib'] for r in peer_runs):.0f} MiB")
    ours, theirs = clv_runs[0], peer_runs[0]
    print("BG/NBD parameters, clv vs lifetimes:",
          {k: (round(ours["params"][k], 6), round(theirs["params"][k], 6)) for k in ours["params"]})
    print(f"sum of scores: clv {ours['check']:.6f}, lifetimes {theirs['check']:.6f}")


if __name__ == "__main__":
    main()
