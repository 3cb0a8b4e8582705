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
//! - [`TelegramChat`], [`discord::start_discord`] / [`DiscordChat`], [`run_console`] /
//!   [`ConsoleChat`];
//! - [`delivery::ReportDelivery`], so whoever asked for a sync gets its report even when another
//!   process (or a restarted one) finished it;
//! - [`FanOutOutbox`] over the adapters' outboxes for alerts, reports and onboarding messages (an
//!   agent hears privately when their Facebook connection breaks: `Onboarding::notify_disconnections`).
//!
//! Replies and messages may carry [`crate::ports::Button`]s: a link to open (`/conectar`) or a
//! command to press (`/conectar confirmar`); each adapter renders them in its own small section.

pub mod commands;
pub mod console;
mod core;
pub mod delivery;
pub mod discord;
mod handlers;
mod handlers_admin;
pub mod instagram;
pub mod outbox;
mod parse;
pub mod permissions;
mod polling;
pub mod progress;
pub mod replies;
pub mod telegram;
pub mod text;

pub use self::core::{Caller, ChatCore, ChatKind, Plan, Platform, Reply};
pub use commands::{Command, ConnectStep, ParseOutcome};
pub use console::{ConsoleChat, ConsoleOptions, run_console};
pub use discord::DiscordChat;
pub use outbox::FanOutOutbox;
pub use parse::parse;
pub use permissions::{Access, Identity, Scope, Visibility};
pub use progress::{EditError, ProgressJob, ProgressSink};
pub use telegram::TelegramChat;
