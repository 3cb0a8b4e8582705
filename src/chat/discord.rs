//! Discord adapter (serenity): slash commands registered on start, interactions answered with a
//! deferred response (ephemeral for personal data) that is then edited — with the answer, its
//! attachment, or the sync's progress. Admins are members with a role from `[discord] admin_roles`.
//!
//! The gateway delivers interactions ([`start_discord`]); REST goes to
//! `[discord] api_url` through [`rest::DiscordRest`], which follows Discord's rate limits, and the
//! gateway's address comes from its `GET /gateway` answer, so tests run the whole path against a
//! fake REST API and a fake WebSocket gateway on 127.0.0.1.
//!
//! An interaction's token lives 15 minutes: whatever must still be said after that (the report
//! of a sync that paused for an hour, an answer held up by rate limits) moves to a new message in
//! the channel, or by DM when the answer was private. Refusals are ephemeral.

pub mod rest;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use serenity::all::{
    ApplicationId, ChannelId, ClientBuilder, CommandDataOptionValue, CommandInteraction, CommandOptionType,
    ComponentInteraction, ConnectionStage, Context, CreateAttachment, CreateCommand, CreateCommandOption, EventHandler,
    GatewayIntents, Interaction, InteractionId, Member, MessageId, Ready, User,
};
use serenity::http::{Http, HttpBuilder, LightMethod, Route};
use tokio::sync::Mutex;

use self::rest::{Body, DISCORD_BASE, DiscordRest, RestError, with_file};
use super::commands::COMMANDS;
use super::core::{Caller, ChatCore, ChatKind, Platform, Reply, Visibility, link_urls};
use super::progress::{ChatAddress, DEFAULT_DEBOUNCE, EditError, ProgressSink, follow};
use super::text::{split_chunks, to_discord_markdown};
use crate::config::Config;
use crate::domain::{AgentId, Network, Period};
use crate::ports::{Attachment, Button, OutMessage, Outbox, StatusHook};

/// Characters of marker text per message: Discord allows 2,000 and escaping can double a text.
const CHUNK: usize = 950;
/// How long pulso uses an interaction's token: Discord's 15 minutes less a safety margin.
pub const INTERACTION_USE: Duration = Duration::from_secs(14 * 60);
/// Message flag: only the caller sees it.
const EPHEMERAL: u64 = 64;

/// Slash-command options, in the order their values are put back into a command line.
const OPTION_ORDER: [&str; 8] = [
    "agente",
    "codigo",
    "alerta",
    "duracion",
    "periodo",
    "red",
    "confirmar",
    "grafico",
];

fn options_of(name: &str) -> Vec<CreateCommandOption> {
    let periodo = || {
        let mut o =
            CreateCommandOption::new(CommandOptionType::String, "periodo", "hoy, semana, mes o 6meses").required(false);
        for p in Period::ALL {
            o = o.add_string_choice(p.label(), p.keyword());
        }
        o
    };
    let string = |n: &str, d: &str, req: bool| CreateCommandOption::new(CommandOptionType::String, n, d).required(req);
    let flag = |n: &str, d: &str| CreateCommandOption::new(CommandOptionType::Boolean, n, d).required(false);
    match name {
        "actualizar" => vec![flag("confirmar", "Actualizar aunque los datos sean recientes")],
        "actualizar_agente" => vec![string("agente", "Nombre del agente", false)],
        "mis_metricas" => vec![periodo(), flag("grafico", "Incluir la gráfica de tendencia")],
        "metricas" => vec![
            string("agente", "Nombre del agente", true),
            periodo(),
            flag("grafico", "Incluir la gráfica de tendencia"),
        ],
        "ranking" => vec![periodo(), {
            let mut o = CreateCommandOption::new(CommandOptionType::String, "red", "facebook, instagram o total")
                .required(false);
            for n in [Network::Facebook, Network::Instagram, Network::Total] {
                o = o.add_string_choice(n.label(), n.keyword());
            }
            o
        }],
        "resumen" | "exportar" => vec![periodo()],
        "vincular" => vec![string("codigo", "El código que te dio tu admin", true)],
        "silenciar" => vec![
            string("alerta", "Nombre de la alerta (ver /alertas)", true),
            string("duracion", "Por ejemplo 30m, 2h o 1d", true),
        ],
        _ => Vec::new(),
    }
}

/// The slash commands, generated from the same table as Telegram's menu.
pub fn slash_commands() -> Vec<CreateCommand> {
    COMMANDS
        .iter()
        .map(|c| {
            options_of(c.name)
                .into_iter()
                .fold(CreateCommand::new(c.name).description(c.description), |cmd, o| {
                    cmd.add_option(o)
                })
        })
        .collect()
}

/// The command line an interaction stands for, e.g. `/metricas Ana García mes grafico`, so Discord
/// goes through the same parser as every other platform.
pub fn command_line(cmd: &CommandInteraction) -> String {
    let mut line = format!("/{}", cmd.data.name);
    for key in OPTION_ORDER {
        let Some(option) = cmd.data.options.iter().find(|o| o.name == key) else {
            continue;
        };
        match &option.value {
            CommandDataOptionValue::String(s) => {
                line.push(' ');
                line.push_str(s);
            }
            CommandDataOptionValue::Boolean(true) => {
                line.push(' ');
                line.push_str(key);
            }
            _ => {}
        }
    }
    line
}

/// serenity's HTTP client for the gateway connection (`GET /gateway`), on the same reqwest client
/// as `rest`: against discord.com directly, any other base through serenity's proxy setting. Its
/// ratelimiter is off: pulso's REST calls go through [`DiscordRest`], which does the limiting.
pub fn build_http(config: &Config, token: &SecretString, rest: &DiscordRest) -> Http {
    let base = config.discord.api_url.trim_end_matches('/');
    let mut builder = HttpBuilder::new(token.expose_secret())
        .client(rest.client())
        .ratelimiter_disabled(true);
    if base != DISCORD_BASE {
        builder = builder.proxy(base);
    }
    if let Some(id) = rest.application_id() {
        builder = builder.application_id(ApplicationId::new(id));
    }
    builder.build()
}

struct Inner {
    core: ChatCore,
    rest: DiscordRest,
    admin_roles: HashSet<u64>,
    team_channel: Option<ChannelId>,
    debounce: Duration,
}

/// The Discord side of pulso. Cheap to clone.
#[derive(Clone)]
pub struct DiscordChat {
    inner: Arc<Inner>,
}

/// Message content as Discord gets it: markdown, and no pings from outside text.
fn content(text: &str) -> Value {
    json!({"content": to_discord_markdown(text), "allowed_mentions": {"parse": []}})
}

/// Where one interaction's answers go.
#[derive(Clone)]
struct Conversation {
    application_id: u64,
    token: String,
    channel: ChannelId,
    user: u64,
    ephemeral: bool,
    /// After this the token is not used any more.
    deadline: DateTime<Utc>,
}

impl DiscordChat {
    /// `rest` talks to Discord ([`DiscordRest::new`]; its clock is also the interaction timer);
    /// `debounce` is the minimum gap between progress edits (None: 2 s).
    pub fn new(core: ChatCore, config: &Config, rest: DiscordRest, debounce: Option<Duration>) -> Self {
        Self {
            inner: Arc::new(Inner {
                core,
                rest,
                admin_roles: config.discord.admin_roles.iter().map(|&r| r as u64).collect(),
                team_channel: (config.discord.team_channel_id > 0)
                    .then(|| ChannelId::new(config.discord.team_channel_id as u64)),
                debounce: debounce.unwrap_or(DEFAULT_DEBOUNCE),
            }),
        }
    }

    pub fn outbox(&self) -> Arc<dyn Outbox> {
        Arc::new(self.clone())
    }

    /// Registers the global slash commands (`PUT /applications/{id}/commands`).
    pub async fn register_commands(&self) -> anyhow::Result<()> {
        let Some(app) = self.inner.rest.application_id() else {
            bail!("falta el id de la aplicación de Discord");
        };
        let commands = serde_json::to_value(slash_commands()).context("comandos de Discord")?;
        self.inner
            .rest
            .call(
                Route::Commands {
                    application_id: ApplicationId::new(app),
                },
                LightMethod::Put,
                Body::Json(commands),
                None,
            )
            .await
            .context("Discord no aceptó los comandos")?;
        Ok(())
    }

    /// Answers one slash command: defer (ephemeral when the answer is personal or a refusal),
    /// work, edit; what cannot go through the interaction any more goes to the channel or DM.
    pub async fn handle_interaction(&self, cmd: CommandInteraction) {
        if let Err(e) = self.answer(&cmd).await {
            tracing::warn!(error = format!("{e:#}"), command = %cmd.data.name, "no se pudo responder en Discord");
        }
    }

    async fn answer(&self, cmd: &CommandInteraction) -> anyhow::Result<()> {
        let received = self.inner.rest.clock().now();
        let caller = self.caller(&cmd.user, cmd.member.as_deref(), cmd.guild_id.is_some());
        let line = command_line(cmd);
        let plan = self.inner.core.plan(&caller, &line, None).await;
        let ephemeral = plan.visibility == Visibility::Private || plan.is_refusal();
        let conversation = Conversation {
            application_id: cmd.application_id.get(),
            token: cmd.token.clone(),
            channel: cmd.channel_id,
            user: cmd.user.id.get(),
            ephemeral,
            deadline: received + INTERACTION_USE,
        };
        self.defer(cmd.id, &conversation, &cmd.data.name).await;
        let reply = match self.inner.core.execute(plan).await {
            Some(reply) => reply,
            None => Reply::text("No entendí el comando. Escribe /ayuda.", Visibility::Private),
        };
        self.deliver(&conversation, reply).await
    }

    /// Tells Discord the answer is coming (ephemeral when the conversation is private).
    async fn defer(&self, interaction: InteractionId, c: &Conversation, what: &str) {
        let mut defer = json!({"type": 5});
        if c.ephemeral {
            defer["data"] = json!({"flags": EPHEMERAL});
        }
        let deferred = self
            .inner
            .rest
            .call(
                Route::InteractionResponse {
                    interaction_id: interaction,
                    token: &c.token,
                },
                LightMethod::Post,
                Body::Json(defer),
                Some(c.deadline),
            )
            .await;
        if let Err(e) = deferred {
            // The answer still comes: editing an interaction that was never deferred fails as
            // "unknown", and the answer goes to the channel (or DM) instead.
            tracing::warn!(error = %e, command = %what, "Discord no aceptó el aviso de espera");
        }
    }

    /// The reply through the deferred interaction: the first chunk (with its attachment) edits
    /// it, the rest follow, the buttons go under the last message, and a sync's progress keeps
    /// editing it (moving to the channel or DM once the token is about to expire).
    async fn deliver(&self, conversation: &Conversation, mut reply: Reply) -> anyhow::Result<()> {
        let chunks = split_chunks(&reply.text, CHUNK);
        let last = chunks.len() - 1;
        let file = reply.attachment.as_ref().map(attachment);
        let first = message_payload(&chunks[0], &reply.buttons, last == 0);
        let moved = self.edit_original(conversation, first, file).await?;
        for (i, chunk) in chunks.iter().enumerate().skip(1) {
            self.followup(conversation, message_payload(chunk, &reply.buttons, i == last), moved)
                .await?;
        }
        if let Some(job) = reply.progress.take() {
            let sink = DiscordProgress {
                chat: self.clone(),
                conversation: conversation.clone(),
                moved: Mutex::new(moved),
            };
            let outcome = follow(job, &sink, self.inner.debounce).await;
            if let (false, Some(text)) = (outcome.delivered, outcome.final_text) {
                let moved = *sink.moved.lock().await;
                self.followup(conversation, content(&split_chunks(&text, CHUNK)[0]), moved)
                    .await?;
            }
        }
        Ok(())
    }

    /// Who sent an interaction: admins by role; a guild channel is a group, a DM is private.
    fn caller(&self, user: &User, member: Option<&Member>, in_guild: bool) -> Caller {
        let roles: Vec<u64> = member
            .map(|m| m.roles.iter().map(|r| r.get()).collect())
            .unwrap_or_default();
        Caller {
            platform: Platform::Discord,
            user_id: user.id.get().to_string(),
            is_admin: roles.iter().any(|r| self.inner.admin_roles.contains(r)),
            chat: if in_guild { ChatKind::Group } else { ChatKind::Private },
            assume_agent: None,
        }
    }

    /// Where the conversation continues once the interaction cannot be used: the channel, or the
    /// caller's DMs for a private answer.
    async fn fallback_channel(&self, c: &Conversation) -> Result<ChannelId, RestError> {
        if c.ephemeral {
            self.inner.rest.dm_channel(c.user).await
        } else {
            Ok(c.channel)
        }
    }

    /// Edits the deferred answer; if the interaction is gone, posts a new message instead and
    /// returns where it went.
    async fn edit_original(
        &self,
        c: &Conversation,
        payload: Value,
        file: Option<CreateAttachment>,
    ) -> anyhow::Result<Option<(ChannelId, MessageId)>> {
        let rest = &self.inner.rest;
        let edited = rest
            .call(
                Route::WebhookOriginalInteractionResponse {
                    application_id: ApplicationId::new(c.application_id),
                    token: &c.token,
                },
                LightMethod::Patch,
                with_file(payload.clone(), file.clone()),
                Some(c.deadline),
            )
            .await;
        match edited {
            Ok(_) => Ok(None),
            Err(e) if e.interaction_gone() => {
                tracing::info!(error = %e, "la interacción ya no sirve: la respuesta va al canal");
                let channel = self.fallback_channel(c).await?;
                let id = rest.send_message(channel, payload, file).await?;
                Ok(Some((channel, id)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One more message after the answer: a follow-up while the interaction lasts, else a message
    /// in the channel (or DM).
    async fn followup(
        &self,
        c: &Conversation,
        mut payload: Value,
        moved: Option<(ChannelId, MessageId)>,
    ) -> anyhow::Result<()> {
        let rest = &self.inner.rest;
        if moved.is_none() {
            if c.ephemeral {
                payload["flags"] = json!(EPHEMERAL);
            }
            let sent = rest
                .call(
                    Route::WebhookFollowupMessages {
                        application_id: ApplicationId::new(c.application_id),
                        token: &c.token,
                    },
                    LightMethod::Post,
                    Body::Json(payload.clone()),
                    Some(c.deadline),
                )
                .await;
            match sent {
                Ok(_) => return Ok(()),
                Err(e) if e.interaction_gone() => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(map) = payload.as_object_mut() {
                map.remove("flags");
            }
        }
        let channel = match moved {
            Some((channel, _)) => channel,
            None => self.fallback_channel(c).await?,
        };
        rest.send_message(channel, payload, None).await?;
        Ok(())
    }

    async fn send_to(&self, channel: ChannelId, message: &OutMessage) -> anyhow::Result<()> {
        let chunks = split_chunks(&message.text, CHUNK);
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let file = if i == last {
                message.attachment.as_ref().map(attachment)
            } else {
                None
            };
            let payload = message_payload(chunk, &message.buttons, i == last);
            self.inner.rest.send_message(channel, payload, file).await?;
        }
        Ok(())
    }
}

fn attachment(a: &Attachment) -> CreateAttachment {
    CreateAttachment::bytes(a.bytes.clone(), a.file_name.clone())
}

/// The progress of a sync in the deferred answer, moved to a channel message (or DM) once the
/// interaction's token is about to expire.
struct DiscordProgress {
    chat: DiscordChat,
    conversation: Conversation,
    moved: Mutex<Option<(ChannelId, MessageId)>>,
}

#[async_trait]
impl ProgressSink for DiscordProgress {
    async fn edit(&self, text: &str) -> Result<(), EditError> {
        let payload = content(&split_chunks(text, CHUNK)[0]);
        let mut moved = self.moved.lock().await;
        let result = match *moved {
            Some((channel, message)) => self
                .chat
                .inner
                .rest
                .edit_message(channel, message, payload)
                .await
                .map_err(anyhow::Error::from),
            None => self
                .chat
                .edit_original(&self.conversation, payload, None)
                .await
                .map(|to| {
                    if to.is_some() {
                        *moved = to;
                    }
                }),
        };
        result.map_err(|e| EditError::Failed(format!("{e:#}")))
    }

    fn address(&self) -> Option<ChatAddress> {
        Some(ChatAddress {
            platform: Platform::Discord.as_str(),
            chat_id: self.conversation.channel.get().to_string(),
        })
    }
}

#[async_trait]
impl Outbox for DiscordChat {
    async fn to_chat(&self, platform: &str, chat_id: &str, message: &OutMessage) -> anyhow::Result<bool> {
        let Ok(id) = chat_id.parse::<u64>() else {
            return Ok(false);
        };
        if platform != Platform::Discord.as_str() || id == 0 {
            return Ok(false);
        }
        self.send_to(ChannelId::new(id), message).await?;
        Ok(true)
    }

    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        let Some(channel) = self.inner.team_channel else {
            bail!("no hay canal de equipo de Discord configurado (discord.team_channel_id)");
        };
        self.send_to(channel, message).await
    }

    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        let identities = self.inner.core.store().agent_identities(agent).await?;
        let mut reached = 0;
        for (platform, user) in identities {
            if platform != Platform::Discord.as_str() {
                continue;
            }
            let Ok(id) = user.parse::<u64>() else { continue };
            if id == 0 {
                continue;
            }
            let sent = async {
                let dm = self.inner.rest.dm_channel(id).await?;
                self.send_to(dm, message).await
            }
            .await;
            match sent {
                Ok(()) => reached += 1,
                Err(e) => tracing::warn!(
                    agent,
                    error = format!("{e:#}"),
                    "no se pudo escribir al agente por Discord"
                ),
            }
        }
        Ok(reached)
    }
}

/// The gateway's event handler: registers commands when ready, answers interactions in their own
/// tasks.
struct Handler {
    chat: Arc<OnceLock<DiscordChat>>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        tracing::info!(user = %ready.user.name, "conectado al gateway de Discord");
        if let Some(chat) = self.chat.get() {
            chat.inner.rest.set_application_id(ready.application.id.get());
            if let Err(e) = chat.register_commands().await {
                tracing::error!(
                    error = format!("{e:#}"),
                    "no se pudieron registrar los comandos de Discord"
                );
            }
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        let Some(chat) = self.chat.get().cloned() else {
            return;
        };
        match interaction {
            Interaction::Command(cmd) => {
                tokio::spawn(async move { chat.handle_interaction(cmd).await });
            }
            Interaction::Component(pressed) => {
                tokio::spawn(async move { chat.handle_component(pressed).await });
            }
            _ => {}
        }
    }
}

/// Connects to Discord in the background and returns the outbox for team and private messages, and
/// the gateway task (which ends when the connection is lost for good).
pub async fn start_discord(
    core: ChatCore,
    config: &Config,
    token: SecretString,
    status: Option<StatusHook>,
) -> anyhow::Result<(Arc<dyn Outbox>, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let cell = Arc::new(OnceLock::new());
    let rest = DiscordRest::new(&config.discord.api_url, &token, None, core.inner.clock.clone());
    // REST goes to `[discord] api_url`; the gateway URL comes from its `/gateway` answer.
    let mut client = ClientBuilder::new_with_http(build_http(config, &token, &rest), GatewayIntents::GUILDS)
        .event_handler(Handler { chat: cell.clone() })
        .await
        .context("no se pudo crear el cliente de Discord")?;
    let chat = DiscordChat::new(core, config, rest, None);
    let outbox = chat.outbox();
    let _ = cell.set(chat);
    let runners = client.shard_manager.runners.clone();
    let gateway = tokio::spawn(async move {
        let watch = async {
            let Some(status) = status else {
                return std::future::pending().await;
            };
            // serenity replaces a lost shard without an event: look at its runners every second.
            loop {
                let connected = runners
                    .lock()
                    .await
                    .values()
                    .any(|r| r.stage == ConnectionStage::Connected);
                let detail = (!connected).then(|| "sin conexión con el gateway de Discord".to_string());
                status(connected, detail);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        };
        tokio::select! {
            result = client.start() => result.context("el gateway de Discord se detuvo"),
            () = watch => Ok(()),
        }
    });
    Ok((outbox, gateway))
}

// ── Buttons: links as link buttons, commands as button components ──

/// Discord allows five buttons per row and five rows.
const BUTTONS_PER_ROW: usize = 5;
const MAX_BUTTONS: usize = 25;
/// Discord's limits on a button's label and custom id.
const MAX_LABEL: usize = 80;
const MAX_CUSTOM_ID: usize = 100;
/// Component types and button styles from Discord's documentation.
const ACTION_ROW: u64 = 1;
const BUTTON: u64 = 2;
const STYLE_PRIMARY: u64 = 1;
const STYLE_LINK: u64 = 5;

/// One message: the markdown of `chunk` and, on the last message, the raw URL of each link button
/// (outside the markdown escaper, which would turn `client_id` into `client\_id`; in `<…>` so
/// Discord shows no preview) and the buttons as components.
fn message_payload(chunk: &str, buttons: &[Button], last: bool) -> Value {
    let mut payload = content(chunk);
    if last && !buttons.is_empty() {
        let mut text = payload["content"].as_str().unwrap_or_default().to_string();
        for url in link_urls(buttons) {
            text.push_str(&format!("\n<{url}>"));
        }
        payload["content"] = json!(text);
        payload["components"] = action_rows(buttons);
    }
    payload
}

/// The buttons as action rows: links open their URL, commands send a component interaction whose
/// custom id is the command line.
fn action_rows(buttons: &[Button]) -> Value {
    let label = |l: &str| l.chars().take(MAX_LABEL).collect::<String>();
    let made: Vec<Value> = buttons
        .iter()
        .filter_map(|b| match b {
            Button::Link { label: l, url } => {
                Some(json!({"type": BUTTON, "style": STYLE_LINK, "label": label(l), "url": url}))
            }
            Button::Command { label: l, command } if command.chars().count() <= MAX_CUSTOM_ID => {
                Some(json!({"type": BUTTON, "style": STYLE_PRIMARY, "label": label(l), "custom_id": command}))
            }
            Button::Command { .. } => None,
        })
        .take(MAX_BUTTONS)
        .collect();
    Value::Array(
        made.chunks(BUTTONS_PER_ROW)
            .map(|row| json!({"type": ACTION_ROW, "components": row}))
            .collect(),
    )
}

impl DiscordChat {
    /// A pressed command button: handled like the same command from the presser, answered
    /// privately with a deferred response that is then edited.
    pub async fn handle_component(&self, pressed: ComponentInteraction) {
        if let Err(e) = self.answer_component(&pressed).await {
            tracing::warn!(error = format!("{e:#}"), "no se pudo responder al botón en Discord");
        }
    }

    async fn answer_component(&self, pressed: &ComponentInteraction) -> anyhow::Result<()> {
        let received = self.inner.rest.clock().now();
        let caller = self.caller(&pressed.user, pressed.member.as_ref(), pressed.guild_id.is_some());
        let plan = self.inner.core.plan(&caller, &pressed.data.custom_id, None).await;
        let conversation = Conversation {
            application_id: pressed.application_id.get(),
            token: pressed.token.clone(),
            channel: pressed.channel_id,
            user: pressed.user.id.get(),
            ephemeral: true,
            deadline: received + INTERACTION_USE,
        };
        self.defer(pressed.id, &conversation, "botón").await;
        let reply = self
            .inner
            .core
            .execute(plan)
            .await
            .unwrap_or_else(|| Reply::text("No entendí el botón. Escribe /ayuda.", Visibility::Private));
        self.deliver(&conversation, reply).await
    }
}
