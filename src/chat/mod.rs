//! Chat: a platform-neutral command core and three thin adapters (Telegram, Discord, console).
//!
//! The core ([`ChatCore`]) turns one message from one caller into one [`Reply`]: it parses the
//! command (`commands.rs`), resolves who is asking, decides in one place what they may see
//! (`permissions.rs`), reads the database through [`crate::queries::Queries`] and writes Spanish
//! text (`replies.rs`). Text is plain with two markers ([`text::BOLD_START`]/[`text::BOLD_END`])
//! that each adapter renders its own way (Telegram HTML, Discord markdown, console plain), so the
//! same command gives the same answer everywhere. Long work (`/actualizar`) answers at once with a
//! [`ProgressJob`] that the adapter follows with [`progress::follow`], editing one message in place.
//!
//! Wiring for `pulso run` / `pulso demo`:
//! - [`ChatCore::new`] once, shared by every adapter;
//! - [`run_telegram`] / [`TelegramChat`], [`run_discord`] / [`DiscordChat`], [`run_console`] /
//!   [`ConsoleChat`];
//! - [`FanOutOutbox`] over the adapters' outboxes for alerts, and [`spawn_notice_forwarder`] so an
//!   agent hears privately when their Facebook connection breaks or expires.

pub mod commands;
pub mod console;
mod core;
pub mod discord;
mod handlers;
mod handlers_admin;
pub mod outbox;
mod parse;
pub mod permissions;
mod polling;
pub mod progress;
pub mod replies;
pub mod telegram;
pub mod text;

pub use self::core::{Caller, ChatCore, ChatKind, Plan, Platform, Reply, Visibility};
pub use commands::{Command, ParseOutcome, parse};
pub use console::{ConsoleChat, ConsoleOptions, run_console};
pub use discord::{DiscordChat, run_discord};
pub use outbox::{FanOutOutbox, spawn_notice_forwarder};
pub use permissions::{Access, Identity, Scope};
pub use progress::{EditError, ProgressJob, ProgressSink};
pub use telegram::{TelegramChat, run_telegram};
