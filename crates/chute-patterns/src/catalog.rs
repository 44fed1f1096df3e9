//! An `otel_*` record batch reduced to its `otel_attribute_catalog_feed` rows, at ingest: one
//! group per (signal, scope, service, key, name) with its occurrences and first/last second, and
//! each distinct value of the group that this process has not yet seen stored. The engine folds the
//! rows into `otel_attribute_catalog` (uniqExact states), so this replaces an `ARRAY JOIN` of every
//! attribute of every row in the engine by a hash lookup per attribute here.
//!
//! Exactness: every value in a feed row is a real value of its group in the same request, and
//! the catalog keeps the *set* of values (uniqExact), so sending a value again (after a restart,
//! after [`SeenValues`] forgot, from two requests at once) changes nothing. A value is left out
//! only when [`SeenValues`] says a feed with it was acknowledged before: acknowledged means
//! spooled, and the spool delivers it. So the catalog's distinct counts equal those of the
//! stored rows, and occurrences are summed once per group and request.

use crate::batch::Strs;
use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampNanosecondType, TimestampSecondType};
use arrow_array::{Array, ArrayRef, MapArray, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use chute_tables::catalog::{AttributeCatalogFeedBuilder, FeedRow};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use std::sync::{OnceLock, RwLock};

/// Values [`SeenValues::global`] remembers in all (16 bytes each, ~64 MiB with the sets'
/// overhead). When a commit would exceed it, the largest groups' sets are emptied first: their
/// values are then sent again, which costs engine work but never changes a count.
pub const MAX_REMEMBERED_VALUES: usize = 2_000_000;

/// A hasher for keys that already are uniform hashes: it keeps the low 64 bits.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

type Pass = BuildHasherDefault<PassThrough>;
type HashSet128 = HashSet<u128, Pass>;

#[derive(Default)]
struct Remembered {
    /// Per group (its seed), the hashes of its values. One small set per group keeps the lookups
    /// of low-cardinality keys in cache.
    groups: HashMap<u64, HashSet128, Pass>,
    total: usize,
}

/// The (group, value) pairs whose feed rows were acknowledged by this process, as 128-bit
/// hashes, at most `cap` of them.
pub struct SeenValues {
    remembered: RwLock<Remembered>,
    cap: usize,
}

impl SeenValues {
    pub fn new(cap: usize) -> Self {
        SeenValues { remembered: RwLock::new(Remembered::default()), cap: cap.max(1) }
    }

    /// The process' set (capacity [`MAX_REMEMBERED_VALUES`]), shared by every receiver.
    pub fn global() -> &'static SeenValues {
        static S: OnceLock<SeenValues> = OnceLock::new();
        S.get_or_init(|| SeenValues::new(MAX_REMEMBERED_VALUES))
    }

    /// Records the values of a feed whose submission was acknowledged (see [`Feed::pending`]).
    /// Call it only after the pipeline accepted the batch: a value remembered but never stored
    /// would be missing from the catalog.
    pub fn remember(&self, pending: &Pending) {
        let mut r = self.remembered.write().unwrap_or_else(|p| p.into_inner());
        let adding: usize = pending.0.iter().map(|(_, v)| v.len()).sum();
        while r.total + adding > self.cap && r.total > 0 {
            let largest = r.groups.iter().max_by_key(|(_, set)| set.len()).map(|(k, _)| *k);
            if let Some(set) = largest.and_then(|k| r.groups.remove(&k)) {
                r.total -= set.len();
            }
        }
        for (seed, values) in &pending.0 {
            let room = self.cap.saturating_sub(r.total);
            let set = r.groups.entry(*seed).or_default();
            let before = set.len();
            set.extend(values.iter().take(room).copied());
            let added = set.len() - before;
            r.total += added;
        }
    }

    /// Values remembered, over every group.
    pub fn len(&self) -> usize {
        self.remembered.read().unwrap_or_else(|p| p.into_inner()).total
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Value hashes of a feed, per group, to [`SeenValues::remember`] once acknowledged.
#[derive(Clone, Debug, Default)]
pub struct Pending(Vec<(u64, Vec<u128>)>);

impl Pending {
    /// Values in all.
    pub fn len(&self) -> usize {
        self.0.iter().map(|(_, v)| v.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The feed rows of one batch, and the value hashes to [`SeenValues::remember`] once the batch
/// (with its source rows) was acknowledged.
pub struct Feed {
    pub batch: RecordBatch,
    pub pending: Pending,
}

enum Seconds<'a> {
    Seconds(&'a arrow_array::TimestampSecondArray),
    Nanos(&'a arrow_array::TimestampNanosecondArray),
}

impl Seconds<'_> {
    #[inline]
    fn get(&self, i: usize) -> i64 {
        match self {
            Seconds::Seconds(a) => a.value(i),
            Seconds::Nanos(a) => a.value(i).div_euclid(1_000_000_000),
        }
    }
}

fn seconds<'a>(col: &'a ArrayRef) -> Option<Seconds<'a>> {
    match col.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => Some(Seconds::Seconds(col.as_primitive::<TimestampSecondType>())),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            Some(Seconds::Nanos(col.as_primitive::<TimestampNanosecondType>()))
        }
        _ => None,
    }
}

/// Signal, name column, time column and item attribute column of an `otel_*` table; None for
/// tables without an attribute catalog.
fn source(table: &str) -> Option<(&'static str, &'static str, &'static str, &'static str)> {
    match table {
        "otel_logs" => Some(("log", "ScopeName", "TimestampTime", "LogAttributes")),
        "otel_traces" => Some(("span", "SpanName", "Timestamp", "SpanAttributes")),
        t if t.starts_with("otel_metrics_") => Some(("metric", "MetricName", "TimeUnix", "Attributes")),
        _ => None,
    }
}

/// Whether [`attribute_feed`] derives rows from batches of `table`.
pub fn is_source(table: &str) -> bool {
    source(table).is_some()
}

struct Group<'a> {
    prefix: u32,
    scope: usize,
    key: &'a str,
    seed: u64,
    occurrences: u64,
    first: i64,
    last: i64,
    any_value: &'a str,
    /// New values, and whether each is one of the group's samples.
    new_values: Vec<(&'a str, bool)>,
    samples_left: usize,
}

const SCOPES: [&str; 2] = ["resource", "item"];

/// Values of a group marked as samples: the first ones this process sends (the catalog keeps 5
/// per group). Later values are not, so the catalog's samples do not change with the order in
/// which the engine merges its parts (until a restart or an emptied set marks new ones).
const SAMPLES: usize = 5;

/// The group's hash seed: xxh3 of its parts, each ended by a byte no UTF-8 text holds.
fn group_seed(signal: &str, scope: usize, service: &str, key: &str, name: &str) -> u64 {
    let mut b = Vec::with_capacity(signal.len() + service.len() + key.len() + name.len() + 5);
    b.push(scope as u8);
    for s in [signal, service, key, name] {
        b.extend_from_slice(s.as_bytes());
        b.push(0xff);
    }
    twox_hash::XxHash3_64::oneshot(&b)
}

/// 128-bit xxh3 of a value, seeded by its group.
#[inline]
fn value_hash(seed: u64, value: &str) -> u128 {
    twox_hash::XxHash3_128::oneshot_with_seed(seed, value.as_bytes())
}

/// The catalog feed of a batch of `table` (`otel_logs`, `otel_traces`, `otel_metrics_*`; columns
/// by name), leaving out values `seen` remembers. None when the table has no catalog, the batch
/// is not shaped like it, or its rows carry no attributes.
pub fn attribute_feed<'a>(table: &str, batch: &'a RecordBatch, seen: &SeenValues) -> Option<Feed> {
    let (signal, service, name, time, maps) = columns(table, batch)?;
    let remembered = seen.remembered.read().unwrap_or_else(|p| p.into_inner());
    let mut known: Vec<Option<&HashSet128>> = Vec::new();
    // (signal, service, name) of a row, then (that, scope, key) of an attribute: the row's part
    // is looked up once per row (and not at all when it repeats the previous row's).
    let mut prefixes: Vec<(&'static str, &'a str, &'a str)> = Vec::new();
    let mut prefix_ids: HashMap<(&'static str, &'a str, &'a str), u32, foldhash::fast::RandomState> =
        HashMap::default();
    let mut group_ids: HashMap<(u32, usize, &'a str), usize, foldhash::fast::RandomState> = HashMap::default();
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut fresh = HashSet128::default();
    let mut pending: Vec<Vec<u128>> = Vec::new();
    // Per scope, the group and value of each attribute position of the previous row: rows of a
    // batch usually carry the same keys in the same order (and resource attributes the same
    // values), so a string comparison replaces the group lookup, and the value's hash when the
    // value repeats (a repeated value adds nothing new).
    let mut by_position: [Vec<(u32, &'a str, usize, &'a str)>; 2] = [Vec::new(), Vec::new()];
    let mut last: Option<(&str, &str, u32)> = None;
    for i in 0..batch.num_rows() {
        let (svc, nm, t) = (service.get(i), name.get(i), time.get(i));
        let prefix = match last {
            Some((s, n, id)) if s == svc && n == nm => id,
            _ => {
                let id = *prefix_ids.entry((signal, svc, nm)).or_insert_with(|| {
                    prefixes.push((signal, svc, nm));
                    prefixes.len() as u32 - 1
                });
                last = Some((svc, nm, id));
                id
            }
        };
        for (scope, (m, keys, values)) in maps.iter().enumerate() {
            if m.is_null(i) {
                continue;
            }
            let offsets = m.value_offsets();
            let start = offsets[i] as usize;
            for e in start..offsets[i + 1] as usize {
                let key = keys.value(e);
                let value = if values.is_null(e) { "" } else { values.value(e) };
                let cached = by_position[scope].get(e - start).filter(|(p, k, _, _)| *p == prefix && *k == key);
                let (gi, repeated) = if let Some(&(_, _, gi, previous)) = cached {
                    (gi, previous == value)
                } else {
                    let gi = *group_ids.entry((prefix, scope, key)).or_insert_with(|| {
                        let seed = group_seed(signal, scope, svc, key, nm);
                        let set = remembered.groups.get(&seed);
                        let samples_left = SAMPLES.saturating_sub(set.map_or(0, |s| s.len()));
                        known.push(set);
                        pending.push(Vec::new());
                        groups.push(Group {
                            prefix,
                            scope,
                            key,
                            seed,
                            occurrences: 0,
                            first: t,
                            last: t,
                            any_value: value,
                            new_values: Vec::new(),
                            samples_left,
                        });
                        groups.len() - 1
                    });
                    let slots = &mut by_position[scope];
                    if slots.len() <= e - start {
                        slots.resize(e - start + 1, (u32::MAX, "", 0, ""));
                    }
                    slots[e - start] = (prefix, key, gi, value);
                    (gi, false)
                };
                let g = &mut groups[gi];
                g.occurrences += 1;
                g.first = g.first.min(t);
                g.last = g.last.max(t);
                if repeated {
                    continue;
                }
                by_position[scope][e - start].3 = value;
                let h = value_hash(g.seed, value);
                if !known[gi].is_some_and(|set| set.contains(&h)) && fresh.insert(h) {
                    let sample = g.samples_left > 0;
                    g.samples_left -= usize::from(sample);
                    g.new_values.push((value, sample));
                    pending[gi].push(h);
                }
            }
        }
    }
    drop(known);
    drop(remembered);
    if groups.is_empty() {
        return None;
    }
    let pending =
        Pending(groups.iter().zip(pending).filter(|(_, p)| !p.is_empty()).map(|(g, p)| (g.seed, p)).collect());
    let sort_key = |g: &Group<'a>| {
        let (signal, service, name) = prefixes[g.prefix as usize];
        (signal, g.scope, service, g.key, name)
    };
    groups.sort_unstable_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    let mut out = AttributeCatalogFeedBuilder::new();
    for g in &groups {
        let (signal, service, name) = prefixes[g.prefix as usize];
        let row = |(value, sample), occurrences| FeedRow {
            signal,
            scope: SCOPES[g.scope],
            service,
            key: g.key,
            name,
            value,
            sample,
            occurrences,
            first_s: g.first,
            last_s: g.last,
        };
        // The group's totals ride on its first row; a group without new values sends one value
        // it already has (harmless to a set) to carry them.
        let first = g.new_values.first().copied().unwrap_or((g.any_value, false));
        out.push(&row(first, g.occurrences));
        for v in g.new_values.iter().skip(1) {
            out.push(&row(*v, 0));
        }
    }
    Some(Feed { batch: out.finish(), pending })
}

type AttributeMap<'a> = (&'a MapArray, &'a StringArray, &'a StringArray);

/// The columns the feed reads from a batch of `table`, or None.
#[allow(clippy::type_complexity)]
fn columns<'a>(
    table: &str,
    batch: &'a RecordBatch,
) -> Option<(&'static str, Strs<'a>, Strs<'a>, Seconds<'a>, [AttributeMap<'a>; 2])> {
    let (signal, name_col, time_col, item_col) = source(table)?;
    let service = Strs::of(batch.column_by_name("ServiceName")?)?;
    let name = Strs::of(batch.column_by_name(name_col)?)?;
    let time = seconds(batch.column_by_name(time_col)?)?;
    let map = |c: &str| -> Option<AttributeMap<'a>> {
        let m = batch.column_by_name(c)?.as_map_opt()?;
        Some((m, m.keys().as_string_opt::<i32>()?, m.values().as_string_opt::<i32>()?))
    };
    Some((signal, service, name, time, [map("ResourceAttributes")?, map(item_col)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{UInt8Type, UInt64Type};
    use chute_tables::otel::{LogRow, LogsBuilder};

    fn logs(n: usize, users: usize, t0_s: i64) -> RecordBatch {
        let mut b = LogsBuilder::new();
        for i in 0..n {
            b.resource_attributes.insert("host.name", "h1");
            b.log_attributes.insert("user.id", &format!("u{}", i % users));
            b.end_row(&LogRow {
                timestamp_ns: (t0_s + i as i64) * 1_000_000_000,
                service_name: "api",
                scope_name: "app",
                body: "x",
                ..Default::default()
            });
        }
        b.finish()
    }

    type Row = (String, String, String, bool, u64, i64, i64);

    fn rows(f: &Feed) -> Vec<Row> {
        let b = &f.batch;
        let s = |c: usize, i: usize| {
            let col = b.column(c);
            match col.data_type() {
                DataType::Utf8 => col.as_string::<i32>().value(i).to_string(),
                _ => {
                    let d = col.as_dictionary::<arrow_array::types::Int32Type>();
                    d.values().as_string::<i32>().value(d.keys().value(i) as usize).to_string()
                }
            }
        };
        let n = |c: usize, i: usize| b.column(c).as_primitive::<TimestampSecondType>().value(i);
        let sample = |i: usize| b.column(6).as_primitive::<UInt8Type>().value(i) == 1;
        let occurrences = |i: usize| b.column(7).as_primitive::<UInt64Type>().value(i);
        (0..b.num_rows()).map(|i| (s(1, i), s(3, i), s(5, i), sample(i), occurrences(i), n(8, i), n(9, i))).collect()
    }

    fn row(scope: &str, key: &str, value: &str, sample: bool, occurrences: u64, first: i64, last: i64) -> Row {
        (scope.into(), key.into(), value.into(), sample, occurrences, first, last)
    }

    #[test]
    fn a_batch_becomes_one_row_per_new_value_with_the_totals_on_the_first() {
        let seen = SeenValues::new(100);
        let f = attribute_feed("otel_logs", &logs(6, 3, 100), &seen).unwrap();
        assert_eq!(f.batch.schema(), chute_tables::catalog::attribute_catalog_feed_schema());
        assert_eq!(
            rows(&f),
            vec![
                row("resource", "host.name", "h1", true, 6, 100, 105),
                row("item", "user.id", "u0", true, 6, 100, 105),
                row("item", "user.id", "u1", true, 0, 100, 105),
                row("item", "user.id", "u2", true, 0, 100, 105),
            ]
        );
        assert_eq!(f.pending.len(), 4);
        // Not acknowledged yet: the same values are sent again.
        assert_eq!(attribute_feed("otel_logs", &logs(6, 3, 100), &seen).unwrap().batch.num_rows(), 4);
        seen.remember(&f.pending);
        let again = attribute_feed("otel_logs", &logs(8, 6, 200), &seen).unwrap();
        assert_eq!(
            rows(&again),
            vec![
                row("resource", "host.name", "h1", false, 8, 200, 207),
                row("item", "user.id", "u3", true, 8, 200, 207),
                row("item", "user.id", "u4", true, 0, 200, 207),
                row("item", "user.id", "u5", false, 0, 200, 207),
            ],
            "u3..u5 are new, the first two fill the 5 samples; the resource group carries its totals \
             with a known value"
        );
    }

    #[test]
    fn keys_in_changing_order_and_services_still_land_in_their_own_groups() {
        // Rows alternate the order of their keys, drop one, and switch services: the position
        // cache must never put a value in the previous row's group.
        let mut b = LogsBuilder::new();
        let rows_spec: [(&str, &[(&str, &str)]); 5] = [
            ("api", &[("a", "1"), ("b", "x")]),
            ("api", &[("b", "y"), ("a", "2")]),
            ("web", &[("b", "z"), ("a", "3")]),
            ("web", &[("a", "3")]),
            ("api", &[("a", "1"), ("c", "q")]),
        ];
        for (i, (svc, attrs)) in rows_spec.iter().enumerate() {
            for (k, v) in *attrs {
                b.log_attributes.insert(k, v);
            }
            b.end_row(&LogRow {
                timestamp_ns: i as i64 * 1_000_000_000,
                service_name: svc,
                scope_name: "app",
                body: "x",
                ..Default::default()
            });
        }
        let f = attribute_feed("otel_logs", &b.finish(), &SeenValues::new(100)).unwrap();
        let groups: Vec<(String, String, String, u64)> = {
            let b = &f.batch;
            let s = |c: usize, i: usize| {
                let d = b.column(c).as_dictionary_opt::<arrow_array::types::Int32Type>();
                match d {
                    Some(d) => d.values().as_string::<i32>().value(d.keys().value(i) as usize).to_string(),
                    None => b.column(c).as_string::<i32>().value(i).to_string(),
                }
            };
            (0..b.num_rows())
                .map(|i| (s(2, i), s(3, i), s(5, i), b.column(7).as_primitive::<UInt64Type>().value(i)))
                .collect()
        };
        let g = |svc: &str, k: &str, v: &str, n: u64| (svc.to_string(), k.to_string(), v.to_string(), n);
        assert_eq!(
            groups,
            vec![
                g("api", "a", "1", 3),
                g("api", "a", "2", 0),
                g("api", "b", "x", 2),
                g("api", "b", "y", 0),
                g("api", "c", "q", 1),
                g("web", "a", "3", 2),
                g("web", "b", "z", 1),
            ]
        );
    }

    #[test]
    fn a_full_set_forgets_its_largest_groups_first_and_other_tables_have_no_feed() {
        let seen = SeenValues::new(3);
        let f = attribute_feed("otel_logs", &logs(2, 2, 0), &seen).unwrap();
        seen.remember(&f.pending);
        assert_eq!(seen.len(), 3);
        seen.remember(&Pending(vec![(7, vec![1, 2])]));
        assert_eq!(seen.len(), 3, "the largest group (user.id, 2 values) was emptied for 2 others");
        assert!(attribute_feed("k6_samples", &logs(2, 2, 0), &seen).is_none());
        assert!(attribute_feed("otel_logs", &logs(0, 1, 0), &seen).is_none());
    }
}
