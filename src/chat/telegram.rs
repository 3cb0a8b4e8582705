//! Telegram adapter (teloxide): long polling by default, an optional webhook with its secret
//! header checked, `setMyCommands` on start, HTML formatting, photos and documents from memory,
//! private answers in groups sent by DM with a short note in the group, progress by editing one
//! message. Admins are Telegram user ids from `[telegram] admins`.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use secrecy::{ExposeSecret, SecretString};
use teloxide::prelude::*;
use teloxide::types::{
    BotCommand, CallbackQuery, Chat, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId, ParseMode,
    UpdateKind, UserId,
};
use teloxide::{ApiError, RequestError};

use super::commands::COMMANDS;
use super::core::{Caller, ChatCore, ChatKind, Platform, Reply, Visibility, with_link_lines};
use super::progress::{ChatAddress, DEFAULT_DEBOUNCE, EditError, ProgressSink, follow};
use super::text::{split_chunks, to_console, to_telegram_html};
use crate::config::Config;
use crate::domain::AgentId;
use crate::ports::{Attachment, Button, OutMessage, Outbox, StatusHook};

/// Telegram's limits (characters after entity parsing).
const MAX_TEXT: usize = 4000;
const MAX_CAPTION: usize = 1000;
/// Attempts of one request answered with "retry after".
const SEND_ATTEMPTS: u32 = 4;
pub const WEBHOOK_SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

struct Inner {
    core: ChatCore,
    bot: Bot,
    admins: HashSet<u64>,
    team_chat: Option<ChatId>,
    bot_name: String,
    webhook_url: Option<url::Url>,
    webhook_secret: Option<SecretString>,
    debounce: Duration,
    /// Told whether polling reaches Telegram (`/salud`).
    status: std::sync::OnceLock<StatusHook>,
}

/// A connected Telegram bot. Cheap to clone.
#[derive(Clone)]
pub struct TelegramChat {
    inner: Arc<Inner>,
}

impl TelegramChat {
    /// Points the bot at `[telegram] api_url`, reads its username (`getMe`) and publishes the
    /// command menu (`setMyCommands`). `debounce` is the minimum gap between progress edits
    /// (None: 2 s).
    pub async fn connect(
        core: ChatCore,
        config: &Config,
        token: &SecretString,
        debounce: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let api = url::Url::parse(config.telegram.api_url.trim_end_matches('/'))
            .with_context(|| format!("telegram.api_url no es una URL: {}", config.telegram.api_url))?;
        let bot = Bot::new(token.expose_secret()).set_api_url(api);
        let me = with_retry(|| bot.get_me().send())
            .await
            .context("Telegram no aceptó el token del bot (getMe)")?;
        let bot_name = me.username.clone().unwrap_or_default();
        let commands: Vec<BotCommand> = COMMANDS
            .iter()
            .map(|c| BotCommand::new(c.name, c.description))
            .collect();
        with_retry(|| bot.set_my_commands(commands.clone()).send())
            .await
            .context("no se pudo publicar el menú de comandos (setMyCommands)")?;
        let webhook_url = match config.telegram.webhook_url.trim() {
            "" => None,
            u => Some(url::Url::parse(u).with_context(|| format!("telegram.webhook_url no es una URL: {u}"))?),
        };
        tracing::info!(bot = %bot_name, webhook = webhook_url.is_some(), "bot de Telegram conectado");
        Ok(Self {
            inner: Arc::new(Inner {
                core,
                bot,
                admins: config.telegram.admins.iter().map(|&id| id as u64).collect(),
                team_chat: (config.telegram.team_chat_id != 0).then_some(ChatId(config.telegram.team_chat_id)),
                bot_name,
                webhook_url,
                webhook_secret: config.secrets.telegram_webhook_secret.clone(),
                debounce: debounce.unwrap_or(DEFAULT_DEBOUNCE),
                status: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The bot's username, from `getMe`.
    pub fn bot_name(&self) -> &str {
        &self.inner.bot_name
    }

    /// Team chat and private messages through this bot.
    pub fn outbox(&self) -> Arc<dyn Outbox> {
        Arc::new(self.clone())
    }

    /// Reports to `status` whether polling reaches Telegram, from the next `getUpdates` on.
    pub fn report_status(&self, status: StatusHook) {
        let _ = self.inner.status.set(status);
    }

    /// Long polling (`getUpdates`) until `shutdown` completes. Every update is handled in its own
    /// task, so a slow command never holds up another chat.
    pub async fn run_polling(&self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let this = self.clone();
        let pressed = self.clone();
        let handler = dptree::entry()
            .branch(Update::filter_message().endpoint(move |msg: Message| {
                let this = this.clone();
                async move {
                    tokio::spawn(async move { this.on_message(msg).await });
                    respond(())
                }
            }))
            .branch(Update::filter_callback_query().endpoint(move |q: CallbackQuery| {
                let this = pressed.clone();
                async move {
                    tokio::spawn(async move { this.on_button(q).await });
                    respond(())
                }
            }));
        let mut dispatcher = Dispatcher::builder(self.inner.bot.clone(), handler).build();
        let token = dispatcher.shutdown_token();
        tokio::spawn(async move {
            shutdown.await;
            // The dispatcher refuses while still starting up; try until it accepts.
            loop {
                match token.shutdown() {
                    Ok(stopping) => {
                        stopping.await;
                        return;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        // As teloxide's own polling: no webhook may be set while polling.
        self.inner.bot.delete_webhook().send().await?;
        let listener = super::polling::listener(self.inner.bot.clone(), self.inner.status.get().cloned());
        dispatcher
            .dispatch_with_listener(
                listener,
                teloxide::error_handlers::LoggingErrorHandler::with_custom_text("Telegram: getUpdates falló"),
            )
            .await;
        Ok(())
    }

    /// Registers `[telegram] webhook_url` with Telegram, with the secret token Telegram will send
    /// back in `X-Telegram-Bot-Api-Secret-Token`.
    pub async fn register_webhook(&self) -> anyhow::Result<()> {
        let (Some(url), Some(secret)) = (&self.inner.webhook_url, &self.inner.webhook_secret) else {
            bail!("el modo webhook necesita telegram.webhook_url y PULSO__TELEGRAM__WEBHOOK_SECRET");
        };
        with_retry(|| {
            self.inner
                .bot
                .set_webhook(url.clone())
                .secret_token(secret.expose_secret().to_string())
                .send()
        })
        .await
        .context("Telegram no aceptó el webhook (setWebhook)")?;
        Ok(())
    }

    /// `POST <path of webhook_url>`: Telegram's updates; requests without the right secret header
    /// get 401. Mount it in the HTTP server.
    pub fn webhook_router(&self) -> axum::Router {
        let path = self
            .inner
            .webhook_url
            .as_ref()
            .map(|u| u.path().to_string())
            .filter(|p| p.len() > 1)
            .unwrap_or_else(|| "/telegram/webhook".to_string());
        axum::Router::new().route(&path, post(webhook)).with_state(self.clone())
    }

    /// Handles one update (polling and webhook both end here).
    pub async fn handle_update(&self, update: Update) {
        match update.kind {
            UpdateKind::Message(msg) => self.on_message(msg).await,
            UpdateKind::CallbackQuery(q) => self.on_button(q).await,
            _ => {}
        }
    }

    async fn on_message(&self, msg: Message) {
        let (Some(text), Some(from)) = (msg.text(), msg.from.as_ref()) else {
            return;
        };
        self.on_text(text, from.id, &msg.chat).await;
    }

    /// A typed command, or the command of a pressed button, from `user` in `chat`.
    async fn on_text(&self, text: &str, user: UserId, msg_chat: &Chat) {
        let chat = if msg_chat.is_private() {
            ChatKind::Private
        } else {
            ChatKind::Group
        };
        let caller = Caller {
            platform: Platform::Telegram,
            user_id: user.0.to_string(),
            is_admin: self.inner.admins.contains(&user.0),
            chat,
            assume_agent: None,
        };
        let Some(mut reply) = self.inner.core.handle(&caller, text, Some(&self.inner.bot_name)).await else {
            return;
        };
        let private_chat = ChatId(user.0 as i64);
        let target = if reply.visibility == Visibility::Private && chat == ChatKind::Group {
            let sent = self.send(private_chat, &reply).await;
            let note = match &sent {
                Ok(_) => "📬 Te respondí por privado.".to_string(),
                Err(e) => {
                    tracing::info!(error = %e, "no se pudo escribir por privado");
                    format!(
                        "No puedo escribirte por privado: abre un chat conmigo (@{}), pulsa Iniciar y repite el comando.",
                        self.inner.bot_name
                    )
                }
            };
            if let Err(e) = self.send(msg_chat.id, &Reply::text(note, Visibility::Public)).await {
                tracing::warn!(error = %e, "no se pudo dejar la nota en el grupo");
            }
            sent.map(|m| (private_chat, m))
        } else {
            self.send(msg_chat.id, &reply).await.map(|m| (msg_chat.id, m))
        };
        let (chat_id, first) = match target {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "no se pudo responder en Telegram");
                return;
            }
        };
        if let Some(job) = reply.progress.take() {
            let sink = TelegramProgress {
                bot: self.inner.bot.clone(),
                chat: chat_id,
                message: first,
            };
            let outcome = follow(job, &sink, self.inner.debounce).await;
            if let (false, Some(text)) = (outcome.delivered, outcome.final_text) {
                let _ = self.send(chat_id, &Reply::text(text, Visibility::Public)).await;
            }
        }
    }

    /// Sends a reply (text, then or with its attachment); returns the id of the first message.
    async fn send(&self, chat: ChatId, reply: &Reply) -> anyhow::Result<MessageId> {
        self.send_parts(chat, &reply.text, reply.attachment.as_ref(), &reply.buttons)
            .await
    }

    async fn send_parts(
        &self,
        chat: ChatId,
        text: &str,
        attachment: Option<&Attachment>,
        buttons: &[Button],
    ) -> anyhow::Result<MessageId> {
        let bot = &self.inner.bot;
        let text = &with_link_lines(text, buttons);
        let fits_caption = to_console(text).chars().count() <= MAX_CAPTION;
        let mut first = None;
        if attachment.is_none() || !fits_caption {
            let chunks = split_chunks(text, MAX_TEXT);
            let last = chunks.len() - 1;
            for (i, chunk) in chunks.iter().enumerate() {
                let html = to_telegram_html(chunk);
                let m = if i == last && !buttons.is_empty() {
                    self.send_with_buttons(chat, &html, buttons).await?
                } else {
                    with_retry(|| bot.send_message(chat, html.clone()).parse_mode(ParseMode::Html).send()).await?
                };
                first.get_or_insert(m.id);
            }
        }
        if let Some(a) = attachment {
            let caption = if fits_caption {
                to_telegram_html(text)
            } else {
                String::new()
            };
            let file = || InputFile::memory(a.bytes.clone()).file_name(a.file_name.clone());
            let m = if a.mime.starts_with("image/") {
                with_retry(|| {
                    bot.send_photo(chat, file())
                        .caption(caption.clone())
                        .parse_mode(ParseMode::Html)
                        .send()
                })
                .await?
            } else {
                with_retry(|| {
                    bot.send_document(chat, file())
                        .caption(caption.clone())
                        .parse_mode(ParseMode::Html)
                        .send()
                })
                .await?
            };
            first.get_or_insert(m.id);
        }
        first.context("nada que enviar")
    }
}

/// Runs a request, waiting out "retry after" answers (a few times).
async fn with_retry<T, F, Fut>(mut request: F) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut attempt = 1;
    loop {
        match request().await {
            Err(RequestError::RetryAfter(wait)) if attempt < SEND_ATTEMPTS => {
                tracing::info!(seconds = wait.seconds(), "Telegram pide esperar antes de reintentar");
                tokio::time::sleep(wait.duration()).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn webhook(State(chat): State<TelegramChat>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let Some(secret) = &chat.inner.webhook_secret else {
        return StatusCode::UNAUTHORIZED;
    };
    let given = headers
        .get(WEBHOOK_SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !constant_time_eq(given, secret.expose_secret().as_bytes()) {
        return StatusCode::UNAUTHORIZED;
    }
    match serde_json::from_slice::<Update>(&body) {
        Ok(update) => {
            tokio::spawn(async move { chat.handle_update(update).await });
            StatusCode::OK
        }
        Err(e) => {
            tracing::warn!(error = %e, "actualización de Telegram ilegible");
            // 200 anyway: Telegram would otherwise resend the same unreadable update forever.
            StatusCode::OK
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct TelegramProgress {
    bot: Bot,
    chat: ChatId,
    message: MessageId,
}

#[async_trait]
impl ProgressSink for TelegramProgress {
    async fn edit(&self, text: &str) -> Result<(), EditError> {
        let chunk = split_chunks(text, MAX_TEXT).into_iter().next().unwrap_or_default();
        match self
            .bot
            .edit_message_text(self.chat, self.message, to_telegram_html(&chunk))
            .parse_mode(ParseMode::Html)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(RequestError::Api(ApiError::MessageNotModified)) => Err(EditError::NotModified),
            Err(RequestError::RetryAfter(wait)) => Err(EditError::RetryAfter(wait.duration())),
            Err(e) => Err(EditError::Failed(e.to_string())),
        }
    }

    fn address(&self) -> Option<ChatAddress> {
        Some(ChatAddress {
            platform: Platform::Telegram.as_str(),
            chat_id: self.chat.0.to_string(),
        })
    }
}

#[async_trait]
impl Outbox for TelegramChat {
    async fn to_chat(&self, platform: &str, chat_id: &str, message: &OutMessage) -> anyhow::Result<bool> {
        let Ok(id) = chat_id.parse::<i64>() else {
            return Ok(false);
        };
        if platform != Platform::Telegram.as_str() {
            return Ok(false);
        }
        self.send_parts(ChatId(id), &message.text, message.attachment.as_ref(), &message.buttons)
            .await?;
        Ok(true)
    }

    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        let Some(chat) = self.inner.team_chat else {
            bail!("no hay chat de equipo de Telegram configurado (telegram.team_chat_id)");
        };
        self.send_parts(chat, &message.text, message.attachment.as_ref(), &message.buttons)
            .await?;
        Ok(())
    }

    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        let identities = self.inner.core.store().agent_identities(agent).await?;
        let mut reached = 0;
        for (platform, user) in identities {
            let Ok(id) = user.parse::<i64>() else { continue };
            if platform != Platform::Telegram.as_str() {
                continue;
            }
            match self
                .send_parts(ChatId(id), &message.text, message.attachment.as_ref(), &message.buttons)
                .await
            {
                Ok(_) => reached += 1,
                Err(e) => tracing::warn!(agent, error = %e, "no se pudo escribir al agente por Telegram"),
            }
        }
        Ok(reached)
    }
}

// ── Buttons: links open a URL, commands come back as callback queries ──

/// The inline keyboard for `buttons`, one per row. A link that is not a valid URL is left out (its
/// URL is in the text anyway).
fn keyboard(buttons: &[Button]) -> InlineKeyboardMarkup {
    let rows = buttons.iter().filter_map(|b| match b {
        Button::Link { label, url } => url::Url::parse(url)
            .ok()
            .map(|u| vec![InlineKeyboardButton::url(label.clone(), u)]),
        // Telegram allows 64 bytes of callback data; longer commands stay typed-only.
        Button::Command { label, command } if command.len() <= 64 => {
            Some(vec![InlineKeyboardButton::callback(label.clone(), command.clone())])
        }
        Button::Command { .. } => None,
    });
    InlineKeyboardMarkup::new(rows)
}

impl TelegramChat {
    /// `sendMessage` with the buttons as an inline keyboard; if Telegram refuses the keyboard (a
    /// URL it will not link, e.g. a local address), the text alone, which carries the URL.
    async fn send_with_buttons(&self, chat: ChatId, html: &str, buttons: &[Button]) -> Result<Message, RequestError> {
        let bot = &self.inner.bot;
        let markup = keyboard(buttons);
        match with_retry(|| {
            bot.send_message(chat, html.to_string())
                .parse_mode(ParseMode::Html)
                .reply_markup(markup.clone())
                .send()
        })
        .await
        {
            Err(RequestError::Api(e)) => {
                tracing::warn!(error = %e, "Telegram no aceptó los botones; se envía solo el texto");
                with_retry(|| {
                    bot.send_message(chat, html.to_string())
                        .parse_mode(ParseMode::Html)
                        .send()
                })
                .await
            }
            other => other,
        }
    }

    /// A pressed command button: acknowledged at once (Telegram stops the spinner), then handled
    /// exactly like the same command typed by the presser in that chat.
    async fn on_button(&self, q: CallbackQuery) {
        if let Err(e) = self.inner.bot.answer_callback_query(q.id.clone()).send().await {
            tracing::info!(error = %e, "no se pudo confirmar la pulsación del botón");
        }
        let (Some(data), Some(message)) = (q.data.as_deref(), q.message.as_ref()) else {
            return;
        };
        self.on_text(data, q.from.id, message.chat()).await;
    }
}
