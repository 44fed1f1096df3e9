//! `chute loadgen`: sends k6 traffic, replayed OTLP and Prometheus bodies, JSON events or NATS
//! JetStream publishes to a chute (or anything speaking its protocols) and reports throughput,
//! acknowledgement latency and end-to-end visibility (see `chute_loadgen`).

use anyhow::bail;
use chute_loadgen::{LoadOptions, Model, PayloadKind, Scenario, Threshold, parse_duration, parse_stages};
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct LoadgenArgs {
    /// Where to send (only what you name here is contacted), e.g. http://127.0.0.1:8086; for
    /// --protocol nats the NATS server, e.g. nats://127.0.0.1:4222 (nats://user:pass@host:port).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// influx (k6 --out influxdb writes), k6-json (k6 --out json bodies to the import endpoint),
    /// or captured bodies replayed as they are: otlp-logs, otlp-traces, otlp-metrics (send them to
    /// the OTLP/HTTP port), remote-write; or events (generated NDJSON events, ~300 bytes each, to
    /// the built-in events table); or nats (JetStream publishes of such events, one per message,
    /// to --subject of a stream chute consumes).
    #[arg(long, default_value = "influx", value_name = "PROTOCOL")]
    pub protocol: PayloadKind,
    /// closed: N connections each send, wait, send again; open: requests arrive at --rate.
    #[arg(long, default_value = "closed", value_name = "MODEL")]
    pub model: Model,
    /// baseline (constant), stress (steps up to the level), spike (level, 5x burst, level),
    /// soak (constant, long).
    #[arg(long, default_value = "baseline", value_name = "NAME")]
    pub scenario: Scenario,
    /// Custom profile instead of a scenario: "10s:2000,20s:8000" (DURATION:LEVEL, linear ramps;
    /// the level is requests/s in the open model, connections in the closed model).
    #[arg(long, value_name = "STAGES")]
    pub stages: Option<String>,
    /// How long the run lasts (required unless --stages gives it), e.g. 20s, 5m.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Closed model: connections (the scenario's level).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub connections: usize,
    /// Open model: requests per second (the scenario's level).
    #[arg(long, value_name = "PER_SECOND")]
    pub rate: Option<f64>,
    /// Open model: requests outstanding at most; arrivals beyond are counted as overflow.
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_in_flight: usize,
    /// Spike scenario: the burst's level as a multiple of the base level.
    #[arg(long, default_value_t = 5.0, value_name = "FACTOR")]
    pub spike_factor: f64,
    /// Rows (k6 samples, events) per request; default 5000, events 1000, nats 1 (a message is
    /// one row).
    #[arg(long, value_name = "N")]
    pub rows_per_request: Option<usize>,
    /// Distinct bodies generated before the run and sent in turn.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub bodies: usize,
    /// The run id (k6 testid) of the samples; default: lg-<protocol>-<random>.
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Send a visibility marker this often.
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub visibility_interval: String,
    /// Where visibility markers are polled: chute's main address (its query API), e.g.
    /// http://127.0.0.1:8080. Default: --target. The OTLP kinds send markers only with it, as
    /// their target (the OTLP/HTTP port) answers no queries.
    #[arg(long, value_name = "URL")]
    pub api: Option<String>,
    /// Do not measure visibility (no markers, no API polling).
    #[arg(long)]
    pub no_visibility: bool,
    /// How often the oldest marker not yet queryable is polled (one poll at a time, the next
    /// marker at once when it shows up; each poll is a query the server runs beside the load; a
    /// visibility latency is over-estimated by at most this much).
    #[arg(long, default_value = "100ms", value_name = "DURATION")]
    pub visibility_poll: String,
    /// A marker not queryable within this long counts as not visible.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub visibility_timeout: String,
    /// A request without an answer within this long is an error.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub request_timeout: String,
    /// Pass/fail criterion, e.g. 'ack_p99<25ms', 'rows_per_s>100000', 'error_rate<0.01'
    /// (repeatable; a failed one makes the exit code 99).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<Threshold>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The fixtures folder the replayed protocols read their captured bodies from.
    #[arg(long, default_value = "fixtures", value_name = "DIR")]
    pub fixtures: std::path::PathBuf,
    /// --protocol nats: the subject published to; a JetStream stream must capture it.
    #[arg(long, default_value = chute_loadgen::nats::DEFAULT_SUBJECT, value_name = "SUBJECT")]
    pub subject: String,
}

impl LoadgenArgs {
    pub fn options(&self) -> anyhow::Result<LoadOptions> {
        let (scenario, profile) = match &self.stages {
            Some(s) => {
                if self.duration.is_some() {
                    bail!("give either --stages or --duration: the stages say how long the run lasts");
                }
                (Scenario::Custom, parse_stages(s, None)?)
            }
            None => {
                let Some(d) = &self.duration else {
                    bail!("--duration is required (or --stages), e.g. --duration 20s");
                };
                let duration = parse_duration(d)?;
                let level = match self.model {
                    Model::Closed => self.connections as f64,
                    Model::Open => match self.rate {
                        Some(r) if r > 0.0 => r,
                        _ => bail!("the open model needs --rate (requests per second) or --stages"),
                    },
                };
                if self.scenario == Scenario::Custom {
                    bail!("--scenario custom needs --stages");
                }
                (self.scenario, self.scenario.profile(level, duration, self.spike_factor))
            }
        };
        let mut o = LoadOptions::new(&self.target, self.protocol, self.model, profile);
        o.scenario = scenario;
        o.rows_per_request = self.rows_per_request.unwrap_or(match self.protocol {
            PayloadKind::Events => 1000,
            PayloadKind::Nats => 1,
            _ => 5000,
        });
        o.bodies = self.bodies;
        o.run_id = self.run_id.clone();
        o.max_in_flight = self.max_in_flight;
        o.visibility_interval =
            if self.no_visibility { None } else { Some(parse_duration(&self.visibility_interval)?) };
        o.api = self.api.clone();
        o.visibility_timeout = parse_duration(&self.visibility_timeout)?;
        o.visibility_poll = parse_duration(&self.visibility_poll)?;
        if o.visibility_poll.is_zero() {
            bail!("--visibility-poll must be longer than 0 (e.g. 100ms)");
        }
        o.request_timeout = parse_duration(&self.request_timeout)?;
        o.thresholds = self.thresholds.clone();
        o.progress = true;
        o.fixtures = self.fixtures.clone();
        o.subject = self.subject.clone();
        Ok(o)
    }
}

pub async fn loadgen(args: LoadgenArgs) -> anyhow::Result<i32> {
    let opts = args.options()?;
    let report = chute_loadgen::run(opts).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(report.exit_code())
}
