//! The engine side of the ClickHouse-compatible HTTP interface: one request's statement runs on a
//! connection of its own (its database, settings and query parameters reach no other request),
//! and the engine itself does the formats: query results are written by `INSERT INTO FUNCTION
//! file('<tmp>', '<format>') <query>` and insert data is read by `INSERT ... FROM INFILE '<tmp>'
//! FORMAT <format>`, so every ClickHouse format works with ClickHouse's own type fidelity.
//!
//! Statements that cannot be a subquery (`SHOW`, `DESCRIBE`, `EXISTS`, `EXPLAIN`, `CHECK`) run
//! through ADBC; their Arrow result is written as an ArrowStream file that the engine reads back
//! with an explicit structure and writes in the requested format.
//!
//! The HTTP side (parameters, authentication, compression, status codes) is `chute-server`'s.

use crate::embedded::{EmbeddedStore, PrivateConnection};
use crate::scan::{self, Kind, Statement};
use crate::sql::{is_identifier, quote, quote_identifier};
use crate::{ErrorKind, StoreError};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, SchemaRef, TimeUnit};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// ClickHouse's code for a refused modification by a read-only user.
pub const READONLY: i32 = 164;

/// Why a request may only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOnly {
    No,
    /// The user is configured `readonly = true` (or sent `readonly=1`).
    User,
    /// HTTP GET: ClickHouse runs GET requests read-only.
    HttpGet,
}

/// One request of the ClickHouse HTTP interface, as the engine needs it.
pub struct Request<'a> {
    /// The statement, with an INSERT's data after it (ClickHouse's `query` parameter, a newline
    /// and the request body; or the body alone).
    pub text: &'a [u8],
    /// The format of a result whose statement names none (`default_format`, else TabSeparated).
    pub default_format: &'a str,
    pub database: Option<&'a str>,
    /// Settings for this request (URL parameters that are settings).
    pub settings: &'a [(String, String)],
    /// Query parameters, bound to `{name:Type}` placeholders.
    pub params: &'a [(String, String)],
    pub read_only: ReadOnly,
    pub user: &'a str,
    /// Where result and data files are written (created if missing).
    pub tmp_dir: &'a Path,
}

/// What a request did.
pub struct Outcome {
    pub kind: Kind,
    /// The result in `format`, written by the engine (queries only).
    pub output: Option<TempFile>,
    pub format: Option<String>,
    /// Rows written by an INSERT (or rows in the result of a query).
    pub rows: u64,
}

/// A file removed when dropped.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A fresh name in `dir` (the file itself is not created).
    pub fn new_in(dir: &Path, what: &str) -> Result<TempFile, StoreError> {
        static N: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::new(ErrorKind::Unavailable, format!("cannot create temporary directory {}: {e}", dir.display()))
        })?;
        let n = N.fetch_add(1, Ordering::Relaxed);
        Ok(TempFile { path: dir.join(format!("chute-{}-{n}-{what}", std::process::id())) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's path as SQL text (absolute, as the engine requires).
    fn literal(&self) -> Result<String, StoreError> {
        let abs = if self.path.is_absolute() {
            self.path.clone()
        } else {
            std::env::current_dir().map(|d| d.join(&self.path)).unwrap_or_else(|_| self.path.clone())
        };
        abs.to_str()
            .map(quote)
            .ok_or_else(|| StoreError::new(ErrorKind::Unavailable, "temporary directory path is not UTF-8"))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn err(code: i32, kind: ErrorKind, message: String) -> StoreError {
    StoreError { kind, code: Some(code), message }
}

/// A format name as the engine takes it (checked, so a name cannot end the string literal).
fn format_name(name: &str) -> Result<&str, StoreError> {
    if is_identifier(name) { Ok(name) } else { Err(err(73, ErrorKind::Schema, format!("Unknown format {name}"))) }
}

/// Runs one request on `store` (see the module docs). Blocking.
pub fn run(store: &EmbeddedStore, req: &Request<'_>) -> Result<Outcome, StoreError> {
    let stmt = scan::parse(req.text)?;
    if req.read_only != ReadOnly::No && !stmt.kind.is_read_only() {
        let why = match req.read_only {
            ReadOnly::HttpGet => {
                " For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries"
            }
            _ => "",
        };
        return Err(err(
            READONLY,
            ErrorKind::Auth,
            format!("{}: Cannot execute query in readonly mode.{why}", req.user),
        ));
    }
    store.with_private_connection(|conn| {
        prepare(conn, req, !stmt.kind.is_read_only())?;
        match stmt.kind {
            Kind::Select => select(conn, req, &stmt),
            Kind::Show => show(conn, req, &stmt),
            Kind::Insert => insert(conn, req, &stmt),
            Kind::Set | Kind::Use | Kind::Modify => {
                let rows = conn.execute(&stmt.sql)?.unwrap_or(0);
                Ok(Outcome { kind: stmt.kind, output: None, format: None, rows })
            }
        }
    })
}

/// The request's database, settings and parameters, on its own connection.
fn prepare(conn: &mut PrivateConnection, req: &Request<'_>, writes: bool) -> Result<(), StoreError> {
    // A server's inserts are synchronous unless a client asks otherwise (the engine's default
    // is asynchronous). Reads skip the statement, which cost ~0.2 ms of CPU per request.
    if writes {
        conn.execute("SET async_insert = 0")?;
    }
    if let Some(db) = req.database.filter(|d| !d.is_empty()) {
        conn.execute(&format!("USE {}", quote_identifier(db)))?;
    }
    for (name, value) in req.settings {
        if !is_identifier(name) {
            return Err(err(115, ErrorKind::Schema, format!("Unknown setting '{name}'")));
        }
        conn.execute(&format!("SET {name} = {}", quote(value)))?;
    }
    for (name, value) in req.params {
        if !is_identifier(name) {
            return Err(err(457, ErrorKind::Schema, format!("Bad query parameter name '{name}'")));
        }
        conn.execute(&format!("SET param_{name} = {}", quote(value)))?;
    }
    Ok(())
}

fn select(conn: &mut PrivateConnection, req: &Request<'_>, stmt: &Statement) -> Result<Outcome, StoreError> {
    let format = stmt.format.clone().unwrap_or_else(|| req.default_format.to_string());
    let out = TempFile::new_in(req.tmp_dir, "result")?;
    // `FROM t SELECT` and `VALUES` are not valid after INSERT INTO FUNCTION: read them as a subquery.
    let first = stmt.sql.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
    let query =
        if first == "FROM" || first == "VALUES" { format!("SELECT * FROM ({})", stmt.sql) } else { stmt.sql.clone() };
    let rows = conn
        .execute(&format!("INSERT INTO FUNCTION file({}, {}) {query}", out.literal()?, quote(format_name(&format)?)))?
        .unwrap_or(0);
    Ok(Outcome { kind: Kind::Select, output: Some(out), format: Some(format), rows })
}

fn show(conn: &mut PrivateConnection, req: &Request<'_>, stmt: &Statement) -> Result<Outcome, StoreError> {
    let format = stmt.format.clone().unwrap_or_else(|| req.default_format.to_string());
    format_name(&format)?;
    let (schema, batches) = conn.query(&stmt.sql)?;
    let arrow = TempFile::new_in(req.tmp_dir, "arrow")?;
    write_arrow_stream(arrow.path(), &schema, &batches)?;
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let out = TempFile::new_in(req.tmp_dir, "result")?;
    let structure = match clickhouse_structure(&schema) {
        Some(s) => format!(", {}", quote(&s)),
        None => String::new(),
    };
    conn.execute(&format!(
        "INSERT INTO FUNCTION file({}, {}) SELECT * FROM file({}, 'ArrowStream'{structure})",
        out.literal()?,
        quote(&format),
        arrow.literal()?
    ))?;
    Ok(Outcome { kind: Kind::Show, output: Some(out), format: Some(format), rows })
}

fn insert(conn: &mut PrivateConnection, req: &Request<'_>, stmt: &Statement) -> Result<Outcome, StoreError> {
    let Some(parts) = &stmt.insert else {
        // VALUES or SELECT: the statement carries everything.
        let rows = conn.execute(&stmt.sql)?.unwrap_or(0);
        return Ok(Outcome { kind: Kind::Insert, output: None, format: None, rows });
    };
    let format = parts.format.as_deref().unwrap_or("Values");
    let data = &req.text[parts.data_offset.min(req.text.len())..];
    let file = TempFile::new_in(req.tmp_dir, "data")?;
    std::fs::write(file.path(), data).map_err(|e| {
        StoreError::new(ErrorKind::Unavailable, format!("cannot write insert data to {}: {e}", file.path().display()))
    })?;
    let settings = parts.settings.as_deref().map(|s| format!(" SETTINGS {s}")).unwrap_or_default();
    let rows = conn
        .execute(&format!(
            "{} FROM INFILE {} COMPRESSION 'none'{settings} FORMAT {}",
            parts.head,
            file.literal()?,
            format_name(format)?
        ))?
        .unwrap_or(0);
    Ok(Outcome { kind: Kind::Insert, output: None, format: None, rows })
}

fn io(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::new(ErrorKind::Unavailable, format!("cannot write {}: {e}", path.display()))
}

/// Writes batches as an Arrow IPC stream file (with the schema even when there are no rows).
pub fn write_arrow_stream(path: &Path, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<(), StoreError> {
    let f = std::fs::File::create(path).map_err(|e| io(path, e))?;
    let mut w =
        arrow_ipc::writer::StreamWriter::try_new(std::io::BufWriter::new(f), schema).map_err(|e| io(path, e))?;
    for b in batches {
        w.write(b).map_err(|e| io(path, e))?;
    }
    w.finish().map_err(|e| io(path, e))?;
    Ok(())
}

/// A ClickHouse table structure (`name Type, ...`) for an Arrow schema, None when a type has no
/// obvious ClickHouse counterpart (the engine then infers it).
pub fn clickhouse_structure(schema: &SchemaRef) -> Option<String> {
    let cols: Option<Vec<String>> =
        schema.fields().iter().map(|f| Some(format!("{} {}", quote_identifier(f.name()), field_type(f)?))).collect();
    cols.map(|c| c.join(", "))
}

fn field_type(f: &Field) -> Option<String> {
    let t = data_type(f.data_type())?;
    let nestable = !matches!(
        f.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::Map(..) | DataType::Struct(_) | DataType::Dictionary(..)
    );
    Some(if f.is_nullable() && nestable { format!("Nullable({t})") } else { t })
}

fn data_type(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Boolean => "Bool".into(),
        DataType::Int8 => "Int8".into(),
        DataType::Int16 => "Int16".into(),
        DataType::Int32 => "Int32".into(),
        DataType::Int64 => "Int64".into(),
        DataType::UInt8 => "UInt8".into(),
        DataType::UInt16 => "UInt16".into(),
        DataType::UInt32 => "UInt32".into(),
        DataType::UInt64 => "UInt64".into(),
        DataType::Float32 => "Float32".into(),
        DataType::Float64 => "Float64".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Binary | DataType::LargeBinary => "String".into(),
        DataType::FixedSizeBinary(n) => format!("FixedString({n})"),
        DataType::Date32 => "Date32".into(),
        DataType::Timestamp(unit, tz) => {
            let p = match unit {
                TimeUnit::Second => 0,
                TimeUnit::Millisecond => 3,
                TimeUnit::Microsecond => 6,
                TimeUnit::Nanosecond => 9,
            };
            match tz {
                Some(tz) => format!("DateTime64({p}, {})", quote(tz)),
                None => format!("DateTime64({p})"),
            }
        }
        DataType::List(f) | DataType::LargeList(f) => format!("Array({})", field_type(f)?),
        DataType::Dictionary(_, v) => format!("LowCardinality({})", data_type(v)?),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => {
                format!("Map({}, {})", data_type(kv[0].data_type())?, field_type(&kv[1])?)
            }
            _ => return None,
        },
        DataType::Struct(fields) => {
            let parts: Option<Vec<String>> =
                fields.iter().map(|f| Some(format!("{} {}", quote_identifier(f.name()), field_type(f)?))).collect();
            format!("Tuple({})", parts?.join(", "))
        }
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("Decimal({p}, {s})"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Schema;
    use std::sync::Arc;

    #[test]
    fn arrow_schemas_become_clickhouse_structures() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("n", DataType::UInt64, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false),
            Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), true),
        ]));
        assert_eq!(
            clickhouse_structure(&schema).unwrap(),
            "`name` String, `n` Nullable(UInt64), `at` DateTime64(3, 'UTC'), `tags` Array(Nullable(String))"
        );
        assert!(format_name("JSONEachRow").is_ok());
        assert_eq!(format_name("JSON', 'x").unwrap_err().code, Some(73));
    }
}
