//! What the spool's test binaries share: small two-column batches with numbered rows.

use arrow_array::{Int64Array, RecordBatch, StringArray};
use std::sync::Arc;

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
