//! An `otel_logs` record batch reduced to its `otel_log_patterns` rows: one row per (service,
//! template, severity, hour) with the number of records and the first body seen as the example.
//! The rows are sorted, so the same logs always give the same batch.

use crate::{cut, severity_name, template_id, template_text_into};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampNanosecondType, UInt8Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use chute_tables::patterns::{LogPatternsBuilder, PatternRow};
use std::collections::HashMap;

/// Seconds in a pattern bucket (an hour).
pub const BUCKET_SECONDS: i64 = 3600;

/// Bytes of a body kept as a template's example.
pub const MAX_EXAMPLE_BYTES: usize = 1024;

/// A string column read through its dictionary or as plain strings.
pub(crate) enum Strs<'a> {
    Dict(&'a arrow_array::DictionaryArray<Int32Type>, &'a arrow_array::StringArray),
    Plain(&'a arrow_array::StringArray),
}

impl<'a> Strs<'a> {
    pub(crate) fn of(col: &'a ArrayRef) -> Option<Self> {
        match col.data_type() {
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                let d = col.as_dictionary::<Int32Type>();
                Some(Strs::Dict(d, d.values().as_string::<i32>()))
            }
            DataType::Utf8 => Some(Strs::Plain(col.as_string::<i32>())),
            _ => None,
        }
    }
    #[inline]
    pub(crate) fn get(&self, i: usize) -> &'a str {
        match self {
            Strs::Dict(d, v) => {
                if d.is_null(i) {
                    ""
                } else {
                    v.value(d.keys().value(i) as usize)
                }
            }
            Strs::Plain(s) => {
                if s.is_null(i) {
                    ""
                } else {
                    s.value(i)
                }
            }
        }
    }
}

struct Entry<'a> {
    template: String,
    count: u64,
    example: &'a str,
}

/// The pattern rows of an `otel_logs` batch (columns by name: `Timestamp`, `ServiceName`,
/// `SeverityText`, `SeverityNumber`, `Body`). None when the batch has no rows or is not shaped
/// like `otel_logs` (then there is nothing to count; ingest of the logs is not affected).
pub fn log_patterns(logs: &RecordBatch) -> Option<RecordBatch> {
    if logs.num_rows() == 0 {
        return None;
    }
    let ts = logs.column_by_name("Timestamp")?;
    if !matches!(ts.data_type(), DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, _)) {
        return None;
    }
    let ts = ts.as_primitive::<TimestampNanosecondType>();
    let service = Strs::of(logs.column_by_name("ServiceName")?)?;
    let sev_text = Strs::of(logs.column_by_name("SeverityText")?)?;
    let sev_num = logs.column_by_name("SeverityNumber")?;
    if sev_num.data_type() != &DataType::UInt8 {
        return None;
    }
    let sev_num = sev_num.as_primitive::<UInt8Type>();
    let body = Strs::of(logs.column_by_name("Body")?)?;

    type Fast = foldhash::fast::RandomState;
    let mut groups: HashMap<(u64, &str, &str, i64), Entry<'_>, Fast> = HashMap::default();
    // A chunk holds few distinct templates: each is hashed to its id once.
    let mut ids: HashMap<String, u64, Fast> = HashMap::default();
    let mut tpl = String::with_capacity(256);
    for i in 0..logs.num_rows() {
        let b = body.get(i);
        template_text_into(b, &mut tpl);
        let id = match ids.get(tpl.as_str()) {
            Some(id) => *id,
            None => *ids.entry(tpl.clone()).or_insert_with(|| template_id(&tpl)),
        };
        let bucket = ts.value(i).div_euclid(1_000_000_000).div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        let sev = severity_name(sev_text.get(i), sev_num.value(i));
        groups.entry((id, service.get(i), sev, bucket)).and_modify(|e| e.count += 1).or_insert_with(|| Entry {
            template: tpl.clone(),
            count: 1,
            example: cut(b, MAX_EXAMPLE_BYTES),
        });
    }
    let mut keys: Vec<_> = groups.keys().copied().collect();
    keys.sort_unstable_by(|a, b| (a.1, a.0, a.2, a.3).cmp(&(b.1, b.0, b.2, b.3)));
    let mut out = LogPatternsBuilder::new();
    for k in keys {
        let e = &groups[&k];
        out.push(&PatternRow {
            service: k.1,
            template_id: k.0,
            severity: k.2,
            bucket_s: k.3,
            template: &e.template,
            count: e.count,
            example: e.example,
        });
    }
    Some(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{StringBuilder, StringDictionaryBuilder, TimestampNanosecondBuilder, UInt8Builder};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    fn logs(rows: &[(i64, &str, &str, u8, &str)]) -> RecordBatch {
        let mut ts = TimestampNanosecondBuilder::new().with_timezone("UTC");
        let mut svc = StringDictionaryBuilder::<Int32Type>::new();
        let mut sev = StringDictionaryBuilder::<Int32Type>::new();
        let mut num = UInt8Builder::new();
        let mut body = StringBuilder::new();
        for (t, s, st, n, b) in rows {
            ts.append_value(*t);
            svc.append_value(*s);
            sev.append_value(*st);
            num.append_value(*n);
            body.append_value(*b);
        }
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let schema = Schema::new(vec![
            Field::new("Timestamp", DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some("UTC".into())), false),
            Field::new("ServiceName", dict.clone(), false),
            Field::new("SeverityText", dict, false),
            Field::new("SeverityNumber", DataType::UInt8, false),
            Field::new("Body", DataType::Utf8, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(ts.finish()),
                Arc::new(svc.finish()),
                Arc::new(sev.finish()),
                Arc::new(num.finish()),
                Arc::new(body.finish()),
            ],
        )
        .unwrap()
    }

    #[test]
    fn records_are_counted_per_service_template_severity_and_hour() {
        let h = 3_600_000_000_000i64;
        let b = logs(&[
            (h, "api", "INFO", 9, "user 1 logged in"),
            (h + 5, "api", "INFO", 9, "user 2 logged in"),
            (2 * h + 1, "api", "INFO", 9, "user 3 logged in"),
            (h, "api", "", 17, "user 4 logged in"),
            (h, "web", "INFO", 9, "user 5 logged in"),
            (h, "api", "INFO", 9, "disk full"),
        ]);
        let p = log_patterns(&b).unwrap();
        assert_eq!(p.schema(), chute_tables::patterns::log_patterns_schema());
        let rows: Vec<(String, String, String, i64, u64, String)> = (0..p.num_rows())
            .map(|i| {
                let s = |c: usize| Strs::of(p.column(c)).unwrap().get(i).to_string();
                (
                    s(0),
                    s(4),
                    s(2),
                    p.column(3).as_primitive::<arrow_array::types::TimestampSecondType>().value(i),
                    p.column(5).as_primitive::<arrow_array::types::UInt64Type>().value(i),
                    s(6),
                )
            })
            .collect();
        let api_login = |sev: &str, hour: i64, n: u64, ex: &str| {
            ("api".to_string(), "user <*> logged in".to_string(), sev.to_string(), hour * 3600, n, ex.to_string())
        };
        assert!(rows.contains(&api_login("INFO", 1, 2, "user 1 logged in")), "{rows:?}");
        assert!(rows.contains(&api_login("INFO", 2, 1, "user 3 logged in")));
        assert!(rows.contains(&api_login("ERROR", 1, 1, "user 4 logged in")));
        assert_eq!(rows.len(), 5);
        assert_eq!(rows.iter().map(|r| r.4).sum::<u64>(), 6);
        // Each row's id is its template's (hashed once per chunk, not once per record).
        let ids = p.column(1).as_primitive::<arrow_array::types::UInt64Type>();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(ids.value(i), crate::template_id(&r.1), "{r:?}");
        }
        // Deterministic: the same logs give the same batch.
        assert_eq!(log_patterns(&b).unwrap(), p);
    }

    #[test]
    fn batches_of_another_shape_give_nothing() {
        let schema = Schema::new(vec![Field::new("x", DataType::Utf8, false)]);
        let b =
            RecordBatch::try_new(Arc::new(schema), vec![Arc::new(arrow_array::StringArray::from(vec!["a"]))]).unwrap();
        assert!(log_patterns(&b).is_none());
        assert!(log_patterns(&logs(&[])).is_none());
    }
}
