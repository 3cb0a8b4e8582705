//! The Facebook Login callback: state check, code exchange, permissions, the Pages the login can
//! read, and the HTML page the browser sees. Nothing is stored for the agent here: the Pages wait
//! (encrypted) until the agent confirms one in their own chat (`pages.rs`), because whoever opened
//! the link may not be the agent who asked for it.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::texts::{account_label, capitalize, confirmation_request, login_reason, page_label, page_taken_for_agent};
use super::*;

/// Why a connection attempt failed: a Spanish text for the browser and, for a live link, the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    /// The agent the (authentic) state named; None when the state was forged or missing.
    agent: Option<AgentId>,
    /// Whether the agent is also told in chat (not for a used or expired link: replaying one must
    /// not write to anyone's chat).
    tell_chat: bool,
    title: &'static str,
    message: String,
    /// Short label for logs (no secrets).
    kind: &'static str,
}

impl Failure {
    fn new(agent: Option<AgentId>, kind: &'static str, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            agent,
            tell_chat: agent.is_some(),
            title,
            message: message.into(),
            kind,
        }
    }

    /// Answered in the browser only.
    fn browser_only(mut self) -> Self {
        self.tell_chat = false;
        self
    }
}

/// A successful callback: the Pages wait for the agent's confirmation in chat.
struct Pending {
    account: String,
    pages: Vec<String>,
    /// Whether the confirmation request reached the agent's chat.
    told: bool,
}

impl Onboarding {
    /// Handles one callback request; returns the HTTP status and the HTML page.
    pub async fn handle_callback(&self, query: &HashMap<String, String>) -> (StatusCode, String) {
        match self.callback_flow(query).await {
            Ok(pending) => (StatusCode::OK, pending_page(&pending)),
            Err(failure) => {
                tracing::warn!(
                    agent_id = failure.agent,
                    kind = failure.kind,
                    "conexión de Facebook rechazada"
                );
                let mut told_in_chat = false;
                if let (Some(agent), true) = (failure.agent, failure.tell_chat) {
                    let mut message = OutMessage::text(format!(
                        "❌ No se pudo conectar tu página de Facebook: {}\nPara intentarlo de nuevo pulsa el botón (el enlace vale {LINK_TTL_MINUTES} minutos).",
                        failure.message
                    ));
                    match self.login_url(agent).await {
                        Ok(link) => message.buttons.push(Button::link(RETRY_BUTTON, link)),
                        Err(_) => {
                            message.text = format!("❌ No se pudo conectar tu página de Facebook: {}", failure.message)
                        }
                    }
                    told_in_chat = self.send_to_agent(agent, message).await;
                }
                let next = if told_in_chat {
                    "Vuelve al chat: ahí tienes un enlace nuevo para intentarlo otra vez."
                } else {
                    "Vuelve al chat y escribe /conectar para intentarlo otra vez."
                };
                (
                    StatusCode::BAD_REQUEST,
                    html::page(failure.title, &[&failure.message, next]),
                )
            }
        }
    }

    async fn callback_flow(&self, q: &HashMap<String, String>) -> Result<Pending, Failure> {
        let now = Utc::now();
        let param = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let forged = || {
            Failure::new(
                None,
                "state_invalid",
                "Enlace no válido",
                "Este enlace de conexión no es válido. Pide uno nuevo en el chat con /conectar.",
            )
        };
        let verified = match param("state").map(|s| self.signer.verify(s, now)) {
            None | Some(Err(StateError::Forged)) => return Err(forged()),
            Some(Err(StateError::Expired(v))) => {
                return Err(Failure::new(
                    Some(v.agent),
                    "state_expired",
                    "Enlace vencido",
                    format!("El enlace de conexión venció (dura {LINK_TTL_MINUTES} minutos)."),
                )
                .browser_only());
            }
            Some(Ok(v)) => v,
        };
        let agent = match self.store.agent(verified.agent).await {
            Ok(Some(agent)) => agent,
            Ok(None) => return Err(forged()),
            Err(e) => {
                tracing::error!(error = %e, "base de datos no disponible en el callback de Facebook");
                return Err(unavailable(None));
            }
        };
        let first_use = self
            .store
            .use_oauth_state(&verified.nonce, agent.id, verified.expires_at, now)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "no se pudo registrar el uso del enlace de conexión");
                unavailable(Some(agent.id))
            })?;
        if !first_use {
            return Err(Failure::new(
                Some(agent.id),
                "state_reused",
                "Enlace ya usado",
                "Este enlace de conexión ya se usó; cada enlace sirve una sola vez.",
            )
            .browser_only());
        }
        if let Some(error) = param("error") {
            let denied = error == "access_denied" || param("error_reason") == Some("user_denied");
            return Err(Failure::new(
                Some(agent.id),
                "login_denied",
                "Conexión cancelada",
                if denied {
                    "No se concedió el permiso en Facebook, así que pulso no puede leer tu página."
                } else {
                    "Facebook no completó el inicio de sesión."
                },
            ));
        }
        let Some(code) = param("code") else {
            return Err(Failure::new(
                Some(agent.id),
                "code_missing",
                "Falta el código de Facebook",
                "Facebook no envió el código de autorización.",
            ));
        };
        self.login_and_offer(&agent, code).await
    }

    /// Exchanges the code, checks the permissions, finds the Pages the login can read (the agent's
    /// configured Page, or every Page it manages) and asks the agent to confirm in chat.
    async fn login_and_offer(&self, agent: &Agent, code: &str) -> Result<Pending, Failure> {
        let id = Some(agent.id);
        let short = self
            .graph
            .exchange_code(code, &self.redirect_uri())
            .await
            .map_err(|e| graph_failure(id, "code_exchange", &e))?;
        let long = self
            .graph
            .exchange_long_lived(&short.token)
            .await
            .map_err(|e| graph_failure(id, "long_lived_exchange", &e))?;
        let user_info = self
            .debug(&long.token)
            .await
            .map_err(|e| graph_failure(id, "debug_token", &e))?;
        let scopes = match user_info {
            Some(info) => {
                if !info.is_valid {
                    return Err(Failure::new(
                        id,
                        "user_token_invalid",
                        "Permiso no válido",
                        "Facebook dice que el permiso recién concedido no es válido.",
                    ));
                }
                let missing: Vec<&str> = self
                    .settings
                    .permissions
                    .iter()
                    .filter(|p| !is_optional_permission(p) && !info.scopes.iter().any(|s| s == *p))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(Failure::new(
                        id,
                        "permissions_missing",
                        "Faltan permisos",
                        format!(
                            "Faltan permisos de Facebook: {}. Al conectar, acepta todos los permisos que pide pulso.",
                            missing.join(", ")
                        ),
                    ));
                }
                info.scopes
            }
            None => Vec::new(),
        };
        let pages = self
            .graph
            .my_pages(&long.token)
            .await
            .map_err(|e| graph_failure(id, "my_pages", &e))?;
        let not_managed = |page_id: &str| {
            Failure::new(
                id,
                "page_not_managed",
                "Página no administrada",
                format!(
                    "La cuenta de Facebook con la que entraste no administra la página configurada para ti ({page_id}). Entra con la cuenta que administra esa página, o pide al administrador que corrija tu página."
                ),
            )
        };
        let offered: Vec<PageAccess> = match agent.facebook_page_id.as_deref() {
            // The configured Page decides; Business-owned Pages are missing from /me/accounts but
            // readable by id.
            Some(known) => match pages.into_iter().find(|p| p.page_id == known) {
                Some(page) => vec![page],
                None => match self.graph.page_access(known, &long.token).await {
                    Ok(page) => vec![page],
                    Err(FetchError::Permission { .. } | FetchError::NotFound { .. }) => {
                        return Err(not_managed(known));
                    }
                    Err(e) => return Err(graph_failure(id, "page_access", &e)),
                },
            },
            None if pages.is_empty() => {
                return Err(Failure::new(
                    id,
                    "no_pages",
                    "Sin páginas",
                    "Tu cuenta de Facebook no administra ninguna página, o no compartiste ninguna con pulso. Al conectar, selecciona tu página.",
                ));
            }
            None => pages,
        };
        let account = self
            .graph
            .me(&long.token)
            .await
            .map_err(|e| graph_failure(id, "me", &e))?;
        let offered = self.without_taken_pages(agent, offered).await?;
        let candidates: Vec<PageCandidate> = offered
            .iter()
            .enumerate()
            .map(|(i, p)| PageCandidate {
                position: i as i64 + 1,
                page_id: p.page_id.clone(),
                page_name: p.name.clone(),
                token_encrypted: self.cipher.encrypt(agent.id, &p.token),
                token_expires_at: long.expires_at,
                scopes: scopes.clone(),
            })
            .collect();
        let now = Utc::now();
        self.store
            .set_page_candidates(agent.id, &candidates, now + Duration::minutes(CHOICE_TTL_MINUTES), now)
            .await
            .map_err(|e| {
                tracing::error!(agent_id = agent.id, error = %e, "no se pudieron guardar las páginas por confirmar");
                unavailable(Some(agent.id))
            })?;
        let (text, buttons) = confirmation_request(&account, &candidates);
        let told = self
            .send_to_agent(
                agent.id,
                OutMessage {
                    text,
                    attachment: None,
                    buttons,
                },
            )
            .await;
        tracing::info!(
            agent_id = agent.id,
            pages = candidates.len(),
            "páginas de Facebook en espera de confirmación en el chat"
        );
        Ok(Pending {
            account: account_label(&account),
            pages: candidates
                .iter()
                .map(|c| page_label(&c.page_id, &c.page_name))
                .collect(),
            told,
        })
    }

    /// Drops the Pages another agent already has; when none is left, the agent and the team chat
    /// hear why and nothing is kept.
    async fn without_taken_pages(&self, agent: &Agent, offered: Vec<PageAccess>) -> Result<Vec<PageAccess>, Failure> {
        let agents = self.store.agents().await.map_err(|e| {
            tracing::error!(error = %e, "no se pudo leer la lista de agentes");
            unavailable(Some(agent.id))
        })?;
        let owner_of = |page_id: &str| {
            agents
                .iter()
                .find(|a| a.id != agent.id && a.facebook_page_id.as_deref() == Some(page_id))
        };
        let Some(first) = offered.first() else {
            return Ok(offered);
        };
        let taken = offered.iter().all(|p| owner_of(&p.page_id).is_some());
        if !taken {
            return Ok(offered.into_iter().filter(|p| owner_of(&p.page_id).is_none()).collect());
        }
        let owner = owner_of(&first.page_id).map(|a| a.name.clone()).unwrap_or_default();
        let name = page_label(&first.page_id, &first.name);
        self.tell_team_page_taken(agent, &name, &first.page_id, &owner).await;
        Err(Failure::new(
            Some(agent.id),
            "page_taken",
            "Página de otro agente",
            page_taken_for_agent(&name),
        ))
    }

    /// `debug_token` with the app token; None when no app secret is configured.
    pub(super) async fn debug(&self, token: &SecretString) -> Result<Option<TokenInfo>, FetchError> {
        match self.app_token() {
            Some(app) => self.graph.debug_token(token, &app).await.map(Some),
            None => Ok(None),
        }
    }
}

/// The HTTP routes the lead mounts on pulso's server: `GET /oauth/facebook/callback`.
pub fn routes(state: Arc<Onboarding>) -> axum::Router {
    axum::Router::new()
        .route(CALLBACK_PATH, axum::routing::get(callback))
        .with_state(state)
}

async fn callback(State(onboarding): State<Arc<Onboarding>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let (status, body) = onboarding.handle_callback(&query).await;
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The URL carried a login code and a state: keep it out of caches and referrers.
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

fn unavailable(agent: Option<AgentId>) -> Failure {
    Failure::new(
        agent,
        "store_unavailable",
        "Servicio no disponible",
        "Datos temporalmente no disponibles: la base de datos no respondió. Inténtalo en unos minutos.",
    )
}

fn graph_failure(agent: Option<AgentId>, kind: &'static str, e: &FetchError) -> Failure {
    tracing::warn!(agent_id = agent, stage = kind, error = %e, "Facebook rechazó un paso de la conexión");
    let message = match (kind, e) {
        ("code_exchange", FetchError::Configuration { code, .. }) if *code != 0 => {
            "Facebook no aceptó el código de autorización (venció o ya se usó).".to_string()
        }
        _ => format!("{}.", capitalize(&login_reason(e))),
    };
    Failure::new(agent, kind, "No se pudo conectar", message)
}

/// What the browser shows while the agent confirms in chat.
fn pending_page(p: &Pending) -> String {
    let account = format!("Entraste con la cuenta de Facebook «{}».", p.account);
    let back = if p.told {
        "Vuelve al chat: te envié un mensaje para que confirmes."
    } else {
        "Vuelve al chat y escribe /conectar confirmar para confirmar."
    };
    match p.pages.as_slice() {
        [one] => html::page(
            "Confirma en el chat",
            &[
                &account,
                &format!("Página: «{one}». Todavía no quedó conectada: confírmala en el chat."),
                back,
            ],
        ),
        many => html::page(
            "Elige tu página en el chat",
            &[
                &account,
                &format!("Tu cuenta de Facebook administra {} páginas.", many.len()),
                "Vuelve al chat y elige cuál conectar.",
            ],
        ),
    }
}
