//! The Graph client: against recorded real-format bodies (replay server) and against the sandbox.

mod common;

#[path = "client/against_sandbox.rs"]
mod against_sandbox;
#[path = "client/recorded.rs"]
mod recorded;

use chrono::NaiveDate;
use secrecy::SecretString;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn token(t: &str) -> SecretString {
    SecretString::from(t.to_string())
}
