//! Reading Arrow results by row: one row as a JSON object (dead letters, the REST API) and
//! typed column access for query results.

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use serde_json::{Map, Value};

/// Row `i` of `batch` as a JSON object keyed by column name.
pub fn row_to_json(batch: &RecordBatch, i: usize) -> Value {
    let mut obj = Map::new();
    for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
        obj.insert(f.name().clone(), value_at(col, i));
    }
    Value::Object(obj)
}

/// Every row of every batch as JSON objects.
pub fn to_json_rows(batches: &[RecordBatch]) -> Vec<Value> {
    batches.iter().flat_map(|b| (0..b.num_rows()).map(move |i| row_to_json(b, i))).collect()
}

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v).map(Value::Number).unwrap_or_else(|| Value::String(v.to_string()))
}

/// One cell as JSON. Timestamps become RFC 3339 strings in UTC; maps become objects.
pub fn value_at(col: &ArrayRef, i: usize) -> Value {
    if col.is_null(i) {
        return Value::Null;
    }
    match col.data_type() {
        DataType::Utf8 => Value::String(col.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::String(col.as_string::<i64>().value(i).to_string()),
        DataType::Binary => Value::String(hex(col.as_binary::<i32>().value(i))),
        DataType::LargeBinary => Value::String(hex(col.as_binary::<i64>().value(i))),
        DataType::FixedSizeBinary(_) => Value::String(hex(col.as_fixed_size_binary().value(i))),
        DataType::Boolean => Value::Bool(col.as_boolean().value(i)),
        DataType::Int8 => col.as_primitive::<Int8Type>().value(i).into(),
        DataType::Int16 => col.as_primitive::<Int16Type>().value(i).into(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(i).into(),
        DataType::UInt8 => col.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt16 => col.as_primitive::<UInt16Type>().value(i).into(),
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => col.as_primitive::<UInt64Type>().value(i).into(),
        DataType::Float32 => num(col.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => num(col.as_primitive::<Float64Type>().value(i)),
        DataType::Date32 => Value::String(civil_date(col.as_primitive::<Date32Type>().value(i) as i64)),
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => col.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => col.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => col.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => col.as_primitive::<TimestampNanosecondType>().value(i),
            };
            Value::String(rfc3339(v, *unit))
        }
        DataType::Dictionary(_, _) => {
            let d = col.as_any_dictionary();
            let key = d.normalized_keys()[i];
            value_at(d.values(), key)
        }
        DataType::List(_) => {
            let l = col.as_list::<i32>().value(i);
            Value::Array((0..l.len()).map(|j| value_at(&l, j)).collect())
        }
        DataType::LargeList(_) => {
            let l = col.as_list::<i64>().value(i);
            Value::Array((0..l.len()).map(|j| value_at(&l, j)).collect())
        }
        DataType::Map(_, _) => {
            let m = col.as_map();
            let entries = m.value(i);
            let (k, v) = (entries.column(0), entries.column(1));
            let mut obj = Map::new();
            for j in 0..entries.len() {
                let key = match value_at(k, j) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                obj.insert(key, value_at(v, j));
            }
            Value::Object(obj)
        }
        DataType::Struct(fields) => {
            let s = col.as_struct();
            let mut obj = Map::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                obj.insert(f.name().clone(), value_at(c, i));
            }
            Value::Object(obj)
        }
        other => Value::String(format!("<{other}>")),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Days since the epoch → `YYYY-MM-DD` (proleptic Gregorian).
pub fn civil_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A timestamp in `unit` since the epoch → `2026-11-23T11:24:53.125392Z` (digits as the unit has).
pub fn rfc3339(v: i64, unit: TimeUnit) -> String {
    let per_sec: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let secs = v.div_euclid(per_sec);
    let frac = v.rem_euclid(per_sec);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    let frac = match unit {
        TimeUnit::Second => String::new(),
        TimeUnit::Millisecond => format!(".{frac:03}"),
        TimeUnit::Microsecond => format!(".{frac:06}"),
        TimeUnit::Nanosecond => format!(".{frac:09}"),
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_in_utc_with_the_units_digits() {
        assert_eq!(rfc3339(1_795_433_093_125_392, TimeUnit::Microsecond), "2026-11-23T11:24:53.125392Z");
        assert_eq!(rfc3339(0, TimeUnit::Second), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(-1, TimeUnit::Millisecond), "1969-12-31T23:59:59.999Z");
        assert_eq!(civil_date(20_000), "2024-10-04");
    }

    #[test]
    fn rows_become_objects_with_maps_and_dictionaries_resolved() {
        let mut b = chute_tables::k6::SamplesBuilder::new();
        b.tags.insert("status", "200");
        b.end_row(&chute_tables::k6::SampleRow {
            run_id: "r1",
            timestamp_us: 0,
            metric: "http_reqs",
            metric_type: "counter",
            value: 1.5,
            vu: None,
            iter: Some(7),
            source: "json",
        });
        let v = row_to_json(&b.finish(), 0);
        assert_eq!(v["run_id"], "r1");
        assert_eq!(v["tags"]["status"], "200");
        assert_eq!(v["vu"], Value::Null);
        assert_eq!(v["iter"], 7);
        assert_eq!(v["value"], 1.5);
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.000000Z");
    }
}
