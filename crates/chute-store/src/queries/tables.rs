//! SQL about tables chute does not own (targets of stream consumers): their insertable columns,
//! the stream positions already stored in them, and the operator's `CREATE TABLE` file.

use super::{col, rows};
use crate::sql::{is_identifier, quote_identifier};
use crate::{ErrorKind, Store, StoreError};

fn check_table(table: &str) -> Result<(), StoreError> {
    if is_identifier(table) {
        Ok(())
    } else {
        Err(StoreError::new(
            ErrorKind::Schema,
            format!("table name {table:?} is not an identifier (letters, digits, _; not starting with a digit)"),
        ))
    }
}

/// The columns an insert into `table` (in the current database) must carry, in table order, as
/// (name, ClickHouse type): every column but MATERIALIZED, ALIAS and EPHEMERAL ones. A table
/// that does not exist is a [`ErrorKind::MissingTable`] error naming it.
pub fn insert_columns(store: &dyn Store, table: &str) -> Result<Vec<(String, String)>, StoreError> {
    check_table(table)?;
    let b = store.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} \
         AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL') ORDER BY position",
        &[("t", table)],
    )?;
    let mut out = Vec::new();
    for (b, i) in rows(&b) {
        out.push((col(b, "name")?.str(i), col(b, "type")?.str(i)));
    }
    if out.is_empty() {
        return Err(StoreError::new(ErrorKind::MissingTable, format!("table {table} does not exist")));
    }
    Ok(out)
}

/// The stream sequences in `first..=last` of `stream` already stored in `table` (which has the
/// `_nats_stream` and `_nats_seq` columns), ascending.
pub fn stored_sequences(
    store: &dyn Store,
    table: &str,
    stream: &str,
    first: u64,
    last: u64,
) -> Result<Vec<u64>, StoreError> {
    check_table(table)?;
    let b = store.query(
        &format!(
            "SELECT DISTINCT _nats_seq AS seq FROM {} WHERE _nats_seq BETWEEN {{first:UInt64}} AND {{last:UInt64}} \
             AND _nats_stream = {{stream:String}} ORDER BY seq",
            quote_identifier(table)
        ),
        &[("first", &first.to_string()), ("last", &last.to_string()), ("stream", stream)],
    )?;
    let mut out = Vec::new();
    for (b, i) in rows(&b) {
        out.push(col(b, "seq")?.u64(i));
    }
    Ok(out)
}

/// Runs the statements of an operator's SQL file (`CREATE TABLE IF NOT EXISTS ...`), each ending
/// with `;` at the end of a line, as migrations do.
pub fn apply_sql_file(store: &dyn Store, sql: &str) -> Result<(), StoreError> {
    for statement in crate::migrations::statements(sql) {
        store.execute(&statement)?;
    }
    Ok(())
}
