use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type AgentId = i64;

/// Whether pulso can fetch an agent's Page right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    Inactive,
    Disconnected,
    NeedsReconnection,
}

impl ConnectionStatus {
    pub const ALL: [ConnectionStatus; 4] = [
        Self::Active,
        Self::Inactive,
        Self::Disconnected,
        Self::NeedsReconnection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Disconnected => "disconnected",
            Self::NeedsReconnection => "needs_reconnection",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Spanish label for chat replies.
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "✅ Conectado",
            Self::Inactive => "⏸️ Inactivo",
            Self::Disconnected => "❌ Desconectado",
            Self::NeedsReconnection => "⚠️ Requiere reconexión",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "agent" => Some(Self::Agent),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// An agent as pulso knows them. The Page token is deliberately absent: it lives encrypted in the
/// store and is decrypted only by the sync engine, so no reply or log can carry it by accident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub facebook_page_id: Option<String>,
    pub instagram_account_id: Option<String>,
    /// The linked Instagram account's @username, as last discovered.
    pub instagram_username: Option<String>,
    /// Instagram's own limit for this account (80002): its calls wait until then; Facebook goes on.
    pub instagram_paused_until: Option<DateTime<Utc>>,
    /// Why Instagram data cannot be read (e.g. a missing permission), safe to show; None when fine.
    pub instagram_problem: Option<String>,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Agent {
    /// Agents a bulk sync should visit.
    pub fn is_syncable(&self) -> bool {
        self.status == ConnectionStatus::Active && self.facebook_page_id.is_some()
    }
}

/// Case- and accent-insensitive key used to find an agent by the name someone typed in chat.
pub fn name_key(name: &str) -> String {
    name.trim()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' | 'Á' | 'À' | 'Ä' | 'Â' => 'a',
            'é' | 'è' | 'ë' | 'ê' | 'É' | 'È' | 'Ë' | 'Ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' | 'Í' | 'Ì' | 'Ï' | 'Î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' | 'Ó' | 'Ò' | 'Ö' | 'Ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' | 'Ú' | 'Ù' | 'Ü' | 'Û' => 'u',
            'ñ' | 'Ñ' => 'n',
            other => other.to_ascii_lowercase(),
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a typed agent name did not pick exactly one agent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameLookupError {
    #[error("no encontré a ningún agente llamado «{0}»")]
    NotFound(String),
    #[error("«{query}» coincide con varios agentes: {}", candidates.join(", "))]
    Ambiguous { query: String, candidates: Vec<String> },
}

/// Finds the agent someone meant: an exact name (ignoring case and accents) wins; otherwise a
/// unique agent whose name starts with, then contains, what was typed.
pub fn find_by_name<'a>(agents: &'a [Agent], query: &str) -> Result<&'a Agent, NameLookupError> {
    let key = name_key(query);
    let shown: String = query.trim().chars().take(60).collect();
    if key.is_empty() {
        return Err(NameLookupError::NotFound(shown));
    }
    let exact: Vec<&Agent> = agents.iter().filter(|a| name_key(&a.name) == key).collect();
    if exact.len() == 1 {
        return Ok(exact[0]);
    }
    let tests: [&dyn Fn(&str) -> bool; 2] = [&|n| n.starts_with(&key), &|n| n.contains(&key)];
    for test in tests {
        let found: Vec<&Agent> = agents.iter().filter(|a| test(&name_key(&a.name))).collect();
        match found.len() {
            0 => continue,
            1 => return Ok(found[0]),
            _ => {
                return Err(NameLookupError::Ambiguous {
                    query: shown,
                    candidates: found.iter().take(5).map(|a| a.name.clone()).collect(),
                });
            }
        }
    }
    Err(NameLookupError::NotFound(shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_text() {
        for s in ConnectionStatus::ALL {
            assert_eq!(ConnectionStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ConnectionStatus::parse("bogus"), None);
    }

    fn agent(id: AgentId, name: &str) -> Agent {
        Agent {
            id,
            name: name.into(),
            email: format!("{id}@x.mx"),
            role: Role::Agent,
            facebook_page_id: None,
            instagram_account_id: None,
            instagram_username: None,
            instagram_paused_until: None,
            instagram_problem: None,
            status: ConnectionStatus::Active,
            status_reason: None,
            token_expires_at: None,
            last_synced_at: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn find_by_name_prefers_exact_then_unique_prefix() {
        let agents = [agent(1, "Ana García"), agent(2, "Ana Gómez"), agent(3, "José Núñez")];
        assert_eq!(find_by_name(&agents, "jose nunez").unwrap().id, 3);
        assert_eq!(find_by_name(&agents, "José").unwrap().id, 3);
        assert_eq!(find_by_name(&agents, "ana garcia").unwrap().id, 1);
        assert!(matches!(
            find_by_name(&agents, "ana"),
            Err(NameLookupError::Ambiguous { .. })
        ));
        assert_eq!(
            find_by_name(&agents, "Pedro"),
            Err(NameLookupError::NotFound("Pedro".into()))
        );
        assert!(find_by_name(&agents, "   ").is_err());
    }

    #[test]
    fn name_key_ignores_case_accents_and_spacing() {
        assert_eq!(name_key("  José   Núñez "), "jose nunez");
        assert_eq!(name_key("MARÍA"), name_key("maria"));
    }
}
