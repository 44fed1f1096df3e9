//! What the spool's test binaries share: small two-column batches with numbered rows.

use arrow_array::{Int64Array, RecordBatch, StringArray};
use chute_spool::SpoolOptions;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A spool in `dir` that seals only when told to (no row, byte or age limit is reached).
#[allow(dead_code)] // not every test binary opens its spool this way
pub fn opts(dir: &Path) -> SpoolOptions {
    SpoolOptions {
        dir: dir.to_path_buf(),
        fsync_interval: Duration::from_millis(2),
        max_bytes: 1 << 30,
        seal_rows: 1_000_000,
        seal_bytes: 1 << 30,
        seal_age: Duration::from_secs(3600),
    }
}

/// Rows `start..start + n`: an `id` and a `name` made of it.
pub fn batch(start: i64, n: i64) -> RecordBatch {
    let ids: Vec<i64> = (start..start + n).collect();
    let names: Vec<String> = ids.iter().map(|i| format!("row-{i}")).collect();
    RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids)) as _),
        ("name", Arc::new(StringArray::from(names)) as _),
    ])
    .unwrap()
}

/// The ids of every record, in order.
pub fn ids(records: &[chute_spool::SpoolRecord]) -> Vec<i64> {
    records
        .iter()
        .flat_map(|r| {
            let c = r.batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            c.values().to_vec()
        })
        .collect()
}
