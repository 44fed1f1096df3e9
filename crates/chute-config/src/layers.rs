//! Builds the effective configuration from its layers and reports bad keys and values by name.
//!
//! Each layer is merged into a TOML table that starts as the serialized defaults, so the set of
//! known keys is exactly the set of keys the defaults have. An empty table in the defaults is an
//! open map (user-chosen keys, checked by the typed deserialization that follows).

use crate::Config;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("unknown config key `{key}` in {origin}")]
    UnknownKey { key: String, origin: String },
    #[error("invalid value for `{key}` from {origin}: {message}")]
    BadValue { key: String, origin: String, message: String },
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// A `key=value` set on the command line (`--set batch.max_rows=1000`) or by a dedicated flag.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for Override {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, v) = s.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
        Ok(Override { key: k.trim().to_string(), value: v.to_string() })
    }
}

/// Environment variables that are not configuration keys but belong to chute.
const NON_KEY_VARS: &[&str] = &["CHUTE_CONFIG"];

/// Loads the configuration: defaults, then the TOML file (`file`, else `CHUTE_CONFIG` from
/// `env`), then `CHUTE_*` variables from `env`, then `overrides` in order.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    overrides: &[Override],
) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = env.into_iter().filter(|(k, _)| k.starts_with("CHUTE_")).collect();
    let mut table = defaults_table();

    let file: Option<PathBuf> = file
        .map(Path::to_path_buf)
        .or_else(|| env.iter().find(|(k, _)| k == "CHUTE_CONFIG").map(|(_, v)| v.into()))
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(path) = &file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
        let layer: Table =
            toml::from_str(&text).map_err(|e| ConfigError::Syntax { path: path.clone(), message: e.to_string() })?;
        merge(&mut table, layer, "", &path.display().to_string())?;
    }

    let mut env = env;
    env.sort();
    for (name, raw) in env {
        if NON_KEY_VARS.contains(&name.as_str()) {
            continue;
        }
        let key = env_to_key(&table, &name).ok_or_else(|| ConfigError::UnknownKey {
            key: name.clone(),
            origin: "the environment (no config key has this variable name)".into(),
        })?;
        set(&mut table, &key, &raw, &format!("environment variable {name}"))?;
    }

    for o in overrides {
        set(&mut table, &o.key, &o.value, "the command line")?;
    }

    let config: Config = serde_path_to_error::deserialize(Value::Table(table))
        .map_err(|e| ConfigError::Invalid { key: e.path().to_string(), message: e.inner().to_string() })?;
    Ok(config)
}

fn defaults_table() -> Table {
    match Value::try_from(Config::default()) {
        Ok(Value::Table(t)) => t,
        _ => unreachable!("Config serializes to a table"),
    }
}

fn merge(base: &mut Table, layer: Table, prefix: &str, origin: &str) -> Result<(), ConfigError> {
    let open = base.is_empty();
    for (k, v) in layer {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(l)) if !b.is_empty() => merge(b, l, &path, origin)?,
            (Some(slot), v) => *slot = v,
            (None, v) if open => {
                base.insert(k, v);
            }
            (None, _) => return Err(ConfigError::UnknownKey { key: path, origin: origin.into() }),
        }
    }
    Ok(())
}

/// Every leaf key path of the defaults, e.g. `batch.max_rows`.
fn leaf_keys(t: &Table, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in t {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Table(sub) if !sub.is_empty() => leaf_keys(sub, &path, out),
            _ => out.push(path),
        }
    }
}

/// The environment variable that sets a key: `batch.max_rows` is `CHUTE_BATCH_MAX_ROWS`.
pub fn key_to_env(key: &str) -> String {
    format!("CHUTE_{}", key.replace('.', "_").to_ascii_uppercase())
}

fn env_to_key(table: &Table, name: &str) -> Option<String> {
    let mut keys = Vec::new();
    leaf_keys(&defaults_table(), "", &mut keys);
    leaf_keys(table, "", &mut keys);
    keys.into_iter().find(|k| key_to_env(k) == name)
}

/// Sets one key from a string, typed like the value it replaces.
fn set(table: &mut Table, key: &str, raw: &str, origin: &str) -> Result<(), ConfigError> {
    let unknown = || ConfigError::UnknownKey { key: key.to_string(), origin: origin.to_string() };
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|s| !s.is_empty()).ok_or_else(unknown)?;
    let mut t = &mut *table;
    for p in parts {
        t = match t.get_mut(p) {
            Some(Value::Table(sub)) => sub,
            _ => return Err(unknown()),
        };
    }
    let open = t.is_empty();
    let bad = |message: String| ConfigError::BadValue { key: key.into(), origin: origin.into(), message };
    let value = match t.get(last) {
        None if open => Value::String(raw.to_string()),
        None => return Err(unknown()),
        Some(Value::Table(_)) => return Err(bad("this key is a section; set one of its keys".into())),
        Some(Value::Integer(_)) => match raw.trim().parse::<i64>() {
            Ok(n) => Value::Integer(n),
            Err(_) => Value::String(raw.to_string()),
        },
        Some(Value::Float(_)) => Value::Float(raw.trim().parse().map_err(|_| bad(format!("{raw:?} is not a number")))?),
        Some(Value::Boolean(_)) => Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            other => return Err(bad(format!("{other:?} is not true or false"))),
        }),
        Some(Value::Array(_)) => {
            let r = raw.trim();
            if r.starts_with('[') {
                let wrapped: Table = toml::from_str(&format!("v = {r}")).map_err(|e| bad(e.to_string()))?;
                wrapped.get("v").cloned().ok_or_else(|| bad("empty array".into()))?
            } else {
                Value::Array(
                    r.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| Value::String(s.into())).collect(),
                )
            }
        }
        Some(_) => Value::String(raw.to_string()),
    };
    t.insert(last.to_string(), value);
    Ok(())
}

const SECRET_WORDS: &[&str] = &["password", "token", "secret", "key", "credentials", "nkey"];

fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n == *w || n.ends_with(&format!("_{w}")))
}

pub(crate) fn mask_secrets(v: &mut Value) {
    match v {
        Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                match v {
                    Value::String(s) if is_secret(k) && !s.is_empty() => *s = "***".into(),
                    _ => mask_secrets(v),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ByteSize, Duration};

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn file(text: &str) -> (tempfile_path::TempPath, PathBuf) {
        let t = tempfile_path::TempPath::new(text);
        let p = t.0.clone();
        (t, p)
    }

    /// A tiny self-deleting temp file, to keep this crate free of dev-dependencies.
    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn new(text: &str) -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "chute-config-test-{}-{}.toml",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::write(&p, text).unwrap();
                TempPath(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn no_layers_gives_the_documented_defaults() {
        let c = load(None, env(&[]), &[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.server.listen, "127.0.0.1:8086");
        assert_eq!(c.batch.max_age, Duration::from_secs(1));
    }

    #[test]
    fn each_layer_overrides_the_one_before() {
        let (_t, path) = file("[batch]\nmax_rows = 10\nmax_age = \"2s\"\n[server]\nlisten = \"0.0.0.0:1\"\n");
        let c = load(
            Some(&path),
            env(&[("CHUTE_BATCH_MAX_ROWS", "20"), ("CHUTE_SERVER_LISTEN", "0.0.0.0:2"), ("HOME", "/x")]),
            &["batch.max_rows=30".parse().unwrap()],
        )
        .unwrap();
        assert_eq!(c.batch.max_rows, 30, "flag beats environment");
        assert_eq!(c.server.listen, "0.0.0.0:2", "environment beats file");
        assert_eq!(c.batch.max_age, Duration::from_secs(2), "file beats default");
    }

    #[test]
    fn chute_config_variable_names_the_file() {
        let (_t, path) = file("data_dir = \"/tmp/somewhere\"\n");
        let c = load(None, env(&[("CHUTE_CONFIG", path.to_str().unwrap())]), &[]).unwrap();
        assert_eq!(c.data_dir, "/tmp/somewhere");
    }

    #[test]
    fn unknown_keys_are_named_wherever_they_come_from() {
        let (_t, path) = file("[batch]\nmax_rowz = 1\n");
        let e = load(Some(&path), env(&[]), &[]).unwrap_err().to_string();
        assert!(e.contains("`batch.max_rowz`") && e.contains(path.to_str().unwrap()), "{e}");

        let e = load(None, env(&[("CHUTE_BATCH_MAX_ROWZ", "1")]), &[]).unwrap_err().to_string();
        assert!(e.contains("CHUTE_BATCH_MAX_ROWZ"), "{e}");

        let e = load(None, env(&[]), &["server.lisen=x".parse().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("`server.lisen`"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = load(None, env(&[("CHUTE_BATCH_MAX_AGE", "soon")]), &[]).unwrap_err().to_string();
        assert!(e.contains("batch.max_age"), "{e}");
        let e = load(None, env(&[("CHUTE_SPOOL_ENABLED", "perhaps")]), &[]).unwrap_err().to_string();
        assert!(e.contains("spool.enabled") && e.contains("perhaps"), "{e}");
        let (_t, path) = file("[limits]\nmax_body_bytes = \"big\"\n");
        let e = load(Some(&path), env(&[]), &[]).unwrap_err().to_string();
        assert!(e.contains("limits.max_body_bytes"), "{e}");
    }

    #[test]
    fn sizes_and_lists_from_strings() {
        let c = load(
            None,
            env(&[("CHUTE_LIMITS_MAX_BODY_BYTES", "1MiB"), ("CHUTE_K6_INFLUX_DATABASES", "k6, loadtests")]),
            &[],
        )
        .unwrap();
        assert_eq!(c.limits.max_body_bytes, ByteSize::mib(1));
        assert_eq!(c.k6.influx_databases, vec!["k6".to_string(), "loadtests".to_string()]);
    }

    #[test]
    fn clickhouse_passwords_are_masked_and_endpoints_and_users_can_be_set() {
        let c = load(
            None,
            env(&[("CHUTE_STORE_CLICKHOUSE_PASSWORD", "hunter2")]),
            &[
                "store.clickhouse.endpoints=http://a:8123, http://b:8123".parse().unwrap(),
                "clickhouse_http.users=[{name = \"ro\", password = \"s3cret\", readonly = true}]".parse().unwrap(),
            ],
        )
        .unwrap();
        assert_eq!(c.store.clickhouse.endpoints, ["http://a:8123", "http://b:8123"]);
        assert_eq!(c.clickhouse_http.users.len(), 1);
        assert!(c.clickhouse_http.users[0].readonly);
        let printed = c.to_masked_toml();
        assert!(!printed.contains("hunter2") && !printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("password = \"***\""), "{printed}");
        let e = load(None, env(&[]), &["store.clickhouse.compression=brotli".parse().unwrap()]).unwrap_err();
        assert!(e.to_string().contains("store.clickhouse.compression"), "{e}");
    }

    #[test]
    fn secrets_are_masked_when_printed() {
        let mut v: Value =
            toml::from_str("[a]\npassword = \"hunter2\"\nauth_token = \"t\"\nuser = \"bob\"\nempty_password = \"\"\n")
                .unwrap();
        mask_secrets(&mut v);
        let s = toml::to_string(&v).unwrap();
        assert!(!s.contains("hunter2") && !s.contains("\"t\""), "{s}");
        assert!(s.contains("bob"), "{s}");
        assert!(s.contains("empty_password = \"\""), "empty secrets are shown as empty: {s}");
    }
}
