//! Makes Arrow batches acceptable to ClickHouse's Arrow reader, which refuses a dictionary
//! column whose dictionary holds a value twice (`INCORRECT_DATA: Expected Dictionary size ...`).
//! Concatenating dictionary-encoded batches produces exactly that, so every insert goes through
//! [`unique_dictionaries`].

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};
use arrow_schema::DataType;
use std::collections::HashMap;
use std::sync::Arc;

/// The batch with every `Dictionary(Int32, Utf8)` column's values made unique (keys remapped).
/// Columns that are already fine are passed through untouched.
pub fn unique_dictionaries(batch: &RecordBatch) -> RecordBatch {
    let mut changed = false;
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.data_type() {
            DataType::Dictionary(k, v) if **k == DataType::Int32 && **v == DataType::Utf8 => {
                match dedup(c.as_dictionary::<Int32Type>()) {
                    Some(fixed) => {
                        changed = true;
                        Arc::new(fixed) as ArrayRef
                    }
                    None => c.clone(),
                }
            }
            _ => c.clone(),
        })
        .collect();
    if !changed {
        return batch.clone();
    }
    RecordBatch::try_new(batch.schema(), cols).unwrap_or_else(|_| batch.clone())
}

fn dedup(d: &DictionaryArray<Int32Type>) -> Option<DictionaryArray<Int32Type>> {
    let values = d.values().as_string_opt::<i32>()?;
    let mut first: HashMap<&str, i32> = HashMap::with_capacity(values.len());
    let mut remap: Vec<i32> = Vec::with_capacity(values.len());
    let mut unique: Vec<&str> = Vec::new();
    for i in 0..values.len() {
        let v = if values.is_null(i) { "" } else { values.value(i) };
        let next = unique.len() as i32;
        let id = *first.entry(v).or_insert_with(|| {
            unique.push(v);
            next
        });
        remap.push(id);
    }
    if unique.len() == values.len() {
        return None;
    }
    let keys: Int32Array = d.keys().iter().map(|k| k.and_then(|k| remap.get(k as usize).copied())).collect();
    let new_values: ArrayRef = Arc::new(StringArray::from(unique));
    DictionaryArray::try_new(keys, new_values).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::StringDictionaryBuilder;

    fn dict(vals: &[&str]) -> ArrayRef {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        for v in vals {
            b.append_value(v);
        }
        Arc::new(b.finish())
    }

    #[test]
    fn concatenated_dictionaries_become_unique_with_the_same_logical_values() {
        let a = RecordBatch::try_from_iter(vec![("m", dict(&["x", "y", "x"]))]).unwrap();
        let b = RecordBatch::try_from_iter(vec![("m", dict(&["y", "z"]))]).unwrap();
        let c = arrow_select::concat::concat_batches(&a.schema(), &[a, b]).unwrap();
        let fixed = unique_dictionaries(&c);
        let d = fixed.column(0).as_dictionary::<Int32Type>();
        assert_eq!(d.values().len(), 3, "x, y, z once each");
        let logical: Vec<String> = (0..d.len())
            .map(|i| {
                let k = d.keys().value(i) as usize;
                d.values().as_string::<i32>().value(k).to_string()
            })
            .collect();
        assert_eq!(logical, ["x", "y", "x", "y", "z"]);
        // Already unique: untouched.
        let again = unique_dictionaries(&fixed);
        assert!(Arc::ptr_eq(again.column(0), fixed.column(0)));
    }
}
