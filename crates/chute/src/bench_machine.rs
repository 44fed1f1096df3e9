//! `chute bench machine`: how fast this machine is at the moment, measured with work that owes
//! nothing to chute (sorting pseudo-random keys, syncing small writes, creating small files), so
//! two `make bench` runs can tell the host's drift from a change in chute. `make bench` measures
//! it first and last.

use crate::bench_cmd::{StepResult, bench_dir};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct MachineArgs {
    /// How long each of the three timed measurements lasts (one core, all cores, fsync), e.g. 2s.
    /// The file measurement creates a fixed number of files instead.
    #[arg(long, default_value = "2s")]
    pub duration: String,
    /// A name for this measurement in the report (e.g. start, end).
    #[arg(long, default_value = "now")]
    pub when: String,
    /// Where the fsync and file measurements write their scratch files (the disk the spool and
    /// the embedded engine would use).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// The machine's speed at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineSpeed {
    /// The name given with `--when`.
    pub when: String,
    /// Millions of 64-bit keys sorted per second on one core (1,048,576 pseudo-random keys a sort).
    pub one_core_mkeys_per_s: f64,
    /// The same on every core at once, summed.
    pub all_cores_mkeys_per_s: f64,
    /// 4 KiB appends each followed by `fdatasync`, per second, in the bench directory.
    pub fsyncs_per_s: f64,
    /// Small files created per second in the bench directory (4 KiB each, 40 to a directory, as
    /// the engine writes a part): the engine creates dozens of files per insert and per merge.
    /// 0 in files written before it was measured.
    #[serde(default)]
    pub file_creates_per_s: f64,
    /// The share of CPU time the hypervisor gave to others (steal) while this was measured, %.
    pub steal_pct: f64,
}

const KEYS: usize = 1 << 20;

/// Keys sorted per second by one thread: the median of five rounds of about `d / 5` each (single
/// rounds of a second varied by 10% back to back on the shared VM).
fn sort_rate(d: Duration, seed: u64) -> f64 {
    let mut x = seed | 1;
    let fresh: Vec<u64> = (0..KEYS)
        .map(|_| {
            // xorshift64: the same keys every run.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        })
        .collect();
    let mut work = fresh.clone();
    let mut rounds: Vec<f64> = (0..5).map(|_| sort_round(d / 5, &fresh, &mut work)).collect();
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

/// Keys sorted per second for about `d` (at least one sort): `fresh` copied into `work` and
/// sorted, again and again.
fn sort_round(d: Duration, fresh: &[u64], work: &mut [u64]) -> f64 {
    let start = Instant::now();
    let mut sorted = 0u64;
    loop {
        work.copy_from_slice(fresh);
        work.sort_unstable();
        std::hint::black_box(&*work);
        sorted += KEYS as u64;
        if start.elapsed() >= d {
            break;
        }
    }
    sorted as f64 / start.elapsed().as_secs_f64()
}

/// 4 KiB append + fdatasync round trips per second for about `d` (`dir` exists).
fn fsync_rate(dir: &std::path::Path, d: Duration) -> anyhow::Result<f64> {
    let path = dir.join(format!("machine-fsync-{}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&path)?;
    let block = [0x5au8; 4096];
    let start = Instant::now();
    let mut n = 0u64;
    let result = loop {
        if let Err(e) = f.write_all(&block).and_then(|_| f.sync_data()) {
            break Err(e.into());
        }
        n += 1;
        if start.elapsed() >= d {
            break Ok(n as f64 / start.elapsed().as_secs_f64());
        }
    };
    drop(f);
    let _ = std::fs::remove_file(&path);
    result
}

/// Files a measurement creates: few enough not to disturb what runs next (deleting many files
/// slows the next creations on some filesystems), enough to time.
const FILES: usize = 2000;
/// Files per directory, about as many as an engine part holds.
const FILES_PER_DIR: usize = 40;

/// [`FILES`] small files created (written, closed) per second, [`FILES_PER_DIR`] to a directory, under a
/// scratch directory in `dir`, which is removed afterwards.
fn file_create_rate(dir: &std::path::Path) -> anyhow::Result<f64> {
    let root = dir.join(format!("machine-files-{}.tmp", std::process::id()));
    let block = [0x5au8; 4096];
    let start = Instant::now();
    let result = (|| -> std::io::Result<f64> {
        std::fs::create_dir(&root)?;
        for i in 0..FILES {
            let sub = root.join(format!("part{}", i / FILES_PER_DIR));
            if i % FILES_PER_DIR == 0 {
                std::fs::create_dir(&sub)?;
            }
            std::fs::File::create(sub.join(format!("f{i}.bin")))?.write_all(&block)?;
        }
        Ok(FILES as f64 / start.elapsed().as_secs_f64())
    })();
    let _ = std::fs::remove_dir_all(&root);
    Ok(result?)
}

/// The aggregate `cpu` line of /proc/stat: (steal, total) in ticks.
pub fn steal_and_total(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
    let total: u64 = v.iter().take(8).sum();
    Some((*v.get(7)?, total))
}

fn proc_stat() -> Option<(u64, u64)> {
    steal_and_total(&std::fs::read_to_string("/proc/stat").ok()?)
}

pub fn measure(when: &str, d: Duration, dir: &std::path::Path) -> anyhow::Result<MachineSpeed> {
    let before = proc_stat();
    let one = sort_rate(d, 0x9e37_79b9_7f4a_7c15);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let all: f64 = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..cores).map(|i| s.spawn(move || sort_rate(d, 0x2545_f491_4f6c_dd1d + i as u64))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    });
    let fsyncs = fsync_rate(dir, d)?;
    let creates = file_create_rate(dir)?;
    let steal_pct = match (before, proc_stat()) {
        (Some((s0, t0)), Some((s1, t1))) if t1 > t0 => (s1.saturating_sub(s0)) as f64 / (t1 - t0) as f64 * 100.0,
        _ => 0.0,
    };
    Ok(MachineSpeed {
        when: when.to_string(),
        one_core_mkeys_per_s: one / 1e6,
        all_cores_mkeys_per_s: all / 1e6,
        fsyncs_per_s: fsyncs,
        file_creates_per_s: creates,
        steal_pct,
    })
}

pub fn describe(s: &MachineSpeed) -> String {
    format!(
        "machine speed ({}): sorting {:.1} M keys/s on one core, {:.1} M keys/s on all; {:.0} fsyncs/s; \
         {:.0} file creates/s; steal {:.1}%",
        s.when, s.one_core_mkeys_per_s, s.all_cores_mkeys_per_s, s.fsyncs_per_s, s.file_creates_per_s, s.steal_pct
    )
}

pub async fn run(args: MachineArgs) -> anyhow::Result<i32> {
    let d = chute_loadgen::spec::parse_duration(&args.duration)?;
    let dir = bench_dir(args.dir.clone())?;
    let when = args.when.clone();
    let speed = tokio::task::spawn_blocking(move || measure(&when, d, &dir)).await??;
    if args.json {
        let step = StepResult { kind: "machine".into(), rows: vec![], details: serde_json::to_value(&speed)? };
        println!("{}", serde_json::to_string_pretty(&step)?);
    } else {
        println!("{}", describe(&speed));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steal_is_read_from_the_aggregate_cpu_line() {
        let stat = "cpu  100 5 50 800 10 0 5 30 0 0\ncpu0 50 2 25 400 5 0 2 15 0 0\n";
        assert_eq!(steal_and_total(stat), Some((30, 1000)));
        assert_eq!(steal_and_total("intr 1 2 3\n"), None);
    }

    #[test]
    fn a_short_measurement_gives_every_figure() {
        let dir = tempfile::tempdir().unwrap();
        let s = measure("start", Duration::from_millis(50), dir.path()).unwrap();
        assert_eq!(s.when, "start");
        assert!(s.one_core_mkeys_per_s > 0.0 && s.all_cores_mkeys_per_s > 0.0 && s.fsyncs_per_s > 0.0, "{s:?}");
        assert!(s.file_creates_per_s > 0.0, "{s:?}");
        assert!((0.0..=100.0).contains(&s.steal_pct), "{s:?}");
        // The scratch files are gone.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
