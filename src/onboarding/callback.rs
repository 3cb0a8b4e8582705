//! The Facebook Login callback: state check, code exchange, permissions, Page choice and storage,
//! and the HTML page the agent sees.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::pages::display_name;
use super::*;

/// Why a connection attempt failed: a Spanish text for the browser and the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    /// The agent the (authentic) state named; None when the state was forged or missing.
    agent: Option<AgentId>,
    title: &'static str,
    message: String,
    /// Short label for logs (no secrets).
    kind: &'static str,
}

impl Failure {
    fn new(agent: Option<AgentId>, kind: &'static str, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            agent,
            title,
            message: message.into(),
            kind,
        }
    }
}

/// A successful callback: either connected, or waiting for the agent to pick a Page.
enum Success {
    Connected { page_name: String },
    Choose { count: usize },
}

impl Onboarding {
    /// Handles one callback request; returns the HTTP status and the HTML page.
    pub async fn handle_callback(&self, query: &HashMap<String, String>) -> (StatusCode, String) {
        match self.callback_flow(query).await {
            Ok(Success::Connected { page_name }) => (
                StatusCode::OK,
                html::page(
                    "Página conectada",
                    &[
                        &format!("✅ Tu página «{page_name}» quedó conectada a pulso."),
                        "Ya puedes cerrar esta ventana y volver al chat.",
                    ],
                ),
            ),
            Ok(Success::Choose { count }) => (
                StatusCode::OK,
                html::page(
                    "Elige tu página",
                    &[
                        &format!("Tu cuenta de Facebook administra {count} páginas."),
                        "Vuelve al chat: te envié la lista para que elijas cuál conectar.",
                    ],
                ),
            ),
            Err(failure) => {
                tracing::warn!(
                    agent_id = failure.agent,
                    kind = failure.kind,
                    "conexión de Facebook rechazada"
                );
                let mut told_in_chat = false;
                if let Some(agent) = failure.agent {
                    let link = self.login_url(agent).await.ok();
                    let text = match link {
                        Some(link) => format!(
                            "❌ No se pudo conectar tu página de Facebook: {}\nPara intentarlo de nuevo abre este enlace (válido {LINK_TTL_MINUTES} minutos): {link}",
                            failure.message
                        ),
                        None => format!("❌ No se pudo conectar tu página de Facebook: {}", failure.message),
                    };
                    told_in_chat = self.send_to_agent(agent, text).await;
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

    async fn callback_flow(&self, q: &HashMap<String, String>) -> Result<Success, Failure> {
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
                    self.existing(v.agent).await,
                    "state_expired",
                    "Enlace vencido",
                    format!("El enlace de conexión venció (dura {LINK_TTL_MINUTES} minutos)."),
                ));
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
            ));
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
        self.login_and_connect(&agent, code).await
    }

    /// The agent, if it still exists (for messages about expired links).
    async fn existing(&self, id: AgentId) -> Option<AgentId> {
        self.store.agent(id).await.ok().flatten().map(|a| a.id)
    }

    async fn login_and_connect(&self, agent: &Agent, code: &str) -> Result<Success, Failure> {
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
                    .filter(|p| !info.scopes.iter().any(|s| s == *p))
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
        let chosen: PageAccess = match agent.facebook_page_id.as_deref() {
            // The configured Page decides; Business-owned Pages are missing from /me/accounts but
            // readable by id.
            Some(known) => match pages.into_iter().find(|p| p.page_id == known) {
                Some(page) => page,
                None => match self.graph.page_access(known, &long.token).await {
                    Ok(page) => page,
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
            None if pages.len() == 1 => pages.into_iter().next().expect("one page"),
            None => {
                let count = pages.len();
                self.offer_choice(agent, pages, &scopes, long.expires_at).await?;
                return Ok(Success::Choose { count });
            }
        };
        let page_name = self
            .connect(agent.id, &chosen, scopes, long.expires_at, true)
            .await
            .map_err(|message| Failure::new(id, "connect", "No se pudo conectar", message))?;
        Ok(Success::Connected { page_name })
    }

    /// `debug_token` with the app token; None when no app secret is configured.
    pub(super) async fn debug(&self, token: &SecretString) -> Result<Option<TokenInfo>, FetchError> {
        match self.app_token() {
            Some(app) => self.graph.debug_token(token, &app).await.map(Some),
            None => Ok(None),
        }
    }

    async fn offer_choice(
        &self,
        agent: &Agent,
        pages: Vec<PageAccess>,
        scopes: &[String],
        login_expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), Failure> {
        let now = Utc::now();
        let candidates: Vec<PageCandidate> = pages
            .iter()
            .enumerate()
            .map(|(i, p)| PageCandidate {
                position: i as i64 + 1,
                page_id: p.page_id.clone(),
                page_name: p.name.clone(),
                token_encrypted: self.cipher.encrypt(agent.id, &p.token),
                token_expires_at: login_expires_at,
                scopes: scopes.to_vec(),
            })
            .collect();
        self.store
            .set_page_candidates(agent.id, &candidates, now + Duration::minutes(CHOICE_TTL_MINUTES), now)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "no se pudieron guardar las páginas candidatas");
                unavailable(Some(agent.id))
            })?;
        let list = candidates
            .iter()
            .map(|c| format!("{}. {}", c.position, display_name(c)))
            .collect::<Vec<_>>()
            .join("\n");
        let text = format!(
            "Tu cuenta de Facebook administra varias páginas:\n{list}\nResponde /conectar N con el número de la tuya (por ejemplo: /conectar 2). La lista vale {CHOICE_TTL_MINUTES} minutos."
        );
        self.send_to_agent(agent.id, text).await;
        Ok(())
    }

    /// Stores the connection, then (when `announce`) tells the agent in chat, and syncs them once.
    /// Returns the Page name, or a Spanish reason when nothing was stored.
    ///
    /// `login_expires_at` is the end of the long-lived user login the Page token came from (about
    /// 60 days): the Page token itself reports no end, but the login is what the agent renews, so
    /// the earlier of the two is kept and the day-50 reminder counts from it.
    pub(super) async fn connect(
        &self,
        agent: AgentId,
        page: &PageAccess,
        scopes: Vec<String>,
        login_expires_at: Option<DateTime<Utc>>,
        announce: bool,
    ) -> Result<String, String> {
        let page_expires_at = match self.debug(&page.token).await {
            Ok(Some(info)) if !info.is_valid => {
                return Err("Facebook dice que el permiso de la página no es válido.".to_string());
            }
            Ok(Some(info)) => info.expires_at,
            Ok(None) => None,
            Err(e) => return Err(login_reason(&e)),
        };
        let expires_at = match (page_expires_at, login_expires_at) {
            (Some(page), Some(login)) => Some(page.min(login)),
            (page, login) => page.or(login),
        };
        let connection = AgentConnection {
            page_id: page.page_id.clone(),
            token_encrypted: self.cipher.encrypt(agent, &page.token),
            token_expires_at: expires_at,
            scopes,
        };
        self.store
            .connect_agent(agent, &connection, Utc::now())
            .await
            .map_err(|e| {
                tracing::error!(agent_id = agent, error = %e, "no se pudo guardar la conexión de Facebook");
                "Datos temporalmente no disponibles: la base de datos no respondió. Inténtalo en unos minutos."
                    .to_string()
            })?;
        self.notified.lock().unwrap_or_else(|p| p.into_inner()).remove(&agent);
        let name = if page.name.is_empty() {
            page.page_id.clone()
        } else {
            page.name.clone()
        };
        tracing::info!(agent_id = agent, page_id = %page.page_id, "página de Facebook conectada");
        if announce {
            self.send_to_agent(
                agent,
                format!("✅ Página conectada: {name}\nEstoy trayendo tus métricas; en unos minutos podrás verlas con /mis_metricas."),
            )
            .await;
        }
        if let Some(engine) = &self.engine
            && let Err(refusal) = engine.request_agent(agent, "onboarding").await
        {
            tracing::info!(agent_id = agent, reason = %refusal, "sincronización tras conectar no iniciada");
        }
        Ok(name)
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

/// A Spanish reason for a Graph failure during login (no token, no raw Graph message).
pub(super) fn login_reason(e: &FetchError) -> String {
    match e {
        FetchError::TokenInvalid { .. } => "Facebook rechazó el permiso (expiró o fue revocado)".to_string(),
        FetchError::Permission { .. } => "Facebook no dio permiso para leer la página".to_string(),
        FetchError::NotFound { .. } => "la página no existe o tu cuenta no puede verla".to_string(),
        // Code 0: raised by pulso itself before calling (no app secret, bad graph_url).
        FetchError::Configuration { code: 0, .. } => {
            "pulso no tiene bien configurada la app de Facebook (PULSO__FACEBOOK__APP_SECRET); avisa al administrador"
                .to_string()
        }
        FetchError::Configuration { .. } => {
            "Facebook rechazó la solicitud (revisar app_id, app_secret y la URL de retorno de la app)".to_string()
        }
        other => other.user_reason(),
    }
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

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
