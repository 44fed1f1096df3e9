//! Finding the embedded engine's files: chDB's shared object (`_chdb.abi3.so` from the
//! `chdb-core` wheel) and a libpython3 shared library it needs loaded first.

use std::path::{Path, PathBuf};

const ENGINE_FILE: &str = "chdb/_chdb.abi3.so";

/// Where the engine was looked for, in order, when no path is configured: `$VIRTUAL_ENV`, a
/// `.venv` in the working directory or any parent, and a `.venv` in any parent of the running
/// executable (so `target/release/chute` finds the project's `.venv`).
pub fn engine_candidates() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        roots.push(PathBuf::from(v));
    }
    let mut push_ancestors = |start: Option<PathBuf>| {
        if let Some(start) = start {
            for dir in start.ancestors() {
                let venv = dir.join(".venv");
                if !roots.contains(&venv) {
                    roots.push(venv);
                }
            }
        }
    };
    push_ancestors(std::env::current_dir().ok());
    push_ancestors(std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)));
    let mut out = Vec::new();
    for root in roots {
        let lib = root.join("lib");
        let mut found = false;
        if let Ok(entries) = std::fs::read_dir(&lib) {
            let mut pythons: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python3")))
                .collect();
            pythons.sort();
            for py in pythons {
                out.push(py.join("site-packages").join(ENGINE_FILE));
                found = true;
            }
        }
        if !found {
            out.push(lib.join("python3.11/site-packages").join(ENGINE_FILE));
        }
    }
    out
}

/// The engine library to load: the configured path, or the first candidate that exists.
/// The error names every place that was tried.
pub fn find_engine(configured: &str) -> Result<PathBuf, String> {
    if !configured.is_empty() {
        let p = PathBuf::from(configured);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("chDB engine not found at {}; run `make setup`", p.display()))
        };
    }
    let candidates = engine_candidates();
    if let Some(p) = candidates.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    let first = candidates.first().map(|p| p.display().to_string()).unwrap_or_else(|| ".venv".into());
    Err(format!(
        "chDB engine not found at {first} (nor in {} other places); run `make setup` \
         or set store.embedded.chdb_library",
        candidates.len().saturating_sub(1)
    ))
}

/// A libpython3 shared library: the configured one, else the first in the system library
/// directories, else the one next to the Python that made the engine's virtual environment.
pub fn find_libpython(configured: &str, engine: &Path) -> Result<PathBuf, String> {
    if !configured.is_empty() {
        let p = PathBuf::from(configured);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "libpython not found at {}; install libpython3.11 or fix store.embedded.libpython",
                p.display()
            ))
        };
    }
    let mut dirs: Vec<PathBuf> =
        ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"]
            .iter()
            .map(PathBuf::from)
            .collect();
    // <venv>/lib/python3.x/site-packages/chdb/_chdb.abi3.so → <venv>/pyvenv.cfg names the home.
    if let Some(venv) = engine.ancestors().nth(5)
        && let Ok(cfg) = std::fs::read_to_string(venv.join("pyvenv.cfg"))
    {
        for line in cfg.lines() {
            if let Some(home) = line.strip_prefix("home = ") {
                dirs.push(Path::new(home.trim()).join("../lib"));
            }
        }
    }
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut libs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("libpython3.") && n.ends_with(".so.1.0"))
            })
            .collect();
        libs.sort();
        if let Some(p) = libs.pop() {
            return Ok(p);
        }
    }
    Err("no libpython3 shared library found (the engine needs one); install Debian's libpython3.11 \
         (`make setup` does) or set store.embedded.libpython"
        .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_path_that_does_not_exist_is_named_with_the_fix() {
        let e = find_engine("/nonexistent/_chdb.abi3.so").unwrap_err();
        assert_eq!(e, "chDB engine not found at /nonexistent/_chdb.abi3.so; run `make setup`");
    }

    #[test]
    fn candidates_include_a_venv_above_the_executable() {
        let exe_dir = std::env::current_exe().unwrap();
        let c = engine_candidates();
        assert!(c.iter().any(|p| exe_dir.starts_with(p.ancestors().nth(5).unwrap().parent().unwrap())), "{c:?}");
    }
}
