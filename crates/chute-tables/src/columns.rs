//! Column builders shared by the table builders: string maps, timestamps, dictionary strings.
//!
//! The string maps, dictionary strings and lists are built here on plain vectors rather than
//! with arrow's builders: most batches are one request's (tens of rows), where the builders' fixed
//! cost (1,024-row allocations, a hash table per dictionary, validating what they built) was a
//! fifth of decoding an OTLP log request.

use arrow_array::builder::{TimestampMicrosecondBuilder, TimestampMillisecondBuilder, TimestampNanosecondBuilder};
use arrow_array::types::{ArrowPrimitiveType, Int32Type};
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Int32Array, ListArray, MapArray, PrimitiveArray, StringArray, StructArray,
};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

/// A 32-bit offset into a string column's bytes. A column over 2 GiB is a panic, as in arrow's
/// own builders; chute's batches are bounded far below (`batch.max_bytes`, request size limits).
#[inline]
fn offset(len: usize) -> i32 {
    i32::try_from(len).expect("string column over 2 GiB")
}

/// Where each element of a variable-length column (strings, maps, lists) starts in its values,
/// then where the last one ends: empty until the first element ends.
#[derive(Default)]
struct Offsets(Vec<i32>);

impl Offsets {
    /// Ends an element at `end` values.
    #[inline]
    fn end_element(&mut self, end: usize) {
        if self.0.is_empty() {
            // Room for a request's worth of elements, so small batches rarely regrow.
            self.0.reserve(64);
            self.0.push(0);
        }
        self.0.push(offset(end));
    }
    /// Elements so far.
    fn len(&self) -> usize {
        self.0.len().saturating_sub(1)
    }
    /// Where element `i` starts and ends.
    #[inline]
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.0[i] as usize..self.0[i + 1] as usize
    }
    /// The offsets as a buffer; they start over empty.
    fn finish(&mut self) -> OffsetBuffer<i32> {
        let mut offsets = std::mem::take(&mut self.0);
        if offsets.is_empty() {
            offsets.push(0);
        }
        // SAFETY: the offsets start at 0 and never decrease (each element ends where the values
        // have grown to); the caller's values end at the last one.
        unsafe { OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)) }
    }
}

/// A `Utf8` column on two vectors.
#[derive(Default)]
struct Utf8Col {
    offsets: Offsets,
    bytes: Vec<u8>,
}

impl Utf8Col {
    #[inline]
    fn push(&mut self, v: &str) {
        if self.bytes.capacity() == 0 {
            self.bytes.reserve(1024);
        }
        self.bytes.extend_from_slice(v.as_bytes());
        self.offsets.end_element(self.bytes.len());
    }
    fn len(&self) -> usize {
        self.offsets.len()
    }
    #[inline]
    fn get(&self, i: usize) -> &str {
        // SAFETY: every string between two offsets was pushed whole from a `&str`.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[self.offsets.range(i)]) }
    }
    /// The strings as an array; the column starts over empty.
    fn finish(&mut self) -> StringArray {
        let offsets = self.offsets.finish();
        let bytes = std::mem::take(&mut self.bytes);
        // SAFETY: the offsets end at `bytes.len()` and fall on the boundaries of whole `&str`s,
        // so every string is valid UTF-8.
        unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(bytes), None) }
    }
}

/// `Map(LowCardinality(String), String)` on the ClickHouse side.
#[derive(Default)]
pub struct StrMap {
    rows: Offsets,
    keys: Utf8Col,
    values: Utf8Col,
}

impl StrMap {
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds an entry to the current row.
    #[inline]
    pub fn insert(&mut self, k: &str, v: &str) {
        self.keys.push(k);
        self.values.push(v);
    }
    /// Ends the current row.
    #[inline]
    pub fn end_row(&mut self) {
        self.rows.end_element(self.keys.len());
    }
    pub fn finish(&mut self) -> ArrayRef {
        let rows = self.rows.finish();
        let (keys, values) = (self.keys.finish(), self.values.finish());
        let (entries_field, fields) = map_entries();
        // SAFETY: keys and values have one element per entry each (pushed together), neither
        // has nulls (the fields allow none in keys), and the row offsets start at 0, never
        // decrease and end at the number of entries.
        unsafe {
            let entries =
                StructArray::new_unchecked(fields.clone(), vec![Arc::new(keys) as ArrayRef, Arc::new(values)], None);
            Arc::new(MapArray::new_unchecked(entries_field.clone(), rows, entries, None, false))
        }
    }
    pub fn data_type() -> DataType {
        DataType::Map(map_entries().0.clone(), false)
    }
}

/// The `entries` field of a string map and its struct's fields: `keys` (never null) and
/// `values`.
fn map_entries() -> &'static (FieldRef, Fields) {
    static E: OnceLock<(FieldRef, Fields)> = OnceLock::new();
    E.get_or_init(|| {
        let fields: Fields =
            vec![Field::new("keys", DataType::Utf8, false), Field::new("values", DataType::Utf8, true)].into();
        (Arc::new(Field::new("entries", DataType::Struct(fields.clone()), false)), fields)
    })
}

/// What a [`List`] holds: its values so far, finished into one array.
pub trait ListValues {
    /// Values so far (a list row ends at this count).
    fn count(&self) -> usize;
    /// The values as an array; they start over empty.
    fn finish_values(&mut self) -> ArrayRef;
}

/// Primitive values of a list (numbers, timestamps).
pub struct Prims<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    data_type: DataType,
}

impl<T: ArrowPrimitiveType> Prims<T> {
    /// Values of `data_type`, which must be `T`'s (a timestamp with its time zone).
    pub fn of_type(data_type: DataType) -> Self {
        Prims { values: Vec::new(), data_type }
    }
    #[inline]
    pub fn append_value(&mut self, v: T::Native) {
        self.values.push(v);
    }
    #[inline]
    pub fn append_slice(&mut self, v: &[T::Native]) {
        self.values.extend_from_slice(v);
    }
}

impl<T: ArrowPrimitiveType> Default for Prims<T> {
    fn default() -> Self {
        Self::of_type(T::DATA_TYPE)
    }
}

impl<T: ArrowPrimitiveType> ListValues for Prims<T> {
    fn count(&self) -> usize {
        self.values.len()
    }
    fn finish_values(&mut self) -> ArrayRef {
        let values = ScalarBuffer::from(std::mem::take(&mut self.values));
        Arc::new(PrimitiveArray::<T>::new(values, None).with_data_type(self.data_type.clone()))
    }
}

/// A `String` column, or the string values of a list.
#[derive(Default)]
pub struct Strs(Utf8Col);

impl Strs {
    pub fn new() -> Self {
        Self::default()
    }
    #[inline]
    pub fn append_value(&mut self, v: &str) {
        self.0.push(v);
    }
    /// The strings so far; the column starts over empty.
    pub fn finish(&mut self) -> StringArray {
        self.0.finish()
    }
}

impl ListValues for Strs {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn finish_values(&mut self) -> ArrayRef {
        Arc::new(self.0.finish())
    }
}

impl ListValues for StrMap {
    fn count(&self) -> usize {
        self.rows.len()
    }
    fn finish_values(&mut self) -> ArrayRef {
        self.finish()
    }
}

/// `Array(T)`: fill the current row through [`List::values`], then [`List::end_row`].
#[derive(Default)]
pub struct List<V> {
    rows: Offsets,
    values: V,
}

impl<V: ListValues> List<V> {
    pub fn new(values: V) -> Self {
        List { rows: Offsets::default(), values }
    }
    #[inline]
    pub fn values(&mut self) -> &mut V {
        &mut self.values
    }
    /// Ends the current row with the values added since the previous one.
    #[inline]
    pub fn end_row(&mut self) {
        self.rows.end_element(self.values.count());
    }
    /// The rows so far as a list array (items nullable, as arrow's own list builder makes
    /// them); the column starts over empty.
    pub fn finish(&mut self) -> ListArray {
        let offsets = self.rows.finish();
        let values = self.values.finish_values();
        let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
        ListArray::new(field, offsets, values, None)
    }
}

/// `a == b`, without calling `memcmp` for two empty strings: an empty `String`'s pointer is
/// dangling, and glibc's AVX-512 `memcmp` reads it with a fully masked load, which the CPU
/// completes with a microcode assist costing some hundred cycles (a fifth of OTLP logs decoding,
/// whose schema URL and scope version columns are mostly empty).
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// A dictionary-encoded string column (small on the wire and in the spool; `LowCardinality`
/// on the ClickHouse side). Each distinct value is stored once, in order of first appearance.
/// A run of one value (a batch's run id or source, a request's service name) costs one string
/// comparison per row; a new value is looked up among the first few distinct ones by
/// comparison, and through a hash map once there are more.
#[derive(Default)]
pub struct DictStr {
    keys: Vec<i32>,
    values: Utf8Col,
    /// The keys of the distinct values, by the hash of their text, once there are more than
    /// [`DictStr::SCAN`] of them.
    index: HashTable<i32>,
    hasher: DefaultHashBuilder,
}

impl DictStr {
    /// Distinct values looked up by comparison.
    const SCAN: usize = 16;

    pub fn new() -> Self {
        Self::default()
    }
    #[inline]
    pub fn append(&mut self, v: &str) {
        if let Some(&last) = self.keys.last()
            && same_text(self.values.get(last as usize), v)
        {
            self.keys.push(last);
            return;
        }
        let key = self.key_of(v);
        self.keys.push(key);
    }
    fn key_of(&mut self, v: &str) -> i32 {
        let DictStr { values, index, hasher, .. } = self;
        let distinct = values.len();
        let hash = |v: &str| hasher.hash_one(v.as_bytes());
        if distinct <= Self::SCAN {
            if let Some(i) = (0..distinct).find(|&i| same_text(values.get(i), v)) {
                return i as i32;
            }
        } else if let Some(&k) = index.find(hash(v), |&k| same_text(values.get(k as usize), v)) {
            return k;
        }
        let key = offset(distinct);
        values.push(v);
        if distinct + 1 > Self::SCAN {
            if index.is_empty() {
                for i in 0..distinct {
                    index.insert_unique(hash(values.get(i)), i as i32, |&k| hash(values.get(k as usize)));
                }
            }
            index.insert_unique(hash(v), key, |&k| hash(values.get(k as usize)));
        }
        key
    }
    /// The rows so far as a dictionary array; the column starts over empty.
    pub fn finish(&mut self) -> ArrayRef {
        let keys = Int32Array::new(ScalarBuffer::from(std::mem::take(&mut self.keys)), None);
        let values = self.values.finish();
        self.index.clear();
        // SAFETY: every key is the index of a value pushed before it.
        Arc::new(unsafe { DictionaryArray::<Int32Type>::new_unchecked(keys, Arc::new(values)) })
    }
    pub fn data_type() -> DataType {
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    }
}

pub fn ts_type(unit: TimeUnit) -> DataType {
    DataType::Timestamp(unit, Some("UTC".into()))
}

pub fn ts_micros() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

pub fn ts_millis() -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::new().with_timezone("UTC")
}

pub fn ts_nanos() -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::new().with_timezone("UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    /// Appends `input` to `d` and finishes it: each row's value, and how many distinct values
    /// the dictionary holds.
    fn round_trip(d: &mut DictStr, input: &[impl AsRef<str>]) -> (Vec<String>, usize) {
        for v in input {
            d.append(v.as_ref());
        }
        let a = d.finish();
        let dict = a.as_dictionary::<Int32Type>();
        let values = dict.values().as_string::<i32>();
        (dict.keys().iter().map(|k| values.value(k.unwrap() as usize).to_string()).collect(), values.len())
    }

    #[test]
    fn dictionary_strings_keep_every_row_in_order_through_runs_and_repeats() {
        let input = ["a", "a", "a", "b", "a", "", "", "c", "b", "b"];
        let mut d = DictStr::new();
        let (got, distinct) = round_trip(&mut d, &input);
        assert_eq!(got, input);
        assert_eq!(distinct, 4, "each distinct value once in the dictionary");
        // The builder starts over empty.
        d.append("z");
        assert_eq!(d.finish().len(), 1);
        assert_eq!(d.finish().len(), 0);
    }

    #[test]
    fn dictionary_strings_past_the_scanned_few_are_found_through_the_hash_table() {
        // 300 distinct values, each seen again later out of order, over two batches.
        let input: Vec<String> = (0..900).map(|i| format!("v{}", (i * 7) % 300)).collect();
        let mut d = DictStr::new();
        for _ in 0..2 {
            let (got, distinct) = round_trip(&mut d, &input);
            assert_eq!(got, input);
            assert_eq!(distinct, 300, "each distinct value once in the dictionary");
        }
    }

    #[test]
    fn string_maps_keep_each_rows_entries_including_empty_rows() {
        let mut m = StrMap::new();
        m.insert("a", "1");
        m.insert("b", "");
        m.end_row();
        m.end_row();
        m.insert("é", "€");
        m.end_row();
        let a = m.finish();
        assert_eq!(a.data_type(), &StrMap::data_type());
        let map = a.as_map();
        let entries = |row: usize| -> Vec<(String, String)> {
            let e = map.value(row);
            let (k, v) = (e.column(0).as_string::<i32>(), e.column(1).as_string::<i32>());
            (0..e.len()).map(|i| (k.value(i).to_string(), v.value(i).to_string())).collect()
        };
        assert_eq!(map.len(), 3);
        assert_eq!(entries(0), [("a".into(), "1".into()), ("b".into(), String::new())]);
        assert!(entries(1).is_empty());
        assert_eq!(entries(2), [("é".into(), "€".into())]);
        // The builder starts over empty, and an empty map column is still a valid array.
        let empty = m.finish();
        assert_eq!((empty.len(), empty.data_type()), (0, &StrMap::data_type()));
        assert_eq!(DictStr::new().finish().len(), 0);
    }

    #[test]
    fn lists_keep_each_rows_values_including_empty_rows() {
        use arrow_array::types::{TimestampSecondType, UInt64Type};
        let mut numbers: List<Prims<UInt64Type>> = List::default();
        let mut words: List<Strs> = List::default();
        let mut times: List<Prims<TimestampSecondType>> = List::new(Prims::of_type(ts_type(TimeUnit::Second)));
        numbers.values().append_slice(&[1, 2]);
        numbers.end_row();
        numbers.end_row();
        numbers.values().append_value(3);
        numbers.end_row();
        for row in [&["a", "é"][..], &[], &[""]] {
            for w in row {
                words.values().append_value(w);
            }
            words.end_row();
        }
        times.values().append_value(60);
        times.end_row();

        let n = numbers.finish();
        let rows: Vec<Vec<u64>> =
            (0..n.len()).map(|i| n.value(i).as_primitive::<UInt64Type>().values().to_vec()).collect();
        assert_eq!(rows, [vec![1, 2], vec![], vec![3]]);
        let w = words.finish();
        let rows: Vec<Vec<String>> = (0..w.len())
            .map(|i| w.value(i).as_string::<i32>().iter().map(|s| s.unwrap().to_string()).collect())
            .collect();
        assert_eq!(rows, [vec!["a".to_string(), "é".into()], vec![], vec![String::new()]]);
        let t = times.finish();
        assert_eq!(t.data_type(), &DataType::List(Arc::new(Field::new_list_field(ts_type(TimeUnit::Second), true))));
        // Each column starts over empty.
        assert_eq!((numbers.finish().len(), words.finish().len(), times.finish().len()), (0, 0, 0));
    }

    #[test]
    fn same_text_is_string_equality_including_never_allocated_empty_strings() {
        let never_allocated = String::new();
        let emptied = {
            let mut s = String::from("abc");
            s.clear();
            s
        };
        let values = [never_allocated.as_str(), emptied.as_str(), "", "a", "ab", "ba", "abc"];
        for a in values {
            for b in values {
                assert_eq!(same_text(a, b), a == b, "{a:?} against {b:?}");
            }
        }
    }
}
