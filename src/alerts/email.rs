//! Alert e-mail over SMTP with lettre. `email.smtp_url`: `smtp://host:port` is plain SMTP that
//! upgrades with STARTTLS when the server offers it (`?tls=required` insists, `?tls=none` never
//! tries); `smtps://host:port` is implicit TLS. Credentials come from the URL, or from `email.user`
//! plus the secret `PULSO__EMAIL__PASSWORD`. A failed send is retried a few times with backoff.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::messages::EmailContent;
use crate::config::{Config, redact_url};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("configuración de correo inválida: {0}")]
    Config(String),
    #[error("no se pudo armar el correo: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("el servidor SMTP no aceptó el correo: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// Everything a [`Mailer`] needs; [`Mailer::from_config`] fills it from `[email]`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: String,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
    pub to: Vec<String>,
    /// Per attempt: connect, TLS and each SMTP command.
    pub timeout: Duration,
    pub attempts: u32,
    /// Waits `backoff`, then twice that, … between attempts.
    pub backoff: Duration,
}

/// Sends alert e-mail. Uses lettre's connection pool (the `pool` feature), whose drop spawns a
/// task: create it anywhere, but drop it inside a Tokio runtime.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    attempts: u32,
    backoff: Duration,
    /// The SMTP URL without credentials, for logs.
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("to", &self.to.len())
            .finish()
    }
}

impl Mailer {
    /// None when e-mail is off (`email.smtp_url` empty or no `email.admins`), or misconfigured
    /// (logged: e-mail problems never stop the daemon).
    pub fn from_config(c: &Config) -> Option<Mailer> {
        if c.email.smtp_url.trim().is_empty() {
            tracing::info!("correo desactivado: email.smtp_url está vacío");
            return None;
        }
        if c.email.admins.is_empty() {
            tracing::warn!("correo desactivado: email.admins está vacío");
            return None;
        }
        let settings = MailSettings {
            smtp_url: c.email.smtp_url.clone(),
            user: Some(c.email.user.clone()).filter(|u| !u.trim().is_empty()),
            password: c.secrets.email_password.clone(),
            from: c.email.from.clone(),
            to: c.email.admins.clone(),
            timeout: Duration::from_secs(20),
            attempts: 3,
            backoff: Duration::from_secs(2),
        };
        match Mailer::new(&settings) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "correo desactivado");
                None
            }
        }
    }

    pub fn new(s: &MailSettings) -> Result<Mailer, MailError> {
        let mut url = url::Url::parse(&s.smtp_url).map_err(|e| MailError::Config(format!("email.smtp_url: {e}")))?;
        let server = redact_url(&s.smtp_url);
        let tls = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_string());
        let others: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "tls")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let tls = match (url.scheme(), tls.as_deref()) {
            ("smtps", _) => None,
            ("smtp", None) => Some("opportunistic"),
            ("smtp", Some("none")) => None,
            ("smtp", Some(mode @ ("required" | "opportunistic"))) => Some(mode),
            (scheme, mode) => {
                return Err(MailError::Config(format!(
                    "email.smtp_url debe ser smtp:// o smtps:// (tls=required|opportunistic|none); es {scheme}:// \
                     con tls={mode:?}"
                )));
            }
        };
        {
            let mut query = url.query_pairs_mut();
            query.clear();
            for (k, v) in &others {
                query.append_pair(k, v);
            }
            if let Some(mode) = tls {
                query.append_pair("tls", mode);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let url_has_password = url.password().is_some();
        let url_user = (!url.username().is_empty()).then(|| url.username().to_string());
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())?;
        if !url_has_password && let Some(password) = &s.password {
            let user = s.user.clone().or(url_user).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user, password.expose_secret().to_string()));
        }
        let transport = builder.timeout(Some(s.timeout)).build();
        let parse = |a: &str| {
            a.trim()
                .parse::<Mailbox>()
                .map_err(|e| MailError::Config(format!("dirección «{a}» inválida: {e}")))
        };
        let to = s.to.iter().map(|a| parse(a)).collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(MailError::Config("email.admins está vacío".into()));
        }
        Ok(Mailer {
            transport,
            from: parse(&s.from)?,
            to,
            attempts: s.attempts.max(1),
            backoff: s.backoff,
            server,
        })
    }

    pub fn recipients(&self) -> usize {
        self.to.len()
    }

    fn message(&self, content: &EmailContent) -> Result<Message, MailError> {
        let mut builder = Message::builder().from(self.from.clone()).subject(&content.subject);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        Ok(builder.multipart(MultiPart::alternative_plain_html(
            content.text.clone(),
            content.html.clone(),
        ))?)
    }

    /// Sends to every admin, retrying with backoff; the last error when every attempt failed.
    /// Logs the subject's severity only, never the body.
    pub async fn send(&self, content: &EmailContent) -> Result<(), MailError> {
        let message = self.message(content)?;
        let mut attempt = 1;
        loop {
            match self.transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::info!(server = %self.server, recipients = self.to.len(), attempt, "correo de alerta enviado");
                    return Ok(());
                }
                Err(e) if attempt < self.attempts => {
                    let wait = self.backoff.saturating_mul(1 << (attempt - 1).min(10));
                    tracing::warn!(server = %self.server, attempt, error = %e, retry_in_ms = wait.as_millis() as u64,
                        "no se pudo enviar el correo de alerta; reintento");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(server = %self.server, attempt, error = %e, "no se pudo enviar el correo de alerta");
                    return Err(e.into());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let env: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::load_from(Some(std::path::Path::new("/nonexistent/pulso.toml")), &env).unwrap()
    }

    #[tokio::test]
    async fn email_is_off_without_a_url_or_admins() {
        assert!(Mailer::from_config(&config(&[])).is_none());
        assert!(Mailer::from_config(&config(&[("PULSO__EMAIL__SMTP_URL", "smtp://127.0.0.1:2525")])).is_none());
        let on = config(&[
            ("PULSO__EMAIL__SMTP_URL", "smtps://mail.remax.mx"),
            ("PULSO__EMAIL__ADMINS", "jefa@remax.mx,dueno@remax.mx"),
        ]);
        let mailer = Mailer::from_config(&on).unwrap();
        assert_eq!(mailer.recipients(), 2);
    }

    #[tokio::test]
    async fn bad_schemes_and_addresses_are_refused_without_echoing_passwords() {
        let mut s = MailSettings {
            smtp_url: "smtp://u:hunter2@127.0.0.1:25?tls=maybe".into(),
            user: None,
            password: None,
            from: "pulso <pulso@remax.mx>".into(),
            to: vec!["jefa@remax.mx".into()],
            timeout: Duration::from_secs(1),
            attempts: 1,
            backoff: Duration::ZERO,
        };
        let e = Mailer::new(&s).unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        s.smtp_url = "smtp://127.0.0.1:25".into();
        s.to = vec!["no es un correo".into()];
        assert!(Mailer::new(&s).is_err());
        s.to = vec!["jefa@remax.mx".into()];
        assert!(format!("{:?}", Mailer::new(&s).unwrap()).contains("127.0.0.1"));
    }
}
