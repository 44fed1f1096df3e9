//! Imports of k6 output files (`--out json`, `--out csv`, gzip or not) into the pipeline, the
//! same way from the command line and from `POST /api/v1/k6/import`.
//!
//! An import is refused (and nothing is written) when the same file content was imported
//! before, or when its run already holds samples from elsewhere; `replace` deletes what was
//! there first. Samples stream through in batches, so a file of any size imports in bounded
//! memory, and the import returns once every sample is durable (in the spool, or the store).

use chute_k6::{FileDigests, ImportFormat, ImportOptions, ImportSummary, K6Error, file_digests};
use chute_pipeline::{Admission, Pipeline, PipelineError};
use chute_store::queries::k6 as q;
use chute_store::{Store, StoreError};
use chute_tables::k6::{IMPORTS, ImportRow, METRICS, SAMPLES, imports_batch, metrics_batch};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(
        "{file} was already imported on {when} as run {run_id} ({samples} samples); \
         use --replace (replace=true) to import it again"
    )]
    AlreadyImported { file: String, run_id: String, samples: u64, when: String },
    #[error(
        "run {run_id} already holds {samples} samples (from {sources}); use --replace (replace=true) \
         to replace them, or --run-id to import under another id"
    )]
    RunExists { run_id: String, samples: u64, sources: String },
    #[error("{path} is not k6 output: neither k6 JSON (--out json) nor k6 CSV (--out csv)")]
    UnknownFormat { path: String },
    #[error(transparent)]
    K6(#[from] K6Error),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {path}: {error}")]
    Io { path: String, error: std::io::Error },
}

/// What to import and how.
#[derive(Clone, Debug, Default)]
pub struct ImportRequest {
    pub path: PathBuf,
    /// The name recorded in the ledger (the file name the user gave).
    pub name: String,
    pub run_id: Option<String>,
    pub replace: bool,
    /// Forces a format instead of sniffing it.
    pub format: Option<ImportFormat>,
}

/// What an import did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImportReport {
    pub file: String,
    pub format: ImportFormat,
    pub sha256: String,
    pub samples: u64,
    pub run_ids: Vec<String>,
    pub samples_per_run: std::collections::BTreeMap<String, u64>,
    pub metrics: usize,
    /// Runs whose previous samples were deleted first (`replace`).
    pub replaced: Vec<String>,
    pub seconds: f64,
    pub samples_per_second: f64,
}

/// Imports k6 files into a pipeline. Share one importer per process: it remembers the imports
/// it made, so a second import of a file is recognised even before the first one's ledger row
/// has left the spool.
#[derive(Clone)]
pub struct K6Importer {
    pub pipeline: Pipeline,
    pub store: Arc<dyn Store>,
    /// Samples per submitted batch.
    pub batch_rows: usize,
    recent: Arc<std::sync::Mutex<std::collections::HashMap<String, q::ImportRecord>>>,
}

/// Samples submitted but not yet acknowledged, per import (at least one batch): with small
/// batches, up to IN_FLIGHT are on their way at once; with large ones, one is inserted while
/// the next is decoded.
const IN_FLIGHT_ROWS: usize = 1 << 20;
/// Batches submitted but not yet acknowledged, per import, at most.
const IN_FLIGHT: usize = 16;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn open(path: &Path) -> Result<std::fs::File, IngestError> {
    std::fs::File::open(path).map_err(|error| IngestError::Io { path: path.display().to_string(), error })
}

/// Counts the raw bytes read (for progress).
struct Counting<R> {
    inner: R,
    n: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

impl K6Importer {
    pub fn new(pipeline: Pipeline, store: Arc<dyn Store>, batch_rows: usize) -> Self {
        K6Importer { pipeline, store, batch_rows, recent: Default::default() }
    }

    /// Imports one file. `progress` receives the raw bytes read so far.
    pub async fn import(&self, req: ImportRequest, progress: Arc<AtomicU64>) -> Result<ImportReport, IngestError> {
        let started = Instant::now();
        let path = req.path.clone();
        let io_err = |error| IngestError::Io { path: path.display().to_string(), error };

        // Pass 1: the content hash (the ledger key), the file's hash (for pass 2 to check the
        // file did not change: fewer bytes to hash than the content when it is compressed) and
        // the format.
        let (digests, format) = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || -> Result<(FileDigests, Option<ImportFormat>), IngestError> {
                let digests = file_digests(open(&path)?)
                    .map_err(|error| IngestError::Io { path: path.display().to_string(), error })?;
                let mut head = vec![0u8; 64 * 1024];
                let mut f = open(&path)?;
                let mut n = 0;
                while n < head.len() {
                    match f.read(&mut head[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(error) => return Err(IngestError::Io { path: path.display().to_string(), error }),
                    }
                }
                Ok((digests, chute_k6::sniff_format(&head[..n])))
            })
            .await
            .map_err(|e| io_err(std::io::Error::other(e)))??
        };
        let format = req.format.or(format).ok_or_else(|| IngestError::UnknownFormat { path: req.name.clone() })?;
        let sha = digests.content_sha256.clone();

        let store = self.store.clone();
        let mut replaced = Vec::new();
        let remembered = self.recent.lock().unwrap_or_else(|p| p.into_inner()).get(&sha).cloned();
        let ledger = match remembered {
            Some(r) => Some(r),
            None => {
                let (store, sha) = (store.clone(), sha.clone());
                tokio::task::spawn_blocking(move || q::import_by_hash(store.as_ref(), &sha))
                    .await
                    .map_err(|e| io_err(std::io::Error::other(e)))??
            }
        };
        if let Some(prev) = ledger {
            if !req.replace {
                return Err(IngestError::AlreadyImported {
                    file: req.name.clone(),
                    run_id: prev.run_id,
                    samples: prev.samples,
                    when: chute_store::rows::rfc3339(prev.imported_at_ms, arrow_schema::TimeUnit::Millisecond),
                });
            }
            delete_run(&store, &prev.run_id).await?;
            replaced.push(prev.run_id);
        }

        // Pass 2: decode and submit, batch by batch.
        let opts = ImportOptions {
            source: None,
            max_rows: self.batch_rows.max(1),
            run_id_override: req.run_id.clone(),
            content_sha256: Some(sha.clone()),
            file_sha256: Some(digests.file_sha256),
        };
        let pipeline = self.pipeline.clone();
        let handle = tokio::runtime::Handle::current();
        let replace = req.replace;
        let reader = Counting { inner: open(&path)?, n: progress };
        let decoded = tokio::task::spawn_blocking(move || -> Result<(ImportSummary, Vec<String>), IngestError> {
            // Submits overlap with decoding: up to IN_FLIGHT_ROWS samples are on their way at
            // once (without the spool a submit returns only when its rows are stored).
            let max_in_flight = (IN_FLIGHT_ROWS / opts.max_rows).clamp(1, IN_FLIGHT);
            let mut in_flight: std::collections::VecDeque<tokio::task::JoinHandle<Result<(), PipelineError>>> =
                std::collections::VecDeque::new();
            let mut checked = false;
            let mut replaced_runs: Vec<String> = Vec::new();
            let mut guard_err: Option<IngestError> = None;
            let source = format.as_str();
            let emit = |batch: arrow_array::RecordBatch| -> Result<(), PipelineError> {
                if !checked {
                    checked = true;
                    // Before anything is written: is the run already populated?
                    for run in run_ids_of(&batch) {
                        let existing = q::run(store.as_ref(), &run).map_err(|e| PipelineError::Store(e.to_string()))?;
                        if let Some(info) = existing {
                            if !replace {
                                guard_err = Some(IngestError::RunExists {
                                    run_id: run.clone(),
                                    samples: info.samples,
                                    sources: info.sources.join(", "),
                                });
                                return Err(PipelineError::Setup("run exists".into()));
                            }
                            q::delete_run(store.as_ref(), &run).map_err(|e| PipelineError::Store(e.to_string()))?;
                            replaced_runs.push(run);
                        }
                    }
                }
                if in_flight.len() >= max_in_flight
                    && let Some(oldest) = in_flight.pop_front()
                {
                    handle.block_on(oldest).map_err(|e| PipelineError::Setup(e.to_string()))??;
                }
                let p = pipeline.clone();
                in_flight
                    .push_back(handle.spawn(async move {
                        p.submit(SAMPLES.name, source, batch, Admission::Wait).await.map(|_| ())
                    }));
                Ok(())
            };
            let result = match format {
                ImportFormat::Json => chute_k6::json::JsonImport::new(opts).run(reader, emit),
                ImportFormat::Csv => chute_k6::csv::CsvImport::new(opts).run(reader, emit),
            };
            // The last, partial batch need not wait for its age limit.
            pipeline.flush();
            let mut submit_err = None;
            for h in in_flight {
                match handle.block_on(h) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => submit_err = submit_err.or(Some(e)),
                    Err(e) => submit_err = submit_err.or(Some(PipelineError::Setup(e.to_string()))),
                }
            }
            if let (None, Some(e)) = (&guard_err, submit_err) {
                return Err(e.into());
            }
            match (result, guard_err) {
                (_, Some(e)) => Err(e),
                (Ok(s), None) => Ok((s, replaced_runs)),
                (Err(e), None) => Err(e.into()),
            }
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?;
        let (summary, replaced_runs) = decoded?;
        replaced.extend(replaced_runs);

        // Declarations and the ledger entry, after the samples.
        let mut metrics = summary.metrics.clone();
        let ts = now_ms();
        for m in &mut metrics {
            m.updated_at_ms = ts;
        }
        let mut batches = Vec::new();
        if !metrics.is_empty() {
            batches.push((METRICS.name.to_string(), metrics_batch(&metrics)));
        }
        let ledger_run = summary.run_ids.iter().next().cloned().unwrap_or_default();
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).insert(
            sha.clone(),
            q::ImportRecord {
                file_name: req.name.clone(),
                run_id: ledger_run.clone(),
                samples: summary.samples,
                imported_at_ms: ts,
            },
        );
        batches.push((
            IMPORTS.name.to_string(),
            imports_batch(&[ImportRow {
                file_sha256: sha.clone(),
                file_name: req.name.clone(),
                format: format.as_str().to_string(),
                run_id: ledger_run,
                samples: summary.samples,
                imported_at_ms: ts,
            }]),
        ));
        self.pipeline.submit_all(format.as_str(), batches, Admission::Wait).await?;

        let seconds = started.elapsed().as_secs_f64();
        replaced.sort();
        replaced.dedup();
        tracing::info!(file = %req.name, samples = summary.samples, runs = ?summary.run_ids, seconds, "k6 file imported");
        Ok(ImportReport {
            file: req.name,
            format,
            sha256: sha,
            samples: summary.samples,
            run_ids: summary.run_ids.into_iter().collect(),
            samples_per_run: summary.samples_per_run,
            metrics: metrics.len(),
            replaced,
            seconds,
            samples_per_second: summary.samples as f64 / seconds.max(1e-9),
        })
    }
}

async fn delete_run(store: &Arc<dyn Store>, run: &str) -> Result<(), IngestError> {
    let (store, run) = (store.clone(), run.to_string());
    tokio::task::spawn_blocking(move || q::delete_run(store.as_ref(), &run))
        .await
        .map_err(|e| IngestError::Io { path: String::new(), error: std::io::Error::other(e) })??;
    Ok(())
}

/// The distinct run ids of a `k6_samples` batch (its run_id column is dictionary-encoded).
fn run_ids_of(batch: &arrow_array::RecordBatch) -> Vec<String> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    let col = batch.column(0);
    let values = match col.as_any_dictionary_opt() {
        Some(d) => d.values().clone(),
        None => col.clone(),
    };
    let Some(strings) = values.as_string_opt::<i32>() else { return Vec::new() };
    let mut out: Vec<String> =
        (0..strings.len()).filter(|i| strings.is_valid(*i)).map(|i| strings.value(i).to_string()).collect();
    out.sort();
    out.dedup();
    out
}
