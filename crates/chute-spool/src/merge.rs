//! Concatenating batches of one schema (a group's small appends before they are encoded, a
//! plan's records before they are inserted), with their string dictionaries merged.
//!
//! `arrow_select`'s concatenation keeps every input's dictionary values side by side unless they
//! would overflow the key type, and goes through its generic copying path to do so: for the
//! one-to-three-value dictionaries of an OTLP request's service name or severity, that path was
//! ~3% of an OTLP logs load's CPU in the spool writer and ~2% at delivery, and its output then
//! had to be made unique again for ClickHouse (`chute_store::arrow_fix`). Here each distinct
//! value is kept once and the keys are remapped.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, RecordBatch, RecordBatchOptions, StringArray};
use arrow_schema::{ArrowError, SchemaRef};

/// The batches (all of `schema`) as one, in order.
pub fn concat_batches(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    let rows = batches.iter().map(RecordBatch::num_rows).sum();
    let columns = (0..schema.fields().len())
        .map(|i| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            match merge_string_dictionaries(&arrays) {
                Some(merged) => Ok(merged),
                None => arrow_select::concat::concat(&arrays),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new_with_options(schema.clone(), columns, &RecordBatchOptions::new().with_row_count(Some(rows)))
}

/// `Dictionary(Int32, Utf8)` arrays without nulls as one, each distinct value once; None for
/// any other arrays (left to `arrow_select`).
fn merge_string_dictionaries(arrays: &[&dyn Array]) -> Option<ArrayRef> {
    let dicts: Vec<&DictionaryArray<Int32Type>> =
        arrays.iter().map(|a| a.as_dictionary_opt::<Int32Type>()).collect::<Option<_>>()?;
    let texts: Vec<&StringArray> = dicts.iter().map(|d| d.values().as_string_opt::<i32>()).collect::<Option<_>>()?;
    if dicts.iter().any(|d| d.null_count() > 0) || texts.iter().any(|t| t.null_count() > 0) {
        return None;
    }
    let mut distinct: Vec<&str> = Vec::new();
    let mut key_of: HashMap<&str, i32> = HashMap::new();
    let mut keys: Vec<i32> = Vec::with_capacity(dicts.iter().map(|d| d.len()).sum());
    let mut remap: Vec<i32> = Vec::new();
    for (d, text) in dicts.iter().zip(texts) {
        remap.clear();
        for v in text.iter().flatten() {
            let next = i32::try_from(distinct.len()).ok()?;
            remap.push(*key_of.entry(v).or_insert_with(|| {
                distinct.push(v);
                next
            }));
        }
        for &k in d.keys().values() {
            keys.push(*remap.get(usize::try_from(k).ok()?)?);
        }
    }
    let values = StringArray::from_iter_values(distinct);
    let merged = DictionaryArray::<Int32Type>::try_new(Int32Array::from(keys), Arc::new(values)).ok()?;
    Some(Arc::new(merged))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::StringDictionaryBuilder;
    use arrow_array::{Int64Array, StringArray};

    fn batch(services: &[&str], first: i64) -> RecordBatch {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        services.iter().for_each(|s| b.append_value(s));
        let n = services.len() as i64;
        RecordBatch::try_from_iter([
            ("service", Arc::new(b.finish()) as ArrayRef),
            ("n", Arc::new(Int64Array::from_iter_values(first..first + n)) as ArrayRef),
        ])
        .unwrap()
    }

    fn services(b: &RecordBatch) -> Vec<String> {
        let d = b.column(0).as_dictionary::<Int32Type>();
        let v = d.values().as_string::<i32>();
        d.keys().values().iter().map(|&k| v.value(k as usize).to_string()).collect()
    }

    #[test]
    fn rows_keep_their_order_and_values_and_each_distinct_value_is_stored_once() {
        let parts = [batch(&["cart", "cart", "ad"], 0), batch(&[], 3), batch(&["ad", "checkout", "cart"], 3)];
        let merged = concat_batches(&parts[0].schema(), &parts).unwrap();
        assert_eq!(services(&merged), ["cart", "cart", "ad", "ad", "checkout", "cart"]);
        let n: Vec<i64> = merged.column(1).as_primitive::<arrow_array::types::Int64Type>().values().to_vec();
        assert_eq!(n, [0, 1, 2, 3, 4, 5]);
        let values = merged.column(0).as_dictionary::<Int32Type>().values().as_string::<i32>().clone();
        assert_eq!(values, StringArray::from(vec!["cart", "ad", "checkout"]));
    }

    #[test]
    fn dictionaries_with_nulls_are_concatenated_as_arrow_does() {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        b.append_value("a");
        b.append_null();
        let with_null = RecordBatch::try_from_iter([("service", Arc::new(b.finish()) as ArrayRef)]).unwrap();
        let plain = batch(&["b"], 0).project(&[0]).unwrap();
        let merged = concat_batches(&with_null.schema(), &[with_null.clone(), plain]).unwrap();
        let d = merged.column(0).as_dictionary::<Int32Type>();
        assert_eq!(d.len(), 3);
        assert!(d.is_null(1));
        let v = d.values().as_string::<i32>();
        assert_eq!(v.value(d.keys().value(2) as usize), "b");
    }
}
