"""Shared set-up for the side-by-side benchmarks: paths, the release build, the simulated log."""
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
