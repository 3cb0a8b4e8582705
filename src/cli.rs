//! The `pulso` command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::crypto::TokenCipher;
use crate::domain::{Role, find_by_name};

#[derive(Parser, Debug)]
#[command(name = "pulso", version, about = "Métricas de Facebook de tu oficina, en el chat")]
pub struct Cli {
    /// Configuration file (default: bot-config/pulso.toml; built-in defaults if missing).
    #[arg(long, global = true, env = "PULSO_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: migrations, chat adapters, HTTP server.
    Run,
    /// The whole product on a fresh machine: SQLite in ./data, the Graph API sandbox with 20 seeded
    /// agents, the sync engine and a console chat where you are the admin.
    Demo {
        /// Chat as this agent instead of as the admin.
        #[arg(long = "as")]
        as_agent: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Run the fake Graph API on its own (demos and external tests).
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: std::net::SocketAddr,
        /// Agent Pages to seed.
        #[arg(long, default_value_t = 20)]
        pages: usize,
        /// Seed of the generated data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Calls allowed per rate bucket per hour (default: unlimited).
        #[arg(long)]
        hourly_call_limit: Option<u32>,
        /// Inject a fault: PAGE_ID=token_expired|token_invalid|permission_denied|not_found|transient:N|http503:N|slow:500ms|rate_limited
        #[arg(long = "fault")]
        faults: Vec<String>,
        /// How real: `real` (default: insights lag, growing posts), `instant`, or JSON such as
        /// '{"insights_lag_hours":8,"paging":"next_only","reduce_data_above":25,"retired_metrics":["page_post_engagements"]}'
        #[arg(long, default_value = "real")]
        realism: String,
    },
    /// Manage agents.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AgentsCommand {
    /// Import agents from a CSV file with columns name,email,facebook_page_id,facebook_token[,telegram_user_id].
    Import { file: PathBuf },
    /// List agents with their connection status.
    List,
    /// Issue a single-use code (valid 24 h) that links a chat user to this agent with /vincular.
    LinkCode { name: String },
    /// Make an agent an admin or a plain agent (`admin` or `agent`); Supabase's RLS reads it too.
    Role {
        name: String,
        #[arg(value_parser = ["admin", "agent"])]
        role: String,
    },
    /// Connect an agent's Facebook Page with a token obtained elsewhere (checked before storing).
    Connect {
        name: String,
        /// The Facebook Page id.
        #[arg(long)]
        page_id: String,
        /// A Page token (or a user token of someone who manages the Page); "-" reads it from
        /// standard input, which keeps it out of the shell history.
        #[arg(long)]
        token: String,
    },
}

pub async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref())?;
    if matches!(cli.command, Command::Demo { .. }) && std::env::var("PULSO__LOG__LEVEL").is_err() {
        // The demo's console is the product: its seeded failures are shown there in Spanish, so
        // only errors go to the log.
        config.log.level = "error".into();
    }
    crate::telemetry::init(&config);
    match cli.command {
        Command::Config => {
            print!("{}", config.redacted());
            Ok(())
        }
        Command::Migrate => {
            let store = crate::app::open_store(&config).await?;
            println!(
                "Migraciones aplicadas en {}",
                crate::config::redact_url(&config.database.url)
            );
            drop(store);
            Ok(())
        }
        Command::Run => run(config).await,
        Command::Demo { as_agent } => demo(config, as_agent).await,
        Command::Sandbox {
            listen,
            pages,
            seed,
            hourly_call_limit,
            faults,
            realism,
        } => {
            let realism = crate::sandbox::Realism::parse(&realism).map_err(anyhow::Error::msg)?;
            let faults = faults
                .iter()
                .map(|f| crate::sandbox::Fault::parse_assignment(f).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let opts = crate::sandbox::SandboxOptions {
                pages,
                seed,
                hourly_call_limit,
                faults,
                realism,
                ..Default::default()
            };
            crate::sandbox::run_cli(listen, opts).await
        }
        Command::Agents { command } => agents(config, command).await,
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let app = crate::app::App::build(config).await?;
    let services = app.services();
    let mut tasks = tokio::task::JoinSet::new();
    let (outboxes, webhook) = app.start_chat_adapters(&services, &mut tasks).await?;
    if outboxes.is_empty() {
        tracing::warn!("no hay token de Telegram ni de Discord: pulso funciona pero nadie puede escribirle");
    }
    services.start(&app.engine, outboxes);
    let watcher = app.spawn_job_watcher();
    if !app.config.http.listen.is_empty() {
        let mut router = services.http_router(&app);
        if let Some(webhook) = webhook {
            router = router.merge(webhook);
        }
        let listener = tokio::net::TcpListener::bind(&app.config.http.listen)
            .await
            .with_context(|| format!("no se pudo escuchar en {}", app.config.http.listen))?;
        tasks.spawn(async move {
            crate::http::serve_with_shutdown(listener, router, crate::app::shutdown_signal())
                .await
                .context("el servidor HTTP se detuvo")
        });
    }
    if let Some(router) = services.metrics_router(&app) {
        let addr = &app.config.http.metrics_listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("no se pudo escuchar en {addr} (http.metrics_listen)"))?;
        tasks.spawn(async move {
            crate::http::serve_with_shutdown(listener, router, crate::app::shutdown_signal())
                .await
                .context("el servidor de /metrics se detuvo")
        });
    }
    tracing::info!(database = %crate::config::redact_url(&app.config.database.url), "pulso listo");
    let outcome = tokio::select! {
        _ = crate::app::shutdown_signal() => Ok(()),
        Some(ended) = tasks.join_next() => match ended {
            Ok(result) => result,
            Err(e) => Err(anyhow::anyhow!("una tarea terminó de forma inesperada: {e}")),
        },
    };
    watcher.abort();
    // Graceful stop: no new agents, the ones in flight finish (bounded), leases are released so
    // another replica or the next start continues at once, and the chats following see why.
    app.engine.shutdown().await;
    // Lets the progress messages show "pausada por un reinicio" before the adapters go away.
    tokio::time::sleep(Duration::from_millis(500)).await;
    services.alerts.flush_emails().await;
    outcome
}

async fn demo(mut config: Config, as_agent: Option<String>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let data = PathBuf::from("data");
    if std::env::var("PULSO__DATABASE__URL").is_err() {
        config.database.url = "sqlite://data/demo.db".into();
    }
    if config.secrets.token_key.is_none() {
        config.secrets.token_key = Some(crate::app::demo_token_key(&data.join("demo-token.key"))?);
    }
    // The demo serves /salud, /metrics and the /conectar callback on a free local port (unless
    // told otherwise), so a Facebook Login through the sandbox completes in a browser.
    let http_listener = if std::env::var("PULSO__HTTP__LISTEN").is_err() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("no se pudo abrir un puerto local para el servidor HTTP del demo")?;
        let addr = listener.local_addr()?;
        config.http.listen = addr.to_string();
        if std::env::var("PULSO__HTTP__PUBLIC_URL").is_err() {
            config.http.public_url = format!("http://{addr}");
        }
        Some(listener)
    } else {
        None
    };
    // /metrics rides on the demo's port unless told otherwise.
    if std::env::var("PULSO__HTTP__METRICS_LISTEN").is_err() {
        config.http.metrics_listen = String::new();
    }
    if config.facebook.app_id.is_empty() {
        config.facebook.app_id = "pulso-demo".into();
    }
    // The sandbox plays Facebook for this app: same id and secret, so logins and appsecret_proof
    // are checked as Facebook would.
    let app_secret = config
        .secrets
        .facebook_app_secret
        .get_or_insert_with(|| secrecy::SecretString::from(crate::admin::random_code(24)))
        .expose_secret()
        .to_string();
    let (sandbox, sandbox_url) = crate::app::start_demo_sandbox(&config.facebook.app_id, &app_secret).await?;
    config.facebook.graph_url = sandbox_url.clone();
    config.facebook.login_url = sandbox_url;
    config.sync.batch_delay_secs = 0;
    let app = crate::app::App::build(config).await?;
    let agents = crate::app::import_sandbox_agents(&app, &sandbox).await?;
    let services = app.services();
    let mut tasks = tokio::task::JoinSet::new();
    let (mut outboxes, _webhook) = app.start_chat_adapters(&services, &mut tasks).await?;
    let mut options = crate::chat::ConsoleOptions::new(data.join("salida"));
    options.as_agent = as_agent;
    options.prompt = std::io::stdin().is_terminal();
    let console = crate::chat::ConsoleChat::new(services.core.clone(), tokio::io::stdout(), options).await?;
    outboxes.push(console.outbox());
    services.start(&app.engine, outboxes);
    let _watcher = app.spawn_job_watcher();
    let listener = match http_listener {
        Some(listener) => Some(listener),
        None if !app.config.http.listen.is_empty() => Some(
            tokio::net::TcpListener::bind(&app.config.http.listen)
                .await
                .with_context(|| format!("no se pudo escuchar en {}", app.config.http.listen))?,
        ),
        None => None,
    };
    if let Some(listener) = listener {
        let router = services.http_router(&app);
        tasks.spawn(async move {
            crate::http::serve(listener, router)
                .await
                .context("el servidor HTTP se detuvo")
        });
    }
    println!(
        "pulso demo · {agents} agentes en el sandbox de la Graph API · base de datos {} · escribe /ayuda",
        crate::config::redact_url(&app.config.database.url)
    );
    if !app.config.http.listen.is_empty() {
        println!(
            "Servidor HTTP: {} (/salud, /metrics y el regreso de /conectar)",
            app.config.http.public_url
        );
    }
    let started = Utc::now();
    console.run(tokio::io::BufReader::new(tokio::io::stdin())).await?;
    // A bulk sync the script ran posts its team summaries after its report: let them out first.
    if let Ok(Some(job)) = app.store.latest_job(crate::domain::JobKind::Bulk).await
        && job.created_at >= started
        && !job.status.is_active()
        && !services.reports.wait_reported(job.id, Duration::from_secs(30)).await
    {
        tracing::warn!(job_id = job.id, "los resúmenes del equipo no terminaron a tiempo");
    }
    services.alerts.flush_emails().await;
    Ok(())
}

async fn agents(config: Config, command: AgentsCommand) -> anyhow::Result<()> {
    let store = crate::app::open_store(&config).await?;
    let now = Utc::now();
    match command {
        AgentsCommand::Import { file } => {
            let cipher = TokenCipher::from_config(&config)?;
            let input = std::fs::File::open(&file).with_context(|| format!("no se pudo abrir {}", file.display()))?;
            let report = crate::admin::import_agents_csv(store.as_ref(), &cipher, input, now).await?;
            println!("Agentes creados: {}, actualizados: {}", report.created, report.updated);
            for (line, why) in &report.rejected {
                println!("Línea {line}: {why}");
            }
            if !report.rejected.is_empty() {
                println!(
                    "{} filas no se importaron; corrígelas y vuelve a importar el archivo.",
                    report.rejected.len()
                );
            }
            Ok(())
        }
        AgentsCommand::List => {
            let agents = store.agents().await?;
            if agents.is_empty() {
                println!("No hay agentes. Impórtalos con: pulso agents import agentes.csv");
            }
            for a in agents {
                let synced = a
                    .last_synced_at
                    .map(|t| crate::domain::hace(t, now))
                    .unwrap_or_else(|| "nunca".into());
                println!(
                    "{:>4}  {:<28} {:<32} {:<24} página {:<18} sincronizado {}",
                    a.id,
                    a.name,
                    a.email,
                    a.status.label(),
                    a.facebook_page_id.as_deref().unwrap_or("—"),
                    synced
                );
            }
            Ok(())
        }
        AgentsCommand::LinkCode { name } => {
            let agents = store.agents().await?;
            let agent = match find_by_name(&agents, &name) {
                Ok(a) => a,
                Err(e) => bail!("{e}"),
            };
            let code = crate::admin::issue_link_code(store.as_ref(), agent.id, now).await?;
            println!("Código para {}: {code}", agent.name);
            println!("Que escriba en el chat: /vincular {code}   (válido 24 horas, un solo uso)");
            Ok(())
        }
        AgentsCommand::Role { name, role } => {
            let agents = store.agents().await?;
            let agent = match find_by_name(&agents, &name) {
                Ok(a) => a,
                Err(e) => bail!("{e}"),
            };
            let role = Role::parse(&role).unwrap_or(Role::Agent);
            store.set_agent_role(agent.id, role, now).await?;
            println!(
                "{} ahora es {}.",
                agent.name,
                if role == Role::Admin { "admin" } else { "agente" }
            );
            Ok(())
        }
        AgentsCommand::Connect { name, page_id, token } => {
            let agents = store.agents().await?;
            let agent = match find_by_name(&agents, &name) {
                Ok(a) => a,
                Err(e) => bail!("{e}"),
            };
            let token = if token == "-" {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("no se pudo leer el token de la entrada estándar")?;
                line.trim().to_string()
            } else {
                token
            };
            let cipher = std::sync::Arc::new(TokenCipher::from_config(&config)?);
            let graph = crate::facebook::GraphClient::new(crate::facebook::GraphConfig::from_config(&config));
            let onboarding = crate::onboarding::Onboarding::new(
                store.clone(),
                cipher,
                graph,
                None,
                None,
                crate::onboarding::OnboardingSettings::from_config(&config),
            );
            match onboarding
                .connect_manually(agent.id, &page_id, &secrecy::SecretString::from(token))
                .await
            {
                Ok(page) => {
                    println!("Página conectada para {}: {page} ({page_id})", agent.name);
                    Ok(())
                }
                Err(why) => bail!("No se conectó la página de {}: {why}. No se cambió nada.", agent.name),
            }
        }
    }
}
