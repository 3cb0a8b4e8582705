//! Who may run what, and over whose data: the ONE place where permissions are decided.
//!
//! [`access`] maps (command, caller) to [`Access`]. When allowed, the [`Scope`] says whose data the
//! reply may contain; handlers only ever read data within that scope, so an agent cannot see
//! another agent's numbers through any command (cards, ranking, export, errors). Refusals name no
//! agent and show no number.

use crate::domain::{Agent, find_by_name};

use super::commands::Command;

/// Who may read an answer. Decided here, with the permission, so that every adapter only renders it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Answer where the command was written.
    Public,
    /// Only the caller may read it: Discord ephemeral, Telegram private chat (with a short note in
    /// the group), the console as is.
    Private,
}

/// The caller as pulso knows them.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// An admin by platform configuration (Telegram user id, Discord role, the console user);
    /// possibly also linked to their own agent profile.
    Admin { agent: Option<Agent> },
    /// A chat user linked to an agent with `/vincular`.
    Agent(Agent),
    /// Someone pulso does not know yet.
    Unlinked,
}

impl Identity {
    pub fn agent(&self) -> Option<&Agent> {
        match self {
            Identity::Admin { agent } => agent.as_ref(),
            Identity::Agent(a) => Some(a),
            Identity::Unlinked => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Identity::Admin { .. })
    }
}

/// Whose data an allowed command may show.
// One short-lived value per command: an agent inline is cheaper than a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Every agent's data (admins).
    Everyone,
    /// Only this agent's data.
    Own(Agent),
    /// The command shows no metrics (help, linking).
    NoData,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    Allowed(Scope),
    /// The caller is unknown: explain how to link with `/vincular`.
    NeedsLink,
    /// A Spanish refusal that reveals no data.
    Denied(String),
}

pub const LINK_HINT: &str =
    "Todavía no te conozco. Pide a tu admin un código de vinculación y escríbelo así: /vincular CÓDIGO";
const NO_OWN_PROFILE: &str = "No tienes un perfil de agente vinculado a esta cuenta. Usa /metricas <agente> para ver a un agente, o vincúlate con /vincular <código>.";

fn admins_only(cmd: &Command) -> String {
    format!(
        "Solo un admin puede usar /{}. Escribe /ayuda para ver tus comandos.",
        cmd.name()
    )
}

/// The permission matrix.
pub fn access(cmd: &Command, who: &Identity) -> Access {
    use Command as C;
    match cmd {
        C::Ayuda | C::Start { .. } | C::Vincular { .. } => Access::Allowed(Scope::NoData),
        C::Actualizar { .. }
        | C::Metricas { .. }
        | C::Resumen { .. }
        | C::Estado
        | C::Agentes
        | C::Alertas
        | C::Silenciar { .. } => match who {
            Identity::Admin { .. } => Access::Allowed(Scope::Everyone),
            Identity::Agent(_) => Access::Denied(admins_only(cmd)),
            Identity::Unlinked => Access::NeedsLink,
        },
        C::MisMetricas { .. } | C::Conectar { .. } => match who {
            Identity::Admin { agent: Some(a) } | Identity::Agent(a) => Access::Allowed(Scope::Own(a.clone())),
            Identity::Admin { agent: None } => Access::Denied(NO_OWN_PROFILE.into()),
            Identity::Unlinked => Access::NeedsLink,
        },
        C::Ranking { .. } | C::Exportar { .. } => match who {
            Identity::Admin { .. } => Access::Allowed(Scope::Everyone),
            Identity::Agent(a) => Access::Allowed(Scope::Own(a.clone())),
            Identity::Unlinked => Access::NeedsLink,
        },
        C::ActualizarAgente { agent } => match who {
            Identity::Admin { .. } => Access::Allowed(Scope::Everyone),
            Identity::Agent(own) => match agent {
                // An agent may name themself; any other name is refused without saying whether it exists.
                Some(name) if find_by_name(std::slice::from_ref(own), name).is_err() => Access::Denied(
                    "Solo puedes actualizar tus propios datos: escribe /actualizar_agente sin nombre.".into(),
                ),
                _ => Access::Allowed(Scope::Own(own.clone())),
            },
            Identity::Unlinked => Access::NeedsLink,
        },
    }
}

/// Where the answer goes: anything about one agent (a card, an export, an agent's own ranking
/// position, linking) is private (Discord ephemeral; Telegram private chat); team views an admin
/// asks for in a group stay in the group.
pub fn visibility(cmd: &Command, access: &Access) -> Visibility {
    let personal = matches!(
        cmd,
        Command::MisMetricas { .. }
            | Command::Metricas { .. }
            | Command::Exportar { .. }
            | Command::Conectar { .. }
            | Command::Vincular { .. }
            | Command::Start { payload: Some(_) }
    );
    if personal || matches!(access, Access::Allowed(Scope::Own(_))) {
        Visibility::Private
    } else {
        Visibility::Public
    }
}
