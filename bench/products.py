#!/usr/bin/env python3
"""`clv replenish` and `clv cross-sell` on about 1,000,000 orders over 10,000 SKUs (≈4 lines per
order), and mlxtend's apriori + association_rules side by side on a part it can finish.

Usage (from the repository root):
  python3 bench/products.py [--runs 5] [--peer-orders 50000] [--peer-runs 1]
Needs: pip install mlxtend pandas (only with --peer-runs > 0).

The log: `clv simulate --customers 330000 --skus 10000 --lines-per-order 5
--replenishable-share 0.02 --seed 42` (replenishment re-orders are one-line orders, so the mean
is ≈4.3 lines per order). clv: the whole command (read, collect product lines, compute, write),
wall time and peak RSS from /usr/bin/time. mlxtend: the first --peer-orders orders, one-hot
encoded (not timed), apriori (max_len 3, as clv) and association_rules, at the same minimum
support, confidence and lift as clv; clv runs on the same orders and the rule counts must agree.
"""
import os
import re
import statistics
import subprocess
import sys

from common import CLV, OUT, ROOT

PEER = r"""
import sys, time, pandas as pd
from mlxtend.frequent_patterns import apriori, association_rules
lines = pd.read_csv(sys.argv[1])
onehot = pd.crosstab(lines["order_id"], lines["sku"]) > 0
start = time.perf_counter()
itemsets = apriori(onehot, min_support=float(sys.argv[2]), use_colnames=True, max_len=3)
try:
    rules = association_rules(itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=float(sys.argv[3]))
except TypeError:
    rules = association_rules(itemsets, metric="confidence", min_threshold=float(sys.argv[3]))
rules = rules[rules["lift"] >= float(sys.argv[4])]
print(time.perf_counter() - start, len(rules))
"""


def timed(cmd):
    done = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + cmd, capture_output=True, text=True, check=True)
    wall, kb = re.search(r"TIME ([0-9.]+) ([0-9]+)", done.stderr).groups()
    return float(wall), int(kb) / 1024, done


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--peer-orders", type=int, default=50_000)
    ap.add_argument("--peer-runs", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    log = os.path.join(OUT, "products_1m.csv")
    if not os.path.exists(log):
        subprocess.run([CLV, "simulate", "--customers", "330000", "--skus", "10000", "--lines-per-order", "5",
                        "--replenishable-share", "0.02", "--seed", "42", "-o", log], check=True, stderr=subprocess.DEVNULL)
    with open(log) as f:
        lines = sum(1 for _ in f) - 1
    orders = int(subprocess.run(["tail", "-1", log], capture_output=True, text=True).stdout.split(",")[1][1:])
    print(f"log: {lines:,} lines, {orders:,} orders ({lines / orders:.2f} lines per order), 10,000 SKUs: {log}")
    for name, cmd in [
        ("replenish", [CLV, "replenish", log, "-o", os.path.join(OUT, "reminders.csv")]),
        ("cross-sell", [CLV, "cross-sell", log, "-o", os.path.join(OUT, "rules.csv")]),
    ]:
        runs = [timed(cmd)[:2] for _ in range(args.runs)]
        walls = [w for w, _ in runs]
        print(f"clv {name:10} median {statistics.median(walls):5.2f} s  peak {max(m for _, m in runs):5.0f} MiB  "
              f"(runs: {', '.join(f'{w:.2f}' for w in walls)})")
    if args.peer_runs:
        # The first orders (the log is in time order; order ids o1, o2, … in that order).
        part = os.path.join(OUT, f"products_{args.peer_orders}.csv")
        with open(log) as src, open(part, "w") as dst:
            dst.write(src.readline())
            for line in src:
                if int(line.split(",")[1][1:]) > args.peer_orders:
                    break
                dst.write(line)
        support, confidence, lift = "0.001", "0.05", "1.0"
        wall, _, done = timed([CLV, "cross-sell", part, "--min-support", support, "--min-confidence", confidence,
                               "--min-lift", lift, "-o", os.path.join(OUT, "rules_part.csv")])
        ours = int(re.search(r"([0-9,]+) rules", done.stdout).group(1).replace(",", ""))
        peer = []
        for _ in range(args.peer_runs):
            out = subprocess.run([sys.executable, "-c", PEER, part, support, confidence, lift],
                                 capture_output=True, text=True, check=True).stdout.split()
            peer.append((float(out[0]), int(out[1])))
        peer_wall = statistics.median(p[0] for p in peer)
        print(f"first {args.peer_orders:,} orders: clv cross-sell {wall:.2f} s (whole command), {ours} rules; "
              f"mlxtend apriori + association_rules {peer_wall:.2f} s (one-hot encoding not timed), {peer[-1][1]} rules; "
              f"ratio {peer_wall / wall:.0f}x")


if __name__ == "__main__":
    main()
