//! The circuit breaker of one store target, and full-jitter exponential backoff.
//!
//! Closed: inserts go through; `failures` consecutive failures open it. Open: no insert is tried
//! for `open_for`; then one caller may probe (half-open) while the others keep waiting. A
//! successful probe closes it; a failed one opens it again.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    /// 0 closed, 1 half-open, 2 open (for a gauge).
    pub fn as_number(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

struct State {
    state: BreakerState,
    consecutive_failures: u32,
    open_until: Instant,
    probe_in_flight: bool,
    last_error: Option<String>,
    opened_total: u64,
}

pub struct Breaker {
    failures: u32,
    open_for: Duration,
    s: Mutex<State>,
    changed: Condvar,
}

/// Permission to try one insert.
#[derive(Debug, PartialEq, Eq)]
pub enum Permit {
    Go,
    /// Wait at most this long, then ask again.
    Wait(Duration),
}

impl Breaker {
    pub fn new(failures: u32, open_for: Duration) -> Self {
        Breaker {
            failures: failures.max(1),
            open_for,
            s: Mutex::new(State {
                state: BreakerState::Closed,
                consecutive_failures: 0,
                open_until: Instant::now(),
                probe_in_flight: false,
                last_error: None,
                opened_total: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.s.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May the caller try an insert now?
    pub fn permit(&self) -> Permit {
        let mut s = self.lock();
        match s.state {
            BreakerState::Closed => Permit::Go,
            BreakerState::Open => {
                let now = Instant::now();
                if now >= s.open_until {
                    s.state = BreakerState::HalfOpen;
                    s.probe_in_flight = true;
                    tracing::info!("store circuit breaker half-open: probing");
                    Permit::Go
                } else {
                    Permit::Wait(s.open_until - now)
                }
            }
            BreakerState::HalfOpen => {
                if s.probe_in_flight {
                    Permit::Wait(Duration::from_millis(100))
                } else {
                    s.probe_in_flight = true;
                    Permit::Go
                }
            }
        }
    }

    /// Blocks until permitted or until `give_up` says stop (checked at least every 100 ms).
    /// Returns false when given up.
    pub fn wait(&self, give_up: &dyn Fn() -> bool) -> bool {
        loop {
            if give_up() {
                return false;
            }
            match self.permit() {
                Permit::Go => return true,
                Permit::Wait(d) => {
                    let g = self.lock();
                    let _ = self.changed.wait_timeout(g, d.min(Duration::from_millis(100)));
                }
            }
        }
    }

    pub fn success(&self) {
        let mut s = self.lock();
        if s.state != BreakerState::Closed {
            tracing::info!("store circuit breaker closed: store answers again");
        }
        s.state = BreakerState::Closed;
        s.consecutive_failures = 0;
        s.probe_in_flight = false;
        s.last_error = None;
        self.changed.notify_all();
    }

    pub fn failure(&self, error: &str) {
        let mut s = self.lock();
        s.consecutive_failures += 1;
        s.last_error = Some(error.to_string());
        let reopen = s.state == BreakerState::HalfOpen
            || (s.state == BreakerState::Closed && s.consecutive_failures >= self.failures);
        if reopen {
            if s.state == BreakerState::Closed {
                tracing::warn!(failures = s.consecutive_failures, error, "store circuit breaker open");
            }
            s.state = BreakerState::Open;
            s.open_until = Instant::now() + self.open_for;
            s.opened_total += 1;
        }
        s.probe_in_flight = false;
        self.changed.notify_all();
    }

    pub fn state(&self) -> BreakerState {
        self.lock().state
    }

    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.lock().consecutive_failures
    }

    pub fn opened_total(&self) -> u64 {
        self.lock().opened_total
    }
}

/// Full-jitter backoff: a uniformly random wait in `[0, min(cap, base * 2^attempt)]`.
pub fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(20));
    let ceiling = exp.min(cap);
    let nanos = ceiling.as_nanos().min(u64::MAX as u128) as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_probes_once_and_closes_on_success() {
        let b = Breaker::new(3, Duration::from_millis(20));
        b.failure("x");
        b.failure("x");
        assert_eq!(b.state(), BreakerState::Closed);
        b.success();
        b.failure("x");
        b.failure("x");
        assert_eq!(b.state(), BreakerState::Closed, "success resets the count");
        b.failure("x");
        assert_eq!(b.state(), BreakerState::Open);
        assert!(matches!(b.permit(), Permit::Wait(_)));
        assert!(b.wait(&|| false), "wait returns once the open period ends");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(matches!(b.permit(), Permit::Wait(_)), "only one probe at a time");
        b.failure("still down");
        assert_eq!(b.state(), BreakerState::Open, "a failed probe reopens");
        assert!(b.wait(&|| false));
        b.success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.opened_total(), 2);
    }

    #[test]
    fn waiting_can_be_abandoned() {
        let b = Breaker::new(1, Duration::from_secs(3600));
        b.failure("down");
        assert!(!b.wait(&|| true));
    }

    #[test]
    fn backoff_stays_within_the_jittered_ceiling() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for attempt in 0..30 {
            let d = backoff(base, cap, attempt);
            assert!(d <= cap.min(base * 2u32.pow(attempt.min(20))), "attempt {attempt}: {d:?}");
        }
        // Jitter: not every wait is the ceiling.
        let waits: Vec<Duration> = (0..20).map(|_| backoff(base, cap, 5)).collect();
        assert!(waits.iter().any(|d| *d < cap));
    }
}
