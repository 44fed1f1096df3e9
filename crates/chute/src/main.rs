//! The `chute` command: parses the command line, loads the configuration and runs one command.
//! Commands that read or write data talk to a running chute over HTTP when one answers at the
//! configured address, and open the store themselves otherwise (the embedded engine's data
//! directory can be open in one process only).

/// Rust's allocations go through mimalloc: decoding a request allocates and frees many small
/// values (protobuf fields, strings, builders), and with glibc's allocator that was about a third
/// of the receive path's CPU. The embedded engine keeps its own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option. libmimalloc-sys names only some options; this is its place
/// in `mi_option_e` (mimalloc v2 and v3), checked by a test against its documented default.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps memory that chute freed for its next use instead of returning it to the OS a second
/// later (mimalloc v3's default). Under load, every request and batch allocates buffers the size
/// of the last ones; returned memory has to be faulted in and zeroed again, and on VMs that
/// report freed pages to the host (virtio-balloon) each fault is a trip to the hypervisor. On
/// the 2-core bench VM at 500k k6 samples/s this was the tail of ack latency (p99 15-17 ms in
/// six runs, 17-24 ms with purging) and ~10% of chute's own CPU. What is kept is bounded by
/// chute's memory limits (`limits.max_unflushed_bytes`, batch sizes); peak RSS did not change.
/// `MIMALLOC_PURGE_DELAY` (milliseconds) set in the environment still decides.
fn keep_freed_memory() {
    if !environment_sets_purge_delay() {
        // SAFETY: sets a process-wide allocator option (a plain integer); mimalloc reads it
        // when it decides whether to purge, and allows changing it at any time.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

/// Whether the environment sets mimalloc's purge delay (under its current or its legacy name).
fn environment_sets_purge_delay() -> bool {
    std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() || std::env::var_os("MIMALLOC_RESET_DELAY").is_some()
}

mod bench_ceiling;
mod bench_cmd;
mod bench_explorer;
mod bench_machine;
mod bench_nats;
mod bench_remote;
mod bench_wrk;
mod cli_k6;
mod client;
mod derived;
mod explorer_cmd;
mod loadgen_cmd;
mod local;
mod ops_cmds;
mod serve;
mod sql_cmd;
mod table;

use anyhow::Context;
use chute_config::{Config, Override};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "chute", version, about = "k6 results and telemetry into ClickHouse, without losing anything")]
pub struct Cli {
    /// TOML configuration file (also CHUTE_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set any configuration key, e.g. --set batch.max_rows=100000 (repeatable; beats file and env).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<Override>,
    /// Where chute keeps its state (data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: receivers, spool, delivery, REST API.
    Serve {
        /// Address of the main HTTP listener (server.listen).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Import k6 output files (--out json or --out csv, .gz too).
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Put every sample in this run, whatever the testid tag says.
        #[arg(long)]
        run_id: Option<String>,
        /// Replace what an earlier import of the same file (or the same run) stored.
        #[arg(long)]
        replace: bool,
        /// json or csv (default: detected from the content).
        #[arg(long)]
        format: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// Send to the chute at this URL instead of the configured address.
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// k6 runs and their summaries.
    K6 {
        #[command(subcommand)]
        command: cli_k6::K6Command,
    },
    /// Schema migrations of the store.
    Migrate {
        #[command(subcommand)]
        command: ops_cmds::MigrateCommand,
    },
    /// Configuration.
    Config {
        #[command(subcommand)]
        command: ops_cmds::ConfigCommand,
    },
    /// The spool.
    Spool {
        #[command(subcommand)]
        command: ops_cmds::SpoolCommand,
    },
    /// Is a chute running here, and is it ready?
    Status {
        /// Wait up to this many seconds for it to become ready.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// Send k6 load to a chute and report throughput, latency and visibility.
    Loadgen(Box<loadgen_cmd::LoadgenArgs>),
    /// Run one SQL statement against the configured store and print the result as a table.
    Sql {
        /// The statement, e.g. "SELECT run_id, count() FROM k6_samples GROUP BY run_id".
        #[arg(value_name = "SQL")]
        statement: String,
        /// Print the result in this ClickHouse format (JSONEachRow, CSVWithNames, Pretty...) instead.
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
    },
    /// OpenTelemetry services: counts per signal, span error rate, first and last seen.
    Services(explorer_cmd::ServicesArgs),
    /// The attribute catalog: keys with their exact number of distinct values.
    Attributes(explorer_cmd::AttributesArgs),
    /// OpenTelemetry logs (`chute logs patterns`: templates with exact counts).
    Logs {
        #[command(subcommand)]
        command: explorer_cmd::LogsCommand,
    },
    /// Benchmarks: the engine's ceiling, k6 import, chute end to end.
    Bench {
        #[command(subcommand)]
        command: bench_cmd::BenchCommand,
    },
}

fn load_config(cli: &Cli, extra: &[Override]) -> anyhow::Result<Config> {
    let mut overrides: Vec<Override> = Vec::new();
    if let Some(d) = &cli.data_dir {
        overrides.push(Override { key: "data_dir".into(), value: d.clone() });
    }
    overrides.extend(cli.set.iter().cloned());
    overrides.extend(extra.iter().cloned());
    Ok(chute_config::load(cli.config.as_deref(), std::env::vars(), &overrides)?)
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match config.log.format {
        chute_config::LogFormat::Json => {
            let _ = builder.json().try_init();
        }
        chute_config::LogFormat::Text => {
            let _ = builder.with_target(false).try_init();
        }
    }
}

fn main() {
    keep_freed_memory();
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("chute: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let extra = match &cli.command {
        Command::Serve { listen: Some(l) } => vec![Override { key: "server.listen".into(), value: l.clone() }],
        _ => vec![],
    };
    let config = load_config(&cli, &extra)?;
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("chute-rt")
        .build()
        .context("cannot start the async runtime")?;
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => serve::serve(config).await,
            Command::Import { files, run_id, replace, format, json, server } => {
                cli_k6::import(&config, files, run_id, replace, format, json, server).await
            }
            Command::K6 { command } => cli_k6::run(&config, command).await,
            Command::Migrate { command } => ops_cmds::migrate(&config, command).await,
            Command::Config { command } => ops_cmds::config(&config, command),
            Command::Spool { command } => ops_cmds::spool(&config, command),
            Command::Status { wait, server } => ops_cmds::status(&config, wait, server).await,
            Command::Services(a) => explorer_cmd::services(&config, a).await,
            Command::Attributes(a) => explorer_cmd::attributes(&config, a).await,
            Command::Logs { command } => explorer_cmd::logs(&config, command).await,
            Command::Loadgen(args) => loadgen_cmd::loadgen(*args).await,
            Command::Sql { statement, format } => sql_cmd::sql(&config, statement, format).await,
            Command::Bench { command } => bench_cmd::run(&config, command).await,
        }
    });
    drop(runtime);
    // The engine's background threads must be stopped before the process exits.
    chute_store::embedded::close_engine();
    code
}

#[cfg(test)]
mod allocator_tests {
    use super::*;

    #[test]
    fn freed_memory_is_kept_unless_the_environment_says_otherwise() {
        if environment_sets_purge_delay() {
            return; // the environment decides; nothing of ours to check
        }
        // SAFETY: reads a process-wide allocator option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // mimalloc v3 purges freed memory after 1,000 ms by default: this is the option we mean.
        assert_eq!(get(), 1000, "option {MI_OPTION_PURGE_DELAY} is not mimalloc's purge_delay");
        keep_freed_memory();
        assert_eq!(get(), -1);
    }
}
