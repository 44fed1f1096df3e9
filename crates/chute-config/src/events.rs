//! `[events]`: plain HTTP JSON events (`POST /api/v1/events/{table}`) and the tables they may
//! be written to.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Serve `POST /api/v1/events/{table}` on the main listener.
    pub enabled: bool,
    /// Accept events for the built-in `events` table (migration 0006).
    pub default_table: bool,
    /// One `[[events.tables]]` entry per further table events may be written to; a table not
    /// listed here (and not the built-in `events`) is answered 404.
    pub tables: Vec<EventTableConfig>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig { enabled: true, default_table: true, tables: Vec::new() }
    }
}

/// A table of the operator's that accepts events: fields map to its columns by name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EventTableConfig {
    /// The table (in the store's database): the `{table}` of the URL.
    pub name: String,
    /// A file of `CREATE TABLE IF NOT EXISTS` statements run before the first write (empty:
    /// the table must exist).
    pub table_sql: String,
    /// A column (String or JSON) that keeps the whole event as JSON text (empty: none).
    pub json_column: String,
    /// A DateTime/DateTime64 column that takes the arrival time when the event has no value
    /// for it (empty: none; a missing time is then 1970-01-01 unless the column is Nullable).
    pub time_column: String,
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn event_tables_parse_and_unknown_keys_are_errors() {
        let c: Config = toml::from_str(
            "[events]\ndefault_table = false\n[[events.tables]]\nname = \"checkout\"\njson_column = \"raw\"\n\
             time_column = \"at\"\ntable_sql = \"checkout.sql\"\n",
        )
        .unwrap();
        assert!(c.events.enabled && !c.events.default_table);
        assert_eq!(c.events.tables.len(), 1);
        assert_eq!((c.events.tables[0].name.as_str(), c.events.tables[0].time_column.as_str()), ("checkout", "at"));
        let e = toml::from_str::<Config>("[[events.tables]]\nname = \"x\"\ncolumn = \"y\"\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `column`"), "{e}");
    }
}
