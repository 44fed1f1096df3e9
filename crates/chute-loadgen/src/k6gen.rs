//! Realistic k6 samples, as a k6 test of a small web shop produces them, and their encodings
//! the way k6 writes them: InfluxDB line protocol (`--out influxdb`) and NDJSON (`--out json`).
//!
//! The mix follows `fixtures/k6/basic-run`: every HTTP request gives the nine `http_req*`
//! samples (`http_reqs`, `http_req_duration`, `_blocked`, `_connecting`, `_tls_handshaking`,
//! `_sending`, `_waiting`, `_receiving`, `http_req_failed`) with k6's system tags, then a
//! `checks` sample; groups end with `group_duration`; iterations with `data_sent`,
//! `data_received`, `iteration_duration` and `iterations`; `vus` and `vus_max` once a second.
//! Values are drawn from a seeded generator, so the same seed gives the same bytes.

use std::io::Write;

/// A small, fast, seeded generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A skewed positive value around `median` (a log-normal-like spread), rounded to whole
    /// nanoseconds when read as milliseconds, as k6's timings are.
    pub fn millis(&mut self, median: f64, spread: f64) -> f64 {
        // The sum of three uniforms approximates a normal on [-1.5, 1.5].
        let z = self.unit() + self.unit() + self.unit() - 1.5;
        let v = median * (spread * z).exp();
        (v * 1e6).round() / 1e6
    }
}

/// Up to 12 tags, sorted by key, without `testid` (the encoders put it in its place).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tags {
    items: [(&'static str, &'static str); 12],
    len: usize,
}

impl Tags {
    fn new(sorted: &[(&'static str, &'static str)]) -> Self {
        let mut items = [("", ""); 12];
        items[..sorted.len()].copy_from_slice(sorted);
        debug_assert!(sorted.windows(2).all(|w| w[0].0 < w[1].0), "tags sorted by key");
        Tags { items, len: sorted.len() }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.items[..self.len].iter().copied()
    }
}

/// One k6 sample (the run's `testid` is added by the encoders).
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub metric: &'static str,
    pub time_ns: i64,
    pub value: f64,
    pub tags: Tags,
}

/// k6's type and `contains` of the metrics this model emits.
pub fn metric_kind(metric: &str) -> (&'static str, &'static str) {
    match metric {
        "http_reqs" | "iterations" => ("counter", "default"),
        "data_sent" | "data_received" => ("counter", "data"),
        "http_req_failed" | "checks" => ("rate", "default"),
        "vus" | "vus_max" => ("gauge", "default"),
        _ => ("trend", "time"),
    }
}

const PRODUCTS: [&str; 8] = [
    "https://shop.k6.local/products/1",
    "https://shop.k6.local/products/2",
    "https://shop.k6.local/products/3",
    "https://shop.k6.local/products/5",
    "https://shop.k6.local/products/8",
    "https://shop.k6.local/products/13",
    "https://shop.k6.local/products/21",
    "https://shop.k6.local/products/34",
];

/// An endless, deterministic stream of samples of one k6 run.
pub struct K6Model {
    rng: Rng,
    clock_ns: i64,
    next_vus_ns: i64,
    vus: u32,
    buf: std::collections::VecDeque<Sample>,
}

impl K6Model {
    /// Samples starting at `start_ns` (Unix nanoseconds), drawn with `seed`.
    pub fn new(seed: u64, start_ns: i64) -> Self {
        K6Model { rng: Rng::new(seed), clock_ns: start_ns, next_vus_ns: start_ns, vus: 50, buf: Default::default() }
    }

    pub fn next_sample(&mut self) -> Sample {
        loop {
            if let Some(s) = self.buf.pop_front() {
                return s;
            }
            self.iteration();
        }
    }

    fn tick(&mut self, max_us: u64) -> i64 {
        self.clock_ns += 1000 * (1 + self.rng.below(max_us)) as i64 + self.rng.below(1000) as i64;
        self.clock_ns
    }

    /// The nine `http_req*` samples of one request, then its check.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        scenario: &'static str,
        group: &'static str,
        method: &'static str,
        name: &'static str,
        url: &'static str,
        ok_status: &'static str,
        failed: Option<(&'static str, &'static str)>,
        check: &'static str,
        median_ms: f64,
    ) {
        let t = self.tick(2000);
        let (status, error_code) = match failed {
            Some((status, code)) => (status, Some(code)),
            None => (ok_status, None),
        };
        let expected = if error_code.is_none() { "true" } else { "false" };
        let mut tags: Vec<(&'static str, &'static str)> = Vec::with_capacity(11);
        if let Some(code) = error_code {
            tags.push(("error_code", code));
        }
        tags.push(("expected_response", expected));
        if !group.is_empty() {
            tags.push(("group", group));
        }
        tags.extend([("method", method), ("name", name), ("proto", "HTTP/1.1"), ("scenario", scenario)]);
        tags.push(("status", status));
        tags.push(("url", url));
        let tags = Tags::new(&tags);
        let r = &mut self.rng;
        let blocked = if r.below(10) == 0 { r.millis(0.4, 0.8) } else { r.millis(0.004, 0.5) };
        let connecting = if blocked > 0.1 { (blocked * 0.8 * 1e6).round() / 1e6 } else { 0.0 };
        let tls = if connecting > 0.0 { r.millis(1.8, 0.5) } else { 0.0 };
        let sending = r.millis(0.05, 0.6);
        let waiting = r.millis(median_ms, 0.7);
        let receiving = r.millis(0.2, 0.9);
        let duration = ((sending + waiting + receiving) * 1e6).round() / 1e6;
        let values = [
            ("http_reqs", 1.0),
            ("http_req_duration", duration),
            ("http_req_blocked", blocked),
            ("http_req_connecting", connecting),
            ("http_req_tls_handshaking", tls),
            ("http_req_sending", sending),
            ("http_req_waiting", waiting),
            ("http_req_receiving", receiving),
            ("http_req_failed", if error_code.is_some() { 1.0 } else { 0.0 }),
        ];
        for (metric, value) in values {
            self.buf.push_back(Sample { metric, time_ns: t, value, tags });
        }
        let t = self.tick(50);
        let mut ctags: Vec<(&'static str, &'static str)> = vec![("check", check)];
        if !group.is_empty() {
            ctags.push(("group", group));
        }
        ctags.push(("scenario", scenario));
        let passed = if error_code.is_some() { 0.0 } else { 1.0 };
        self.buf.push_back(Sample { metric: "checks", time_ns: t, value: passed, tags: Tags::new(&ctags) });
    }

    fn group_end(&mut self, scenario: &'static str, group: &'static str, ms: f64) {
        let t = self.tick(30);
        let tags = Tags::new(&[("group", group), ("scenario", scenario)]);
        self.buf.push_back(Sample { metric: "group_duration", time_ns: t, value: ms, tags });
    }

    fn iteration_end(&mut self, scenario: &'static str, sent: f64, received: f64, ms: f64) {
        let t = self.tick(100);
        // k6 tags iteration samples with the root group (empty; omitted in line protocol).
        let tags = Tags::new(&[("group", ""), ("scenario", scenario)]);
        for (metric, value) in
            [("data_sent", sent), ("data_received", received), ("iteration_duration", ms), ("iterations", 1.0)]
        {
            self.buf.push_back(Sample { metric, time_ns: t, value, tags });
        }
    }

    /// One VU iteration of either scenario (and `vus`/`vus_max` when a second has passed).
    fn iteration(&mut self) {
        if self.clock_ns >= self.next_vus_ns {
            self.next_vus_ns = self.clock_ns + 1_000_000_000;
            self.vus = (self.vus as i64 + self.rng.below(5) as i64 - 2).clamp(10, 100) as u32;
            let tags = Tags::new(&[]);
            let t = self.clock_ns;
            self.buf.push_back(Sample { metric: "vus", time_ns: t, value: self.vus as f64, tags });
            self.buf.push_back(Sample { metric: "vus_max", time_ns: t, value: 100.0, tags });
        }
        if self.rng.below(10) < 7 {
            let home = self.rng.millis(12.0, 0.6);
            self.request(
                "browse",
                "::home",
                "GET",
                "https://shop.k6.local/",
                HOST_ROOT,
                "200",
                None,
                "home is 200",
                9.0,
            );
            self.group_end("browse", "::home", (home * 1.2 * 1e6).round() / 1e6);
            let product = PRODUCTS[self.rng.below(PRODUCTS.len() as u64) as usize];
            let failed = (self.rng.below(20) == 0).then_some(("404", "1404"));
            let pm = self.rng.millis(20.0, 0.6);
            self.request(
                "browse",
                "::product",
                "GET",
                "https://shop.k6.local/products/${id}",
                product,
                "200",
                failed,
                "product is 200",
                16.0,
            );
            self.group_end("browse", "::product", pm);
            let it = self.rng.millis(1250.0, 0.2);
            let (sent, received) = (1180.0 + self.rng.below(40) as f64, 18_000.0 + self.rng.below(6000) as f64);
            self.iteration_end("browse", sent, received, it);
        } else {
            let failed = (self.rng.below(50) == 0).then_some(("503", "1503"));
            self.request(
                "buy",
                "",
                "POST",
                "order",
                "https://shop.k6.local/api/orders",
                "201",
                failed,
                "order accepted",
                35.0,
            );
            let it = self.rng.millis(45.0, 0.5);
            let (sent, received) = (410.0 + self.rng.below(20) as f64, 730.0 + self.rng.below(60) as f64);
            self.iteration_end("buy", sent, received, it);
        }
    }
}

const HOST_ROOT: &str = "https://shop.k6.local/";

fn write_f64(out: &mut Vec<u8>, v: f64) {
    // Shortest round-trip form; whole numbers without a fraction, as k6 (Go) writes them.
    let _ = write!(out, "{v}");
}

/// Line protocol escaping of a measurement, tag key or tag value.
fn write_lp_escaped(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        if matches!(b, b' ' | b',' | b'=') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Appends one sample as k6's InfluxDB output writes it: tags sorted, empty tags left out,
/// `url` moved to a string field, nanosecond timestamp. Records where the testid value starts
/// in `testid_at` (for ids patched per request).
pub fn write_line_protocol(out: &mut Vec<u8>, s: &Sample, testid: &str, testid_at: Option<&mut Vec<usize>>) {
    out.extend_from_slice(s.metric.as_bytes());
    let mut url = None;
    let mut testid_at = testid_at;
    let mut testid_done = false;
    let mut put_testid = |out: &mut Vec<u8>| {
        out.extend_from_slice(b",testid=");
        if let Some(v) = testid_at.as_deref_mut() {
            v.push(out.len());
        }
        write_lp_escaped(out, testid);
    };
    for (k, v) in s.tags.iter() {
        if !testid_done && k > "testid" {
            put_testid(out);
            testid_done = true;
        }
        if k == "url" {
            url = Some(v);
            continue;
        }
        if v.is_empty() {
            continue;
        }
        out.push(b',');
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        write_lp_escaped(out, v);
    }
    if !testid_done {
        put_testid(out);
    }
    out.push(b' ');
    if let Some(u) = url {
        out.extend_from_slice(b"url=\"");
        for b in u.bytes() {
            if matches!(b, b'"' | b'\\') {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.extend_from_slice(b"\",");
    }
    out.extend_from_slice(b"value=");
    write_f64(out, s.value);
    let _ = writeln!(out, " {}", s.time_ns);
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Go's RFC 3339 with nanoseconds (`2026-11-23T11:24:53.125392368Z`, trailing zeros dropped).
pub fn rfc3339_nano(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let mut s = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60);
    if frac > 0 {
        let f = format!("{frac:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Appends a `Metric` line (k6 writes one before a metric's first point).
pub fn write_json_metric(out: &mut Vec<u8>, metric: &str) {
    let (ty, contains) = metric_kind(metric);
    out.extend_from_slice(b"{\"type\":\"Metric\",\"data\":{\"name\":");
    write_json_str(out, metric);
    let _ = write!(
        out,
        ",\"type\":\"{ty}\",\"contains\":\"{contains}\",\"thresholds\":[],\"submetrics\":null}},\"metric\":"
    );
    write_json_str(out, metric);
    out.extend_from_slice(b"}\n");
}

/// Appends a `Point` line as k6's JSON output writes it (tags sorted, `group` even when empty).
pub fn write_json_point(out: &mut Vec<u8>, s: &Sample, testid: &str, testid_at: Option<&mut Vec<usize>>) {
    out.extend_from_slice(b"{\"metric\":");
    write_json_str(out, s.metric);
    out.extend_from_slice(b",\"type\":\"Point\",\"data\":{\"time\":\"");
    out.extend_from_slice(rfc3339_nano(s.time_ns).as_bytes());
    out.extend_from_slice(b"\",\"value\":");
    write_f64(out, s.value);
    out.extend_from_slice(b",\"tags\":{");
    let mut first = true;
    let mut testid_at = testid_at;
    let mut testid_done = false;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b',');
        }
        first = false;
    };
    let mut emit_testid = |out: &mut Vec<u8>, sep: &mut dyn FnMut(&mut Vec<u8>)| {
        sep(out);
        out.extend_from_slice(b"\"testid\":\"");
        if let Some(v) = testid_at.as_deref_mut() {
            v.push(out.len());
        }
        // testid is written raw: the ids chute-loadgen makes need no escaping.
        out.extend_from_slice(testid.as_bytes());
        out.push(b'"');
    };
    for (k, v) in s.tags.iter() {
        if !testid_done && k > "testid" {
            emit_testid(out, &mut sep);
            testid_done = true;
        }
        sep(out);
        write_json_str(out, k);
        out.push(b':');
        write_json_str(out, v);
    }
    if !testid_done {
        emit_testid(out, &mut sep);
    }
    out.extend_from_slice(b"}}}\n");
}

/// Writes a k6 `--out json` file of `samples` samples of run `testid` (gzip when `gzip`),
/// shaped like `fixtures/k6/basic-run/basic.k6.json.gz`: a `Metric` line before each metric's
/// first point, then points.
pub fn write_k6_json_file(
    path: &std::path::Path,
    samples: u64,
    testid: &str,
    seed: u64,
    start_ns: i64,
    gzip: bool,
) -> std::io::Result<()> {
    let file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut w: Box<dyn Write> =
        if gzip { Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast())) } else { Box::new(file) };
    let mut model = K6Model::new(seed, start_ns);
    let mut seen = std::collections::HashSet::new();
    let mut buf = Vec::with_capacity(1 << 20);
    for _ in 0..samples {
        let s = model.next_sample();
        if seen.insert(s.metric) {
            write_json_metric(&mut buf, s.metric);
        }
        write_json_point(&mut buf, &s, testid, None);
        if buf.len() >= 1 << 20 {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()?;
    drop(w);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_gos_format() {
        assert_eq!(rfc3339_nano(1_795_433_093_125_392_368), "2026-11-23T11:24:53.125392368Z");
        assert_eq!(rfc3339_nano(1_795_433_093_120_000_000), "2026-11-23T11:24:53.12Z");
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(951_782_400_000_000_001), "2000-02-29T00:00:00.000000001Z");
    }

    #[test]
    fn samples_are_the_k6_mix_and_deterministic() {
        let mut a = K6Model::new(7, 1_795_433_093_000_000_000);
        let mut b = K6Model::new(7, 1_795_433_093_000_000_000);
        let mut metrics = std::collections::BTreeMap::new();
        let mut last = 0;
        for _ in 0..20_000 {
            let (x, y) = (a.next_sample(), b.next_sample());
            assert_eq!((x.metric, x.time_ns, x.value), (y.metric, y.time_ns, y.value));
            assert!(x.time_ns >= last, "time never goes back");
            last = x.time_ns;
            *metrics.entry(x.metric).or_insert(0u64) += 1;
        }
        for m in [
            "http_reqs",
            "http_req_duration",
            "http_req_blocked",
            "http_req_connecting",
            "http_req_tls_handshaking",
            "http_req_sending",
            "http_req_waiting",
            "http_req_receiving",
            "http_req_failed",
            "checks",
            "group_duration",
            "iterations",
            "iteration_duration",
            "data_sent",
            "data_received",
            "vus",
            "vus_max",
        ] {
            assert!(metrics.get(m).copied().unwrap_or(0) > 0, "{m} missing: {metrics:?}");
        }
        assert_eq!(metrics["http_reqs"], metrics["http_req_duration"]);
    }

    #[test]
    fn line_protocol_looks_like_k6s() {
        let tags = Tags::new(&[
            ("expected_response", "true"),
            ("group", "::home"),
            ("method", "GET"),
            ("name", "https://shop.k6.local/"),
            ("proto", "HTTP/1.1"),
            ("scenario", "browse"),
            ("status", "200"),
            ("url", "https://shop.k6.local/"),
        ]);
        let s = Sample { metric: "http_req_duration", time_ns: 1_795_433_093_125_392_368, value: 5.298315, tags };
        let mut out = Vec::new();
        let mut at = Vec::new();
        write_line_protocol(&mut out, &s, "run-1", Some(&mut at));
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "http_req_duration,expected_response=true,group=::home,method=GET,name=https://shop.k6.local/,\
             proto=HTTP/1.1,scenario=browse,status=200,testid=run-1 url=\"https://shop.k6.local/\",value=5.298315 \
             1795433093125392368\n"
        );
        assert_eq!(&out[at[0]..at[0] + 5], b"run-1");
        let check = Sample {
            metric: "checks",
            time_ns: 1,
            value: 1.0,
            tags: Tags::new(&[("check", "home is 200"), ("group", ""), ("scenario", "browse")]),
        };
        let mut out = Vec::new();
        write_line_protocol(&mut out, &check, "r", None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "checks,check=home\\ is\\ 200,scenario=browse,testid=r value=1 1\n"
        );
    }

    #[test]
    fn json_lines_look_like_k6s() {
        let s = Sample {
            metric: "iterations",
            time_ns: 1_795_433_093_335_293_331,
            value: 1.0,
            tags: Tags::new(&[("group", ""), ("scenario", "browse")]),
        };
        let mut out = Vec::new();
        write_json_metric(&mut out, "iterations");
        let mut at = Vec::new();
        write_json_point(&mut out, &s, "run-1", Some(&mut at));
        let text = String::from_utf8(out.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"type":"Metric","data":{"name":"iterations","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"iterations"}"#
        );
        assert_eq!(
            lines[1],
            r#"{"metric":"iterations","type":"Point","data":{"time":"2026-11-23T11:24:53.335293331Z","value":1,"tags":{"group":"","scenario":"browse","testid":"run-1"}}}"#
        );
        assert_eq!(&out[at[0]..at[0] + 5], b"run-1");
        for l in lines {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
    }
}
