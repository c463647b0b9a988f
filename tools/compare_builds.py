#!/usr/bin/env python3
"""Run two builds of clv on the same data and check that their outputs are byte-identical.

Usage (from the repository root):
  python3 tools/compare_builds.py OLD_CLV NEW_CLV [--customers 1000000] [--skip-large]

For refactors that must not change a number: `clv score` (with and without intervals),
`clv segments -o`, `clv validate --format json` and `clv report`, on the CDNOW sample and on a
simulated log (written by OLD_CLV's `clv simulate`, seed 42). Prints one line per output and
exits 1 if any differ.
"""
import argparse
import filecmp
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CDNOW = os.path.join(ROOT, "tests", "data", "CDNOW_sample.txt")
CDNOW_COLUMNS = ["--customer-col", "2", "--date-col", "3", "--amount-col", "5"]


def cases(log, columns, calibration_end, observation_end):
    """(name, argv after the input, output file name or None for stdout)."""
    base = columns + ["--observation-end", observation_end]
    return [
        ("score", ["score", log] + base + ["-o", "{out}/score.csv"], "score.csv"),
        ("score --intervals none", ["score", log] + base + ["--intervals", "none", "-o", "{out}/score0.csv"], "score0.csv"),
        ("segments -o", ["segments", log] + base + ["-o", "{out}/segments.csv"], "segments.csv"),
        ("validate --format json", ["validate", log] + base + ["--calibration-end", calibration_end, "--format", "json"], None),
        ("report", ["report", log] + base + ["--calibration-end", calibration_end, "-o", "{out}/report.html"], "report.html"),
    ]


def run(clv, argv, out_dir):
    argv = [a.replace("{out}", out_dir) for a in argv]
    done = subprocess.run([clv] + argv, capture_output=True, check=True)
    return done.stdout


def compare(old, new, label, log, columns, calibration_end, observation_end):
    same = True
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        for name, argv, file in cases(log, columns, calibration_end, observation_end):
            out_a, out_b = run(old, argv, a), run(new, argv, b)
            if file is None:
                equal = out_a == out_b
            else:
                equal = filecmp.cmp(os.path.join(a, file), os.path.join(b, file), shallow=False)
            print(f"{label:>10}  {name:<24} {'identical' if equal else 'DIFFERENT'}")
            same &= equal
    return same


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--skip-large", action="store_true", help="only the CDNOW sample")
    args = ap.parse_args()
    same = compare(args.old, args.new, "CDNOW", CDNOW, CDNOW_COLUMNS, "1997-09-30", "1998-06-30")
    if not args.skip_large:
        out = os.path.join(ROOT, "bench", "out")
        os.makedirs(out, exist_ok=True)
        log = os.path.join(out, f"sim_{args.customers}.csv")
        if not os.path.exists(log):
            subprocess.run([args.old, "simulate", "--customers", str(args.customers), "--seed", "42", "-o", log],
                           check=True, stderr=subprocess.DEVNULL)
        same &= compare(args.old, args.new, f"{args.customers:,}", log, [], "2024-09-30", "2024-12-29")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
