//! `chute sql "SELECT ..."`: one statement against the configured store, printed as an aligned
//! table (or passed through in a ClickHouse format with `--format`).
//!
//! Where it runs: a remote ClickHouse (`store.target = "clickhouse"`) is asked directly; the
//! embedded engine is opened in this process, unless a running chute holds its data directory,
//! in which case the statement goes to that chute's ClickHouse HTTP interface
//! (`clickhouse_http.enabled`), or the command says how to make that possible.

use crate::local::open_migrated;
use crate::table::Table;
use anyhow::{Context, bail};
use chute_config::{Config, StoreTarget};
use std::io::Write;

/// The format asked of the engine when chute renders the table itself.
const TABLE_FORMAT: &str = "TabSeparatedWithNames";

pub async fn sql(config: &Config, statement: String, format: Option<String>) -> anyhow::Result<i32> {
    if statement.trim().is_empty() {
        bail!("no statement given: chute sql \"SELECT ...\"");
    }
    let out = match config.store.target {
        StoreTarget::Null => bail!("store.target = \"null\" keeps no data to query"),
        StoreTarget::Clickhouse => {
            if format.is_some() {
                bail!(
                    "--format passes a ClickHouse format through the embedded engine or chute's ClickHouse HTTP \
                     interface; with store.target = \"clickhouse\" ask the server itself (clickhouse-client, curl)"
                );
            }
            let config = config.clone();
            tokio::task::spawn_blocking(move || remote_table(&config, &statement)).await??
        }
        StoreTarget::Embedded => match open_migrated(config) {
            Ok(_) => {
                let config = config.clone();
                tokio::task::spawn_blocking(move || embedded(&config, &statement, format.as_deref())).await??
            }
            Err(e) if format!("{e:#}").contains("in use by another chute process") => {
                through_server(config, &statement, format.as_deref()).await.with_context(|| format!("{e:#}"))?
            }
            Err(e) => return Err(e),
        },
    };
    std::io::stdout().write_all(&out)?;
    Ok(0)
}

/// On the embedded engine of this process, through the same code as the HTTP interface.
fn embedded(config: &Config, statement: &str, format: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let store = chute_store::embedded::EmbeddedStore::current().context("the embedded engine is not open")?;
    let tmp = std::path::Path::new(&config.data_dir).join("tmp").join("sql");
    let req = chute_store::session::Request {
        text: statement.as_bytes(),
        default_format: format.unwrap_or(TABLE_FORMAT),
        database: None,
        settings: &[],
        params: &[],
        read_only: chute_store::session::ReadOnly::No,
        user: "chute",
        tmp_dir: &tmp,
    };
    let outcome = chute_store::session::run(&store, &req).map_err(|e| anyhow::anyhow!(e.message))?;
    let bytes = match &outcome.output {
        Some(f) => std::fs::read(f.path()).with_context(|| format!("cannot read {}", f.path().display()))?,
        None => return Ok(done(outcome.kind, outcome.rows)),
    };
    Ok(if format.is_some() || outcome.format.as_deref() != Some(TABLE_FORMAT) {
        bytes
    } else {
        render_tsv(&String::from_utf8_lossy(&bytes)).into_bytes()
    })
}

fn done(kind: chute_store::scan::Kind, rows: u64) -> Vec<u8> {
    match kind {
        chute_store::scan::Kind::Insert => format!("ok, {rows} rows written\n").into_bytes(),
        _ => b"ok\n".to_vec(),
    }
}

/// On a ClickHouse server: Arrow results rendered as a table.
fn remote_table(config: &Config, statement: &str) -> anyhow::Result<Vec<u8>> {
    let store = crate::local::open_store(config)?;
    let kind = chute_store::scan::parse(statement.as_bytes()).map_err(|e| anyhow::anyhow!(e.message))?.kind;
    if !kind.has_result() {
        store.execute(statement).map_err(|e| anyhow::anyhow!(e.message))?;
        return Ok(b"ok\n".to_vec());
    }
    let batches = store.query(statement, &[]).map_err(|e| anyhow::anyhow!(e.message))?;
    let Some(first) = batches.first() else { return Ok(b"(no rows)\n".to_vec()) };
    let schema = first.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut t = Table::new(&names);
    for b in &batches {
        for i in 0..b.num_rows() {
            t.row(b.columns().iter().map(|c| cell(&chute_store::rows::value_at(c, i))).collect());
        }
    }
    Ok(t.render().into_bytes())
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "NULL".into(),
        other => other.to_string(),
    }
}

/// Through the ClickHouse HTTP interface of the chute that holds the data directory.
async fn through_server(config: &Config, statement: &str, format: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let ch = &config.clickhouse_http;
    if !ch.enabled {
        bail!(
            "a running chute holds the embedded engine and its ClickHouse HTTP interface is off: start it with \
             clickhouse_http.enabled = true (then `chute sql` goes through it), or stop it"
        );
    }
    let listen = ch.listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
    let base = format!("http://{listen}/");
    let user = ch.users.iter().find(|u| !u.readonly).or(ch.users.first());
    let mut req = reqwest::Client::new()
        .post(&base)
        .query(&[("default_format", format.unwrap_or(TABLE_FORMAT))])
        .body(statement.to_string());
    if let Some(u) = user {
        req = req.header("X-ClickHouse-User", &u.name).header("X-ClickHouse-Key", &u.password);
    }
    let resp = req.send().await.with_context(|| format!("cannot reach chute's ClickHouse HTTP interface at {base}"))?;
    let status = resp.status();
    let has_result = resp.headers().contains_key("x-clickhouse-format");
    let body = resp.bytes().await?.to_vec();
    if !status.is_success() {
        bail!("{} (HTTP {})", String::from_utf8_lossy(&body).trim(), status.as_u16());
    }
    Ok(match (format, has_result) {
        (Some(_), _) => body,
        (None, true) => render_tsv(&String::from_utf8_lossy(&body)).into_bytes(),
        (None, false) => b"ok\n".to_vec(),
    })
}

/// `TabSeparatedWithNames` text as an aligned table.
fn render_tsv(text: &str) -> String {
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return "(no rows)\n".into() };
    let names: Vec<String> = header.split('\t').map(unescape).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut t = Table::new(&refs);
    for l in lines {
        t.row(l.split('\t').map(unescape).collect());
    }
    t.render()
}

/// TabSeparated escapes (`\t`, `\n`, `\\`, `\N` for NULL) back to text.
fn unescape(s: &str) -> String {
    if s == "\\N" {
        return "NULL".into();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push(' '),
            Some('n') => out.push(' '),
            Some('r') => {}
            Some('0') => {}
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_separated_results_become_an_aligned_table() {
        let s = render_tsv("name\tn\nalpha\t1\nb\\tc\t\\N\n");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "name   n");
        assert_eq!(lines[2], "alpha  1");
        assert_eq!(lines[3], "b c    NULL");
    }
}
