#!/usr/bin/env python3
"""clv summary vs lifetimes' summary_data_from_transaction_data on the same simulated log.

Usage (from the repository root):  python3 bench/summary.py [--customers 1000000] [--runs 5] [--peer-runs 3]
Needs: a release build (the script runs `cargo build --release`), pip install lifetimes pandas.

Both sides do the same steps: read the CSV, summarise (frequency, recency, T, monetary_value in
weeks, same-day purchases merged), write a CSV. Wall time and peak RSS come from wait4() on the
child process. The script also checks that both summaries agree before printing the ratio.
"""
import os
import statistics
import subprocess
import sys
import time

from common import CLV, END, OUT, setup

PEER = r"""
import sys, pandas as pd
from lifetimes.utils import summary_data_from_transaction_data
df = pd.read_csv(sys.argv[1])
s = summary_data_from_transaction_data(df, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=sys.argv[3], freq="D", freq_multiplier=7)
s.to_csv(sys.argv[2])
"""


def run(cmd):
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if status != 0:
        sys.exit(f"{cmd[0]} failed:\n{err}")
    return wall, usage.ru_maxrss / 1024


def measure(name, cmd, runs):
    walls, peaks = [], []
    for _ in range(runs):
        w, p = run(cmd)
        walls.append(w)
        peaks.append(p)
    med = statistics.median(walls)
    print(f"{name:<10} median {med:7.3f} s  (runs: {', '.join(f'{w:.3f}' for w in walls)})  peak RSS {max(peaks):6.0f} MiB", flush=True)
    return med, max(peaks)


def agree(ours_path, theirs_path):
    import pandas as pd
    ours = pd.read_csv(ours_path, dtype={"customer_id": str}).set_index("customer_id")
    theirs = pd.read_csv(theirs_path, dtype={"customer_id": str}).set_index("customer_id")
    theirs = theirs.loc[ours.index]
    worst = 0.0
    for col in ["frequency", "recency", "T", "monetary_value"]:
        diff = (ours[col] - theirs[col]).abs() / theirs[col].abs().clip(lower=1.0)
        worst = max(worst, float(diff.max()))
    return len(ours) == len(theirs), worst


def main():
    args, log = setup()
    end = END
    rows = sum(1 for _ in open(log)) - 1
    size = os.path.getsize(log) / 1e6
    print(f"data: {args.customers:,} customers, {rows:,} rows, {size:.0f} MB CSV ({log})")
    ours_out = os.path.join(OUT, "summary_clv.csv")
    theirs_out = os.path.join(OUT, "summary_lifetimes.csv")
    clv = measure("clv", [CLV, "summary", log, "--time-unit", "week", "--observation-end", end, "-o", ours_out], args.runs)
    peer = measure("lifetimes", [sys.executable, "-c", PEER, log, theirs_out, end], args.peer_runs)
    same_rows, worst = agree(ours_out, theirs_out)
    print(f"outputs agree: same customers {same_rows}, worst relative difference {worst:.2e}")
    print(f"ratio: lifetimes / clv = {peer[0] / clv[0]:.1f}x faster, peak memory {clv[1]:.0f} vs {peer[1]:.0f} MiB")


if __name__ == "__main__":
    main()
