//! Operator actions shared by the CLI and chat: importing agents from CSV and issuing link codes.

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use secrecy::SecretString;

use crate::crypto::TokenCipher;
use crate::domain::{AgentId, ConnectionStatus, Role};
use crate::store::{NewAgent, Store, StoreError, Upserted};

/// Columns of `pulso agents import`; the last is optional.
pub const IMPORT_COLUMNS: [&str; 5] = [
    "name",
    "email",
    "facebook_page_id",
    "facebook_token",
    "telegram_user_id",
];

#[derive(Debug, Default, PartialEq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// (line number in the file, what is wrong), for rows that were not imported.
    pub rejected: Vec<(u64, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("el archivo no es un CSV legible: {0}")]
    Unreadable(String),
    #[error(
        "faltan columnas en la cabecera: {0} (se esperan: name,email,facebook_page_id,facebook_token,telegram_user_id)"
    )]
    MissingColumns(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct ImportRow {
    name: String,
    email: String,
    page_id: Option<String>,
    token: Option<String>,
    telegram_user_id: Option<String>,
}

fn validate_row(fields: &HashMap<&str, String>) -> Result<ImportRow, String> {
    let get = |k: &str| fields.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let name = get("name").ok_or("falta el nombre")?;
    if name.chars().count() > 120 {
        return Err("el nombre es demasiado largo (máximo 120 caracteres)".into());
    }
    let email = get("email").ok_or("falta el correo")?.to_lowercase();
    let valid_email = email
        .split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace));
    if !valid_email {
        return Err(format!("correo inválido «{email}»"));
    }
    let page_id = get("facebook_page_id");
    if let Some(id) = &page_id
        && !id.chars().all(|c| c.is_ascii_digit())
    {
        return Err(format!("facebook_page_id debe ser numérico, es «{id}»"));
    }
    let token = get("facebook_token");
    if token.is_some() && page_id.is_none() {
        return Err("hay token pero falta facebook_page_id".into());
    }
    let telegram_user_id = get("telegram_user_id");
    if let Some(id) = &telegram_user_id
        && id.parse::<i64>().is_err()
    {
        return Err(format!("telegram_user_id debe ser numérico, es «{id}»"));
    }
    Ok(ImportRow {
        name,
        email,
        page_id,
        token,
        telegram_user_id,
    })
}

/// Imports agents: re-importing updates by email and never duplicates; a bad row is reported with
/// its line number and the other rows still import.
pub async fn import_agents_csv(
    store: &dyn Store,
    cipher: &TokenCipher,
    input: impl Read,
    now: DateTime<Utc>,
) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportError::Unreadable(e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
        .collect();
    let missing: Vec<&str> = IMPORT_COLUMNS[..4]
        .iter()
        .copied()
        .filter(|c| !headers.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns(missing.join(", ")));
    }
    let mut report = ImportReport::default();
    let mut seen_emails: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.rejected.push((line, format!("fila ilegible: {e}")));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let fields: HashMap<&str, String> = headers
            .iter()
            .map(String::as_str)
            .zip(record.iter().map(String::from))
            .collect();
        let row = match validate_row(&fields) {
            Ok(row) => row,
            Err(why) => {
                report.rejected.push((line, why));
                continue;
            }
        };
        if let Some(first) = seen_emails.get(&row.email) {
            report.rejected.push((
                line,
                format!("correo {} repetido (ya aparece en la línea {first})", row.email),
            ));
            continue;
        }
        seen_emails.insert(row.email.clone(), line);
        match import_row(store, cipher, &row, now).await {
            Ok(Upserted::Created) => report.created += 1,
            Ok(Upserted::Updated) => report.updated += 1,
            Err(e) if e.is_unavailable() => return Err(e.into()),
            Err(e) => report.rejected.push((line, e.to_string())),
        }
    }
    Ok(report)
}

async fn import_row(
    store: &dyn Store,
    cipher: &TokenCipher,
    row: &ImportRow,
    now: DateTime<Utc>,
) -> Result<Upserted, StoreError> {
    let (agent, outcome) = store
        .upsert_agent(
            &NewAgent {
                name: row.name.clone(),
                email: row.email.clone(),
                role: Role::Agent,
                facebook_page_id: row.page_id.clone(),
                instagram_account_id: None,
            },
            now,
        )
        .await?;
    if let Some(token) = &row.token {
        let encrypted = cipher.encrypt(agent.id, &SecretString::from(token.clone()));
        store.set_agent_token(agent.id, &encrypted, None, now).await?;
        store
            .set_agent_status(agent.id, ConnectionStatus::Active, None, now)
            .await?;
    }
    if let Some(tg) = &row.telegram_user_id {
        store.link_identity("telegram", tg, agent.id, now).await?;
    }
    Ok(outcome)
}

/// Alphabet without look-alikes (0/O, 1/I/L), so codes survive being read aloud or retyped.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const LINK_CODE_TTL_HOURS: i64 = 24;

/// A random code of `len` characters from an alphabet without look-alikes.
pub fn random_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// Creates a single-use code for `/vincular`, valid for 24 hours.
pub async fn issue_link_code(store: &dyn Store, agent: AgentId, now: DateTime<Utc>) -> Result<String, StoreError> {
    let code = random_code(8);
    store
        .create_link_code(agent, &code, now, now + Duration::hours(LINK_CODE_TTL_HOURS))
        .await?;
    Ok(code)
}
