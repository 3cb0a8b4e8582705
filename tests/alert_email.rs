//! Alert e-mail end to end: lettre against an SMTP server speaking the real protocol on 127.0.0.1,
//! retries against unreachable servers, credentials from the configuration, and what the logs carry.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use pulso::alerts::Mailer;
use pulso::domain::{ConnectionStatus, Role};
use pulso::store::NewAgent;
use support::alerting::*;
use support::chat::RecordingOutbox;
use support::smtp_sink::{self, SmtpSink};

#[tokio::test]
async fn urgent_failures_reach_the_admins_by_email_with_text_and_html() {
    let s = setup().await;
    // Ana's token broke: the alert must tell the admin to ask her to reconnect.
    let ana = s
        .store
        .upsert_agent(
            &NewAgent {
                name: "Ana".into(),
                email: "ana@remax.mx".into(),
                role: Role::Agent,
                facebook_page_id: Some("1".into()),
                instagram_account_id: None,
            },
            start(),
        )
        .await
        .unwrap()
        .0;
    s.store
        .set_agent_status(ana.id, ConnectionStatus::Disconnected, Some("token"), start())
        .await
        .unwrap();
    let sink = SmtpSink::start().await;
    let chat = Arc::new(RecordingOutbox::default());
    let mailer = Mailer::new(&mail_settings(sink.addr.port())).unwrap();
    let alerts = s.alerts(chat.clone(), Some(mailer));
    let mut failed = failures(7);
    failed[0] = (ana.id, "Ana", "el token de Facebook ya no es válido");

    alerts.observe(&report(3, 20, &failed)).await.unwrap();
    alerts.flush_emails().await;
    assert!(sink.messages().is_empty(), "nothing before the group wait");
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    alerts.flush_emails().await;

    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1, "one e-mail for the run");
    let mail = &mails[0];
    assert_eq!(mail.mail_from, "pulso@remax.mx");
    assert_eq!(mail.rcpt_to, vec!["jefa@remax.mx", "dueno@remax.mx"]);
    let subject = smtp_sink::header(&mail.data, "subject").unwrap();
    assert_eq!(subject, "[pulso] URGENTE: 7 agentes fallaron al sincronizar");
    assert!(
        smtp_sink::header(&mail.data, "from")
            .unwrap()
            .contains("pulso@remax.mx")
    );
    let to = smtp_sink::header(&mail.data, "to").unwrap();
    assert!(to.contains("jefa@remax.mx") && to.contains("dueno@remax.mx"), "{to}");
    assert!(
        smtp_sink::header(&mail.data, "content-type")
            .unwrap()
            .starts_with("multipart/alternative")
    );
    let parts = smtp_sink::parts(&mail.data);
    let kinds: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, vec!["text/plain", "text/html"]);
    let (text, html) = (&parts[0].1, &parts[1].1);
    assert!(text.contains("URGENTE: 7 agentes fallaron al sincronizar"), "{text}");
    assert!(text.contains("• Ana: el token de Facebook ya no es válido → pide a Ana que use /conectar"));
    assert!(text.contains("• Beto: Facebook no respondió (error temporal) (tras 3 intentos) → se reintentará"));
    assert!(text.contains("Qué hacer"));
    assert!(html.contains("<li>Ana: el token de Facebook ya no es válido → pide a Ana que use /conectar</li>"));
    assert!(html.contains("<h2"));

    // Chat got the same alert; the failure family spoke once (urgent inhibits warning and info).
    let team = chat.team();
    assert_eq!(team.len(), 1, "{team:?}");
    assert!(
        team[0].starts_with("🚨 URGENTE: 7 agentes fallaron al sincronizar"),
        "{}",
        team[0]
    );
    assert!(team[0].contains("pide a Ana que use /conectar"));

    // The e-mail is not repeated with the 4-hour chat repeat, only after a day.
    s.advance(4 * 3600);
    alerts.evaluate_now().await.unwrap();
    alerts.flush_emails().await;
    assert_eq!(chat.team().len(), 2);
    assert_eq!(sink.messages().len(), 1);
    s.advance(20 * 3600);
    alerts.evaluate_now().await.unwrap();
    alerts.flush_emails().await;
    assert_eq!(sink.wait_for(2, Duration::from_secs(5)).await.len(), 2);
}

#[tokio::test]
async fn warnings_are_emailed_too() {
    let s = setup().await;
    let sink = SmtpSink::start().await;
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(
        chat.clone(),
        Some(Mailer::new(&mail_settings(sink.addr.port())).unwrap()),
    );
    // Exactly five failed agents: the warning, not yet the urgent alert.
    alerts.observe(&report(5, 20, &failures(5))).await.unwrap();
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    alerts.flush_emails().await;
    let team = chat.team();
    assert_eq!(team.len(), 1, "{team:?}");
    assert!(team[0].starts_with("⚠️"), "a warning: {}", team[0]);
    let mails = sink.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1, "the warning went out by e-mail too");
    let subject = smtp_sink::header(&mails[0].data, "subject").unwrap();
    assert!(decode_rfc2047(&subject).starts_with("[pulso] AVISO"), "{subject}");
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_retried_and_neither_panics_nor_blocks() {
    // A port where nothing listens: connection refused on every attempt.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mailer = Mailer::new(&mail_settings(closed)).unwrap();
    let content = pulso::alerts::messages::EmailContent {
        subject: "[pulso] URGENTE: prueba".into(),
        text: "texto".into(),
        html: "<p>html</p>".into(),
    };
    let started = Instant::now();
    assert!(mailer.send(&content).await.is_err());
    // Three attempts with 100 ms then 200 ms between them.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // A server that accepts and hangs up at once: each attempt is a new connection.
    let flaky = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = flaky.local_addr().unwrap().port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = flaky.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    let mailer = Mailer::new(&mail_settings(port)).unwrap();
    assert!(mailer.send(&content).await.is_err());
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);

    // Inside Alerts the e-mail goes in the background: chat is delivered while the SMTP server
    // has not even greeted. This one accepts and never answers; if the evaluation waited for the
    // e-mail it would never return (the timeout is only a guard against hanging the suite).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let (held_tx, mut held) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = silent.accept().await {
            let _ = held_tx.send(stream);
        }
    });
    let mut patient = mail_settings(silent_port);
    patient.timeout = Duration::from_secs(3600);
    patient.attempts = 1;
    let s = setup().await;
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(chat.clone(), Some(Mailer::new(&patient).unwrap()));
    alerts.observe(&report(1, 20, &failures(8))).await.unwrap();
    s.advance(31);
    tokio::time::timeout(Duration::from_secs(60), alerts.evaluate_now())
        .await
        .expect("the evaluation must not wait for the e-mail")
        .unwrap();
    assert_eq!(chat.team().len(), 1);
    let _connection = held.recv().await.expect("the e-mail is on its way, still unanswered");

    // A failed e-mail is not marked sent, and not retried on every tick.
    let s = setup().await;
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(chat.clone(), Some(Mailer::new(&mail_settings(closed)).unwrap()));
    alerts.observe(&report(1, 20, &failures(8))).await.unwrap();
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    assert_eq!(chat.team().len(), 1);
    alerts.flush_emails().await;
    let open = s.store.open_alerts().await.unwrap();
    let urgent = open.iter().find(|a| a.rule == "sync_fallos_muchos").unwrap();
    assert_eq!(urgent.email_count, 0, "a failed e-mail is not marked sent");
    // Not retried on every tick: only after email_retry_after.
    s.advance(60);
    alerts.evaluate_now().await.unwrap();
    alerts.flush_emails().await;
    assert_eq!(chat.team().len(), 1);
}

#[tokio::test]
async fn smtp_credentials_come_from_the_url_or_from_email_user_and_the_password_secret() {
    let sink = SmtpSink::start().await;
    let port = sink.addr.port();
    let env = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    let content = pulso::alerts::messages::EmailContent {
        subject: "[pulso] CRÍTICO: prueba de credenciales".into(),
        text: "texto".into(),
        html: "<p>html</p>".into(),
    };
    let from_secret = pulso::config::Config::load_from(
        Some(std::path::Path::new("/nonexistent/pulso.toml")),
        &env(&[
            ("PULSO__EMAIL__SMTP_URL", format!("smtp://127.0.0.1:{port}")),
            ("PULSO__EMAIL__TLS", "none".into()),
            ("PULSO__EMAIL__USER", "alertas@remax.mx".into()),
            ("PULSO__EMAIL__PASSWORD", "s3cr3t".into()),
            ("PULSO__EMAIL__ADMINS", "jefa@remax.mx".into()),
        ]),
    )
    .unwrap();
    Mailer::from_config(&from_secret).unwrap().send(&content).await.unwrap();
    let in_url = pulso::config::Config::load_from(
        Some(std::path::Path::new("/nonexistent/pulso.toml")),
        &env(&[
            (
                "PULSO__EMAIL__SMTP_URL",
                format!("smtp://url%40remax.mx:p%40ss@127.0.0.1:{port}"),
            ),
            ("PULSO__EMAIL__TLS", "none".into()),
            ("PULSO__EMAIL__PASSWORD", "ignored".into()),
            ("PULSO__EMAIL__ADMINS", "jefa@remax.mx".into()),
        ]),
    )
    .unwrap();
    Mailer::from_config(&in_url).unwrap().send(&content).await.unwrap();
    assert_eq!(
        sink.auths(),
        vec![
            ("alertas@remax.mx".to_string(), "s3cr3t".to_string()),
            ("url@remax.mx".to_string(), "p@ss".to_string())
        ]
    );
    let mails = sink.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 2);
    let subject = smtp_sink::header(&mails[0].data, "subject").unwrap();
    // Non-ASCII words of the subject are RFC 2047 encoded ("CRÍTICO").
    assert!(
        subject.contains("=?utf-8?b?") && subject.ends_with("prueba de credenciales"),
        "{subject}"
    );
}

fn content(subject: &str) -> pulso::alerts::messages::EmailContent {
    pulso::alerts::messages::EmailContent {
        subject: subject.into(),
        text: "texto".into(),
        html: "<p>html</p>".into(),
    }
}

#[tokio::test]
async fn every_email_has_a_message_id_a_date_and_an_encoded_subject() {
    let sink = SmtpSink::start().await;
    let mailer = Mailer::new(&mail_settings(sink.addr.port())).unwrap();
    mailer
        .send(&content("[pulso] CRÍTICO: base de datos caída"))
        .await
        .unwrap();
    mailer
        .send(&content("[pulso] ✅ Resuelto: base de datos caída"))
        .await
        .unwrap();
    let mails = sink.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 2);
    let (mut ids, mut subjects) = (Vec::new(), Vec::new());
    for mail in &mails {
        let id = smtp_sink::header(&mail.data, "message-id").expect("Message-ID header");
        assert!(id.starts_with('<') && id.ends_with("@remax.mx>"), "{id}");
        ids.push(id);
        let date = smtp_sink::header(&mail.data, "date").expect("Date header");
        chrono::DateTime::parse_from_rfc2822(&date).unwrap_or_else(|e| panic!("Date «{date}»: {e}"));
        let subject = smtp_sink::header(&mail.data, "subject").unwrap();
        assert!(
            subject.is_ascii() && subject.contains("=?utf-8?b?"),
            "RFC 2047: {subject}"
        );
        subjects.push(decode_rfc2047(&subject));
    }
    assert_eq!(
        subjects,
        vec![
            "[pulso] CRÍTICO: base de datos caída",
            "[pulso] ✅ Resuelto: base de datos caída"
        ]
    );
    assert_ne!(ids[0], ids[1], "each message gets its own Message-ID");
}

/// Decodes RFC 2047 `=?utf-8?b?…?=` words; whitespace between two encoded words is dropped.
fn decode_rfc2047(header: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut previous_encoded = false;
    for (i, word) in header.split(' ').enumerate() {
        let decoded = word
            .strip_prefix("=?utf-8?b?")
            .and_then(|w| w.strip_suffix("?="))
            .map(|b| String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap());
        if i > 0 && !(previous_encoded && decoded.is_some()) {
            out.push(' ');
        }
        previous_encoded = decoded.is_some();
        out.push_str(decoded.as_deref().unwrap_or(word));
    }
    out
}

#[tokio::test]
async fn a_refused_login_is_reported_at_once_as_an_authentication_failure() {
    let sink = SmtpSink::start().await;
    sink.reject_logins.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut settings = mail_settings(sink.addr.port());
    settings.smtp_url = format!("smtp://alertas:mala@127.0.0.1:{}", sink.addr.port());
    settings.attempts = 3;
    let error = Mailer::new(&settings)
        .unwrap()
        .send(&content("[pulso] CRÍTICO: prueba"))
        .await
        .unwrap_err();
    assert!(matches!(error, pulso::alerts::MailError::Auth(_)), "{error:?}");
    assert!(error.to_string().contains("usuario o la contraseña"), "{error}");
    assert!(!error.to_string().contains("mala"));
    assert_eq!(
        sink.auth_attempts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "not retried"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn required_tls_never_sends_credentials_to_a_server_without_starttls() {
    // The sink offers no STARTTLS, like a downgrade by someone in the middle.
    let sink = SmtpSink::start().await;
    let mut settings = mail_settings(sink.addr.port());
    settings.smtp_url = format!("smtp://alertas:secreta@127.0.0.1:{}", sink.addr.port());
    settings.tls = pulso::alerts::TlsPolicy::Required;
    settings.attempts = 1;
    let sent = Mailer::new(&settings)
        .unwrap()
        .send(&content("[pulso] CRÍTICO: prueba"))
        .await;
    assert!(sent.is_err());
    assert_eq!(
        sink.connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "it did try"
    );
    assert_eq!(sink.auth_attempts.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(sink.auths().is_empty() && sink.messages().is_empty());

    // `required` is the default of the configuration, and `none` refuses to carry a password to
    // another host.
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    };
    let config = pulso::config::Config::load_from(
        Some(std::path::Path::new("/nonexistent/pulso.toml")),
        &env(&[("PULSO__EMAIL__SMTP_URL", "smtp://mail.remax.mx")]),
    )
    .unwrap();
    assert_eq!(config.email.tls, "required");
    settings.smtp_url = "smtp://alertas:secreta@mail.remax.mx:25".into();
    settings.tls = pulso::alerts::TlsPolicy::None;
    let refused = Mailer::new(&settings).unwrap_err().to_string();
    assert!(
        refused.contains("sin cifrar") && !refused.contains("secreta"),
        "{refused}"
    );
}

/// Captures log output in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn json_logs_carry_ids_as_fields_and_never_message_text_or_secrets() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = pulso::telemetry::json_subscriber(
        tracing_subscriber::EnvFilter::new("pulso=debug,alert_email=info"),
        move || writer.clone(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = setup().await;
    let sink = SmtpSink::start().await;
    let mut mail = mail_settings(sink.addr.port());
    mail.smtp_url = format!("smtp://alertas:hunter2@127.0.0.1:{}", sink.addr.port());
    let chat = Arc::new(RecordingOutbox::default());
    let alerts = s.alerts(chat.clone(), Some(Mailer::new(&mail).unwrap()));
    alerts.observe(&report(41, 20, &failures(7))).await.unwrap();
    s.advance(31);
    alerts.evaluate_now().await.unwrap();
    alerts.flush_emails().await;
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).await.len(), 1);
    assert_eq!(chat.team().len(), 1);
    // A real /alertas from an admin who is also agent Ana, through the chat core.
    let ana = s
        .store
        .upsert_agent(
            &NewAgent {
                name: "Ana".into(),
                email: "ana@remax.mx".into(),
                role: Role::Admin,
                facebook_page_id: None,
                instagram_account_id: None,
            },
            start(),
        )
        .await
        .unwrap()
        .0;
    let tz: chrono_tz::Tz = "America/Mexico_City".parse().unwrap();
    let cipher = Arc::new(
        pulso::crypto::TokenCipher::new(
            "k1",
            Some(&secrecy::SecretString::from(pulso::crypto::generate_key_b64())),
            None,
        )
        .unwrap(),
    );
    let engine = pulso::sync::SyncEngine::new(
        s.store.clone(),
        Arc::new(support::scripted::ScriptedSource::default()),
        cipher,
        s.clock.clone(),
        support::sync_settings(),
        tz,
    );
    let core = pulso::chat::ChatCore::new(
        s.store.clone(),
        Arc::new(pulso::queries::Queries::new(s.store.clone(), tz)),
        engine,
        tz,
        Some(Arc::new(alerts.clone())),
        None,
    );
    let caller = pulso::chat::Caller {
        platform: pulso::chat::Platform::Console,
        user_id: "jefa".into(),
        is_admin: true,
        chat: pulso::chat::ChatKind::Private,
        assume_agent: Some(ana.id),
    };
    let reply = core.handle(&caller, "/alertas", None).await.unwrap();
    assert!(reply.text.contains("agentes fallaron"), "{}", reply.text);

    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    let activated = lines
        .iter()
        .find(|l| l["message"] == "alerta activada" && l["alert"] == "sync_fallos_muchos")
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(activated["job_id"], 41, "job id is a top-level field: {activated}");
    assert!(activated["alert_id"].is_i64());
    assert!(lines.iter().any(|l| l["message"] == "alerta enviada al chat"));
    assert!(lines.iter().any(|l| l["message"] == "correo de alerta enviado"));
    let command = lines
        .iter()
        .find(|l| l["message"] == "comando atendido")
        .unwrap_or_else(|| panic!("the core logs every handled command:\n{text}"));
    assert_eq!(
        (
            command["command"].as_str(),
            command["agent_id"].as_i64(),
            command["platform"].as_str(),
            command["user_id"].as_str(),
            command["outcome"].as_str()
        ),
        (Some("alertas"), Some(ana.id), Some("console"), Some("jefa"), Some("ok"))
    );
    // Never the chat text, the e-mail body or the SMTP password.
    for forbidden in ["Qué hacer", "• Ana", "Facebook no respondió", "hunter2", "<h2"] {
        assert!(!text.contains(forbidden), "logs contain «{forbidden}»:\n{text}");
    }
}
