//! Golden test on real InfluxDB write bodies captured from k6 v2.2.0
//! (`fixtures/k6/basic-run/influx/`), plus a no-panic check on mangled copies of them.

use std::collections::BTreeSet;

use chute_influx::{FieldValue, Precision, parse, parse_each};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/k6/basic-run/influx/");

/// Around 2026-11-23 (the capture's first write was at 1795433093 s).
const RUN_START_NS: i64 = 1_795_433_093_000_000_000;

struct Capture {
    n: u64,
    body: Vec<u8>,
    lines: usize,
    measurements: BTreeSet<String>,
}

/// Every request of the capture that has a body (n=1 is the bodiless CREATE DATABASE query).
fn captures() -> Vec<Capture> {
    let log = std::fs::read_to_string(format!("{DIR}requests.jsonl")).unwrap();
    let mut out = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        let n = request["n"].as_u64().unwrap();
        let Some(lines) = request["summary"]["lines"].as_u64() else {
            assert_eq!(request["body_bytes"], 0, "request {n} has a body but no line count");
            continue;
        };
        let measurements = request["summary"]["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        let body = std::fs::read(format!("{DIR}body-{n:03}.bin")).unwrap();
        assert_eq!(body.len() as u64, request["body_bytes"].as_u64().unwrap());
        out.push(Capture { n, body, lines: lines as usize, measurements });
    }
    assert_eq!(out.iter().map(|c| c.n).collect::<Vec<_>>(), (2..=10).collect::<Vec<_>>());
    out
}

#[test]
fn k6_bodies_parse_fully() {
    let (mut total, mut with_url) = (0, 0);
    for capture in captures() {
        let n = capture.n;
        let points = parse(&capture.body, Precision::Nanoseconds).unwrap_or_else(|e| panic!("body-{n:03}.bin: {e}"));
        assert_eq!(points.len(), capture.lines, "body-{n:03}.bin");
        assert_eq!(parse_each(&capture.body, Precision::Nanoseconds, |_| {}).unwrap(), capture.lines);
        total += points.len();

        let measurements: BTreeSet<String> = points.iter().map(|p| p.measurement.to_string()).collect();
        assert_eq!(measurements, capture.measurements, "body-{n:03}.bin");

        for p in &points {
            let what = format!("body-{n:03}.bin, {} {:?}", p.measurement, p.timestamp_ns);
            assert!(matches!(p.field("value"), Some(FieldValue::Float(v)) if v.is_finite()), "{what}");
            // k6 sends `url` (a string field) with HTTP metrics only; vus, iterations,
            // checks, custom metrics and the like have just `value`. (The script names some
            // requests, so a `url` is not always a URL: `url="missing"`.)
            if p.measurement.starts_with("http_req") {
                assert!(matches!(p.field("url"), Some(FieldValue::String(u)) if !u.is_empty()), "{what}");
                with_url += 1;
                assert_eq!(p.fields.len(), 2, "{what}");
            }
            assert_eq!(p.tag("testid"), Some("fixture-basic-001"), "{what}");
            let ts = p.timestamp_ns.unwrap();
            assert!((RUN_START_NS - 60_000_000_000..RUN_START_NS + 600_000_000_000).contains(&ts), "{what}");
        }
    }
    assert_eq!((total, with_url), (4123, 2619));
}

#[test]
fn k6_http_point_in_detail() {
    let body = std::fs::read(format!("{DIR}body-002.bin")).unwrap();
    let points = parse(&body, Precision::Nanoseconds).unwrap();
    let p = &points[0];
    assert_eq!(p.measurement, "http_reqs");
    let tags: Vec<(&str, &str)> = p.tags.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(
        tags,
        [
            ("expected_response", "true"),
            ("group", "::home"),
            ("method", "GET"),
            ("name", "http://127.0.0.1:18000/"),
            ("page", "home"),
            ("proto", "HTTP/1.0"),
            ("scenario", "browse"),
            ("status", "200"),
            ("testid", "fixture-basic-001"),
        ]
    );
    assert_eq!(
        p.fields,
        vec![
            ("url".into(), FieldValue::String("http://127.0.0.1:18000/".into())),
            ("value".into(), FieldValue::Float(1.0)),
        ]
    );
    assert_eq!(p.timestamp_ns, Some(1_795_433_093_125_392_368));
    assert_eq!(points[1].field("value"), Some(&FieldValue::Float(5.298315)));
}

#[test]
fn k6_check_names_are_unescaped() {
    let mut checks = BTreeSet::new();
    for capture in captures() {
        parse_each(&capture.body, Precision::Nanoseconds, |p| {
            if p.measurement == "checks" {
                checks.insert(p.tag("check").unwrap().to_owned());
            }
        })
        .unwrap();
    }
    assert!(checks.contains("home is 200"), "{checks:?}");
    assert!(checks.iter().all(|c| !c.contains('\\')), "{checks:?}");
}

#[test]
fn same_bodies_in_other_precisions() {
    // k6 always writes ns; re-reading a line in seconds overflows, in ns it does not.
    let line = b"vus,testid=fixture-basic-001 value=3 1795433094117900160";
    let points = parse(line, Precision::Nanoseconds).unwrap();
    assert_eq!(points[0].timestamp_ns, Some(1_795_433_094_117_900_160));
    let e = parse(line, Precision::Seconds).unwrap_err();
    assert_eq!((e.line, e.column), (1, 38));
}

/// Mangles fixture lines at random (deterministically) and checks that parsing never panics
/// and that every error points inside the body.
#[test]
fn mangled_k6_lines_never_panic() {
    let body = std::fs::read(format!("{DIR}body-002.bin")).unwrap();
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let specials = b" ,=\\\"\t\r\n#-.0123456789eEiutf\xff\xc3";
    let mut x: u64 = 0x1234_5678_9ABC_DEF1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..20_000 {
        let mut line = lines[(next() % lines.len() as u64) as usize].to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() % (line.len() as u64 + 1)) as usize;
            let byte = specials[(next() % specials.len() as u64) as usize];
            match next() % 4 {
                0 if at < line.len() => line[at] = byte,
                1 => line.insert(at, byte),
                2 if at < line.len() => {
                    line.remove(at);
                }
                _ => line.truncate(at),
            }
        }
        match parse(&line, Precision::Nanoseconds) {
            Ok(_) => ok += 1,
            Err(e) => {
                failed += 1;
                let line_count = line.split(|&b| b == b'\n').count();
                assert!(e.line >= 1 && e.line <= line_count, "{e:?}");
                assert!(e.column >= 1 && e.column <= line.len() + 1, "{e:?}");
                assert!(!e.reason.is_empty());
            }
        }
    }
    assert!(ok > 1_000 && failed > 1_000, "ok {ok}, failed {failed}");
}
