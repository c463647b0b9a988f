"""Shared set-up for the side-by-side benchmarks: paths, the release build, the simulated log."""
import argparse
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
CLV = os.path.join(ROOT, "target", "release", "clv")
# Last day of the simulated log (52 weeks from 2024-01-01).
END = "2024-12-29"


def simulated_log(customers):
    """Build clv in release mode and return the path of the seeded log, simulating it if missing."""
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    log = os.path.join(OUT, f"sim_{customers}.csv")
    if not os.path.exists(log):
        subprocess.run([CLV, "simulate", "--customers", str(customers), "--seed", "42", "-o", log],
                       check=True, stderr=subprocess.DEVNULL)
    return log


def setup(extra=None):
    """The options every benchmark takes (--customers, --runs, --peer-runs, and any `extra(ap)`
    adds) and the log to use."""
    ap = argparse.ArgumentParser()
    if extra:
        extra(ap)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5, help="runs of clv")
    ap.add_argument("--peer-runs", type=int, default=3, help="runs of the peer")
    args = ap.parse_args()
    return args, simulated_log(args.customers)
