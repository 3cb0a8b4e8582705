//! A small SMTP server on 127.0.0.1 that speaks the real protocol (EHLO/HELO, MAIL, RCPT, DATA with
//! dot-unstuffing, RSET, NOOP, QUIT) and keeps every message it accepts. No STARTTLS is offered,
//! so an opportunistic client stays on plain text.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent, CRLF line ends, dot-unstuffed.
    pub data: String,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    /// (user, password) of every successful AUTH PLAIN.
    auths: Arc<Mutex<Vec<(String, String)>>>,
    pub connections: Arc<AtomicUsize>,
    /// AUTH commands received, accepted or not.
    pub auth_attempts: Arc<AtomicUsize>,
    /// While set, every AUTH is answered `535 5.7.8` (a wrong password).
    pub reject_logins: Arc<AtomicBool>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            messages: Arc::default(),
            auths: Arc::default(),
            connections: Arc::default(),
            auth_attempts: Arc::default(),
            reject_logins: Arc::default(),
        };
        let session_state = SessionState {
            messages: sink.messages.clone(),
            auths: sink.auths.clone(),
            auth_attempts: sink.auth_attempts.clone(),
            reject_logins: sink.reject_logins.clone(),
        };
        let connections = sink.connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(session(stream, session_state.clone()));
            }
        });
        sink
    }

    pub fn auths(&self) -> Vec<(String, String)> {
        self.auths.lock().unwrap().clone()
    }

    pub fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n || tokio::time::Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[derive(Clone)]
struct SessionState {
    messages: Arc<Mutex<Vec<Received>>>,
    auths: Arc<Mutex<Vec<(String, String)>>>,
    auth_attempts: Arc<AtomicUsize>,
    reject_logins: Arc<AtomicBool>,
}

async fn session(stream: TcpStream, state: SessionState) {
    let SessionState {
        messages,
        auths,
        auth_attempts,
        reject_logins,
    } = state;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if !reply(&mut write, "220 sink.test ESMTP pulso-test-sink\r\n").await {
        return;
    }
    let mut from = String::new();
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let upper = command.to_ascii_uppercase();
        let ok = if upper.starts_with("EHLO") {
            reply(
                &mut write,
                "250-sink.test\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n",
            )
            .await
        } else if upper.starts_with("HELO") {
            reply(&mut write, "250 sink.test\r\n").await
        } else if upper.starts_with("MAIL FROM:") {
            from = angle(&command[10..]);
            rcpt.clear();
            reply(&mut write, "250 2.1.0 Ok\r\n").await
        } else if upper.starts_with("RCPT TO:") {
            rcpt.push(angle(&command[8..]));
            reply(&mut write, "250 2.1.5 Ok\r\n").await
        } else if upper == "DATA" {
            if !reply(&mut write, "354 End data with <CR><LF>.<CR><LF>\r\n").await {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            messages.lock().unwrap().push(Received {
                mail_from: from.clone(),
                rcpt_to: rcpt.clone(),
                data,
            });
            reply(&mut write, "250 2.0.0 Ok: queued\r\n").await
        } else if upper.starts_with("AUTH") && {
            auth_attempts.fetch_add(1, Ordering::SeqCst);
            reject_logins.load(Ordering::SeqCst)
        } {
            reply(&mut write, "535 5.7.8 Authentication credentials invalid\r\n").await
        } else if upper.starts_with("AUTH PLAIN ") {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(command[11..].trim())
                .unwrap_or_default();
            let fields: Vec<String> = decoded
                .split(|b| *b == 0)
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            if fields.len() == 3 {
                auths.lock().unwrap().push((fields[1].clone(), fields[2].clone()));
                reply(&mut write, "235 2.7.0 Authentication successful\r\n").await
            } else {
                reply(&mut write, "535 5.7.8 Authentication failed\r\n").await
            }
        } else if upper == "RSET" || upper == "NOOP" {
            reply(&mut write, "250 2.0.0 Ok\r\n").await
        } else if upper == "QUIT" {
            let _ = reply(&mut write, "221 2.0.0 Bye\r\n").await;
            return;
        } else {
            reply(&mut write, "502 5.5.2 Command not recognized\r\n").await
        };
        if !ok {
            return;
        }
    }
}

async fn reply(w: &mut tokio::net::tcp::OwnedWriteHalf, text: &str) -> bool {
    w.write_all(text.as_bytes()).await.is_ok()
}

fn angle(s: &str) -> String {
    let s = s.trim();
    let s = s.split_whitespace().next().unwrap_or("");
    s.trim_start_matches('<').trim_end_matches('>').to_string()
}

/// Top-level headers of a message (folded lines joined), names lower-cased.
pub fn headers(data: &str) -> Vec<(String, String)> {
    let head = data.split("\r\n\r\n").next().unwrap_or("");
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    out
}

pub fn header(data: &str, name: &str) -> Option<String> {
    headers(data).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The decoded bodies of a multipart message's parts, by content type (`text/plain`, `text/html`).
pub fn parts(data: &str) -> Vec<(String, String)> {
    let content_type = header(data, "content-type").expect("content-type");
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .expect("multipart boundary")
        .trim_matches('"')
        .to_string();
    let body = data.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let delimiter = format!("--{boundary}");
    body.split(&delimiter)
        .skip(1)
        .filter(|p| !p.starts_with("--"))
        .map(|part| {
            let part = part.trim_start_matches("\r\n");
            let (head, content) = part.split_once("\r\n\r\n").unwrap_or((part, ""));
            let head = format!("{head}\r\n\r\n");
            let ctype = header(&head, "content-type").unwrap_or_default();
            let ctype = ctype.split(';').next().unwrap().trim().to_ascii_lowercase();
            let encoding = header(&head, "content-transfer-encoding")
                .unwrap_or_else(|| "7bit".into())
                .to_ascii_lowercase();
            let content = content.trim_end_matches("\r\n");
            (ctype, decode(content, &encoding))
        })
        .collect()
}

fn decode(content: &str, encoding: &str) -> String {
    match encoding {
        "base64" => {
            use base64::Engine;
            let joined: String = content.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(joined).unwrap()).unwrap()
        }
        "quoted-printable" => {
            let mut bytes = Vec::new();
            let mut lines = content.split("\r\n").peekable();
            while let Some(line) = lines.next() {
                let (line, soft) = match line.strip_suffix('=') {
                    Some(l) => (l, true),
                    None => (line, false),
                };
                let raw = line.as_bytes();
                let mut i = 0;
                while i < raw.len() {
                    if raw[i] == b'=' && i + 3 <= raw.len() {
                        let hex = std::str::from_utf8(&raw[i + 1..i + 3]).unwrap();
                        bytes.push(u8::from_str_radix(hex, 16).unwrap());
                        i += 3;
                    } else {
                        bytes.push(raw[i]);
                        i += 1;
                    }
                }
                if !soft && lines.peek().is_some() {
                    bytes.extend_from_slice(b"\r\n");
                }
            }
            String::from_utf8(bytes).unwrap()
        }
        _ => content.to_string(),
    }
}
