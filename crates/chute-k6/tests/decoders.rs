//! The file importers and the InfluxDB decoder on their own (no engine): what they make of
//! good input, and the errors users see for bad input.

mod common;

use chute_influx::Precision;
use chute_k6::csv::CsvImport;
use chute_k6::influx::{InfluxWriteContext, decode_influx_write};
use chute_k6::json::JsonImport;
use chute_k6::runs::{NoLookup, RunAssigner};
use chute_k6::{ImportFormat, ImportOptions, ImportSummary, K6Error, sniff_format};
use common::*;
use std::io::Write;
use std::sync::Arc;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn json(data: &[u8], opts: ImportOptions) -> Result<(ImportSummary, Vec<Vec<Row>>), K6Error> {
    let mut batches = Vec::new();
    let s = JsonImport::new(opts).run(data, |b| {
        batches.push(rows(&b));
        Ok::<(), std::io::Error>(())
    })?;
    Ok((s, batches))
}

fn csv(data: &[u8], opts: ImportOptions) -> Result<(ImportSummary, Vec<Vec<Row>>), K6Error> {
    let mut batches = Vec::new();
    let s = CsvImport::new(opts).run(data, |b| {
        batches.push(rows(&b));
        Ok::<(), std::io::Error>(())
    })?;
    Ok((s, batches))
}

const METRIC: &str = r#"{"type":"Metric","data":{"name":"think_time","type":"trend","contains":"time","thresholds":["p(95)<300"],"submetrics":[{"name":"think_time{scenario:buy}","suffix":"scenario:buy","tags":{"scenario":"buy"}}]},"metric":"think_time"}"#;

fn point(metric: &str, value: f64, testid: Option<&str>) -> String {
    let testid = testid.map(|t| format!(r#","testid":"{t}""#)).unwrap_or_default();
    format!(
        r#"{{"metric":"{metric}","type":"Point","data":{{"time":"2026-11-23T11:24:53.125392368Z","value":{value},"tags":{{"scenario":"browse"{testid}}}}}}}"#
    )
}

#[test]
fn json_points_carry_time_value_tags_metadata_and_declared_type() {
    let body = [
        METRIC.to_owned(),
        r#"{"metric":"think_time","type":"Point","data":{"time":"2026-11-23T12:24:53.5+01:00","value":12.5,"tags":{"testid":"r1","group":"","name":"a \"quoted\" name"},"metadata":{"vu":"7","iter":"42","trace_id":"abc"}}}"#.to_owned(),
        r#"{"type":"Point","metric":"vus","data":{"value":3,"time":"2026-11-23T11:24:53.000001999Z","tags":null}}"#.to_owned(),
        r#"{"metric":"my_custom","type":"Point","data":{"time":"2026-11-23T11:24:53Z","value":-1.5e3,"tags":{"testid":"r1"}}}"#.to_owned(),
    ]
    .join("\n");
    let (s, batches) = json(body.as_bytes(), ImportOptions { run_id_override: None, ..Default::default() }).unwrap();
    assert_eq!(s.samples, 3);
    let all: Vec<Row> = batches.concat();
    assert_eq!(
        all[0],
        Row {
            run_id: "r1".into(),
            timestamp_us: 1_795_433_093_500_000,
            metric: "think_time".into(),
            metric_type: "trend".into(),
            value: 12.5,
            tags: pairs(&[("testid", "r1"), ("group", ""), ("name", "a \"quoted\" name")]),
            vu: Some(7),
            iter: Some(42),
            metadata: pairs(&[("trace_id", "abc")]),
            source: "json".into(),
        }
    );
    // No testid: the file's own run; no Metric line: the built-in type; null tags: none.
    assert_eq!(all[1].run_id, format!("import-{}", &s.sha256[..12]));
    assert_eq!(
        (all[1].metric_type.as_str(), all[1].tags.len(), all[1].timestamp_us),
        ("gauge", 0, 1_795_433_093_000_001)
    );
    assert_eq!((all[2].metric_type.as_str(), all[2].value), ("", -1500.0), "custom metric without declaration");
    assert_eq!(s.run_ids.len(), 2);
    let decl = s.metrics.iter().find(|m| m.run_id == "r1" && m.name == "think_time").unwrap();
    assert_eq!(decl.thresholds, vec!["p(95)<300".to_owned()]);
    assert_eq!(decl.submetrics, vec!["think_time{scenario:buy}".to_owned()]);
    assert_eq!(decl.contains, "time");
}

#[test]
fn lines_with_escapes_decode_like_plain_ones() {
    // The first line takes the fast path, the second (an escaped key order and a \u escape)
    // the general one: same row.
    let a = r#"{"metric":"http_reqs","type":"Point","data":{"time":"2026-11-23T11:24:53Z","value":1,"tags":{"testid":"t","url":"http://x/é"}}}"#;
    let b = r#"{ "data" : { "tags" : { "url" : "http://x/\u00e9", "testid" : "t" }, "value" : 1.0, "time" : "2026-11-23T11:24:53Z" }, "type" : "Point", "metric" : "http_reqs" }"#;
    let (_, ba) = json(a.as_bytes(), ImportOptions::default()).unwrap();
    let (_, bb) = json(b.as_bytes(), ImportOptions::default()).unwrap();
    assert_eq!(ba, bb);
}

#[test]
fn samples_without_testid_stream_in_batches_and_land_in_the_files_run() {
    let lines: Vec<String> =
        (0..25).map(|i| point("iterations", 1.0, if i % 5 == 0 { Some("t") } else { None })).collect();
    let body = lines.join("\n") + "\n";
    let sha = chute_k6::import::content_sha256(&gzip(body.as_bytes())[..]).unwrap();
    let expected_run = format!("import-{}", &sha[..12]);

    // Hash unknown: rows without testid are held to the end, then relabeled.
    let (s, batches) = json(&gzip(body.as_bytes()), ImportOptions { max_rows: 4, ..Default::default() }).unwrap();
    assert_eq!(s.sha256, sha);
    assert!(batches.iter().all(|b| b.len() <= 4));
    let all: Vec<Row> = batches.concat();
    assert_eq!(all.len(), 25);
    assert_eq!(all.iter().filter(|r| r.run_id == expected_run).count(), 20);
    assert_eq!(all.iter().filter(|r| r.run_id == "t").count(), 5);
    assert_eq!(s.samples_per_run.get(&expected_run), Some(&20));

    // Hash given: the same runs, in file order.
    let (s2, batches) =
        json(body.as_bytes(), ImportOptions { max_rows: 4, content_sha256: Some(sha.clone()), ..Default::default() })
            .unwrap();
    assert_eq!(s2.samples_per_run, s.samples_per_run);
    let runs: Vec<String> = batches.concat().into_iter().map(|r| r.run_id).collect();
    assert_eq!(runs[0], "t");
    assert_eq!(runs[1], expected_run);

    // An override wins over everything.
    let (s3, _) =
        json(body.as_bytes(), ImportOptions { run_id_override: Some("mine".into()), ..Default::default() }).unwrap();
    assert_eq!(s3.run_ids.into_iter().collect::<Vec<_>>(), vec!["mine".to_owned()]);
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn file_digests_hash_the_content_and_the_stored_bytes_and_catch_a_file_that_changed() {
    // Larger than one read buffer, so the content is hashed in several pieces.
    let lines: Vec<String> = (0..5000).map(|i| point("iterations", i as f64, Some("t"))).collect();
    let body = lines.join("\n") + "\n";
    assert!(body.len() > 512 * 1024);
    let gz = gzip(body.as_bytes());

    let d = chute_k6::file_digests(&gz[..]).unwrap();
    assert_eq!(d.content_sha256, sha256_hex(body.as_bytes()));
    assert_eq!(d.file_sha256, sha256_hex(&gz));
    let plain = chute_k6::file_digests(body.as_bytes()).unwrap();
    assert_eq!(
        (plain.content_sha256.as_str(), plain.file_sha256.as_str()),
        (d.content_sha256.as_str(), d.content_sha256.as_str())
    );
    assert_eq!(chute_k6::content_sha256(&gz[..]).unwrap(), d.content_sha256);

    // Both digests given: the stored bytes are checked, and the summary names the content's.
    let given = ImportOptions {
        content_sha256: Some(d.content_sha256.clone()),
        file_sha256: Some(d.file_sha256.clone()),
        ..Default::default()
    };
    let (s, batches) = json(&gz, given.clone()).unwrap();
    assert_eq!(s.sha256, d.content_sha256);
    assert_eq!(batches.concat().len(), 5000);

    // The file changed after it was hashed (one value differs): the import fails and says so.
    let changed = gzip(body.replacen("\"value\":7,", "\"value\":8,", 1).as_bytes());
    let err = json(&changed, given).unwrap_err().to_string();
    assert!(err.contains("the file changed while it was imported"), "{err}");
    assert!(err.contains(&d.file_sha256), "{err}");

    // Only the content's digest given: the content is hashed and checked, as before.
    let content_only = ImportOptions { content_sha256: Some(d.content_sha256.clone()), ..Default::default() };
    let err = json(&changed, content_only).unwrap_err().to_string();
    assert!(err.contains("the content's sha256"), "{err}");
}

#[test]
fn a_bad_json_line_in_the_middle_is_reported_with_its_line_number() {
    let good = point("vus", 1.0, Some("t"));
    let cases = [
        (
            "{\"metric\":\"vus\",\"type\":\"Point\",\"data\":{\"time\":",
            "json line 3: end of line while parsing a value (column 46)",
        ),
        (r#"{"metric":"vus","type":"Point","data":{"value":1}}"#, "json line 3: missing field \"data.time\""),
        (
            r#"{"metric":"vus","type":"Sample","data":{}}"#,
            "json line 3: unknown \"type\" \"Sample\" (expected \"Metric\" or \"Point\")",
        ),
        (
            r#"{"metric":"vus","type":"Point","data":{"time":"yesterday","value":1}}"#,
            "json line 3: bad time \"yesterday\" in \"data.time\"",
        ),
        (
            r#"{"type":"Metric","data":{"name":"x","type":"histogram"}}"#,
            "json line 3: unknown metric type \"histogram\" in \"data.type\"",
        ),
        (
            r#"{"metric":"vus","type":"Point","data":{"time":"2026-11-23T11:24:53Z","value":"1"}}"#,
            "json line 3: invalid type: string",
        ),
    ];
    for (bad, want) in cases {
        let body = format!("{good}\n\n{bad}\n{good}\n");
        let err = json(body.as_bytes(), ImportOptions::default()).expect_err("an error");
        assert!(matches!(err, K6Error::Json { line: 3, .. }), "{bad}: {err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(want), "{bad}:\n  got  {msg}\n  want {want}...");
    }
}

#[test]
fn files_that_are_not_k6_output_are_named_so() {
    let csv_file = read("basic.k6.csv.gz");
    let json_file = read("basic.k6.json.gz");
    let random: Vec<u8> = (0u32..50_000).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for (what, data) in
        [("csv file", &csv_file[..]), ("random bytes", &random[..]), ("json document", br#"{"hello":"world"}"#)]
    {
        let err = json(data, ImportOptions::default()).err();
        let Some(err @ K6Error::NotK6 { format: "json", .. }) = err else { panic!("{what}: {err:?}") };
        assert!(err.to_string().starts_with("not k6 json output: line 1 is not"), "{what}: {err}");
    }
    for (what, data) in [("json file", &json_file[..]), ("random bytes", &random[..]), ("empty", &b""[..])] {
        let err = csv(data, ImportOptions::default()).err();
        let Some(err @ K6Error::NotK6 { format: "csv", .. }) = err else { panic!("{what}: {err:?}") };
        assert!(err.to_string().starts_with("not k6 csv output: "), "{what}: {err}");
    }
    assert_eq!(sniff_format(&json_file[..512]), Some(ImportFormat::Json));
    assert_eq!(sniff_format(&csv_file[..512]), Some(ImportFormat::Csv));
    assert_eq!(sniff_format(&random[..512]), None);
}

#[test]
fn a_truncated_gzip_file_is_a_clear_error() {
    let json_file = read("basic.k6.json.gz");
    let err = json(&json_file[..json_file.len() / 2], ImportOptions::default()).expect_err("an error");
    let msg = err.to_string();
    assert!(matches!(err, K6Error::Read { format: "json", line, .. } if line > 100), "{err:?}");
    assert!(msg.starts_with("cannot read the json input after line "), "{msg}");

    let csv_file = read("basic.k6.csv.gz");
    let err = csv(&csv_file[..csv_file.len() / 2], ImportOptions::default()).expect_err("an error");
    assert!(matches!(err, K6Error::Read { format: "csv", .. }), "{err:?}");
}

#[test]
fn csv_rows_take_tags_extra_tags_and_metadata() {
    let body = "metric_name,timestamp,metric_value,check,group,name,scenario,extra_tags,metadata\n\
        checks,1795433093,1.000000,home is 200,::home,,browse,testid=r1&page=home,vu=3&iter=9&trace_id=x\n\
        \n\
        http_reqs,2026-11-23T11:24:53.5Z,1.000000,,,\"http://x/?a=1,2\",buy,testid=r1,\n\
        my_metric,1795433093.25,2.5,,,,,,\n";
    let (s, batches) = csv(body.as_bytes(), ImportOptions::default()).unwrap();
    assert_eq!(s.samples, 3);
    let all = batches.concat();
    assert_eq!(
        all[0].tags,
        pairs(&[
            ("check", "home is 200"),
            ("group", "::home"),
            ("scenario", "browse"),
            ("testid", "r1"),
            ("page", "home")
        ])
    );
    assert_eq!((all[0].vu, all[0].iter, all[0].metadata.clone()), (Some(3), Some(9), pairs(&[("trace_id", "x")])));
    assert_eq!((all[0].metric_type.as_str(), all[0].run_id.as_str()), ("rate", "r1"));
    assert_eq!(all[1].timestamp_us, 1_795_433_093_500_000);
    assert!(all[1].tags.contains(&("name".into(), "http://x/?a=1,2".into())));
    assert_eq!((all[2].timestamp_us, all[2].metric_type.as_str()), (1_795_433_093_250_000, ""));
    assert_eq!(all[2].run_id, format!("import-{}", &s.sha256[..12]));

    let bad = "metric_name,timestamp,metric_value,extra_tags,metadata\nvus,1795433093,3,,\nvus,soon,3,,\n";
    let err = csv(bad.as_bytes(), ImportOptions::default()).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "csv line 3: bad timestamp \"soon\" (expected Unix seconds or an RFC 3339 time): expected an RFC 3339 time like 2026-11-23T11:24:53.125392368Z"
        )
    );
    let bad = "metric_name,timestamp,metric_value,extra_tags,metadata\nvus,1795433093,three,,\n";
    let err = csv(bad.as_bytes(), ImportOptions::default()).err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("csv line 2: bad metric_value \"three\" (expected a number)"));
    let bad = "metric_name,timestamp,metric_value,extra_tags,metadata\nvus,1795433093\n";
    let err = csv(bad.as_bytes(), ImportOptions::default()).err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("csv line 2: expected 5 fields as in the header, found 2"));
}

#[test]
fn a_refused_batch_stops_the_import_with_the_callers_reason() {
    let body = (0..10).map(|_| point("vus", 1.0, Some("t"))).collect::<Vec<_>>().join("\n");
    let err = JsonImport::new(ImportOptions { max_rows: 4, ..Default::default() })
        .run(body.as_bytes(), |_| Err("the store is full"))
        .err()
        .map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("the batch of 4 samples ending at line 4 was not accepted: the store is full"));
}

#[test]
fn malformed_line_protocol_decodes_nothing_and_names_line_and_reason() {
    let runs = RunAssigner::new(std::time::Duration::from_secs(30), Arc::new(NoLookup));
    let ctx = InfluxWriteContext { database: "k6".into(), k6: true, received_at_ns: 0 };
    let body = b"vus,testid=t value=3 1795433093000000000\nvus,testid=t value=3 17954330930000000xx\n";
    let err = decode_influx_write(body, Precision::Nanoseconds, &ctx, &runs).expect_err("an error");
    let K6Error::LineProtocol(p) = &err else { panic!("{err:?}") };
    assert_eq!(p.line, 2);
    assert!(!p.reason.is_empty());
    let msg = err.to_string();
    assert!(msg.starts_with("invalid line protocol: line 2, column ") && msg.contains(&p.reason), "{msg}");
}

#[test]
fn influx_samples_without_testid_form_runs_by_gap_and_testid_wins() {
    let runs = RunAssigner::new(std::time::Duration::from_secs(30), Arc::new(NoLookup));
    let ctx = InfluxWriteContext { database: "k6".into(), k6: true, received_at_ns: 0 };
    let t0: i64 = 1_795_433_093_000_000_000;
    let s = 1_000_000_000i64;
    let run_of = |body: String| -> Vec<String> {
        let d = decode_influx_write(body.as_bytes(), Precision::Nanoseconds, &ctx, &runs).unwrap();
        d.samples.map(|b| rows(&b).into_iter().map(|r| r.run_id).collect()).unwrap_or_default()
    };
    let first = run_of(format!("vus value=1 {t0}\nvus,testid=mine value=1 {t0}\nvus value=1 {}\n", t0 + s));
    assert_eq!(first, vec!["influxdb-k6-20261123T112453Z", "mine", "influxdb-k6-20261123T112453Z"]);
    assert_eq!(run_of(format!("vus value=1 {}\n", t0 + 30 * s)), vec!["influxdb-k6-20261123T112453Z"], "29 s gap");
    assert_eq!(run_of(format!("vus value=1 {}\n", t0 + 61 * s)), vec!["influxdb-k6-20261123T112554Z"], "31 s gap");
}
