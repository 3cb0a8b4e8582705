//! Time as the sync engine sees it. Production uses the system clock; tests use a manual clock that
//! jumps when slept on, so 5 s batch gaps and hour-long pauses take no real time. (tokio's paused
//! clock cannot serve here: it auto-advances while SQLite's worker thread or a socket is busy.)

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    async fn sleep(&self, d: Duration);

    async fn sleep_until(&self, t: DateTime<Utc>) {
        let wait = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            self.sleep(wait).await;
        }
    }
}

pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// A clock that only moves when something sleeps on it (or the test advances it).
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn starting_at(now: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(now) }
    }

    pub fn advance(&self, d: Duration) {
        let mut now = self.now.lock().expect("clock lock");
        *now += d;
    }
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }

    async fn sleep(&self, d: Duration) {
        self.advance(d);
        tokio::task::yield_now().await;
    }
}

/// 1 s, 2 s, 4 s… from the configured base, plus up to 10 % jitter so replicas do not retry in step.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    use rand::Rng;
    let delay = base.saturating_mul(1 << (attempt - 1).min(16));
    let jitter = rand::rng().random_range(0.0..0.1);
    delay + delay.mul_f64(jitter)
}
