//! Alert e-mail over SMTP with lettre. `email.smtp_url` names the server: `smtp://host:port`
//! (STARTTLS) or `smtps://host:port` (implicit TLS). `email.tls` is the policy: `required` (the
//! default: the connection is encrypted before any credential or message is sent), `opportunistic`
//! (STARTTLS when the server offers it, plain otherwise) or `none` (plain, for a relay on the same
//! host). `email.ca_file` adds a private CA. Credentials come from the URL, or from `email.user`
//! plus the secret `PULSO__EMAIL__PASSWORD`. A failed send is retried a few times with backoff,
//! except a refused login (535) or another permanent refusal, which is reported at once.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
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
    #[error("el servidor SMTP rechazó el usuario o la contraseña (535): revisa email.user y PULSO__EMAIL__PASSWORD")]
    Auth(#[source] lettre::transport::smtp::Error),
    #[error("el servidor SMTP no aceptó el correo")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl MailError {
    /// A refused login or another permanent (5xx) answer: retrying cannot help.
    fn is_permanent(&self) -> bool {
        match self {
            MailError::Smtp(e) => e.is_permanent(),
            _ => true,
        }
    }
}

/// How the connection to the SMTP server is protected (`email.tls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// STARTTLS on `smtp://`, implicit TLS on `smtps://`; never anything in clear.
    #[default]
    Required,
    /// STARTTLS when offered, else plain text (credentials included).
    Opportunistic,
    /// Plain text, for a relay on the same host.
    None,
}

impl TlsPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "required" => Some(Self::Required),
            "opportunistic" => Some(Self::Opportunistic),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// Everything a [`Mailer`] needs; [`Mailer::from_config`] fills it from `[email]`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp_url: String,
    pub tls: TlsPolicy,
    /// A PEM file with the CA that signed the server's certificate, besides the public roots.
    pub ca_file: Option<PathBuf>,
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
            tls: TlsPolicy::parse(&c.email.tls).unwrap_or_default(),
            ca_file: Some(PathBuf::from(&c.email.ca_file)).filter(|p| !p.as_os_str().is_empty()),
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
        let url = url::Url::parse(&s.smtp_url).map_err(|e| MailError::Config(format!("email.smtp_url: {e}")))?;
        let server = redact_url(&s.smtp_url);
        let host = url
            .host_str()
            .ok_or_else(|| MailError::Config("email.smtp_url no tiene host".into()))?
            .to_string();
        let implicit = match url.scheme() {
            "smtps" => true,
            "smtp" => false,
            scheme => {
                return Err(MailError::Config(format!(
                    "email.smtp_url debe ser smtp:// o smtps://, es {scheme}://"
                )));
            }
        };
        if url.query_pairs().any(|(k, _)| k == "tls") {
            return Err(MailError::Config(
                "email.smtp_url ya no lleva ?tls=: usa email.tls (PULSO__EMAIL__TLS) = required | opportunistic | none"
                    .into(),
            ));
        }
        let params = || -> Result<TlsParameters, MailError> {
            let mut builder = TlsParameters::builder(host.clone());
            if let Some(path) = &s.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|e| MailError::Config(format!("email.ca_file {}: {e}", path.display())))?;
                let ca = Certificate::from_pem(&pem)
                    .map_err(|e| MailError::Config(format!("email.ca_file {}: {e}", path.display())))?;
                builder = builder.add_root_certificate(ca);
            }
            Ok(builder.build_rustls()?)
        };
        let (tls, default_port) = match (implicit, s.tls) {
            (true, TlsPolicy::None) => {
                return Err(MailError::Config(
                    "smtps:// es TLS implícito: no se combina con email.tls = none".into(),
                ));
            }
            (true, _) => (Tls::Wrapper(params()?), 465),
            (false, TlsPolicy::Required) => (Tls::Required(params()?), 587),
            (false, TlsPolicy::Opportunistic) => (Tls::Opportunistic(params()?), 587),
            (false, TlsPolicy::None) => (Tls::None, 25),
        };
        let decode = |v: &str| {
            url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let url_user = (!url.username().is_empty()).then(|| decode(url.username()));
        let password = url
            .password()
            .map(|p| SecretString::from(decode(p)))
            .or_else(|| s.password.clone());
        let loopback = url::Host::parse(&host).is_ok_and(|h| match h {
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
            url::Host::Domain(d) => d == "localhost",
        });
        if s.tls == TlsPolicy::None && password.is_some() && !loopback {
            return Err(MailError::Config(
                "con email.tls = none la contraseña viajaría sin cifrar: usa required, o un relay en este mismo equipo"
                    .into(),
            ));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(s.timeout));
        if let Some(password) = password {
            let user = url_user.or_else(|| s.user.clone()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user, password.expose_secret().to_string()));
        }
        let transport = builder.build();
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

    /// A `Message-ID` under the sender's domain (lettre adds none by itself; strict receivers
    /// refuse mail without one) and a `Date`; lettre encodes a non-ASCII subject (RFC 2047).
    fn message(&self, content: &EmailContent) -> Result<Message, MailError> {
        use rand::Rng;
        let domain = self.from.email.domain().to_string();
        let unique: u128 = rand::rng().random();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(&content.subject)
            .message_id(Some(format!("<pulso.{unique:032x}@{domain}>")))
            .date_now();
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        Ok(builder.multipart(MultiPart::alternative_plain_html(
            content.text.clone(),
            content.html.clone(),
        ))?)
    }

    /// Sends to every admin, retrying transient failures with backoff; a refused login (535) or
    /// another permanent refusal is returned at once. Logs the server and the outcome, never the
    /// body or a credential.
    pub async fn send(&self, content: &EmailContent) -> Result<(), MailError> {
        let message = self.message(content)?;
        let mut attempt = 1;
        loop {
            let error = match self.transport.send(message.clone()).await {
                Ok(_) => {
                    tracing::info!(server = %self.server, recipients = self.to.len(), attempt, "correo de alerta enviado");
                    return Ok(());
                }
                Err(e) if e.status().is_some_and(|code| u16::from(code) == 535) => MailError::Auth(e),
                Err(e) => MailError::Smtp(e),
            };
            if attempt < self.attempts && !error.is_permanent() {
                let wait = self.backoff.saturating_mul(1 << (attempt - 1).min(10));
                tracing::warn!(server = %self.server, attempt, error = %crate::telemetry::Chain(&error),
                    retry_in_ms = wait.as_millis() as u64, "no se pudo enviar el correo de alerta; reintento");
                tokio::time::sleep(wait).await;
                attempt += 1;
                continue;
            }
            tracing::error!(server = %self.server, attempt, error = %crate::telemetry::Chain(&error),
                "no se pudo enviar el correo de alerta");
            return Err(error);
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
            tls: TlsPolicy::None,
            ca_file: None,
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
