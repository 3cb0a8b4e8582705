//! Configuration: `bot-config/pulso.toml` (its contents are also the built-in defaults) overridden
//! by `PULSO__SECTION__KEY` environment variables. Secrets are read only from the environment and
//! held in `SecretString`, so they cannot be printed by accident.

use std::fmt;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

/// The documented file, compiled in so a fresh machine runs with no file at all.
pub const DEFAULT_TOML: &str = include_str!("../bot-config/pulso.toml");
pub const DEFAULT_PATH: &str = "bot-config/pulso.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuración inválida en {key} ({env}): {message}")]
    Invalid { key: String, env: String, message: String },
    #[error("no se pudo leer la configuración: {0}")]
    Parse(String),
    #[error("{key} es un secreto: ponlo solo en la variable de entorno {env}, no en {file}")]
    SecretInFile { key: String, env: String, file: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        env: env_name(key),
        message: message.into(),
    }
}

/// `sync.batch_size` → `PULSO__SYNC__BATCH_SIZE`.
pub fn env_name(key: &str) -> String {
    format!("PULSO__{}", key.replace('.', "__").to_uppercase())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub office: Office,
    pub database: Database,
    pub security: Security,
    pub facebook: Facebook,
    pub sync: Sync,
    pub instagram: Instagram,
    pub telegram: Telegram,
    pub discord: Discord,
    pub email: Email,
    pub http: Http,
    pub alerts: Alerts,
    pub log: Log,
    #[serde(skip)]
    pub secrets: Secrets,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Office {
    pub name: String,
    pub time_zone: String,
}

impl Office {
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Database {
    pub url: String,
    pub max_connections: u32,
}

/// The URL may carry a password: shown redacted.
impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Security {
    pub token_key_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Facebook {
    pub graph_url: String,
    pub api_version: String,
    pub login_url: String,
    #[serde(deserialize_with = "stringish")]
    pub app_id: String,
    pub app_users: i64,
    pub calls_per_user_hour: i64,
    pub timeout_secs: i64,
}

impl Facebook {
    pub fn hourly_budget(&self) -> i64 {
        self.calls_per_user_hour * self.app_users
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sync {
    pub batch_size: i64,
    pub batch_delay_secs: i64,
    pub max_attempts: i64,
    pub retry_base_delay_ms: i64,
    pub bulk_min_interval_mins: i64,
    pub bulk_confirm_hours: i64,
    pub agent_min_interval_mins: i64,
    pub pause_threshold_pct: i64,
    pub backfill_days: i64,
    pub lookback_days: i64,
    pub post_refresh_days: i64,
    pub lease_secs: i64,
    pub page_limit_default_mins: i64,
    pub page_limit_max_wait_mins: i64,
    pub shutdown_grace_secs: i64,
}

/// `[instagram]`: each agent's professional account, read with the Page token after the Page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Instagram {
    /// Off: no Instagram call is made (discovery in the Page call still records the account).
    pub enabled: bool,
    /// Complete days of account insights read on an account's first sync (one call per day).
    pub backfill_days: i64,
}

/// Alert timings (`[alerts]`): Alertmanager's group wait, resolve wait and repeat intervals.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alerts {
    pub group_wait_secs: i64,
    pub resolve_wait_secs: i64,
    pub repeat_critical_mins: i64,
    pub repeat_urgent_mins: i64,
    pub repeat_warning_mins: i64,
    pub email_interval_mins: i64,
    pub email_retry_mins: i64,
    pub tick_secs: i64,
    pub db_timeout_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Telegram {
    pub api_url: String,
    #[serde(deserialize_with = "int_list")]
    pub admins: Vec<i64>,
    pub team_chat_id: i64,
    pub webhook_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Discord {
    pub api_url: String,
    #[serde(deserialize_with = "int_list")]
    pub admin_roles: Vec<i64>,
    pub team_channel_id: i64,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Email {
    pub smtp_url: String,
    /// `required`, `opportunistic` or `none`.
    pub tls: String,
    /// PEM file of a private CA; empty = public roots only.
    pub ca_file: String,
    pub user: String,
    pub from: String,
    #[serde(deserialize_with = "string_list")]
    pub admins: Vec<String>,
}

/// The SMTP URL may carry a password: shown redacted.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("smtp_url", &redact_url(&self.smtp_url))
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("user", &self.user)
            .field("from", &self.from)
            .field("admins", &self.admins)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Http {
    pub listen: String,
    pub public_url: String,
    /// Where `/metrics` is served; empty = on `listen`.
    pub metrics_listen: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Log {
    pub format: String,
    pub level: String,
}

/// Values that must never be printed or stored in a file.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    pub token_key: Option<SecretString>,
    pub old_token_keys: Option<SecretString>,
    pub facebook_app_secret: Option<SecretString>,
    pub telegram_token: Option<SecretString>,
    pub telegram_webhook_secret: Option<SecretString>,
    pub discord_token: Option<SecretString>,
    pub email_password: Option<SecretString>,
    /// Bearer token `/metrics` requires when set.
    pub metrics_token: Option<SecretString>,
}

/// Config keys of the secrets; each names its environment variable.
const SECRET_KEYS: [&str; 8] = [
    "security.token_key",
    "security.old_token_keys",
    "facebook.app_secret",
    "telegram.token",
    "telegram.webhook_secret",
    "discord.token",
    "email.password",
    "http.metrics_token",
];

impl Secrets {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let get = |key: &str| {
            lookup(&env_name(key))
                .filter(|v| !v.trim().is_empty())
                .map(SecretString::from)
        };
        Secrets {
            token_key: get(SECRET_KEYS[0]),
            old_token_keys: get(SECRET_KEYS[1]),
            facebook_app_secret: get(SECRET_KEYS[2]),
            telegram_token: get(SECRET_KEYS[3]),
            telegram_webhook_secret: get(SECRET_KEYS[4]),
            discord_token: get(SECRET_KEYS[5]),
            email_password: get(SECRET_KEYS[6]),
            metrics_token: get(SECRET_KEYS[7]),
        }
    }
}

impl Config {
    /// Loads the built-in defaults, then `path` if it exists, then the process environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("PULSO__")).collect();
        Self::load_from(path, &env)
    }

    /// Same as [`Config::load`] with an explicit environment, for tests.
    pub fn load_from(path: Option<&Path>, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let path: PathBuf = path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if path.exists() {
            let file = Figment::from(Toml::file(&path));
            for key in SECRET_KEYS {
                if file.find_value(key).is_ok() {
                    return Err(ConfigError::SecretInFile {
                        key: key.to_string(),
                        env: env_name(key),
                        file: path.display().to_string(),
                    });
                }
            }
            figment = figment.merge(Toml::file(&path));
        }
        let env_owned: Vec<(String, String)> = env
            .iter()
            .filter(|(k, _)| !SECRET_KEYS.iter().any(|s| env_name(s) == *k))
            .cloned()
            .collect();
        for (k, v) in &env_owned {
            let Some(rest) = k.strip_prefix("PULSO__") else {
                continue;
            };
            let key = rest.replace("__", ".").to_lowercase();
            figment = figment.merge(Serialized::default(&key, env_value(v)));
        }
        let mut config: Config = figment.extract().map_err(describe_figment_error)?;
        config.secrets = Secrets::from_lookup(&|name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but make no sense, naming the key that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.office.time_zone.parse::<Tz>().map_err(|_| {
            invalid(
                "office.time_zone",
                format!(
                    "zona horaria desconocida «{}» (ejemplo: America/Mexico_City)",
                    self.office.time_zone
                ),
            )
        })?;
        check_db_url(&self.database.url)?;
        for (key, value, optional) in [
            ("facebook.graph_url", &self.facebook.graph_url, false),
            ("facebook.login_url", &self.facebook.login_url, false),
            ("telegram.api_url", &self.telegram.api_url, false),
            ("discord.api_url", &self.discord.api_url, false),
            ("http.public_url", &self.http.public_url, false),
            ("telegram.webhook_url", &self.telegram.webhook_url, true),
        ] {
            check_base_url(key, value, optional)?;
        }
        if !self.email.smtp_url.is_empty() {
            let url = url::Url::parse(&self.email.smtp_url)
                .map_err(|e| invalid("email.smtp_url", format!("URL inválida: {e}")))?;
            if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none() {
                return Err(invalid(
                    "email.smtp_url",
                    "debe ser smtp://host:puerto o smtps://host:puerto",
                ));
            }
        }
        if !matches!(self.email.tls.as_str(), "required" | "opportunistic" | "none") {
            return Err(invalid(
                "email.tls",
                format!("debe ser required, opportunistic o none, es «{}»", self.email.tls),
            ));
        }
        for (key, value, example) in [
            ("http.listen", &self.http.listen, "127.0.0.1:8080"),
            ("http.metrics_listen", &self.http.metrics_listen, "127.0.0.1:9464"),
        ] {
            if !value.is_empty() && value.parse::<std::net::SocketAddr>().is_err() {
                return Err(invalid(
                    key,
                    format!("dirección inválida «{value}» (ejemplo: {example})"),
                ));
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "debe ser \"text\" o \"json\""));
        }
        let positive = [
            ("database.max_connections", self.database.max_connections as i64),
            ("facebook.app_users", self.facebook.app_users),
            ("facebook.calls_per_user_hour", self.facebook.calls_per_user_hour),
            ("facebook.timeout_secs", self.facebook.timeout_secs),
            ("sync.batch_size", self.sync.batch_size),
            ("sync.max_attempts", self.sync.max_attempts),
            ("sync.backfill_days", self.sync.backfill_days),
            ("sync.post_refresh_days", self.sync.post_refresh_days),
            ("sync.lease_secs", self.sync.lease_secs),
            ("instagram.backfill_days", self.instagram.backfill_days),
            ("alerts.repeat_critical_mins", self.alerts.repeat_critical_mins),
            ("alerts.repeat_urgent_mins", self.alerts.repeat_urgent_mins),
            ("alerts.repeat_warning_mins", self.alerts.repeat_warning_mins),
            ("alerts.email_interval_mins", self.alerts.email_interval_mins),
            ("alerts.email_retry_mins", self.alerts.email_retry_mins),
            ("alerts.tick_secs", self.alerts.tick_secs),
            ("alerts.db_timeout_secs", self.alerts.db_timeout_secs),
        ];
        for (key, value) in positive {
            if value < 1 {
                return Err(invalid(key, format!("debe ser al menos 1, es {value}")));
            }
        }
        let non_negative = [
            ("sync.batch_delay_secs", self.sync.batch_delay_secs),
            ("sync.retry_base_delay_ms", self.sync.retry_base_delay_ms),
            ("sync.bulk_min_interval_mins", self.sync.bulk_min_interval_mins),
            ("sync.bulk_confirm_hours", self.sync.bulk_confirm_hours),
            ("sync.agent_min_interval_mins", self.sync.agent_min_interval_mins),
            ("sync.lookback_days", self.sync.lookback_days),
            ("sync.page_limit_default_mins", self.sync.page_limit_default_mins),
            ("sync.page_limit_max_wait_mins", self.sync.page_limit_max_wait_mins),
            ("sync.shutdown_grace_secs", self.sync.shutdown_grace_secs),
            ("alerts.group_wait_secs", self.alerts.group_wait_secs),
            ("alerts.resolve_wait_secs", self.alerts.resolve_wait_secs),
        ];
        for (key, value) in non_negative {
            if value < 0 {
                return Err(invalid(key, format!("no puede ser negativo, es {value}")));
            }
        }
        if !(1..=100).contains(&self.sync.pause_threshold_pct) {
            return Err(invalid("sync.pause_threshold_pct", "debe estar entre 1 y 100"));
        }
        Ok(())
    }

    /// The effective configuration as TOML, with every secret and password redacted.
    pub fn redacted(&self) -> String {
        let mut shown = self.clone();
        shown.database.url = redact_url(&shown.database.url);
        shown.email.smtp_url = redact_url(&shown.email.smtp_url);
        let mut out = toml_string(&shown);
        out.push_str("\n# Secrets (environment only)\n");
        let s = &self.secrets;
        for (key, value) in SECRET_KEYS.iter().zip([
            &s.token_key,
            &s.old_token_keys,
            &s.facebook_app_secret,
            &s.telegram_token,
            &s.telegram_webhook_secret,
            &s.discord_token,
            &s.email_password,
            &s.metrics_token,
        ]) {
            let shown = if value.is_some() {
                "«definido, oculto»"
            } else {
                "«sin definir»"
            };
            out.push_str(&format!("# {} = {shown}\n", env_name(key)));
        }
        out
    }

    pub fn email_password(&self) -> Option<&str> {
        self.secrets.email_password.as_ref().map(|s| s.expose_secret())
    }
}

fn toml_string(config: &Config) -> String {
    // Serialising through serde_json keeps us to crates already in the tree; the sections are flat.
    let value = serde_json::to_value(config).unwrap_or_default();
    let mut out = String::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, fields) in sections {
            out.push_str(&format!("[{section}]\n"));
            if let serde_json::Value::Object(fields) = fields {
                for (k, v) in fields {
                    out.push_str(&format!("{k} = {v}\n"));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// Hides the password of a URL: `postgres://u:secret@h/db` → `postgres://u:***@h/db`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => raw.to_string(),
    }
}

fn check_db_url(url: &str) -> Result<(), ConfigError> {
    let key = "database.url";
    if let Some(path) = url.strip_prefix("sqlite:") {
        if path.trim_start_matches('/').is_empty() {
            return Err(invalid(
                key,
                "falta la ruta del archivo SQLite (ejemplo: sqlite://data/pulso.db)",
            ));
        }
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(key, format!("URL inválida «{}»: {e}", redact_url(url))))?;
    match parsed.scheme() {
        "postgres" | "postgresql" if parsed.host_str().is_some() => Ok(()),
        "postgres" | "postgresql" => Err(invalid(key, "falta el host de PostgreSQL")),
        other => Err(invalid(
            key,
            format!("esquema «{other}» no soportado: usa sqlite:// o postgres://"),
        )),
    }
}

fn check_base_url(key: &str, value: &str, optional: bool) -> Result<(), ConfigError> {
    if value.is_empty() && optional {
        return Ok(());
    }
    let url = url::Url::parse(value).map_err(|e| invalid(key, format!("URL inválida «{value}»: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(key, format!("debe ser una URL http(s) con host, es «{value}»")));
    }
    if value.ends_with('/') {
        return Err(invalid(key, "la URL base no lleva barra final"));
    }
    Ok(())
}

/// Environment values are typed like TOML scalars: integers and booleans when they look like one.
fn env_value(raw: &str) -> serde_json::Value {
    let trimmed = raw.trim();
    if let Ok(i) = trimmed.parse::<i64>() {
        return serde_json::Value::from(i);
    }
    match trimmed {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ => serde_json::Value::String(raw.to_string()),
    }
}

fn describe_figment_error(err: figment::Error) -> ConfigError {
    let key = err.path.join(".");
    if key.is_empty() {
        return ConfigError::Parse(err.to_string());
    }
    let message = match &err.kind {
        figment::error::Kind::InvalidType(actual, expected) => format!("se esperaba {expected}, se recibió {actual}"),
        figment::error::Kind::InvalidValue(actual, expected) => format!("se esperaba {expected}, se recibió {actual}"),
        other => other.to_string(),
    };
    invalid(&key, message)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrScalar<T> {
    List(Vec<T>),
    Scalar(T),
    Text(String),
}

/// Accepts a TOML list, a single number, or a comma-separated string (from the environment).
fn int_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    match ListOrScalar::<i64>::deserialize(d)? {
        ListOrScalar::List(v) => Ok(v),
        ListOrScalar::Scalar(v) => Ok(vec![v]),
        ListOrScalar::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<i64>()
                    .map_err(|_| serde::de::Error::custom(format!("«{p}» no es un número")))
            })
            .collect(),
    }
}

fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match ListOrScalar::<String>::deserialize(d)? {
        ListOrScalar::List(v) => Ok(v),
        ListOrScalar::Scalar(s) | ListOrScalar::Text(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect()),
    }
}

/// App ids are numbers that people write either quoted or not.
fn stringish<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        I(i64),
        S(String),
    }
    Ok(match S::deserialize(d)? {
        S::I(i) => i.to_string(),
        S::S(s) => s,
    })
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_from(Some(Path::new("/nonexistent/pulso.toml")), &env(pairs))
    }

    #[test]
    fn defaults_come_from_the_documented_file() {
        let c = load(&[]).unwrap();
        assert_eq!(c.database.url, "sqlite://data/pulso.db");
        assert_eq!(c.sync.batch_size, 10);
        assert_eq!(c.sync.batch_delay_secs, 5);
        assert_eq!(c.facebook.graph_url, "https://graph.facebook.com");
        assert_eq!(c.facebook.hourly_budget(), 200);
    }

    #[test]
    fn environment_overrides_and_lists_are_comma_separated() {
        let c = load(&[
            ("PULSO__SYNC__BATCH_SIZE", "20"),
            ("PULSO__TELEGRAM__ADMINS", "11111,22222"),
            ("PULSO__DISCORD__ADMIN_ROLES", "42"),
            ("PULSO__EMAIL__ADMINS", "a@x.mx, b@x.mx"),
            ("PULSO__FACEBOOK__APP_ID", "1234567890"),
            ("PULSO__TELEGRAM__TOKEN", "123:secret-token"),
        ])
        .unwrap();
        assert_eq!(c.sync.batch_size, 20);
        assert_eq!(c.telegram.admins, vec![11111, 22222]);
        assert_eq!(c.discord.admin_roles, vec![42]);
        assert_eq!(c.email.admins, vec!["a@x.mx", "b@x.mx"]);
        assert_eq!(c.facebook.app_id, "1234567890");
        assert!(c.secrets.telegram_token.is_some());
        let shown = c.redacted();
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("PULSO__TELEGRAM__TOKEN = «definido, oculto»"));
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load(&[("PULSO__SYNC__BATCH_SIZE", "-1")]).unwrap_err().to_string();
        assert!(
            err.contains("sync.batch_size") && err.contains("PULSO__SYNC__BATCH_SIZE"),
            "{err}"
        );
        let err = load(&[("PULSO__OFFICE__TIME_ZONE", "Mars/Olympus")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("office.time_zone") && err.contains("Mars/Olympus"),
            "{err}"
        );
        let err = load(&[("PULSO__FACEBOOK__GRAPH_URL", "not a url")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("facebook.graph_url"), "{err}");
        let err = load(&[("PULSO__SYNC__BATCH_SIZE", "diez")]).unwrap_err().to_string();
        assert!(err.contains("sync.batch_size"), "{err}");
        let err = load(&[("PULSO__DATABASE__URL", "mysql://x")]).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");
    }

    #[test]
    fn alert_timings_are_documented_settings() {
        let c = load(&[]).unwrap();
        assert_eq!((c.alerts.group_wait_secs, c.alerts.repeat_warning_mins), (30, 1440));
        let c = load(&[("PULSO__ALERTS__GROUP_WAIT_SECS", "5")]).unwrap();
        assert_eq!(c.alerts.group_wait_secs, 5);
        let err = load(&[("PULSO__ALERTS__REPEAT_CRITICAL_MINS", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("alerts.repeat_critical_mins") && err.contains("PULSO__ALERTS__REPEAT_CRITICAL_MINS"),
            "{err}"
        );
        let err = load(&[("PULSO__ALERTS__GROUP_WAIT_SECS", "-1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("alerts.group_wait_secs"), "{err}");
    }

    #[test]
    fn instagram_settings_are_documented_and_overridable() {
        let c = load(&[]).unwrap();
        assert!(c.instagram.enabled);
        assert_eq!(c.instagram.backfill_days, 7);
        let c = load(&[
            ("PULSO__INSTAGRAM__ENABLED", "false"),
            ("PULSO__INSTAGRAM__BACKFILL_DAYS", "3"),
        ])
        .unwrap();
        assert!(!c.instagram.enabled);
        assert_eq!(c.instagram.backfill_days, 3);
        let err = load(&[("PULSO__INSTAGRAM__BACKFILL_DAYS", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("PULSO__INSTAGRAM__BACKFILL_DAYS"), "{err}");
    }

    #[test]
    fn database_password_is_redacted() {
        let c = load(&[("PULSO__DATABASE__URL", "postgres://u:hunter2@db:5432/pulso")]).unwrap();
        let shown = c.redacted();
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("u:***@db"));
    }

    #[test]
    fn a_secret_in_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pulso.toml");
        std::fs::write(&path, "[telegram]\ntoken = \"123:abc\"\n").unwrap();
        let err = Config::load_from(Some(&path), &[]).unwrap_err().to_string();
        assert!(err.contains("PULSO__TELEGRAM__TOKEN"), "{err}");
    }
}
