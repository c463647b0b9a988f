"""clv.spark against the single-machine package: on a simulated 100,000-customer log split over 8
partitions, the Spark summary, parameters and scores equal :mod:`clv`'s on the same file. Most runs
use a Spark Connect server that starts in a second (pysail, in this process, on 127.0.0.1); one
smoke test runs the same calls on local JVM Spark (pyspark with Debian's openjdk-17), in a
subprocess, because one Python process holds either a Connect or a classic session.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import clv
import clv.spark
import clv.utils

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CUSTOMERS = 100_000
PARTITIONS = 8
END = "2024-12-29"


def check(what, ours, theirs, rel=1e-12, abs_=1e-12):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    worst = np.abs(ours - theirs) - (rel * np.abs(theirs) + abs_)
    i = int(np.argmax(worst))
    assert worst[i] <= 0, f"{what}: row {i}: Spark {ours[i]!r} vs one machine {theirs[i]!r}"


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A log simulated by `clv simulate` (BG/NBD customers, Gamma-Gamma spend)."""
    binary = os.environ.get("CLV_BIN", os.path.join(ROOT, "target", "debug", "clv"))
    assert os.path.exists(binary), f"{binary}: build it first (cargo build)"
    path = tmp_path_factory.mktemp("spark") / "orders.csv"
    subprocess.run([binary, "simulate", "--customers", str(CUSTOMERS), "--seed", "11", "-o",
                    str(path)], check=True, capture_output=True)
    return str(path)


@pytest.fixture(scope="module")
def local(log):
    """The single-machine summary, in weeks."""
    orders = pd.read_csv(log, parse_dates=["date"])
    return clv.utils.summary_data_from_transaction_data(
        orders, "customer_id", "date", monetary_value_col="amount", observation_period_end=END,
        freq="D", freq_multiplier=7)


@pytest.fixture(scope="module")
def spark():
    from pysail.spark import SparkConnectServer
    from pyspark.sql import SparkSession

    server = SparkConnectServer("127.0.0.1", 0)
    server.start(background=True)
    host, port = server.listening_address
    session = SparkSession.builder.remote(f"sc://{host}:{port}").getOrCreate()
    yield session
    session.stop()
    server.stop()


@pytest.fixture(scope="module")
def summary(spark, log):
    orders = spark.read.csv(log, header=True,
                            schema="customer_id string, date date, amount double")
    return clv.spark.summarize(orders.repartition(PARTITIONS), end=END, freq="D",
                               freq_multiplier=7, partitions=PARTITIONS)


def by_customer(frame):
    return frame.toPandas().set_index("customer_id").sort_index()


def test_summary_equals_one_machine(summary, local):
    ours = by_customer(summary.frame)
    assert list(ours.index) == list(local.index)
    for column in ["frequency", "recency", "T", "monetary_value"]:
        check(column, ours[column], local[column])
    report = summary.report
    assert report["partitions"] == PARTITIONS
    assert report["ledger"]["lines"] == local.attrs["clv_report"]["ledger"]["lines"]
    assert report["rejected"]["counts"] == {}


def test_fit_and_scores_equal_one_machine(summary, local):
    bg = clv.spark.fit(summary, "bgnbd")
    one = clv.BetaGeoFitter().fit(local["frequency"], local["recency"], local["T"])
    # Patterns with counts are the same likelihood as every customer: the same optimum.
    check("BG/NBD params", bg.params_, one.params_, rel=1e-9)
    check("BG/NBD se", bg.standard_errors_, one.standard_errors_, rel=1e-6)
    gg = clv.spark.fit(summary, "gg")
    repeat = local[local["frequency"] > 0]
    gg_one = clv.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    check("Gamma-Gamma params", gg.params_, gg_one.params_, rel=1e-9)
    scores = by_customer(clv.spark.score(summary, bg, horizon=26, spend_model=gg))
    x, t_x, big_t, m = (local[c] for c in ["frequency", "recency", "T", "monetary_value"])
    check("P(alive)", scores["p_alive"], bg.conditional_probability_alive(x, t_x, big_t))
    check("expected purchases", scores["expected_purchases"],
          bg.conditional_expected_number_of_purchases_up_to_time(26, x, t_x, big_t))
    check("CLV", scores["clv"], gg.customer_lifetime_value(bg, x, t_x, big_t, m, time=12,
                                                           discount_rate=0.01, freq="W"))


def test_spark_fit_equals_the_cli(summary, log, tmp_path):
    """`clv fit` on the same file gives the parameters clv.spark fits from the partitions: to
    1e-9 for BG/NBD (the same patterns), to 1e-6 for Gamma-Gamma (the CLI fits one row per
    buyer, clv.spark merged rows: the same likelihood summed in another order, so the two
    L-BFGS runs stop about 1e-7 apart along the flat p–q–γ ridge)."""
    binary = os.environ.get("CLV_BIN", os.path.join(ROOT, "target", "debug", "clv"))
    for model, rel in [("bgnbd", 1e-9), ("gg", 1e-6)]:
        saved = tmp_path / f"{model}.json"
        subprocess.run([binary, "fit", log, "--model", model, "--observation-end", END, "-o",
                        str(saved)], check=True, capture_output=True)
        cli = json.loads(saved.read_text())["fit"]["params"]
        check(f"{model} parameters", clv.spark.fit(summary, model).params_, cli, rel=rel)


def test_rows_left_out_are_reported(spark):
    orders = spark.createDataFrame(
        [("a", "2024-01-01", 10.0), ("a", "2024-02-01", 20.0), (None, "2024-02-01", 5.0),
         ("b", "2024-03-01", None)], "customer_id string, date string, amount double")
    from pyspark.sql import functions as F

    orders = orders.withColumn("date", F.to_date("date"))
    result = clv.spark.summarize(orders, end="2024-03-31", partitions=2)
    assert result.report["rejected"]["counts"] == {"no customer id": 1, "no monetary value": 1}
    rows = by_customer(result.frame)
    assert list(rows.index) == ["a"]
    check("a", rows.loc["a", ["frequency", "recency", "T", "monetary_value"]],
          [1.0, 31.0, 90.0, 20.0])


def test_timestamps_count_in_the_shops_zone(spark):
    from pyspark.sql import functions as F

    spark.conf.set("spark.sql.session.timeZone", "UTC")
    orders = spark.createDataFrame(
        [("a", "2024-01-02 03:00:00", 10.0), ("a", "2024-01-05 12:00:00", 20.0)],
        "customer_id string, date string, amount double").withColumn("date", F.to_timestamp("date"))
    # 03:00 UTC on 2 January is 22:00 on 1 January in New York.
    for tz, recency in [(None, 3.0), ("America/New_York", 4.0)]:
        rows = by_customer(clv.spark.summarize(orders, end="2024-01-10", tz=tz).frame)
        check(f"recency in {tz}", rows["recency"], [recency])


JVM = r"""
import json, sys
from pyspark.sql import SparkSession
import clv.spark
spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
         .getOrCreate())
orders = spark.read.csv(sys.argv[1], header=True, schema="customer_id string, date date, amount double")
summary = clv.spark.summarize(orders.repartition(4), end=sys.argv[2], freq="D",
                              freq_multiplier=7, partitions=4)
bg = clv.spark.fit(summary, "bgnbd")
rows = summary.frame.toPandas().sort_values("customer_id")
print(json.dumps({"ids": rows["customer_id"].tolist(), "T": rows["T"].tolist(),
                  "frequency": rows["frequency"].tolist(), "params": bg.params_.tolist()}))
spark.stop()
"""


def test_local_jvm_spark_gives_the_same_summary(log, tmp_path):
    # The first 20,000 rows of the log: enough to fit, small enough for a JVM smoke test.
    orders = pd.read_csv(log, parse_dates=["date"], nrows=20_000)
    head = tmp_path / "head.csv"
    orders.to_csv(head, index=False, date_format="%Y-%m-%d")
    # The Connect session above marks this process's environment as Connect mode.
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SPARK_CONNECT", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE"))}
    environment = dict(inherited, PYSPARK_PYTHON=sys.executable,
                       PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    done = subprocess.run([sys.executable, "-c", JVM, str(head), END], env=environment,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    spark = json.loads(done.stdout.strip().splitlines()[-1])
    local = clv.utils.summary_data_from_transaction_data(
        orders, "customer_id", "date", monetary_value_col="amount", observation_period_end=END,
        freq="D", freq_multiplier=7)
    assert spark["ids"] == list(local.index)
    check("T", spark["T"], local["T"])
    check("frequency", spark["frequency"], local["frequency"])
    one = clv.BetaGeoFitter().fit(local["frequency"], local["recency"], local["T"])
    check("params", spark["params"], one.params_, rel=1e-9)
