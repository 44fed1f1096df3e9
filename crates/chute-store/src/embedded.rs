//! The embedded engine: chDB loaded through its ADBC entry point, one engine per process, a
//! data directory locked against other processes, and pools of connections (ingest and queries
//! never wait on each other; one ADBC connection runs one statement at a time).
//!
//! # Lifecycle
//!
//! The engine's handles live in one process-wide slot behind a gate: every call holds the gate
//! for reading; [`close_engine`] takes it for writing (so it waits for calls in flight), then
//! releases the connections and the database, which stops the engine's background threads.
//! Closing matters: if the process exits while those threads run, the engine's C++ static
//! destructors race them and the process dies with SIGSEGV after `main` returned (seen under
//! load). The engine is closed when the thread that opened it ends (the main thread of `chute`,
//! the test thread in tests) and explicitly by `chute` before it exits; calls after that fail
//! with an `Unavailable` error, and the engine cannot be opened again in the same process.
//!
//! # Merges and inserts run at a lower CPU priority
//!
//! The engine merges parts in the background on threads it names `MergeMutate`. On a small
//! machine those merges compete for the same cores as the receivers and the inserts, and a
//! burst of merges after a burst of inserts slows both. With `merge_nice` above 0, a thread of
//! this module (`chute-renice`) sets the Linux nice value of every `MergeMutate` thread of
//! the process to it, once a second (the engine starts them lazily). Raising a thread's nice
//! value needs no privilege. Merges still run whenever a core is idle; they only yield to the
//! rest. The engine's own `os_threads_nice_value_merge_mutate` does the same but is a server
//! setting that needs `CAP_SYS_NICE`, which chute does not ask for.
//!
//! Inserts come next (`insert_nice`, below merges): the same thread sets the engine's worker
//! threads (`ThreadPool`, which run an insert's work, and a query's) to it, and
//! [`Store::enter_insert_thread`] sets the calling thread (delivery's workers). An insert of a
//! spooled batch waits for nobody, while each request being received has a client waiting, so
//! during an insert's burst of CPU the receivers go first.

use crate::locate::{find_engine, find_libpython};
use crate::{ErrorKind, Store, StoreError};
use adbc_core::options::{AdbcVersion, IngestMode, OptionDatabase, OptionStatement, OptionValue};
use adbc_core::{Connection, Database, Driver, Optionable, Statement};
use adbc_driver_manager::{ManagedConnection, ManagedDatabase, ManagedDriver};
use arrow_array::RecordBatch;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock, RwLock};

/// How to find and open the engine.
#[derive(Clone, Debug, Default)]
pub struct EmbeddedOptions {
    /// chDB's `_chdb.abi3.so`; empty: search (see [`crate::locate`]).
    pub chdb_library: String,
    /// A libpython3 shared library; empty: search.
    pub libpython: String,
    /// The engine's data directory (created if missing).
    pub path: PathBuf,
    /// Connections reserved for inserts.
    pub ingest_connections: usize,
    /// Connections reserved for queries.
    pub query_connections: usize,
    /// Nice value of the engine's merge threads (0: as the process; Linux caps it at 19).
    pub merge_nice: u8,
    /// Nice value of the engine's worker threads (its inserts and queries) and of the threads
    /// that insert in the background ([`Store::enter_insert_thread`]); 0: as the process.
    pub insert_nice: u8,
    /// The ingest connections' `materialize_skip_indexes_on_insert`: false leaves skip indexes
    /// to the merges (see `store.embedded.materialize_skip_indexes_on_insert`).
    pub materialize_skip_indexes_on_insert: bool,
}

/// The open engine. Field order matters for drop: connections before the database, the data
/// directory lock last.
struct Engine {
    ingest: Pool,
    queries: Pool,
    _db: ManagedDatabase,
    path: PathBuf,
    library: PathBuf,
    insert_nice: u8,
    _lock: File,
}

/// The one engine of this process (None before open and after close).
static ENGINE: RwLock<Option<Engine>> = RwLock::new(None);
/// Set once the engine was closed: chDB cannot be opened again in the same process (a second
/// open after a close hangs inside the engine).
static CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The driver stays loaded for the life of the process.
static DRIVER: Mutex<Option<ManagedDriver>> = Mutex::new(None);

/// A handle to the process's engine. Cheap; every handle refers to the same engine.
#[derive(Clone, Debug)]
pub struct EmbeddedStore {
    path: PathBuf,
    library: PathBuf,
}

thread_local! {
    /// Closes the engine when the thread that opened it ends.
    static CLOSE_ON_THREAD_EXIT: std::cell::RefCell<Option<CloseGuard>> = const { std::cell::RefCell::new(None) };
}

struct CloseGuard;

impl Drop for CloseGuard {
    fn drop(&mut self) {
        close_engine();
    }
}

/// Closes the engine: waits for calls in flight, releases connections and the database (which
/// stops the engine's background threads), unlocks the data directory. Idempotent.
pub fn close_engine() {
    let mut slot = ENGINE.write().unwrap_or_else(|p| p.into_inner());
    if let Some(engine) = slot.take() {
        CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
        let path = engine.path.clone();
        drop(engine);
        tracing::debug!(path = %path.display(), "embedded engine closed");
    }
}

fn unavailable(m: String) -> StoreError {
    StoreError::new(ErrorKind::Unavailable, m)
}

impl EmbeddedStore {
    pub fn open(opts: &EmbeddedOptions) -> Result<EmbeddedStore, StoreError> {
        let library = find_engine(&opts.chdb_library).map_err(unavailable)?;
        let libpython = find_libpython(&opts.libpython, &library).map_err(unavailable)?;

        let mut slot = ENGINE.write().unwrap_or_else(|p| p.into_inner());
        if CLOSED.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(unavailable(
                "the embedded engine was closed in this process and cannot be opened again".into(),
            ));
        }
        if let Some(open) = slot.as_ref() {
            return Err(unavailable(format!(
                "the embedded engine is already open in this process (at {}); one engine per process",
                open.path.display()
            )));
        }

        std::fs::create_dir_all(&opts.path)
            .map_err(|e| unavailable(format!("cannot create engine data directory {}: {e}", opts.path.display())))?;
        let lock = lock_dir(&opts.path).map_err(unavailable)?;

        load_libpython(&libpython).map_err(unavailable)?;
        let lib_str = library.to_str().ok_or_else(|| unavailable("engine path is not UTF-8".into()))?;
        let mut driver_slot = DRIVER.lock().unwrap_or_else(|p| p.into_inner());
        if driver_slot.is_none() {
            let driver = ManagedDriver::load_dynamic_from_filename(lib_str, Some(b"AdbcDriverInit"), AdbcVersion::V110)
                .map_err(|e| {
                    unavailable(format!(
                        "chDB engine at {} could not be loaded ({}); run `make setup` to reinstall it",
                        library.display(),
                        e.message
                    ))
                })?;
            *driver_slot = Some(driver);
        }
        let driver = driver_slot.as_mut().ok_or_else(|| unavailable("engine driver missing".into()))?;
        let path_str =
            opts.path.to_str().ok_or_else(|| unavailable("engine data path is not UTF-8".into()))?.to_string();
        let db = driver
            .new_database_with_opts([(OptionDatabase::Other("path".into()), OptionValue::from(path_str.as_str()))])
            .map_err(|e| unavailable(format!("cannot open the engine at {}: {}", opts.path.display(), e.message)))?;
        drop(driver_slot);
        let open_conn = |db: &ManagedDatabase| -> Result<ManagedConnection, StoreError> {
            let mut c = db.new_connection().map_err(|e| {
                unavailable(format!("cannot connect to the engine at {}: {}", opts.path.display(), e.message))
            })?;
            // Batches must be stored and visible when the call returns.
            run(&mut c, "SET async_insert = 0")?;
            Ok(c)
        };
        let mut ingest = Vec::new();
        for _ in 0..opts.ingest_connections.max(1) {
            let mut c = open_conn(&db)?;
            let on_insert = u8::from(opts.materialize_skip_indexes_on_insert);
            run(&mut c, &format!("SET materialize_skip_indexes_on_insert = {on_insert}"))?;
            ingest.push(c);
        }
        let mut queries = Vec::new();
        for _ in 0..opts.query_connections.max(1) {
            queries.push(open_conn(&db)?);
        }
        *slot = Some(Engine {
            ingest: Pool::new(ingest),
            queries: Pool::new(queries),
            _db: db,
            path: opts.path.clone(),
            library: library.clone(),
            insert_nice: opts.insert_nice,
            _lock: lock,
        });
        CLOSE_ON_THREAD_EXIT.with(|g| *g.borrow_mut() = Some(CloseGuard));
        if opts.merge_nice > 0 || opts.insert_nice > 0 {
            start_renice(opts.merge_nice, opts.insert_nice);
        }
        tracing::info!(path = %opts.path.display(), library = %library.display(), "embedded engine open");
        Ok(EmbeddedStore { path: opts.path.clone(), library })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle to the engine this process opened, if it is open.
    pub fn current() -> Option<EmbeddedStore> {
        let slot = ENGINE.read().unwrap_or_else(|p| p.into_inner());
        slot.as_ref().map(|e| EmbeddedStore { path: e.path.clone(), library: e.library.clone() })
    }

    /// Runs `f` on a connection of its own, opened for it and closed after it (~0.2 ms), so the
    /// settings, current database and query parameters it sets reach no other caller. Used by
    /// [`crate::session`] for the ClickHouse-compatible HTTP interface.
    pub fn with_private_connection<T>(
        &self,
        f: impl FnOnce(&mut PrivateConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(|e| {
            let conn = e._db.new_connection().map_err(adbc_err)?;
            let mut c = PrivateConnection(conn);
            f(&mut c)
        })
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Runs `f` with the engine, or fails if it is closed.
    fn with<T>(&self, f: impl FnOnce(&Engine) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let slot = ENGINE.read().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(e) => f(e),
            None => Err(unavailable("the embedded engine is closed".into())),
        }
    }
}

impl Store for EmbeddedStore {
    fn target(&self) -> &str {
        "embedded"
    }

    fn insert(&self, table: &str, batch: &RecordBatch, token: &str) -> Result<(), StoreError> {
        self.with(|e| {
            let mut conn = e.ingest.get();
            run(&mut conn, &format!("SET insert_deduplication_token = {}", crate::sql::quote(token)))?;
            let mut st = conn.new_statement().map_err(adbc_err)?;
            st.set_option(OptionStatement::TargetTable, table.into()).map_err(adbc_err)?;
            st.set_option(OptionStatement::IngestMode, IngestMode::Append.into()).map_err(adbc_err)?;
            st.bind(crate::arrow_fix::unique_dictionaries(batch)).map_err(adbc_err)?;
            st.execute_update().map_err(adbc_err)?;
            Ok(())
        })
    }

    fn query(&self, sql: &str, params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, StoreError> {
        self.with(|e| {
            if let Some((name, _)) = params.iter().find(|(n, _)| !crate::sql::is_identifier(n)) {
                return Err(StoreError::new(ErrorKind::Schema, format!("bad parameter name {name:?}")));
            }
            // In place rather than one `SET param_<name>` statement each: every statement costs
            // the engine a few milliseconds of set-up, which an API answer paid once per parameter.
            let sql = crate::sql::bind(sql, params);
            let mut conn = e.queries.get();
            let mut st = conn.new_statement().map_err(adbc_err)?;
            st.set_sql_query(&sql).map_err(adbc_err)?;
            let reader = st.execute().map_err(adbc_err)?;
            let mut out = Vec::new();
            for b in reader {
                out.push(b.map_err(|e| StoreError::from_engine_message(e.to_string()))?);
            }
            Ok(out)
        })
    }

    fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.with(|e| {
            let mut conn = e.queries.get();
            run(&mut conn, sql)
        })
    }

    fn enter_insert_thread(&self) {
        let nice = self.with(|e| Ok(e.insert_nice)).unwrap_or(0);
        if nice > 0 {
            renice_current_thread(i32::from(nice));
        }
    }
}

/// A connection that belongs to one caller for the duration of
/// [`EmbeddedStore::with_private_connection`].
pub struct PrivateConnection(ManagedConnection);

impl PrivateConnection {
    /// Runs a statement without a result; returns the rows it wrote when the engine says.
    pub fn execute(&mut self, sql: &str) -> Result<Option<u64>, StoreError> {
        let mut st = self.0.new_statement().map_err(adbc_err)?;
        st.set_sql_query(sql).map_err(adbc_err)?;
        let n = st.execute_update().map_err(adbc_err)?;
        Ok(n.and_then(|n| u64::try_from(n).ok()))
    }

    /// Runs a query: its schema (also when there are no rows) and its batches.
    pub fn query(&mut self, sql: &str) -> Result<(arrow_schema::SchemaRef, Vec<RecordBatch>), StoreError> {
        let mut st = self.0.new_statement().map_err(adbc_err)?;
        st.set_sql_query(sql).map_err(adbc_err)?;
        let reader = st.execute().map_err(adbc_err)?;
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        let mut out = Vec::new();
        for b in reader {
            out.push(b.map_err(|e| StoreError::from_engine_message(e.to_string()))?);
        }
        Ok((schema, out))
    }
}

fn adbc_err(e: adbc_core::error::Error) -> StoreError {
    StoreError::from_engine_message(e.message)
}

fn run(conn: &mut ManagedConnection, sql: &str) -> Result<(), StoreError> {
    let mut st = conn.new_statement().map_err(adbc_err)?;
    st.set_sql_query(sql).map_err(adbc_err)?;
    st.execute_update().map_err(adbc_err)?;
    Ok(())
}

/// Loads libpython with global symbols, once per process. The engine's Python stubs resolve
/// Python symbols (data symbols too) against it; Python itself is never initialised.
fn load_libpython(path: &Path) -> Result<(), String> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            use std::os::unix::ffi::OsStrExt;
            let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
            // SAFETY: dlopen with a valid C string; the handle is intentionally leaked so the
            // library stays loaded for the life of the process.
            let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if h.is_null() {
                // SAFETY: dlerror returns a thread-local C string or null.
                let err = unsafe { libc::dlerror() };
                let msg = if err.is_null() {
                    "unknown error".to_string()
                } else {
                    // SAFETY: non-null dlerror result is a valid C string.
                    unsafe { std::ffi::CStr::from_ptr(err) }.to_string_lossy().into_owned()
                };
                return Err(format!("cannot load libpython {}: {msg}", path.display()));
            }
            Ok(())
        })
        .clone()
}

/// Takes an exclusive lock on the data directory, so a second process gets a clear message
/// instead of the engine's.
fn lock_dir(dir: &Path) -> Result<File, String> {
    let path = dir.join("chute.lock");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: flock on an open file descriptor.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        let holder = holder.trim();
        return Err(format!(
            "data directory {} is in use by another chute process{}; stop it, or use its API \
             (commands such as `chute k6 runs` talk to a running server)",
            dir.display(),
            if holder.is_empty() { String::new() } else { format!(" (pid {holder})") }
        ));
    }
    let _ = f.set_len(0);
    let _ = write!(f, "{}", std::process::id());
    Ok(f)
}

/// A fixed set of connections handed out one caller at a time.
struct Pool {
    free: Mutex<Vec<ManagedConnection>>,
    ready: Condvar,
}

struct Lease<'a> {
    pool: &'a Pool,
    conn: Option<ManagedConnection>,
}

impl Pool {
    fn new(conns: Vec<ManagedConnection>) -> Self {
        Pool { free: Mutex::new(conns), ready: Condvar::new() }
    }

    fn get(&self) -> Lease<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(c) = free.pop() {
                return Lease { pool: self, conn: Some(c) };
            }
            free = self.ready.wait(free).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl std::ops::Deref for Lease<'_> {
    type Target = ManagedConnection;
    fn deref(&self) -> &ManagedConnection {
        self.conn.as_ref().expect("lease holds a connection until dropped")
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut ManagedConnection {
        self.conn.as_mut().expect("lease holds a connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.free.lock().unwrap_or_else(|p| p.into_inner()).push(c);
            self.pool.ready.notify_one();
        }
    }
}

/// The name the engine gives its merge and mutation threads.
const MERGE_THREAD: &str = "MergeMutate";
/// The name of the engine's general worker threads, which run the work of its inserts (and
/// queries).
const WORKER_THREAD: &str = "ThreadPool";

/// Keeps the engine's merge threads at `merge_nice` and its worker threads at `insert_nice`
/// (each when above 0) while the engine is open; see the module doc.
fn start_renice(merge_nice: u8, insert_nice: u8) {
    let started = std::thread::Builder::new().name("chute-renice".into()).spawn(move || {
        let targets: Vec<(&str, i32)> = [(MERGE_THREAD, merge_nice), (WORKER_THREAD, insert_nice)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(prefix, n)| (prefix, i32::from(n)))
            .collect();
        while !CLOSED.load(std::sync::atomic::Ordering::SeqCst) {
            if let Err(e) = renice_threads_named(&targets) {
                tracing::warn!(error = %e, "cannot lower the engine's threads' priority");
                return;
            }
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    if let Err(e) = started {
        tracing::warn!(error = %e, "cannot start the thread that lowers the engine's threads' priority");
    }
}

/// Sets the calling thread's nice value (Linux: the nice value is per thread).
fn renice_current_thread(nice: i32) {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) } != 0;
    if failed {
        tracing::warn!(error = %std::io::Error::last_os_error(), nice, "cannot lower an inserting thread's priority");
    }
}

/// Sets the nice value of this process's threads whose name starts with one of `targets`'
/// prefixes to that prefix's value (Linux: the nice value is per thread). Lists the threads once.
fn renice_threads_named(targets: &[(&str, i32)]) -> std::io::Result<()> {
    for (tid, name) in process_threads()? {
        let Some(&(_, nice)) = targets.iter().find(|(prefix, _)| name.starts_with(prefix)) else { continue };
        if thread_nice(tid) != Some(nice) {
            // SAFETY: setpriority takes plain integers and touches no memory of ours. A thread
            // that ended meanwhile makes it fail, which is fine.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) };
        }
    }
    Ok(())
}

/// This process's threads: id and name (`/proc/self/task`). A thread that ends between the
/// listing and the read of its name is left out.
pub fn process_threads() -> std::io::Result<Vec<(libc::id_t, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task")? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse::<libc::id_t>().ok()) else { continue };
        let Ok(name) = std::fs::read_to_string(entry.path().join("comm")) else { continue };
        out.push((tid, name.trim_end().to_string()));
    }
    Ok(out)
}

/// A thread's nice value, None when it cannot be read (the thread ended).
pub fn thread_nice(tid: libc::id_t) -> Option<i32> {
    // getpriority returns -1 both for nice -1 and for an error; errno tells them apart.
    // SAFETY: errno is thread-local; getpriority takes plain integers.
    unsafe {
        *libc::__errno_location() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, tid);
        (*libc::__errno_location() == 0).then_some(n)
    }
}
