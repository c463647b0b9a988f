//! Typed Parquet columns read like their CSV equivalents: integer ids, decimal amounts, dates,
//! zoned timestamps (UTC instants, converted to the shop's zone) and naive timestamps (already
//! shop-local), with nulls rejected and counted like empty CSV fields.

use arrow_array::{
    ArrayRef, Decimal128Array, Int64Array, RecordBatch, TimestampMillisecondArray,
    TimestampSecondArray,
};
use arrow_schema::{Field, Schema};
use clv_data::time::DAY;
use clv_data::{DateParser, ReadOptions, RejectLog, RejectReason};
use parquet::arrow::ArrowWriter;
use std::sync::Arc;

fn write(path: &std::path::Path, columns: Vec<(&str, ArrayRef)>) {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// (customer, local time, value) of every accepted line, and the rejects.
fn read(path: &std::path::Path, zone: &str) -> (Vec<(String, i64, f64)>, RejectLog) {
    let dates = DateParser::new(None, zone).unwrap();
    let mut rejects = RejectLog::new(false);
    let mut lines = Vec::new();
    clv_parquet::read_parquet(
        path,
        &ReadOptions::default(),
        &dates,
        &mut rejects,
        &mut |_| {},
        &mut |l| {
            lines.push((
                String::from_utf8(l.customer.to_vec()).unwrap(),
                l.time,
                l.value,
            ))
        },
    )
    .unwrap();
    (lines, rejects)
}

#[test]
fn zoned_and_naive_timestamps_decimals_and_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.parquet");
    // 2024-07-01T22:30:00Z, twice, and a null.
    let instant = 1_719_873_000_i64;
    let amounts = Decimal128Array::from(vec![Some(1250), Some(-300), Some(999)])
        .with_precision_and_scale(10, 2)
        .unwrap();
    write(
        &path,
        vec![
            (
                "customer_id",
                Arc::new(Int64Array::from(vec![Some(7), Some(7), None])) as ArrayRef,
            ),
            (
                "created_at",
                Arc::new(
                    TimestampMillisecondArray::from(vec![
                        Some(instant * 1000),
                        Some(instant * 1000),
                        Some(0),
                    ])
                    .with_timezone("UTC"),
                ),
            ),
            (
                "placed_at",
                Arc::new(TimestampSecondArray::from(vec![instant, instant, 0])),
            ),
            ("total", Arc::new(amounts)),
        ],
    );
    // Berlin is UTC+2 in July: the zoned instant is 00:30 on July 2nd in the shop's zone.
    let (lines, rejects) = read(&path, "Europe/Berlin");
    let july_2 = 19_906 * DAY; // 2024-07-02
    assert_eq!(
        lines,
        vec![
            ("7".into(), july_2 + 1800, 12.5),
            ("7".into(), july_2 + 1800, -3.0)
        ]
    );
    assert_eq!(
        rejects.counts().get(&RejectReason::MissingCustomer),
        Some(&1)
    );

    // A naive timestamp column is already shop-local: no conversion.
    let (lines, _) = {
        let mut options = ReadOptions::default();
        options.columns.date = Some("placed_at".into());
        let dates = DateParser::new(None, "Europe/Berlin").unwrap();
        let mut rejects = RejectLog::new(false);
        let mut lines = Vec::new();
        clv_parquet::read_parquet(
            &path,
            &options,
            &dates,
            &mut rejects,
            &mut |_| {},
            &mut |l| lines.push(l.time),
        )
        .unwrap();
        (lines, rejects)
    };
    assert_eq!(lines, vec![instant, instant]);
}

/// Parquet held in memory (an upload, not a file) reads like the file, and a table written to
/// any writer reads back as it was written.
#[test]
fn bytes_in_memory_read_like_the_file() {
    let table = clv_data::Table::new()
        .with(
            "customer_id",
            clv_data::Values::text(vec!["a".into(), "b".into()]),
        )
        .with(
            "date",
            clv_data::Values::Date(vec![19_906 * DAY, 19_907 * DAY]),
        )
        .with("amount", clv_data::Values::Float(vec![12.5, 7.25]));
    let mut bytes = Vec::new();
    clv_parquet::write_parquet_to(&table, &mut bytes, "memory").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.parquet");
    std::fs::write(&path, &bytes).unwrap();
    let (from_file, _) = read(&path, "UTC");
    let mut from_memory = Vec::new();
    let dates = DateParser::utc();
    let mut rejects = RejectLog::new(false);
    let report = clv_parquet::read_parquet_from(
        "upload",
        bytes::Bytes::from(bytes),
        &ReadOptions::default(),
        &dates,
        &mut rejects,
        &mut |_| {},
        &mut |l| {
            from_memory.push((
                String::from_utf8(l.customer.to_vec()).unwrap(),
                l.time,
                l.value,
            ))
        },
    )
    .unwrap();
    assert_eq!(report.file, "upload");
    assert_eq!(from_memory, from_file);
    assert_eq!(
        from_file,
        vec![
            ("a".into(), 19_906 * DAY, 12.5),
            ("b".into(), 19_907 * DAY, 7.25)
        ]
    );
}
