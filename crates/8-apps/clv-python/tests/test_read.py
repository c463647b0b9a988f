"""``clv.read_orders``: order files read by the CLI's readers, checked against the same files
parsed independently by pandas and pyarrow, and the rows they leave out explained."""
import gzip
import os
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import clv
import clv.utils

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CDNOW = os.path.join(ROOT, "tests", "data", "CDNOW_sample.txt")


def check(read, expect):
    """``read`` (clv.read_orders' frame) holds exactly the rows of ``expect``, in file order."""
    assert list(read.columns)[:3] == ["customer_id", "date", "amount"]
    pd.testing.assert_frame_equal(read[list(expect.columns)].reset_index(drop=True),
                                  expect.reset_index(drop=True), check_dtype=False)


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_cdnow_as_pandas_reads_it_and_the_same_summary():
    raw = pd.read_csv(CDNOW, sep=r"\s+", header=None, dtype={1: str})
    expect = pd.DataFrame({"customer_id": raw[1], "date": pd.to_datetime(raw[2].astype(str)),
                           "amount": raw[4]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read = clv.read_orders(CDNOW, 2, 3, 5)
    check(read, expect)
    report = read.attrs["clv_report"]["read"]
    assert (report["rows"], report["accepted"], report["rejected"]) == (len(raw), len(raw), 0)
    ours = clv.utils.summary_data_from_transaction_data(read, "customer_id", "date", "amount",
                                                        freq="D", freq_multiplier=7)
    theirs = clv.utils.summary_data_from_transaction_data(expect, "customer_id", "date",
                                                          "amount", freq="D", freq_multiplier=7)
    pd.testing.assert_frame_equal(ours, theirs)


def test_decimal_commas_and_latin1_are_detected(tmp_path):
    path = write(tmp_path, "orders.csv",
                 "kunde;datum;betrag\nMüller;2024-01-05;1.234,50\nMüller;2024-02-01;29,33\n"
                 "Öz;2024-02-03;-5,00\n", "cp1252")
    read = clv.read_orders(path, "kunde", "datum", "betrag")
    check(read, pd.DataFrame({"customer_id": ["Müller", "Müller", "Öz"],
                              "date": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-02-03"]),
                              "amount": [1234.5, 29.33, -5.0]}))
    report = read.attrs["clv_report"]["read"]
    assert report["decimal"]["mark"] == "comma" and report["text"]["encoding"] == "windows1252"


@pytest.mark.parametrize("bad_line, cells, reason", [
    (3, ",2024-01-09,5.00", "missing_customer"),
    (4, "b,not a date,5.00", "bad_date"),
    (2, "a,2024-01-02,lots", "bad_amount"),
])
def test_rows_left_out_are_explained_and_strict_stops(tmp_path, bad_line, cells, reason):
    good = ["a,2024-01-02,10.00", "b,2024-01-09,5.00", "b,2024-03-01,7.50", "c,2024-03-02,1.00"]
    lines = good[:]
    lines[bad_line - 2] = cells
    path = write(tmp_path, "orders.csv", "customer,date,amount\n" + "\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=f"orders.csv:{bad_line}: column `.*` value .*"):
        read = clv.read_orders(path)
    kept = [g for i, g in enumerate(good) if i != bad_line - 2]
    expect = pd.DataFrame([g.split(",") for g in kept], columns=["customer_id", "date", "amount"])
    expect["date"], expect["amount"] = pd.to_datetime(expect["date"]), expect["amount"].astype(float)
    check(read, expect)
    rejected = read.attrs["clv_report"]["rejected"]
    assert rejected["counts"] == {reason: 1} and rejected["examples"][0]["line"] == bad_line
    with pytest.raises(ValueError, match=f"orders.csv:{bad_line}"):
        clv.read_orders(path, strict=True)


def test_gzip_and_parquet_read_like_the_plain_file(tmp_path):
    text = "customer,date,amount,order\na,2024-01-02,10.50,o1\nb,2024-01-09,5.25,o2\n" \
           "a,2024-02-01,-3.00,o3\n"
    plain = clv.read_orders(write(tmp_path, "orders.csv", text))
    assert list(plain["order_id"]) == ["o1", "o2", "o3"]
    packed = tmp_path / "orders.csv.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    pd.testing.assert_frame_equal(clv.read_orders(packed), plain)
    table = pa.table({"customer": ["a", "b", "a"],
                      "date": pa.array(pd.to_datetime(["2024-01-02", "2024-01-09", "2024-02-01"])
                                       .date, pa.date32()),
                      "amount": [10.5, 5.25, -3.0], "order": ["o1", "o2", "o3"]})
    pq.write_table(table, tmp_path / "orders.parquet")
    pd.testing.assert_frame_equal(clv.read_orders(tmp_path / "orders.parquet"), plain)


def test_bad_options_name_the_fix(tmp_path):
    path = write(tmp_path, "orders.csv", "customer,date,amount\na,2024-01-02,1\n")
    with pytest.raises(ValueError, match="point.*comma"):
        clv.read_orders(path, decimal="dot")
    with pytest.raises(ValueError, match="encoding"):
        clv.read_orders(path, encoding="ebcdic")
    with pytest.raises(ValueError, match="Mars/Olympus"):
        clv.read_orders(path, timezone="Mars/Olympus")
