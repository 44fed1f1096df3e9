//! Prometheus remote write over the real protocol: captured Prometheus and k6 bodies replayed to
//! a running chute, Debian's `prometheus` writing its own series to chute, and the answers on bad
//! input and backpressure (nothing of a refused body stored).

mod common;

use common::*;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn wait_delivered(url: &str) {
    wait_for("the spool to empty", Duration::from_secs(60), || {
        let (_, b) = ureq_get(&format!("{url}/health/ready")).ok()?;
        let h: serde_json::Value = serde_json::from_str(&b).ok()?;
        (h["spool"]["bytes"].as_u64() == Some(0)).then_some(())
    });
}

fn stop_and_open(chute: Chute) -> OpenStore {
    let dir = chute.dir.clone();
    wait_delivered(&chute.url);
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
    open_store(&dir)
}

const RW: [(&str, &str); 3] = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// The captured requests of a folder whose bodies were kept.
fn kept(folder: &str) -> Vec<Captured> {
    captured(&fixtures().join(folder)).into_iter().filter(|c| !c.body.is_empty()).collect()
}

fn replay_blocking(url: &str, r: &Captured) -> Response {
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .filter(|(k, _)| !["host", "content-length", "accept-encoding"].contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    http_post(&format!("{url}{}", r.path), &headers, &r.body).unwrap()
}

#[test]
fn captured_prometheus_and_k6_remote_write_bodies_land_in_the_metric_tables() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let prom = kept("prometheus/remote-write");
    let k6 = kept("k6/outputs-small/prw");
    assert_eq!((prom.len(), k6.len()), (5, 5));
    for r in prom.iter().chain(&k6) {
        let (s, _, body) = replay_blocking(&chute.url, r);
        assert_eq!(s, 204, "{body}");
    }
    assert_eq!(metric(&chute.url, "chute_promrw_samples_total"), (353.0 + 4.0 * 394.0) + (17.0 + 4.0 * 19.0));
    let store = stop_and_open(chute);
    let q = |sql: &str| scalar(&store, sql);
    // Prometheus 2.42 scraping itself (job "self"): one row per sample, 5 requests.
    assert_eq!(
        q("SELECT (SELECT count() FROM otel_metrics_gauge WHERE ServiceName = 'self') + \
             (SELECT count() FROM otel_metrics_sum WHERE ServiceName = 'self')"),
        353 + 4 * 394
    );
    assert_eq!(q("SELECT count() FROM otel_metrics_gauge WHERE MetricName = 'prometheus_build_info'"), 5);
    assert_eq!(
        q("SELECT count() FROM otel_metrics_gauge WHERE MetricName = 'go_gc_duration_seconds' \
           AND Attributes['quantile'] = '0' AND ResourceAttributes['service.instance.id'] = '127.0.0.1:19099' \
           AND TimeUnix = toDateTime(1795432751) AND Value = 5.1618e-05"),
        1,
        "the first series of the first request, as Prometheus sent it"
    );
    assert_eq!(q("SELECT countIf(NOT IsMonotonic) FROM otel_metrics_sum"), 0);
    // k6's prometheus-rw output: counters are sums, rates and trend stats gauges.
    assert_eq!(q("SELECT count() FROM otel_metrics_sum WHERE MetricName = 'k6_http_reqs_total'"), 5);
    assert_eq!(
        q("SELECT count() FROM otel_metrics_gauge WHERE MetricName = 'k6_http_req_duration_p99' \
           AND Attributes['status'] = '200' AND ScopeName = 'prometheus-remote-write'"),
        5
    );
    assert_eq!(
        q("SELECT toUInt64(max(Value)) FROM otel_metrics_sum WHERE MetricName = 'k6_iterations_total'"),
        q("SELECT toUInt64(argMax(Value, TimeUnix)) FROM otel_metrics_sum WHERE MetricName = 'k6_iterations_total'"),
        "a cumulative counter's newest value is its largest"
    );
    assert_eq!(q("SELECT count() FROM otel_metrics_gauge WHERE Flags != 0"), 0);
}

/// A snappy block holding `data` as one literal (enough for the short bodies built here).
fn snappy_literal(data: &[u8]) -> Vec<u8> {
    assert!(!data.is_empty() && data.len() <= 127);
    let mut out = vec![data.len() as u8];
    if data.len() <= 60 {
        out.push(((data.len() - 1) as u8) << 2);
    } else {
        out.extend_from_slice(&[60 << 2, (data.len() - 1) as u8]);
    }
    out.extend_from_slice(data);
    out
}

/// A WriteRequest with one series of `labels` (name, value) and one sample, in protobuf.
fn write_request(labels: &[(&str, &str)]) -> Vec<u8> {
    let field = |tag: u8, data: &[u8]| {
        let mut v = vec![tag, data.len() as u8];
        v.extend_from_slice(data);
        v
    };
    let mut series = Vec::new();
    for (k, v) in labels {
        let mut label = field(0x0a, k.as_bytes());
        label.extend(field(0x12, v.as_bytes()));
        series.extend(field(0x0a, &label));
    }
    let mut sample = vec![0x09];
    sample.extend_from_slice(&1.5f64.to_le_bytes());
    sample.extend_from_slice(&[0x10, 0x01]);
    series.extend(field(0x12, &sample));
    field(0x0a, &series)
}

#[test]
fn bad_remote_write_bodies_are_refused_with_a_message_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["limits.max_body_bytes=32KiB"]);
    let url = format!("{}/api/v1/write", chute.url);
    let good = std::fs::read(fixtures().join("k6/outputs-small/prw/body-001.bin")).unwrap();

    // Not snappy.
    let (s, _, body) = http_post(&url, &RW, b"this is not snappy at all").unwrap();
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("invalid snappy body"), "{body}");
    // Snappy around something that is not a WriteRequest.
    let (s, _, body) = http_post(&url, &RW, &snappy_literal(&[0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])).unwrap();
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("invalid protobuf WriteRequest"), "{body}");
    // A good series and one without a name: the whole request is refused.
    let mut two = write_request(&[("__name__", "fine_metric")]);
    two.extend(write_request(&[("job", "x")]));
    let (s, _, body) = http_post(&url, &RW, &snappy_literal(&two)).unwrap();
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("time series 1: has no metric name"), "{body}");
    let (s, _, body) =
        http_post(&url, &RW, &snappy_literal(&write_request(&[("__name__", "m"), ("a", "1"), ("a", "2")]))).unwrap();
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("label \\\"a\\\" appears twice"), "{body}");
    // Wrong headers.
    let (s, _, body) = http_post(&url, &[("Content-Type", "application/x-protobuf")], &good).unwrap();
    assert_eq!(s, 415, "{body}");
    assert!(body.contains("Content-Encoding: snappy"), "{body}");
    let (s, _, body) =
        http_post(&url, &[("Content-Encoding", "snappy"), ("Content-Type", "text/plain")], &good).unwrap();
    assert_eq!(s, 415, "{body}");
    // Oversized: on the wire, and a small body that decompresses past the limit.
    let (s, _, body) = http_post(&url, &RW, &vec![0u8; 40 * 1024]).unwrap();
    assert_eq!(s, 413, "{body}");
    let expands = std::fs::read(fixtures().join("prometheus/remote-write/body-002.bin")).unwrap();
    assert!(expands.len() < 32 * 1024);
    let (s, _, body) = http_post(&url, &RW, &expands).unwrap();
    assert_eq!(s, 413, "{body}");
    assert!(metric(&chute.url, "chute_promrw_requests_rejected_total") >= 8.0);

    // The good body after all that is stored alone.
    let (s, _, body) = http_post(&url, &RW, &good).unwrap();
    assert_eq!(s, 204, "{body}");
    let store = stop_and_open(chute);
    assert_eq!(
        scalar(&store, "SELECT (SELECT count() FROM otel_metrics_gauge) + (SELECT count() FROM otel_metrics_sum)"),
        17,
        "only the 17 series of the good body"
    );
    assert_eq!(scalar(&store, "SELECT count() FROM otel_metrics_gauge WHERE MetricName IN ('fine_metric', 'm')"), 0);
}

#[test]
fn a_full_chute_answers_remote_write_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["debug.fault_injection=true", "spool.max_bytes=64KiB"]);
    http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    let body = std::fs::read(fixtures().join("prometheus/remote-write/body-002.bin")).unwrap();
    let url = format!("{}/api/v1/write", chute.url);
    let headers = wait_for("a 429", Duration::from_secs(30), || {
        let (s, h, _) = http_post(&url, &RW, &body).unwrap();
        assert!(s == 204 || s == 429, "status {s}");
        (s == 429).then_some(h)
    });
    assert!(headers.iter().any(|(k, v)| k == "retry-after" && v.parse::<u64>().is_ok()), "{headers:?}");
    // Refused before decoding: a body that is not snappy-compressed protobuf gets the same 429.
    let before = metric(&chute.url, "chute_requests_refused_undecoded_total");
    let (s, h, _) = http_post(&url, &RW, b"not snappy").unwrap();
    assert_eq!(s, 429, "{h:?}");
    assert!(metric(&chute.url, "chute_requests_refused_undecoded_total") > before);
}

/// A child process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Debian's `prometheus` with `config`, its data in `dir`, its web interface on `port`.
fn start_prometheus(dir: &Path, port: u16, config: &str, extra_args: &[&str]) -> Killed {
    let bin = Path::new("/usr/bin/prometheus");
    assert!(bin.exists(), "prometheus is installed by scripts/setup.sh");
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    Killed(
        Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    )
}

#[test]
fn debian_prometheus_remote_writes_its_own_series_to_chute() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(&dir.path().join("chute"), &[]);
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
         remote_write:\n  - url: {}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n    \
         metadata_config:\n      send_interval: 1s\n",
        chute.url
    );
    let prom = start_prometheus(dir.path(), port, &config, &[]);
    // Two scrapes' worth of samples (a self-scrape has ~350 series).
    wait_for("prometheus' samples", Duration::from_secs(90), || {
        (metric(&chute.url, "chute_promrw_samples_total") >= 700.0).then_some(())
    });
    drop(prom);
    let store = stop_and_open(chute);
    let q = |sql: &str| scalar(&store, sql);
    assert!(
        q("SELECT count() FROM otel_metrics_gauge WHERE MetricName = 'prometheus_build_info' \
           AND ServiceName = 'prometheus' AND ResourceAttributes['service.instance.id'] = '127.0.0.1:{port}' \
           AND Value = 1"
            .replace("{port}", &port.to_string())
            .as_str())
            >= 1
    );
    assert!(q("SELECT count() FROM otel_metrics_gauge WHERE MetricName = 'up' AND Value = 1") >= 1);
    assert!(
        q("SELECT count() FROM otel_metrics_sum WHERE MetricName = 'prometheus_http_requests_total' AND IsMonotonic")
            >= 1
    );
    assert!(
        q("SELECT count() FROM otel_metrics_sum WHERE MetricName LIKE '%_bucket' AND has(mapKeys(Attributes), 'le')")
            >= 1
    );
}

/// The Prometheus exposition format's protobuf messages (`io.prometheus.client`, metrics.proto),
/// as much of them as a native histogram needs.
mod exposition {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub help: Option<String>,
        /// 4 = HISTOGRAM.
        #[prost(int32, optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        #[prost(sint32, optional, tag = "5")]
        pub schema: Option<i32>,
        #[prost(double, optional, tag = "6")]
        pub zero_threshold: Option<f64>,
        #[prost(uint64, optional, tag = "7")]
        pub zero_count: Option<u64>,
        #[prost(message, repeated, tag = "9")]
        pub negative_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "10")]
        pub negative_delta: Vec<i64>,
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "13")]
        pub positive_delta: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, optional, tag = "1")]
        pub offset: Option<i32>,
        #[prost(uint32, optional, tag = "2")]
        pub length: Option<u32>,
    }
}

/// A scrape target that answers every request with `body` in the protobuf exposition format.
fn serve_protobuf_metrics(body: Vec<u8>) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().map_while(Result::ok) {
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.google.protobuf; \
                 proto=io.prometheus.client.MetricFamily; encoding=delimited\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&body));
        }
    });
    port
}

#[test]
fn debian_prometheus_remote_writes_the_native_histograms_it_scraped_to_chute() {
    use exposition::*;
    use prost::Message;
    // Schema 0 (base 2): 2 observations in (0.5, 1], 3 in (1, 2], none in (2, 4], 1 in (4, 8]; 1 in
    // the zero bucket; one negative in [-2, -1).
    let histogram = Histogram {
        sample_count: Some(8),
        sample_sum: Some(17.25),
        schema: Some(0),
        zero_threshold: Some(1e-9),
        zero_count: Some(1),
        negative_span: vec![BucketSpan { offset: Some(1), length: Some(1) }],
        negative_delta: vec![1],
        positive_span: vec![
            BucketSpan { offset: Some(0), length: Some(2) },
            BucketSpan { offset: Some(1), length: Some(1) },
        ],
        positive_delta: vec![2, 1, -2],
    };
    let family = MetricFamily {
        name: Some("checkout_latency_seconds".into()),
        help: Some("Checkout latency.".into()),
        r#type: Some(4),
        metric: vec![Metric {
            label: vec![LabelPair { name: Some("route".into()), value: Some("/pay".into()) }],
            histogram: Some(histogram),
        }],
    };
    let target = serve_protobuf_metrics(family.encode_length_delimited_to_vec());

    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(&dir.path().join("chute"), &[]);
    let port = free_port();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n\
         remote_write:\n  - url: {}/api/v1/write\n    send_native_histograms: true\n    queue_config:\n      \
         batch_send_deadline: 1s\n",
        chute.url
    );
    let prom = start_prometheus(dir.path(), port, &config, &["--enable-feature=native-histograms"]);
    wait_for("a native histogram from prometheus", Duration::from_secs(90), || {
        (metric(&chute.url, "chute_promrw_histograms_total") >= 2.0).then_some(())
    });
    drop(prom);
    let store = stop_and_open(chute);
    let q = |sql: &str| scalar(&store, sql);
    let one = "FROM otel_metrics_exponential_histogram WHERE MetricName = 'checkout_latency_seconds' \
               AND ServiceName = 'shop' AND Attributes['route'] = '/pay'";
    assert!(q(&format!("SELECT count() {one}")) >= 2, "one row per scrape");
    let exact = "AND Count = 8 AND Sum = 17.25 AND Scale = 0 AND ZeroCount = 1 AND PositiveOffset = -1 \
                 AND PositiveBucketCounts = [2, 3, 0, 1] AND NegativeOffset = 0 AND NegativeBucketCounts = [1] \
                 AND AggregationTemporality = 2";
    assert_eq!(
        q(&format!("SELECT count() {one} {exact}")),
        q(&format!("SELECT count() {one}")),
        "every scrape of the histogram is stored with its exact count, sum and buckets"
    );
}
