#!/usr/bin/env python3
"""clv on local Spark vs lifetimes on Spark the way the Databricks CLV accelerator runs it, on the
same order log in the same local JVM Spark (pyspark, local[*]).

- clv: `clv.spark.summarize` (the Rust ledger per partition), `clv.spark.fit` (BG/NBD on counted
  patterns), `clv.spark.score` (P(alive) and 52-week expected purchases by mapInArrow).
- lifetimes: the summary with `applyInPandas` over 16 groups of customers (lifetimes'
  `summary_data_from_transaction_data` on each group), BG/NBD fitted on the driver with lifetimes,
  and the scores by a pandas UDF calling the fitted model.

Usage (from the repository root, the release wheel installed in target/pyvenv):
  target/pyvenv/bin/python bench/spark.py [--customers 430000] [--runs 1]
  target/pyvenv/bin/python bench/spark.py --scale --customers 4300000 [--partitions 8]
The log is simulated by `clv simulate` (430,000 customers give about 1,000,000 orders). Each
method is timed end to end (read, summary, fit, scores written to a noop sink) in its own session.

`--scale` runs clv alone on local[2] with 1 GiB of driver memory: summary and BG/NBD fit, then
the peak resident memory of every Python worker (each reports its own `ru_maxrss` in a second job;
Spark reuses the workers that ran the ledger) and of the JVM, and the parameters of `clv fit` on
the same file (the release CLI), with their largest relative difference.
"""
import os
import statistics
import subprocess
import sys
import time

from common import CLV, END, OUT, setup

RUN = r"""
import sys, time
import pandas as pd
from pyspark.sql import SparkSession, functions as F
spark = (SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.memory", "4g").getOrCreate())
log, end, method = sys.argv[1], sys.argv[2], sys.argv[3]
orders = spark.read.csv(log, header=True, schema="customer_id string, date date, amount double")
start = time.perf_counter()
if method == "clv":
    import clv.spark
    summary = clv.spark.summarize(orders, end=end, freq="D", freq_multiplier=7)
    bg = clv.spark.fit(summary, "bgnbd")
    scores = clv.spark.score(summary, bg, horizon=52)
else:
    import lifetimes
    from lifetimes.utils import summary_data_from_transaction_data

    def per_customer(group):
        group = group.assign(date=pd.to_datetime(group["date"]))
        s = summary_data_from_transaction_data(group, "customer_id", "date",
                                               monetary_value_col="amount",
                                               observation_period_end=end, freq="D",
                                               freq_multiplier=7)
        return s.reset_index()

    # Each group holds every order of its customers: lifetimes summarises a group at a time.
    groups = orders.withColumn("g", F.abs(F.hash("customer_id")) % 16)
    summary = groups.groupBy("g").applyInPandas(
        per_customer, "customer_id string, frequency double, recency double, T double, "
                      "monetary_value double").cache()
    local = summary.toPandas()
    bg = lifetimes.BetaGeoFitter().fit(local["frequency"], local["recency"], local["T"])

    @F.pandas_udf("double")
    def p_alive(x: pd.Series, t_x: pd.Series, big_t: pd.Series) -> pd.Series:
        return pd.Series(bg.conditional_probability_alive(x, t_x, big_t))

    @F.pandas_udf("double")
    def expected(x: pd.Series, t_x: pd.Series, big_t: pd.Series) -> pd.Series:
        return pd.Series(bg.conditional_expected_number_of_purchases_up_to_time(52, x, t_x, big_t))

    scores = summary.select("customer_id", p_alive("frequency", "recency", "T").alias("p_alive"),
                            expected("frequency", "recency", "T").alias("expected_purchases"))
scores.write.format("noop").mode("overwrite").save()
elapsed = time.perf_counter() - start
print(f"RESULT {elapsed:.3f} " + " ".join(f"{v:.6f}" for v in bg.params_.to_numpy()))
spark.stop()
"""


SCALE = r"""
import json, resource, sys
from pyspark.sql import SparkSession, functions as F
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.memory", "1g").getOrCreate())
import clv.spark
log, end, partitions = sys.argv[1], sys.argv[2], int(sys.argv[3]) or None
orders = spark.read.csv(log, header=True, schema="customer_id string, date date, amount double")
summary = clv.spark.summarize(orders, end=end, freq="D", freq_multiplier=7, partitions=partitions)
bg = clv.spark.fit(summary, "bgnbd")

def peak(batches):
    import os, resource
    import pyarrow as pa
    for _ in batches:
        pass
    yield pa.RecordBatch.from_arrays([pa.array([os.getpid()]), pa.array(
        [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024])], names=["pid", "mib"])

workers = {r["pid"]: r["mib"] for r in summary.frame.mapInArrow(peak, "pid long, mib double")
           .collect()}
print("RESULT " + json.dumps({"params": {k: float(v) for k, v in bg.params_.items()},
                              "customers": summary.frame.count(), "report": summary.report,
                              "worker_peak_mib": sorted(workers.values())}))
spark.stop()
"""


def spark_env():
    """Spark's Python workers and driver in this interpreter (the venv with the wheel), on
    loopback."""
    return dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
                SPARK_LOCAL_IP="127.0.0.1")


def jvm_peak_mib(pid):
    """The peak resident memory (VmHWM) of `pid`'s java children, read while they run."""
    peak = 0.0
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except (OSError, ValueError):
            continue
        if status.get("PPid", "").strip() == str(pid) and status["Name"].strip() == "java":
            peak = max(peak, int(status["VmHWM"].split()[0]) / 1024)
    return peak


def scale(log, partitions):
    """clv.spark on a large log: memory per worker, and the parameters next to `clv fit`'s."""
    import json
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", SCALE, log, END, str(partitions)], env=spark_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    jvm = 0.0
    while child.poll() is None:
        jvm = max(jvm, jvm_peak_mib(child.pid))
        time.sleep(1)
    elapsed = time.perf_counter() - start
    line = next(l for l in child.stdout.read().splitlines() if l.startswith("RESULT"))
    result = json.loads(line[len("RESULT "):])
    saved = os.path.join(OUT, "scale_fit.json")
    subprocess.run([CLV, "fit", log, "--model", "bgnbd", "--observation-end", END, "-o", saved],
                   check=True, capture_output=True)
    with open(saved) as f:
        fitted = json.load(f)["fit"]
    cli = dict(zip(fitted["names"], fitted["params"]))
    ours = dict(zip(cli, result["params"].values()))
    worst = max(abs(ours[k] - cli[k]) / abs(cli[k]) for k in cli)
    print(f"{result['customers']:,} customers; {elapsed:.0f} s end to end (JVM start included)")
    print(f"Python workers' peak RSS (MiB): {result['worker_peak_mib']}; JVM peak {jvm:.0f} MiB")
    print(f"ledger: {result['report']['ledger']}; rows left out: "
          f"{result['report']['rejected']['counts']}")
    print(f"BG/NBD clv.spark {ours}\n       clv fit   {cli}\n"
          f"largest relative difference {worst:.1e}")


def run(method, log):
    done = subprocess.run([sys.executable, "-c", RUN, log, END, method], env=spark_env(),
                          check=True, capture_output=True, text=True)
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT"))
    fields = line.split()
    return float(fields[1]), fields[2:]


def extra(ap):
    ap.set_defaults(customers=430_000)
    ap.add_argument("--scale", action="store_true", help="clv alone on a large log: memory")
    ap.add_argument("--partitions", type=int, default=0, help="--scale: summarize's partitions")


def main():
    args, log = setup(extra)
    if args.scale:
        return scale(log, args.partitions)
    with open(log) as f:
        orders = sum(1 for _ in f) - 1
    ours = [run("clv", log) for _ in range(args.runs)]
    theirs = [run("lifetimes", log) for _ in range(args.peer_runs)]
    a = statistics.median(t for t, _ in ours)
    b = statistics.median(t for t, _ in theirs)
    print(f"{orders:,} orders, {args.customers:,} customers, local[*] Spark")
    print(f"| clv.spark | {a:.1f} s |\n| lifetimes (applyInPandas + pandas UDF) | {b:.1f} s |")
    print(f"ratio {b / a:.1f}×; BG/NBD params clv {ours[0][1]}, lifetimes {theirs[0][1]}")


if __name__ == "__main__":
    main()
