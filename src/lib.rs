//! pulso: Facebook Page metrics for a real-estate office, served through chat.
//!
//! Layout: `domain` holds pure rules; `store` persists them (SQLite or PostgreSQL); `facebook`
//! talks to the Graph API and `sandbox` imitates it; `sync` fetches within the API budget; `chat`
//! answers commands on Telegram, Discord and the console; `alerts` tells people when things break.

pub mod admin;
pub mod alerts;
pub mod app;
pub mod charts;
pub mod chat;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod export;
pub mod facebook;
pub mod http;
pub mod onboarding;
pub mod ports;
pub mod queries;
pub mod reports;
pub mod sandbox;
pub mod store;
pub mod sync;
pub mod telemetry;
