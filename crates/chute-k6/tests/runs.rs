//! Runs of samples without testid survive a restart: a new assigner asks the store which run
//! the source was writing, on the real engine.

mod common;

use chute_influx::Precision;
use chute_k6::influx::{InfluxWriteContext, decode_influx_write};
use chute_k6::runs::{RunAssigner, StoreRunLookup};
use common::*;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn after_a_restart_samples_continue_the_run_the_store_knows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(engine(dir.path()));
    let ctx = InfluxWriteContext { database: "k6".into(), k6: true, received_at_ns: 0 };
    let t0: i64 = 1_795_433_093_000_000_000;
    let s = 1_000_000_000i64;
    let write = |runs: &RunAssigner, at: i64| -> String {
        let body = format!("http_reqs,status=200 value=1 {at}\nvus value=3 {}\n", at + s);
        let d = decode_influx_write(body.as_bytes(), Precision::Nanoseconds, &ctx, runs).unwrap();
        let b = d.samples.unwrap();
        insert(store.as_ref(), "k6_samples", &b);
        rows(&b)[0].run_id.clone()
    };

    let before = RunAssigner::new(Duration::from_secs(30), Arc::new(StoreRunLookup::new(store.clone())));
    let run = write(&before, t0);
    assert_eq!(run, "influxdb-k6-20261123T112453Z");
    assert_eq!(write(&before, t0 + 10 * s), run);
    drop(before);

    // Restarted: 20 s after the last sample (t0 + 11 s), the same run goes on.
    let after = RunAssigner::new(Duration::from_secs(30), Arc::new(StoreRunLookup::new(store.clone())));
    assert_eq!(write(&after, t0 + 31 * s), run);
    let info = chute_store::queries::k6::run(store.as_ref(), &run).unwrap().unwrap();
    assert_eq!(info.samples, 6);
    assert_eq!(info.sources, vec!["influxdb:k6".to_owned()]);

    // Restarted long after: a new run.
    let later = RunAssigner::new(Duration::from_secs(30), Arc::new(StoreRunLookup::new(store.clone())));
    assert_eq!(write(&later, t0 + 200 * s), "influxdb-k6-20261123T112813Z");
    // Another database is another source.
    let other = InfluxWriteContext { database: "other".into(), ..ctx.clone() };
    let body = format!("vus value=1 {}\n", t0 + 201 * s);
    let d = decode_influx_write(body.as_bytes(), Precision::Nanoseconds, &other, &later).unwrap();
    assert_eq!(rows(&d.samples.unwrap())[0].run_id, "influxdb-other-20261123T112814Z");
}
