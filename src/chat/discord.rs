//! Discord adapter (serenity): slash commands registered on start, interactions answered with a
//! deferred response (ephemeral for personal data) that is then edited — with the answer, its
//! attachment, or the sync's progress. Admins are members with a role from `[discord] admin_roles`.
//!
//! The gateway delivers interactions ([`start_discord`], [`run_discord`]); REST goes to
//! `[discord] api_url`, and the gateway's address comes from its `GET /gateway` answer, so tests
//! run the whole path against a fake REST API and a fake WebSocket gateway on 127.0.0.1.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    ApplicationId, ChannelId, ClientBuilder, Command as SlashCommand, CommandDataOptionValue, CommandInteraction,
    CommandOptionType, ConnectionStage, Context, CreateAttachment, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, EventHandler, GatewayIntents, Interaction, Ready, UserId,
};
use serenity::http::{Http, HttpBuilder, HttpError};

use super::commands::COMMANDS;
use super::core::{Caller, ChatCore, ChatKind, Platform, Reply, Visibility};
use super::progress::{DEFAULT_DEBOUNCE, EditError, ProgressSink, follow};
use super::text::{split_chunks, to_discord_markdown};
use crate::config::Config;
use crate::domain::{AgentId, Period};
use crate::ports::{Attachment, OutMessage, Outbox, StatusHook};

/// Characters of marker text per message: Discord allows 2,000 and escaping can double a text.
const CHUNK: usize = 950;
const SEND_ATTEMPTS: u32 = 4;
/// Discord's default REST base; anything else is treated as a test or proxy target.
const DISCORD_BASE: &str = "https://discord.com";

/// Slash-command options, in the order their values are put back into a command line.
const OPTION_ORDER: [&str; 7] = [
    "agente",
    "codigo",
    "alerta",
    "duracion",
    "periodo",
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
        "ranking" | "resumen" | "exportar" => vec![periodo()],
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

/// serenity's HTTP client for `[discord] api_url`: the real ratelimiter against discord.com; any
/// other base (a test server, a proxy) is reached through serenity's proxy setting, which requires
/// the ratelimiter to be off (429s then come back to pulso, which retries).
pub fn build_http(config: &Config, token: &SecretString, application_id: Option<u64>) -> Http {
    let base = config.discord.api_url.trim_end_matches('/');
    let mut builder = HttpBuilder::new(token.expose_secret());
    if base != DISCORD_BASE {
        builder = builder.proxy(base).ratelimiter_disabled(true);
    }
    if let Some(id) = application_id {
        builder = builder.application_id(ApplicationId::new(id));
    }
    builder.build()
}

struct Inner {
    core: ChatCore,
    http: Arc<Http>,
    admin_roles: HashSet<u64>,
    team_channel: Option<ChannelId>,
    debounce: Duration,
}

/// The Discord side of pulso. Cheap to clone.
#[derive(Clone)]
pub struct DiscordChat {
    inner: Arc<Inner>,
}

impl DiscordChat {
    /// `http` is serenity's client ([`build_http`], or the gateway client's); `debounce` is the
    /// minimum gap between progress edits (None: 2 s).
    pub fn new(core: ChatCore, config: &Config, http: Arc<Http>, debounce: Option<Duration>) -> Self {
        Self {
            inner: Arc::new(Inner {
                core,
                http,
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
        SlashCommand::set_global_commands(&self.inner.http, slash_commands())
            .await
            .context("Discord no aceptó los comandos")?;
        Ok(())
    }

    /// Answers one slash command: defer (ephemeral when the answer is personal), work, edit.
    pub async fn handle_interaction(&self, cmd: CommandInteraction) {
        if let Err(e) = self.answer(&cmd).await {
            tracing::warn!(error = format!("{e:#}"), command = %cmd.data.name, "no se pudo responder en Discord");
        }
    }

    async fn answer(&self, cmd: &CommandInteraction) -> anyhow::Result<()> {
        let http = &self.inner.http;
        let roles: Vec<u64> = cmd
            .member
            .as_ref()
            .map(|m| m.roles.iter().map(|r| r.get()).collect())
            .unwrap_or_default();
        let caller = Caller {
            platform: Platform::Discord,
            user_id: cmd.user.id.get().to_string(),
            is_admin: roles.iter().any(|r| self.inner.admin_roles.contains(r)),
            chat: if cmd.guild_id.is_some() {
                ChatKind::Group
            } else {
                ChatKind::Private
            },
            assume_agent: None,
        };
        let line = command_line(cmd);
        let plan = self.inner.core.plan(&caller, &line, None).await;
        let ephemeral = plan.visibility == Visibility::Private;
        cmd.create_response(
            http,
            CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(ephemeral)),
        )
        .await
        .context("defer")?;
        let mut reply = match self.inner.core.execute(plan).await {
            Some(reply) => reply,
            None => Reply::text("No entendí el comando. Escribe /ayuda.", Visibility::Private),
        };
        let chunks = split_chunks(&reply.text, CHUNK);
        let mut edit = EditInteractionResponse::new().content(to_discord_markdown(&chunks[0]));
        if let Some(a) = &reply.attachment {
            edit = edit.new_attachment(attachment(a));
        }
        with_retry(|| cmd.edit_response(http, edit.clone()))
            .await
            .context("edit")?;
        for chunk in &chunks[1..] {
            let followup = CreateInteractionResponseFollowup::new()
                .content(to_discord_markdown(chunk))
                .ephemeral(ephemeral);
            with_retry(|| cmd.create_followup(http, followup.clone()))
                .await
                .context("followup")?;
        }
        if let Some(job) = reply.progress.take() {
            let sink = DiscordProgress {
                http: http.clone(),
                cmd: cmd.clone(),
            };
            let outcome = follow(job, &sink, self.inner.debounce).await;
            if let (false, Some(text)) = (outcome.delivered, outcome.final_text) {
                // The interaction token lasts 15 minutes: a longer sync reports with a new message.
                let content = to_discord_markdown(&split_chunks(&text, CHUNK)[0]);
                let sent = with_retry(|| {
                    cmd.create_followup(
                        http,
                        CreateInteractionResponseFollowup::new()
                            .content(content.clone())
                            .ephemeral(ephemeral),
                    )
                })
                .await;
                if sent.is_err() && !ephemeral {
                    with_retry(|| {
                        cmd.channel_id
                            .send_message(http, CreateMessage::new().content(content.clone()))
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn send_to(&self, channel: ChannelId, message: &OutMessage) -> anyhow::Result<()> {
        let http = &self.inner.http;
        let chunks = split_chunks(&message.text, CHUNK);
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let mut m = CreateMessage::new().content(to_discord_markdown(chunk));
            if i == last
                && let Some(a) = &message.attachment
            {
                m = m.add_file(attachment(a));
            }
            with_retry(|| channel.send_message(http, m.clone())).await?;
        }
        Ok(())
    }
}

fn attachment(a: &Attachment) -> CreateAttachment {
    CreateAttachment::bytes(a.bytes.clone(), a.file_name.clone())
}

fn status_of(e: &serenity::Error) -> Option<u16> {
    match e {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => Some(r.status_code.as_u16()),
        _ => None,
    }
}

/// Runs a REST call, retrying 429 answers (only seen with the ratelimiter off; against discord.com
/// serenity's ratelimiter waits by itself).
async fn with_retry<T, F, Fut>(mut request: F) -> serenity::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = serenity::Result<T>>,
{
    let mut attempt = 1;
    loop {
        match request().await {
            Err(e) if status_of(&e) == Some(429) && attempt < SEND_ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(500 * attempt as u64)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

struct DiscordProgress {
    http: Arc<Http>,
    cmd: CommandInteraction,
}

#[async_trait]
impl ProgressSink for DiscordProgress {
    async fn edit(&self, text: &str) -> Result<(), EditError> {
        let content = to_discord_markdown(&split_chunks(text, CHUNK)[0]);
        match self
            .cmd
            .edit_response(&self.http, EditInteractionResponse::new().content(content))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if status_of(&e) == Some(429) => Err(EditError::RetryAfter(Duration::from_secs(1))),
            Err(e) => Err(EditError::Failed(e.to_string())),
        }
    }
}

#[async_trait]
impl Outbox for DiscordChat {
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
                let dm = with_retry(|| UserId::new(id).create_dm_channel(&self.inner.http)).await?;
                self.send_to(dm.id, message).await
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
        if let Some(chat) = self.chat.get()
            && let Err(e) = chat.register_commands().await
        {
            tracing::error!(
                error = format!("{e:#}"),
                "no se pudieron registrar los comandos de Discord"
            );
        }
    }

    async fn interaction_create(&self, _ctx: Context, interaction: Interaction) {
        if let (Interaction::Command(cmd), Some(chat)) = (interaction, self.chat.get()) {
            let chat = chat.clone();
            tokio::spawn(async move { chat.handle_interaction(cmd).await });
        }
    }
}

/// Runs the Discord bot on the gateway until Ctrl-C.
pub async fn run_discord(core: ChatCore, config: &Config, token: SecretString) -> anyhow::Result<()> {
    let (_outbox, gateway) = start_discord(core, config, token, None).await?;
    tokio::select! {
        result = gateway => result.context("la tarea del gateway de Discord falló")?,
        _ = tokio::signal::ctrl_c() => Ok(()),
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
    // REST goes to `[discord] api_url`; the gateway URL comes from its `/gateway` answer.
    let mut client = ClientBuilder::new_with_http(build_http(config, &token, None), GatewayIntents::GUILDS)
        .event_handler(Handler { chat: cell.clone() })
        .await
        .context("no se pudo crear el cliente de Discord")?;
    let chat = DiscordChat::new(core, config, client.http.clone(), None);
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
