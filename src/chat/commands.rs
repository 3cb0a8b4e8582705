//! Chat commands: one table (names, usage, descriptions, audience) and one parser, shared by every
//! platform. Parsing is pure: no I/O, no identity. Errors are short Spanish sentences plus the
//! correct usage.

use std::time::Duration;

use crate::domain::{Network, Period};

/// Who a command is meant for (drives `/ayuda`, the Telegram menu and Discord registration; the
/// actual check is `access` in `permissions.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    /// Linked agents (admins too when they are linked).
    Agents,
    Admins,
    /// Admins for everyone's data, agents for their own.
    AdminsAndAgents,
}

/// One row of the command table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Telegram-valid name (`[a-z0-9_]{1,32}`).
    pub name: &'static str,
    pub usage: &'static str,
    pub description: &'static str,
    pub audience: Audience,
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "mis_metricas",
        usage: "/mis_metricas [hoy|semana|mes|6meses] [grafico]",
        description: "Tus métricas con el cambio frente al periodo anterior",
        audience: Audience::Agents,
    },
    CommandSpec {
        name: "ranking",
        usage: "/ranking [hoy|semana|mes|6meses] [facebook|instagram|total]",
        description: "Ranking del equipo por puntuación en Facebook, Instagram o ambas (agentes: tu puesto)",
        audience: Audience::AdminsAndAgents,
    },
    CommandSpec {
        name: "actualizar",
        usage: "/actualizar [confirmar]",
        description: "Sincroniza los datos de Facebook de todos los agentes",
        audience: Audience::Admins,
    },
    CommandSpec {
        name: "actualizar_agente",
        usage: "/actualizar_agente [agente]",
        description: "Sincroniza los datos de un agente (agentes: los tuyos)",
        audience: Audience::AdminsAndAgents,
    },
    CommandSpec {
        name: "metricas",
        usage: "/metricas <agente> [hoy|semana|mes|6meses] [grafico]",
        description: "Métricas de cualquier agente",
        audience: Audience::Admins,
    },
    CommandSpec {
        name: "resumen",
        usage: "/resumen [hoy|semana|mes|6meses]",
        description: "Totales del equipo, mejores agentes y datos pendientes",
        audience: Audience::Admins,
    },
    CommandSpec {
        name: "estado",
        usage: "/estado",
        description: "Frescura de datos, sincronización y presupuesto de la API",
        audience: Audience::Admins,
    },
    CommandSpec {
        name: "agentes",
        usage: "/agentes",
        description: "Agentes, su conexión con Facebook y su cuenta de Instagram",
        audience: Audience::Admins,
    },
    CommandSpec {
        name: "exportar",
        usage: "/exportar [hoy|semana|mes|6meses]",
        description: "Archivo CSV con las métricas diarias (agentes: las tuyas)",
        audience: Audience::AdminsAndAgents,
    },
    CommandSpec {
        name: "conectar",
        usage: "/conectar [confirmar|número de página]",
        description: "Enlace para conectar o reconectar tu página de Facebook",
        audience: Audience::Agents,
    },
    CommandSpec {
        name: "alertas",
        usage: "/alertas",
        description: "Alertas activas",
        audience: Audience::Admins,
    },
    CommandSpec {
        name: "silenciar",
        usage: "/silenciar <alerta> <duración: 30m, 2h, 1d>",
        description: "Silencia una alerta por un tiempo",
        audience: Audience::Admins,
    },
    CommandSpec {
        name: "vincular",
        usage: "/vincular <código>",
        description: "Vincula tu cuenta de chat con tu perfil de agente",
        audience: Audience::Everyone,
    },
    CommandSpec {
        name: "ayuda",
        usage: "/ayuda",
        description: "Comandos disponibles y definiciones de las métricas",
        audience: Audience::Everyone,
    },
];

pub fn spec(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

pub(crate) fn usage_of(name: &str) -> &'static str {
    spec(name).map(|s| s.usage).unwrap_or("/ayuda")
}

/// A parsed command, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Actualizar {
        confirmed: bool,
    },
    ActualizarAgente {
        agent: Option<String>,
    },
    MisMetricas {
        period: Period,
        chart: bool,
    },
    Metricas {
        agent: String,
        period: Period,
        chart: bool,
    },
    Ranking {
        period: Period,
        /// Facebook by default.
        network: Network,
    },
    Resumen {
        period: Period,
    },
    Estado,
    Agentes,
    Vincular {
        code: String,
    },
    Conectar {
        step: ConnectStep,
    },
    Exportar {
        period: Period,
    },
    Alertas,
    Silenciar {
        alert: String,
        duration: Duration,
    },
    Ayuda,
    /// Telegram's `/start` (first contact); `/start CODE` is a deep link to `/vincular CODE`.
    Start {
        payload: Option<String>,
    },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Actualizar { .. } => "actualizar",
            Command::ActualizarAgente { .. } => "actualizar_agente",
            Command::MisMetricas { .. } => "mis_metricas",
            Command::Metricas { .. } => "metricas",
            Command::Ranking { .. } => "ranking",
            Command::Resumen { .. } => "resumen",
            Command::Estado => "estado",
            Command::Agentes => "agentes",
            Command::Vincular { .. } => "vincular",
            Command::Conectar { .. } => "conectar",
            Command::Exportar { .. } => "exportar",
            Command::Alertas => "alertas",
            Command::Silenciar { .. } => "silenciar",
            Command::Ayuda => "ayuda",
            Command::Start { .. } => "start",
        }
    }
}

/// The steps of `/conectar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectStep {
    /// `/conectar`: a new Facebook Login link.
    Link,
    /// `/conectar confirmar`: store the one Page the login found (shown to the agent first).
    Confirm,
    /// `/conectar N`: store the N-th of the Pages the login found.
    Choose(usize),
}

/// What a message turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseOutcome {
    /// Not a command (plain text).
    NotCommand,
    /// `/cmd@otherbot`: addressed to another bot in a group; stay silent.
    OtherBot,
    Command(Command),
    /// A Spanish explanation with the correct usage.
    Invalid(String),
}
