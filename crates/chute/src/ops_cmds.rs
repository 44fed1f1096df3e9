//! Operator commands: `migrate status|up|down`, `config check|defaults`, `spool inspect`, `status`.

use crate::client::{connect, default_url};
use crate::local::open_store;
use crate::table::{Table, thousands};
use anyhow::bail;
use chute_config::Config;
use chute_store::migrations;
use clap::Subcommand;
use std::time::{Duration, Instant, SystemTime};

#[derive(Subcommand, Debug)]
pub enum MigrateCommand {
    /// Which migrations are applied.
    Status,
    /// Apply pending migrations (all, or up to --to).
    Up {
        #[arg(long)]
        to: Option<u32>,
    },
    /// Revert the newest migration (or every one above --to; --to 0 reverts all).
    Down {
        #[arg(long)]
        to: Option<u32>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults < file < CHUTE_* < flags), secrets masked.
    Check,
    /// Print the default configuration.
    Defaults,
}

#[derive(Subcommand, Debug)]
pub enum SpoolCommand {
    /// Show what is waiting in the spool (safe while a server runs).
    Inspect,
}

pub async fn migrate(config: &Config, cmd: MigrateCommand) -> anyhow::Result<i32> {
    let store = open_store(config)?;
    let out = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let s = store.as_ref();
        let mut out = String::new();
        match cmd {
            MigrateCommand::Status => {}
            MigrateCommand::Up { to } => {
                let done = migrations::up(s, to)?;
                out.push_str(&if done.is_empty() {
                    "nothing to apply\n".to_string()
                } else {
                    format!("applied {done:?}\n")
                });
            }
            MigrateCommand::Down { to } => {
                let done = migrations::down(s, to)?;
                out.push_str(&if done.is_empty() {
                    "nothing to revert\n".to_string()
                } else {
                    format!("reverted {done:?}\n")
                });
            }
        }
        let mut t = Table::new(&["version", "name", "state"]);
        for m in migrations::status(s)? {
            let state = match (m.applied, m.checksum_matches) {
                (true, true) => "applied",
                (true, false) => "applied (SQL changed since!)",
                (false, _) => "pending",
            };
            t.row(vec![m.version.to_string(), m.name, state.into()]);
        }
        out.push_str(&t.render());
        Ok(out)
    })
    .await??;
    print!("{out}");
    Ok(0)
}

pub fn config(config: &Config, cmd: ConfigCommand) -> anyhow::Result<i32> {
    match cmd {
        ConfigCommand::Check => {
            print!("{}", config.to_masked_toml());
            eprintln!("configuration is valid");
        }
        ConfigCommand::Defaults => print!("{}", Config::default().to_masked_toml()),
    }
    Ok(0)
}

pub fn spool(config: &Config, cmd: SpoolCommand) -> anyhow::Result<i32> {
    match cmd {
        SpoolCommand::Inspect => {
            let dir = config.spool_dir();
            let tables = chute_spool::inspect(&dir)?;
            let now = SystemTime::now();
            let mut t = Table::new(&["table", "segment", "state", "rows", "bytes", "age"]);
            let (mut rows, mut bytes) = (0u64, 0u64);
            for table in &tables {
                for s in &table.segments {
                    rows += s.rows;
                    bytes += s.bytes;
                    let age =
                        now.duration_since(s.modified).map(|d| format!("{:.0}s", d.as_secs_f64())).unwrap_or_default();
                    let state = match s.state.as_str() {
                        "seg" => "sealed",
                        other => other,
                    };
                    t.row(vec![
                        table.table.clone(),
                        format!("{:x}", s.seq),
                        state.into(),
                        thousands(s.rows),
                        thousands(s.bytes),
                        age,
                    ]);
                }
                if let Some(p) = &table.plan {
                    t.row(vec![
                        table.table.clone(),
                        "plan".into(),
                        format!("delivering {p}"),
                        String::new(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
            println!("spool {}: {} rows, {} bytes waiting", dir.display(), thousands(rows), thousands(bytes));
            print!("{}", t.render());
            Ok(0)
        }
    }
}

pub async fn status(config: &Config, wait: u64, server: Option<String>) -> anyhow::Result<i32> {
    let url = server.clone().unwrap_or_else(|| default_url(config));
    let until = Instant::now() + Duration::from_secs(wait);
    loop {
        if let Ok(Some(c)) =
            connect(config, Some(url.clone())).await.map(Some).or_else(|_| Ok::<_, anyhow::Error>(None))
            && let Some(c) = c
        {
            let r = reqwest::get(format!("{}/health/ready", c.base)).await?;
            let ok = r.status().is_success();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            if ok || Instant::now() >= until {
                println!(
                    "{}: {}{}",
                    c.base,
                    body["state"].as_str().unwrap_or("unknown"),
                    body["reason"].as_str().filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default()
                );
                return Ok(if ok { 0 } else { 1 });
            }
        } else if Instant::now() >= until {
            bail!("no chute answers at {url}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
