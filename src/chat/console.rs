//! The console chat: one line in, the reply out, as the office admin (or as an agent with
//! `--as AGENT`). Images and CSV files are written into a folder and their paths printed. Reads any
//! line source, so `printf '/actualizar\n/ranking mes\n' | pulso demo` works; at the end of input it
//! waits for running syncs to print their final report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use super::core::{Caller, ChatCore, ChatKind, Platform, Reply};
use super::progress::{ChatAddress, DEFAULT_DEBOUNCE, EditError, ProgressSink, follow};
use super::text::to_console;
use crate::domain::{AgentId, find_by_name};
use crate::ports::{Attachment, Button, OutMessage, Outbox};

#[derive(Debug, Clone)]
pub struct ConsoleOptions {
    /// Act as this agent (a name, matched like `/metricas` does) instead of as the admin.
    pub as_agent: Option<String>,
    /// Folder for images and CSV files (created if missing).
    pub files_dir: PathBuf,
    /// Print a `> ` prompt before each line (when stdin is a terminal).
    pub prompt: bool,
    /// Minimum gap between two progress lines of one sync.
    pub debounce: Duration,
}

impl ConsoleOptions {
    pub fn new(files_dir: impl Into<PathBuf>) -> Self {
        Self {
            as_agent: None,
            files_dir: files_dir.into(),
            prompt: false,
            debounce: DEFAULT_DEBOUNCE,
        }
    }
}

type Writer = Arc<Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

/// A console chat session; [`ConsoleChat::outbox`] prints team and private messages to the same
/// output.
#[derive(Clone)]
pub struct ConsoleChat {
    core: ChatCore,
    out: Writer,
    opts: ConsoleOptions,
    caller: Caller,
    agent_name: Option<String>,
    files: Arc<AtomicUsize>,
}

impl ConsoleChat {
    /// Resolves `--as AGENT` (an unknown or ambiguous name is an error).
    pub async fn new(
        core: ChatCore,
        writer: impl AsyncWrite + Send + Unpin + 'static,
        opts: ConsoleOptions,
    ) -> anyhow::Result<Self> {
        let (assume_agent, agent_name): (Option<AgentId>, Option<String>) = match &opts.as_agent {
            Some(name) => {
                let agents = core
                    .store()
                    .agents()
                    .await
                    .context("no se pudo leer la lista de agentes")?;
                let agent = find_by_name(&agents, name).map_err(|e| anyhow::anyhow!("--as: {e}"))?;
                (Some(agent.id), Some(agent.name.clone()))
            }
            None => (None, None),
        };
        let caller = Caller {
            platform: Platform::Console,
            user_id: assume_agent.map_or_else(|| "admin".to_string(), |id| format!("agente-{id}")),
            is_admin: assume_agent.is_none(),
            chat: ChatKind::Private,
            assume_agent,
        };
        Ok(Self {
            core,
            out: Arc::new(Mutex::new(Box::new(writer))),
            opts,
            caller,
            agent_name,
            files: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn outbox(&self) -> Arc<dyn Outbox> {
        Arc::new(ConsoleOutbox {
            out: self.out.clone(),
            files_dir: self.opts.files_dir.clone(),
            files: self.files.clone(),
        })
    }

    async fn print(&self, text: &str) -> anyhow::Result<()> {
        print_to(&self.out, text).await
    }

    /// Reads commands until the end of input, then waits for running syncs to finish.
    pub async fn run(&self, reader: impl AsyncBufRead + Unpin) -> anyhow::Result<()> {
        let who = match &self.agent_name {
            Some(name) => format!("como el agente {name}"),
            None => "como admin".into(),
        };
        self.print(&format!(
            "pulso · chat de consola ({who}). Escribe /ayuda; termina con Ctrl-D."
        ))
        .await?;
        let mut lines = reader.lines();
        let mut syncs = JoinSet::new();
        loop {
            if self.opts.prompt {
                let mut out = self.out.lock().await;
                out.write_all(b"> ").await?;
                out.flush().await?;
            }
            let Some(line) = lines.next_line().await.context("no se pudo leer la entrada")? else {
                break;
            };
            if line.trim().is_empty() {
                continue;
            }
            let Some(reply) = self.core.handle(&self.caller, &line, None).await else {
                continue;
            };
            self.deliver(reply, &mut syncs).await?;
            if !self.opts.prompt {
                // A script (`printf '/actualizar\n/ranking mes\n' | pulso demo`) reads like a
                // conversation: the next command waits for the sync it started to finish.
                while syncs.join_next().await.is_some() {}
            }
        }
        while let Some(done) = syncs.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "seguimiento de sincronización interrumpido");
            }
        }
        Ok(())
    }

    async fn deliver(&self, mut reply: Reply, syncs: &mut JoinSet<()>) -> anyhow::Result<()> {
        self.print(&with_buttons(&reply.text, &reply.buttons)).await?;
        if let Some(attachment) = &reply.attachment {
            let path = self.save(attachment).await?;
            self.print(&format!("📎 Archivo: {}", path.display())).await?;
        }
        if let Some(job) = reply.progress.take() {
            let sink = ConsoleProgress { out: self.out.clone() };
            let debounce = self.opts.debounce;
            let out = self.out.clone();
            syncs.spawn(async move {
                let outcome = follow(job, &sink, debounce).await;
                if let (false, Some(text)) = (outcome.delivered, outcome.final_text) {
                    let _ = print_to(&out, &to_console(&text)).await;
                }
            });
        }
        Ok(())
    }

    async fn save(&self, attachment: &Attachment) -> anyhow::Result<PathBuf> {
        save_file(&self.opts.files_dir, &self.files, attachment).await
    }
}

/// Writes an attachment into `dir` as `NNN_name`, numbered in the order files were made.
async fn save_file(dir: &Path, counter: &AtomicUsize, attachment: &Attachment) -> anyhow::Result<PathBuf> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("no se pudo crear {}", dir.display()))?;
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    let safe: String = attachment
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{n:03}_{safe}"));
    tokio::fs::write(&path, &attachment.bytes)
        .await
        .with_context(|| format!("no se pudo escribir {}", path.display()))?;
    Ok(path)
}

async fn print_to(out: &Writer, text: &str) -> anyhow::Result<()> {
    let mut out = out.lock().await;
    out.write_all(text.as_bytes()).await?;
    out.write_all(b"\n").await?;
    out.flush().await?;
    Ok(())
}

/// Progress on a console: each edit is a new line.
struct ConsoleProgress {
    out: Writer,
}

#[async_trait]
impl ProgressSink for ConsoleProgress {
    async fn edit(&self, text: &str) -> Result<(), EditError> {
        print_to(&self.out, &to_console(text))
            .await
            .map_err(|e| EditError::Failed(e.to_string()))
    }

    fn address(&self) -> Option<ChatAddress> {
        Some(ChatAddress {
            platform: Platform::Console.as_str(),
            chat_id: "console".into(),
        })
    }
}

struct ConsoleOutbox {
    out: Writer,
    files_dir: PathBuf,
    files: Arc<AtomicUsize>,
}

#[async_trait]
impl Outbox for ConsoleOutbox {
    async fn to_team(&self, message: &OutMessage) -> anyhow::Result<()> {
        print_to(
            &self.out,
            &format!("📣 [equipo] {}", with_buttons(&message.text, &message.buttons)),
        )
        .await?;
        if let Some(attachment) = &message.attachment {
            let path = save_file(&self.files_dir, &self.files, attachment).await?;
            print_to(&self.out, &format!("📎 Archivo: {}", path.display())).await?;
        }
        Ok(())
    }

    async fn to_agent(&self, agent: AgentId, message: &OutMessage) -> anyhow::Result<usize> {
        print_to(
            &self.out,
            &format!(
                "📩 [privado, agente {agent}] {}",
                with_buttons(&message.text, &message.buttons)
            ),
        )
        .await?;
        Ok(1)
    }

    async fn to_chat(&self, platform: &str, _chat_id: &str, message: &OutMessage) -> anyhow::Result<bool> {
        if platform != Platform::Console.as_str() {
            return Ok(false);
        }
        print_to(&self.out, &to_console(&message.text)).await?;
        Ok(true)
    }
}

/// Runs the console chat until the end of `reader` (and of any sync it started).
pub async fn run_console(
    core: ChatCore,
    reader: impl AsyncBufRead + Unpin,
    writer: impl AsyncWrite + Send + Unpin + 'static,
    opts: ConsoleOptions,
) -> anyhow::Result<()> {
    ConsoleChat::new(core, writer, opts).await?.run(reader).await
}

// ── Buttons: a link is its plain URL on a line of its own; a command is what to type ──

/// Console text of a message and its buttons.
fn with_buttons(text: &str, buttons: &[Button]) -> String {
    let mut out = to_console(text);
    for b in buttons {
        match b {
            Button::Link { url, .. } => out.push_str(&format!("\n{url}")),
            Button::Command { label, command } => out.push_str(&format!("\n👉 {label}: escribe {command}")),
        }
    }
    out
}
