//! NATS JetStream into ClickHouse, end to end: a real `nats-server -js` (tests/common/nats.rs),
//! real `chute serve` processes consuming it, the worked example's table and descriptor set
//! (examples/nats-envelope). Rows are counted in the real engine.

mod common;
#[path = "common/nats.rs"]
mod nats_server;

use common::*;
use nats_server::NatsServer;
use prost::Message as _;
use std::time::Duration;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/nats-envelope");

/// One `[[nats.consumers]]` entry as an inline TOML table (for `--set nats.consumers=[...]`).
fn consumer(nats: &NatsServer, stream: &str, durable: &str, extra: &str) -> String {
    format!(
        r#"{{servers = ["{}"], stream = "{stream}", durable = "{durable}", table = "device_events", table_sql = "{EXAMPLE}/table.sql", max_wait = "100ms"{extra}}}"#,
        nats.url
    )
}

fn consumers(list: &[String]) -> String {
    format!("nats.consumers=[{}]", list.join(", "))
}

fn json_envelope(i: u64) -> Vec<u8> {
    format!(
        r#"{{"organization_id":"org-{}","end_device_id":"dev-{i}","occurred_at":"2026-11-23T10:00:00.{:09}Z","processed_at":1795428001000,"data":{{"temperature":21.5,"i":{i},"tags":["a","b"]}}}}"#,
        i % 3,
        i
    )
    .into_bytes()
}

fn protobuf_envelope(i: u64) -> Vec<u8> {
    let pool =
        prost_reflect::DescriptorPool::decode(&std::fs::read(format!("{EXAMPLE}/envelope.pb")).unwrap()[..]).unwrap();
    let desc = pool.get_message_by_name("envelope.v1.Envelope").unwrap();
    let json = format!(
        r#"{{"organization_id":"org-pb","end_device_id":"dev-{i}","occurred_at":"2026-11-23T11:00:00.{:09}Z","processed_at":"2026-11-23T11:00:01Z","data":{{"battery":0.75,"i":{i},"nested":{{"ok":true}}}}}}"#,
        i
    );
    let mut de = serde_json::Deserializer::from_str(&json);
    prost_reflect::DynamicMessage::deserialize(desc, &mut de).unwrap().encode_to_vec()
}

/// Rows of a query as strings.
fn rows(store: &dyn chute_store::Store, sql: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for b in store.query(sql, &[]).unwrap() {
        for i in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| match chute_store::rows::value_at(c, i) {
                        serde_json::Value::String(s) => s,
                        v => v.to_string(),
                    })
                    .collect(),
            );
        }
    }
    out
}

/// A labelled series' value from /metrics: the lines of `name{...}` containing `labels`, summed.
fn series(url: &str, name: &str, labels: &str) -> f64 {
    let Ok((200, text)) = ureq_get(&format!("{url}/metrics")) else { return 0.0 };
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

fn stats(url: &str) -> serde_json::Value {
    let (_, body) = ureq_get(&format!("{url}/api/v1/stats")).unwrap();
    serde_json::from_str(&body).unwrap()
}

#[test]
fn json_and_protobuf_envelopes_become_typed_rows_and_the_ack_floor_reaches_n() {
    const N: u64 = 500;
    let nats = NatsServer::start();
    nats.create_stream("JSONEV", &["json.>"]);
    nats.create_stream("PBEV", &["pb.>"]);
    nats.publish("json.devices", (1..=N).map(json_envelope));
    nats.publish("pb.devices", (1..=N).map(protobuf_envelope));
    let dir = tempfile::tempdir().unwrap();
    let pb = format!(
        r#", decoder = "protobuf", descriptor_set = "{EXAMPLE}/envelope.pb", message = "envelope.v1.Envelope", batch_size = 128"#
    );
    let chute = Chute::start(
        dir.path(),
        &[&consumers(&[
            consumer(&nats, "JSONEV", "ingest", ", batch_size = 100"),
            consumer(&nats, "PBEV", "ingest", &pb),
        ])],
    );
    nats.wait_acked("JSONEV", "ingest", N, Duration::from_secs(60));
    nats.wait_acked("PBEV", "ingest", N, Duration::from_secs(60));
    // Lag and acks are visible per consumer in /metrics and /api/v1/stats.
    wait_for("the ack floor gauges", Duration::from_secs(10), || {
        (metric(&chute.url, "chute_nats_ack_floor") == (2 * N) as f64).then_some(())
    });
    assert_eq!(metric(&chute.url, "chute_nats_pending"), 0.0);
    assert_eq!(metric(&chute.url, "chute_nats_ack_pending"), 0.0);
    let s = stats(&chute.url).to_string();
    assert!(s.contains("chute_nats_redelivered") && s.contains("PBEV/ingest"), "{s}");
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());

    let store = open_store(dir.path());
    assert_eq!(
        rows(
            &store,
            "SELECT _nats_stream, count(), uniqExact(_nats_seq), min(_nats_seq), max(_nats_seq) FROM device_events GROUP BY 1 ORDER BY 1"
        ),
        vec![vec!["JSONEV", "500", "500", "1", "500"], vec!["PBEV", "500", "500", "1", "500"]]
    );
    let pick = "SELECT toTypeName(occurred_at), toString(occurred_at), toString(processed_at), \
                toString(data.temperature), toString(data.battery), toString(data.i), toString(data.nested.ok), \
                toString(data.tags), organization_id FROM device_events WHERE end_device_id = 'dev-42' ORDER BY _nats_stream";
    assert_eq!(
        rows(&store, pick),
        vec![
            vec![
                "DateTime64(9, 'UTC')",
                "2026-11-23 10:00:00.000000042",
                "2026-11-23 10:00:01.000000000",
                "21.5",
                "",
                "42",
                "",
                "['a','b']",
                "org-0",
            ],
            vec![
                "DateTime64(9, 'UTC')",
                "2026-11-23 11:00:00.000000042",
                "2026-11-23 11:00:01.000000000",
                "",
                "0.75",
                "42",
                "true",
                "",
                "org-pb",
            ],
        ]
    );
    chute_store::embedded::close_engine();
}

#[test]
fn during_a_store_outage_messages_are_nakd_not_acked_and_all_arrive_once_after_it() {
    const N: u64 = 300;
    let nats = NatsServer::start();
    nats.create_stream("OUT", &["out.>"]);
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(
        dir.path(),
        &[
            "debug.fault_injection=true",
            "delivery.retry_base=50ms",
            "delivery.retry_cap=300ms",
            &consumers(&[consumer(&nats, "OUT", "ingest", ", batch_size = 64")]),
        ],
    );
    // The consumer exists once chute is connected; then the store goes down.
    wait_for("the consumer", Duration::from_secs(20), || nats.consumer_info("OUT", "ingest"));
    let (s, _, _) = http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    assert_eq!(s, 204);
    nats.publish("out.x", (1..=N).map(json_envelope));
    wait_for("naks and redeliveries", Duration::from_secs(30), || {
        (series(&chute.url, "chute_nats_messages_total", "outcome=\"nakd\"") >= N as f64).then_some(())
    });
    // Nothing acknowledged while the store fails.
    let i = nats.consumer_info("OUT", "ingest").unwrap();
    assert_eq!(i.ack_floor.stream_sequence, 0);
    assert!(i.num_ack_pending > 0 || i.num_pending > 0);

    http_post(&format!("{}/debug/store-fault?mode=up", chute.url), &[], b"").unwrap();
    nats.wait_acked("OUT", "ingest", N, Duration::from_secs(60));
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(rows(&store, "SELECT count(), uniqExact(_nats_seq) FROM device_events"), vec![vec!["300", "300"]]);
    chute_store::embedded::close_engine();
}

#[test]
fn a_poison_message_is_termed_and_dead_lettered_and_the_rest_flow() {
    let nats = NatsServer::start();
    nats.create_stream("POISON", &["p.>"]);
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("trace-id", "abc123");
    let mut msgs: Vec<(Vec<u8>, Option<async_nats::HeaderMap>)> = (1..=10).map(|i| (json_envelope(i), None)).collect();
    msgs.push((b"{not json".to_vec(), Some(headers)));
    msgs.push((br#"{"end_device_id":"x","occurred_at":"yesterday"}"#.to_vec(), None));
    msgs.extend((13..=22).map(|i| (json_envelope(i), None)));
    nats.publish_with_headers("p.dev", msgs);
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[&consumers(&[consumer(&nats, "POISON", "ingest", ", batch_size = 50")])]);
    nats.wait_acked("POISON", "ingest", 22, Duration::from_secs(60));
    wait_for("the outcome counters", Duration::from_secs(10), || {
        (series(&chute.url, "chute_nats_messages_total", "outcome=\"dead_lettered\"") == 2.0).then_some(())
    });
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(
        rows(&store, "SELECT count(), min(_nats_seq), max(_nats_seq) FROM device_events"),
        vec![vec!["20", "1", "22"]]
    );
    let dead = rows(
        &store,
        "SELECT context['sequence'], context['stream'], context['subject'], context['consumer'], context['headers'], \
         `row`, error, source, `table` FROM chute_dead_letters ORDER BY toUInt64(context['sequence'])",
    );
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0][..4], ["11", "POISON", "p.dev", "ingest"]);
    assert_eq!(dead[0][4], r#"{"trace-id":["abc123"]}"#);
    assert_eq!(dead[0][5], "e25vdCBqc29u"); // base64 of `{not json`
    assert!(dead[0][6].starts_with("invalid JSON"), "{:?}", dead[0]);
    assert_eq!(dead[0][7..], ["nats", "device_events"]);
    assert_eq!(dead[1][0], "12");
    assert_eq!(dead[1][6], "field occurred_at: \"yesterday\" is neither an RFC 3339 time nor an epoch number");
    chute_store::embedded::close_engine();
}

#[test]
fn a_bad_consumer_config_fails_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--set",
            r#"nats.consumers=[{stream = "S", durable = "d", table = "t", decoder = "protobuf", descriptor_set = "/nonexistent.pb", message = "a.B"}]"#,
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("nats.consumers[0].descriptor_set") && err.contains("/nonexistent.pb"), "{err}");

    // A client certificate without its key.
    let (code, _, err) = run(
        dir.path(),
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--set",
            r#"nats.consumers=[{stream = "S", durable = "d", table = "t", tls_cert_file = "/etc/hostname"}]"#,
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("nats.consumers[0].tls_key_file") && err.contains("only tls_cert_file is set"), "{err}");
}

#[test]
fn readiness_is_false_while_the_stream_is_unreachable() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    // The stream does not exist yet: chute starts, answers, and is not ready.
    let mut c = command(dir.path());
    c.args(["serve", "--listen", "127.0.0.1:0", "--set", "otlp.enabled=false", "--set", "delivery.retry_cap=300ms"])
        .arg("--set")
        .arg(consumers(&[consumer(&nats, "LATER", "ingest", "")]))
        .stdout(std::process::Stdio::piped());
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(c.spawn().unwrap());
    let out = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads the banner for the address, then keeps draining stdout.
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = l.split("listening on ").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
        }
    });
    let url = rx.recv_timeout(Duration::from_secs(30)).expect("chute prints where it listens");
    let body = wait_for("an unready answer naming the stream", Duration::from_secs(20), || {
        let (s, b) = ureq_get(&format!("{url}/health/ready")).ok()?;
        (s == 503 && b.contains("LATER/ingest")).then_some(b)
    });
    assert!(body.contains("nats stream unreachable"), "{body}");
    nats.create_stream("LATER", &["later.>"]);
    wait_for("ready once the stream exists", Duration::from_secs(30), || {
        (ureq_get(&format!("{url}/health/ready")).ok()?.0 == 200).then_some(())
    });
    drop(child);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A number from chute A's ClickHouse HTTP interface.
fn count_in(port: u16, sql: &str) -> Option<String> {
    let r = http_post(
        &format!("http://127.0.0.1:{port}/"),
        &[("X-ClickHouse-User", "default"), ("X-ClickHouse-Key", "pw")],
        sql.as_bytes(),
    )
    .ok()?;
    (r.0 == 200).then(|| r.2.trim().to_string())
}

/// Scale-out and crashes: chute A holds the embedded engine and serves the ClickHouse HTTP
/// interface; chutes B and C (`store.target = "clickhouse"` pointing at A) share one durable
/// consumer of a 100k-message stream, published in six parts; after each part is published and
/// the ack floor has moved into it, one of them is SIGKILLed (so every kill lands with that
/// part's messages in flight, however fast the consumers are). The table ends with exactly one
/// row per message.
#[test]
fn two_chutes_sharing_a_durable_consumer_store_each_message_once_across_sigkills() {
    const N: u64 = 100_000;
    let nats = NatsServer::start();
    nats.create_stream("CRASH", &["crash.>"]);
    let port = free_port();
    let dir_a = tempfile::tempdir().unwrap();
    let listen = format!("clickhouse_http.listen=127.0.0.1:{port}");
    let _a = Chute::start(
        dir_a.path(),
        &["clickhouse_http.enabled=true", &listen, "clickhouse_http.users=[{name = \"default\", password = \"pw\"}]"],
    );
    let endpoint = format!("store.clickhouse.endpoints=http://127.0.0.1:{port}");
    let consumer =
        consumers(&[consumer(&nats, "CRASH", "shared", ", batch_size = 500, max_in_flight = 1, ack_wait = \"3s\"")]);
    let sets = [
        "store.target=clickhouse",
        &endpoint,
        "store.clickhouse.password=pw",
        "store.clickhouse.health_check_interval=200ms",
        "delivery.retry_cap=500ms",
        &consumer,
    ];
    let (dir_b, dir_c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut workers = [Some(Chute::start(dir_b.path(), &sets)), Some(Chute::start(dir_c.path(), &sets))];
    let dirs = [dir_b.path(), dir_c.path()];
    const PARTS: u64 = 6;
    let part = N / PARTS;
    for k in 0..PARTS {
        let (first, last) = (k * part + 1, if k + 1 == PARTS { N } else { (k + 1) * part });
        nats.publish("crash.dev", (first..=last).map(json_envelope));
        // Kill once the ack floor moved into this part: mid-stream, with its messages in flight.
        let target = first + part / 20;
        wait_for("progress before a kill", Duration::from_secs(120), || {
            let f = nats.consumer_info("CRASH", "shared")?.ack_floor.stream_sequence;
            (f >= target).then_some(f)
        });
        let victim = (k % 2) as usize;
        if let Some(w) = workers[victim].take() {
            w.kill9();
        }
        workers[victim] = Some(Chute::start(dirs[victim], &sets));
    }
    nats.wait_acked("CRASH", "shared", N, Duration::from_secs(180));
    assert_eq!(
        count_in(port, "SELECT count(), uniqExact(_nats_seq), min(_nats_seq), max(_nats_seq) FROM device_events"),
        Some(format!("{N}\t{N}\t1\t{N}"))
    );
}

/// A certificate authority and a server certificate for 127.0.0.1 signed by it, made with the
/// `openssl` command: (CA file, server certificate, server key).
fn test_certificates(dir: &std::path::Path) -> (String, String, String) {
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=chute test CA"],
        ]
        .concat(),
    );
    openssl(&[&["req"][..], &ec, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]].concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (path("ca.pem"), path("server.pem"), path("server.key"))
}

#[test]
fn a_server_with_tls_and_a_password_is_consumed_and_a_wrong_password_is_named_in_readiness() {
    const N: u64 = 50;
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(certs.path());
    let server_args = ["--tls", "--tlscert", &cert, "--tlskey", &key, "--user", "chute", "--pass", "s3cret"];
    let ca_for_client = ca.clone();
    let nats = NatsServer::start_with(&server_args, "tls", move || {
        async_nats::ConnectOptions::new()
            .user_and_password("chute".into(), "s3cret".into())
            .add_root_certificates(ca_for_client.clone().into())
            .require_tls(true)
    });
    nats.create_stream("SECURE", &["secure.>"]);
    nats.publish("secure.devices", (1..=N).map(json_envelope));

    // The wrong password: chute runs, is not ready, and says why.
    let wrong_dir = tempfile::tempdir().unwrap();
    let wrong =
        consumer(&nats, "SECURE", "ingest", &format!(r#", user = "chute", password = "wrong", tls_ca_file = "{ca}""#));
    let refused = Chute::start_unready(wrong_dir.path(), &[&consumers(&[wrong])]);
    let body = wait_for("an unready answer naming the refusal", Duration::from_secs(30), || {
        let (s, b) = ureq_get(&format!("{}/health/ready", refused.url)).ok()?;
        (s == 503 && b.contains("SECURE/ingest") && b.contains("cannot connect")).then_some(b)
    });
    assert!(body.to_lowercase().contains("authorization"), "{body}");
    drop(refused);

    // The right password over TLS with the configured CA: every message lands once.
    let dir = tempfile::tempdir().unwrap();
    let good =
        consumer(&nats, "SECURE", "ingest", &format!(r#", user = "chute", password = "s3cret", tls_ca_file = "{ca}""#));
    let chute = Chute::start(dir.path(), &[&consumers(&[good])]);
    nats.wait_acked("SECURE", "ingest", N, Duration::from_secs(60));
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(rows(&store, "SELECT count(), uniqExact(_nats_seq) FROM device_events"), vec![vec!["50", "50"]]);
    chute_store::embedded::close_engine();
}

/// A client certificate (CN=chute, for client authentication) signed by the CA that
/// [`test_certificates`] made in `dir`: (certificate, key).
fn client_certificate(dir: &std::path::Path) -> (String, String) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=chute",
    ]);
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.pem",
        "-days",
        "2",
        "-extfile",
        "client.ext",
    ]);
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    (path("client.pem"), path("client.key"))
}

#[test]
fn a_server_that_verifies_clients_is_consumed_with_a_client_certificate_and_refuses_chute_without_one() {
    const N: u64 = 40;
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(certs.path());
    let (client_cert, client_key) = client_certificate(certs.path());
    let server_args = ["--tls", "--tlscert", &cert, "--tlskey", &key, "--tlsverify", "--tlscacert", &ca];
    let (ca_c, cert_c, key_c) = (ca.clone(), client_cert.clone(), client_key.clone());
    let nats = NatsServer::start_with(&server_args, "tls", move || {
        async_nats::ConnectOptions::new()
            .add_root_certificates(ca_c.clone().into())
            .add_client_certificate(cert_c.clone().into(), key_c.clone().into())
            .require_tls(true)
    });
    nats.create_stream("MUTUAL", &["mutual.>"]);
    nats.publish("mutual.devices", (1..=N).map(json_envelope));

    // Trusting the server is not enough: without a certificate of its own chute is refused,
    // keeps running and says so in readiness.
    let bare_dir = tempfile::tempdir().unwrap();
    let bare = consumer(&nats, "MUTUAL", "ingest", &format!(r#", tls_ca_file = "{ca}""#));
    let refused = Chute::start_unready(bare_dir.path(), &[&consumers(&[bare])]);
    wait_for("an unready answer naming the refused connection", Duration::from_secs(30), || {
        let (s, b) = ureq_get(&format!("{}/health/ready", refused.url)).ok()?;
        (s == 503 && b.contains("MUTUAL/ingest") && b.contains("cannot connect")).then_some(b)
    });
    drop(refused);

    let dir = tempfile::tempdir().unwrap();
    let good = consumer(
        &nats,
        "MUTUAL",
        "ingest",
        &format!(r#", tls_ca_file = "{ca}", tls_cert_file = "{client_cert}", tls_key_file = "{client_key}""#),
    );
    let chute = Chute::start(dir.path(), &[&consumers(&[good])]);
    nats.wait_acked("MUTUAL", "ingest", N, Duration::from_secs(60));
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(rows(&store, "SELECT count(), uniqExact(_nats_seq) FROM device_events"), vec![vec!["40", "40"]]);
    chute_store::embedded::close_engine();
}

#[test]
fn a_server_with_a_token_is_consumed() {
    const N: u64 = 30;
    let nats = NatsServer::start_with(&["--auth", "t0ken-for-chute"], "nats", || {
        async_nats::ConnectOptions::with_token("t0ken-for-chute".into())
    });
    nats.create_stream("TOKENED", &["tokened.>"]);
    nats.publish("tokened.devices", (1..=N).map(json_envelope));

    let dir = tempfile::tempdir().unwrap();
    let c = consumer(&nats, "TOKENED", "ingest", r#", token = "t0ken-for-chute""#);
    let chute = Chute::start(dir.path(), &[&consumers(&[c])]);
    nats.wait_acked("TOKENED", "ingest", N, Duration::from_secs(60));
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(rows(&store, "SELECT count(), uniqExact(_nats_seq) FROM device_events"), vec![vec!["30", "30"]]);
    chute_store::embedded::close_engine();
}

#[test]
fn a_server_with_nkey_users_is_consumed_with_the_seed_and_an_unknown_key_is_named_in_readiness() {
    const N: u64 = 30;
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("nats.conf");
    std::fs::write(&conf, format!("authorization {{ users = [ {{ nkey: {} }} ] }}\n", user.public_key())).unwrap();
    let client_seed = seed.clone();
    let nats = NatsServer::start_with(&["-c", conf.to_str().unwrap()], "nats", move || {
        async_nats::ConnectOptions::with_nkey(client_seed.clone())
    });
    nats.create_stream("KEYED", &["keyed.>"]);
    nats.publish("keyed.devices", (1..=N).map(json_envelope));

    // A key the server does not know: chute runs, is not ready, and says why.
    let stranger = nkeys::KeyPair::new_user().seed().unwrap();
    let wrong_dir = tempfile::tempdir().unwrap();
    let wrong = consumer(&nats, "KEYED", "ingest", &format!(r#", nkey = "{stranger}""#));
    let refused = Chute::start_unready(wrong_dir.path(), &[&consumers(&[wrong])]);
    let body = wait_for("an unready answer naming the refusal", Duration::from_secs(30), || {
        let (s, b) = ureq_get(&format!("{}/health/ready", refused.url)).ok()?;
        (s == 503 && b.contains("KEYED/ingest") && b.contains("cannot connect")).then_some(b)
    });
    assert!(body.to_lowercase().contains("authorization"), "{body}");
    drop(refused);

    let dir = tempfile::tempdir().unwrap();
    let good = consumer(&nats, "KEYED", "ingest", &format!(r#", nkey = "{seed}""#));
    let chute = Chute::start(dir.path(), &[&consumers(&[good])]);
    nats.wait_acked("KEYED", "ingest", N, Duration::from_secs(60));
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(rows(&store, "SELECT count(), uniqExact(_nats_seq) FROM device_events"), vec![vec!["30", "30"]]);
    chute_store::embedded::close_engine();
}

/// A signed NATS JWT (`alg: ed25519-nkey`) of `nats` claims about `subject`, issued by `issuer`.
fn nats_jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let header = b64.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = serde_json::json!({
        "jti": format!("T{now}{}", &subject[..8]), "iat": now, "iss": issuer.public_key(),
        "name": name, "sub": subject, "nats": nats,
    });
    let signed = format!("{header}.{}", b64.encode(claims.to_string()));
    let signature = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", b64.encode(signature))
}

/// A server in operator mode (one account with JetStream, its users' JWTs) and a `.creds` file
/// of one user, the way `nsc` writes them: returns (server config, creds text).
fn operator_mode(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let system = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let operator_jwt = nats_jwt(
        &operator,
        &operator.public_key(),
        "op",
        serde_json::json!({"system_account": system.public_key(), "type": "operator", "version": 2}),
    );
    let system_jwt = nats_jwt(
        &operator,
        &system.public_key(),
        "SYS",
        serde_json::json!({"limits": {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1}, "type": "account", "version": 2}),
    );
    let unlimited = serde_json::json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true, "conn": -1,
        "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
    });
    let account_jwt = nats_jwt(
        &operator,
        &account.public_key(),
        "chute",
        serde_json::json!({"limits": unlimited, "type": "account", "version": 2}),
    );
    let user_jwt = nats_jwt(
        &account,
        &user.public_key(),
        "ingest",
        serde_json::json!({"pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2}),
    );
    std::fs::write(dir.join("operator.jwt"), &operator_jwt).unwrap();
    let conf = dir.join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "operator: {}\nsystem_account: {sys}\nresolver: MEMORY\n\
             resolver_preload: {{\n  {sys}: {system_jwt}\n  {}: {account_jwt}\n}}\n",
            dir.join("operator.jwt").display(),
            account.public_key(),
            sys = system.public_key(),
        ),
    )
    .unwrap();
    let creds = format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n",
        user.seed().unwrap()
    );
    (conf, creds)
}

#[test]
fn a_server_in_operator_mode_is_consumed_with_a_creds_file() {
    const N: u64 = 30;
    let conf_dir = tempfile::tempdir().unwrap();
    let (conf, creds) = operator_mode(conf_dir.path());
    let creds_file = conf_dir.path().join("ingest.creds");
    std::fs::write(&creds_file, &creds).unwrap();
    let nats = NatsServer::start_with(&["-c", conf.to_str().unwrap()], "nats", move || {
        async_nats::ConnectOptions::with_credentials(&creds).unwrap()
    });
    nats.create_stream("CREDS", &["creds.>"]);
    nats.publish("creds.devices", (1..=N).map(json_envelope));

    let dir = tempfile::tempdir().unwrap();
    let c = consumer(&nats, "CREDS", "ingest", &format!(r#", creds_file = "{}""#, creds_file.display()));
    let chute = Chute::start(dir.path(), &[&consumers(&[c])]);
    nats.wait_acked("CREDS", "ingest", N, Duration::from_secs(60));
    let (status, _) = chute.term(Duration::from_secs(20));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(rows(&store, "SELECT count(), uniqExact(_nats_seq) FROM device_events"), vec![vec!["30", "30"]]);
    chute_store::embedded::close_engine();
}
