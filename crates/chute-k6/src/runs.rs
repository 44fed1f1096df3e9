//! Run identity: which test run a sample belongs to.
//!
//! The rule, in order:
//!
//! 1. A sample tagged `testid` (k6's convention: `k6 run --tag testid=checkout-2026-11-23 ...`)
//!    belongs to the run named by that tag. Tag your runs and chute never has to guess.
//! 2. A file import can name the run explicitly (`run_id_override`), which replaces any testid.
//! 3. Otherwise the run is inferred per *source key*: the sender plus where it writes, e.g.
//!    `influxdb:k6` for InfluxDB writes to database `k6`. A write belongs to the source's current
//!    run unless its first sample is more than `gap` (default 30 s) after the last sample seen
//!    for that run; then a new run starts. A new run is named
//!    `<source key with ':' replaced by '-'>-<UTC time of its first sample, YYYYMMDDTHHMMSSZ>`,
//!    e.g. `influxdb-k6-20261123T112453Z`. Two tests sent to the same source key with less than
//!    `gap` between them therefore land in one run: tag them with `testid` to keep them apart.
//!    (File imports without testid use `import-<first 12 hex digits of the file's sha256>`.)
//!
//! The current run of each source key is kept in memory and survives restarts: the first time
//! a source key is seen, [`RunLookup::latest_run`] asks the store for the newest run of that
//! source whose last sample is within `gap` of the new samples, and continues it.

use chute_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The default gap after which samples without testid start a new run.
pub const DEFAULT_GAP: Duration = Duration::from_secs(30);

/// Where a [`RunAssigner`] finds the run a source was writing before a restart.
pub trait RunLookup: Send + Sync {
    /// The newest run of `source_key` whose last sample is at or after `since_us`, as
    /// `(run_id, last_sample_us)`; None when there is none (or it cannot be known).
    fn latest_run(&self, source_key: &str, since_us: i64) -> Option<(String, i64)>;
}

/// A lookup that knows no runs (tests, or sources that never continue across restarts).
pub struct NoLookup;

impl RunLookup for NoLookup {
    fn latest_run(&self, _source_key: &str, _since_us: i64) -> Option<(String, i64)> {
        None
    }
}

/// Finds a source's latest run in the store (`k6_runs`, whose `sources` hold the `source`
/// column of `k6_samples`: decoders store the source key there). A store error is logged and
/// treated as "no run", so a new run starts rather than samples being refused.
pub struct StoreRunLookup<S: Store + ?Sized>(pub Arc<S>);

impl<S: Store + ?Sized> StoreRunLookup<S> {
    pub fn new(store: Arc<S>) -> Self {
        StoreRunLookup(store)
    }
}

impl<S: Store + ?Sized> RunLookup for StoreRunLookup<S> {
    fn latest_run(&self, source_key: &str, since_us: i64) -> Option<(String, i64)> {
        let store: &dyn Store = &self.0;
        match chute_store::queries::k6::latest_run_of_source(store, source_key, since_us) {
            Ok(run) => run.map(|r| (r.run_id, r.last_sample_us)),
            Err(e) => {
                tracing::warn!(source_key, error = %e, "cannot look up the latest run of a source; starting a new run");
                None
            }
        }
    }
}

struct Current {
    run_id: String,
    last_us: i64,
}

/// Assigns samples without testid to runs, per source key (see the module doc for the rule).
pub struct RunAssigner {
    gap_us: i64,
    lookup: Arc<dyn RunLookup>,
    current: Mutex<HashMap<String, Current>>,
}

impl RunAssigner {
    pub fn new(gap: Duration, lookup: Arc<dyn RunLookup>) -> Self {
        let gap_us = i64::try_from(gap.as_micros()).unwrap_or(i64::MAX);
        RunAssigner { gap_us, lookup, current: Mutex::new(HashMap::new()) }
    }

    /// The gap after which a new run starts.
    pub fn gap(&self) -> Duration {
        Duration::from_micros(self.gap_us.max(0) as u64)
    }

    /// The run of samples from `source_key` spanning `first_us..=last_us` (microseconds since
    /// the epoch); remembers `last_us` as the run's last seen sample time.
    pub fn assign(&self, source_key: &str, first_us: i64, last_us: i64) -> String {
        let known = self.lock().contains_key(source_key);
        // The first time a source key is seen, ask the store (outside the lock: it is a query).
        let found = if known { None } else { self.lookup.latest_run(source_key, first_us.saturating_sub(self.gap_us)) };
        let mut map = self.lock();
        if let Some((run_id, last)) = found {
            map.entry(source_key.to_owned()).or_insert(Current { run_id, last_us: last });
        }
        let gap_us = self.gap_us;
        match map.get_mut(source_key) {
            Some(cur) if first_us <= cur.last_us.saturating_add(gap_us) => {
                cur.last_us = cur.last_us.max(last_us);
                cur.run_id.clone()
            }
            _ => {
                let run_id = new_run_id(source_key, first_us);
                map.insert(source_key.to_owned(), Current { run_id: run_id.clone(), last_us: last_us.max(first_us) });
                run_id
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Current>> {
        // A panic elsewhere while holding the lock leaves consistent data: keep going.
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `<source key with ':' replaced by '-'>-<YYYYMMDDTHHMMSSZ of first_us>`.
pub fn new_run_id(source_key: &str, first_us: i64) -> String {
    format!("{}-{}", source_key.replace(':', "-"), crate::time::compact_utc(first_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_795_433_093_125_392; // 2026-11-23T11:24:53.125392Z
    const S: i64 = 1_000_000;

    struct Remembers(String, i64);
    impl RunLookup for Remembers {
        fn latest_run(&self, _source_key: &str, since_us: i64) -> Option<(String, i64)> {
            (self.1 >= since_us).then(|| (self.0.clone(), self.1))
        }
    }

    #[test]
    fn samples_continue_a_run_while_gaps_stay_under_the_limit_and_start_a_new_one_after() {
        let runs = RunAssigner::new(DEFAULT_GAP, Arc::new(NoLookup));
        let first = runs.assign("influxdb:k6", T0, T0 + S);
        assert_eq!(first, "influxdb-k6-20261123T112453Z");
        assert_eq!(runs.assign("influxdb:k6", T0 + 20 * S, T0 + 25 * S), first, "19 s gap");
        assert_eq!(runs.assign("influxdb:k6", T0 + 54 * S, T0 + 55 * S), first, "29 s gap");
        let second = runs.assign("influxdb:k6", T0 + 86 * S, T0 + 87 * S);
        assert_eq!(second, "influxdb-k6-20261123T112619Z", "31 s gap starts a new run");
        assert_eq!(runs.assign("influxdb:other", T0 + 87 * S, T0 + 88 * S), "influxdb-other-20261123T112620Z");
    }

    #[test]
    fn after_a_restart_samples_continue_the_run_the_store_knows() {
        let before = RunAssigner::new(DEFAULT_GAP, Arc::new(NoLookup));
        let run = before.assign("influxdb:k6", T0, T0 + 10 * S);
        drop(before);
        let after = RunAssigner::new(DEFAULT_GAP, Arc::new(Remembers(run.clone(), T0 + 10 * S)));
        assert_eq!(after.assign("influxdb:k6", T0 + 12 * S, T0 + 13 * S), run);
        // A restart long after the run ended starts a new one.
        let later = RunAssigner::new(DEFAULT_GAP, Arc::new(Remembers(run.clone(), T0 + 10 * S)));
        assert_ne!(later.assign("influxdb:k6", T0 + 100 * S, T0 + 101 * S), run);
    }
}
