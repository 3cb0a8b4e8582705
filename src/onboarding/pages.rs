//! Storing a connection: the agent's confirmation in chat of a Page the login found
//! (`/conectar confirmar`, `/conectar N`), the admin's manual connection, and the one place both
//! end: [`Onboarding::connect`], which refuses a Page another agent already has.

use super::texts::{
    choice_list, instagram_note, login_reason, page_label, page_taken_for_admins, page_taken_for_agent,
};
use super::*;

const UNAVAILABLE: &str =
    "Datos temporalmente no disponibles: la base de datos no respondió. Inténtalo en unos minutos.";

impl Onboarding {
    /// The agent's confirmation, from their own chat, of what their Facebook login found: `choice`
    /// None confirms the one Page offered, Some(n) picks the n-th of several. Ok = the reply
    /// ("✅ Página conectada: …"); Err = a Spanish reason for the reply. Whoever logged in, only
    /// the agent the link was made for can get here, and only from a chat linked to them.
    pub async fn confirm_page(&self, agent: AgentId, choice: Option<usize>) -> Result<String, String> {
        let candidates = self.store.page_candidates(agent, Utc::now()).await.map_err(|e| {
            tracing::error!(agent_id = agent, error = %e, "no se pudieron leer las páginas por confirmar");
            UNAVAILABLE.to_string()
        })?;
        if candidates.is_empty() {
            return Err(format!(
                "No tengo ninguna página pendiente de confirmar (la solicitud dura {CHOICE_TTL_MINUTES} minutos). Escribe /conectar para recibir un enlace nuevo."
            ));
        }
        let chosen = match choice {
            None if candidates.len() == 1 => &candidates[0],
            None => {
                return Err(format!(
                    "Tu cuenta de Facebook administra varias páginas; elige la tuya con su número:\n{}\nPor ejemplo: /conectar 1",
                    choice_list(&candidates)
                ));
            }
            Some(n) => match candidates.iter().find(|c| c.position == n as i64) {
                Some(c) => c,
                None => {
                    return Err(format!(
                        "Elige un número entre 1 y {}:\n{}\nPor ejemplo: /conectar 1",
                        candidates.len(),
                        choice_list(&candidates)
                    ));
                }
            },
        };
        let token = self.cipher.decrypt(agent, &chosen.token_encrypted).map_err(|e| {
            tracing::error!(agent_id = agent, error = %e, "token de página por confirmar ilegible");
            "No se pudo leer la página elegida. Escribe /conectar para empezar de nuevo.".to_string()
        })?;
        let page = PageAccess {
            page_id: chosen.page_id.clone(),
            name: chosen.page_name.clone(),
            token,
        };
        let name = self
            .connect(agent, &page, chosen.scopes.clone(), chosen.token_expires_at)
            .await?;
        let mut reply = format!(
            "✅ Página conectada: {name}\nEstoy trayendo tus métricas; en unos minutos podrás verlas con /mis_metricas."
        );
        if let Some(note) = instagram_note(&chosen.scopes) {
            reply.push('\n');
            reply.push_str(&note);
        }
        Ok(reply)
    }

    // ── the admin alternative ──

    /// `pulso agents connect NAME --page-id ID --token TOKEN`: checks the token and stores it.
    /// With an app secret, `debug_token` must call it valid with the needed permissions; in every
    /// case the token must read the Page (`/{page-id}?fields=id,name,access_token`; a user token
    /// that manages the Page is swapped for the Page token). Ok = the Page name; Err = why nothing
    /// was stored.
    pub async fn connect_manually(
        &self,
        agent: AgentId,
        page_id: &str,
        token: &SecretString,
    ) -> Result<String, String> {
        let page_id = page_id.trim();
        if page_id.is_empty() || !page_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("el id de página debe ser numérico, es «{page_id}»"));
        }
        if token.expose_secret().trim().is_empty() {
            return Err("el token está vacío".to_string());
        }
        match self.store.agent(agent).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(format!("no existe el agente {agent}")),
            Err(e) => return Err(format!("la base de datos no respondió: {e}")),
        }
        let scopes = match self.debug(token).await {
            Ok(Some(info)) if !info.is_valid => {
                return Err(format!(
                    "Facebook dice que el token no es válido{}",
                    info.error.map(|e| format!(": {e}")).unwrap_or_default()
                ));
            }
            Ok(Some(info)) => {
                let missing: Vec<&str> = self
                    .settings
                    .permissions
                    .iter()
                    .filter(|p| {
                        *p != "pages_show_list" && !is_optional_permission(p) && !info.scopes.iter().any(|s| s == *p)
                    })
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(format!("al token le faltan permisos: {}", missing.join(", ")));
                }
                info.scopes
            }
            Ok(None) => Vec::new(),
            Err(e) => return Err(format!("no se pudo validar el token: {}", login_reason(&e))),
        };
        let page = match self.graph.page_access(page_id, token).await {
            Ok(page) => page,
            Err(FetchError::Permission { .. } | FetchError::NotFound { .. }) => {
                return Err(format!(
                    "el token no puede leer la página {page_id} (no existe, o el token no es de esa página ni de quien la administra)"
                ));
            }
            Err(e) => return Err(format!("no se pudo validar el token: {}", login_reason(&e))),
        };
        if page.page_id != page_id {
            return Err(format!(
                "Facebook devolvió otra página ({}) para el id {page_id}",
                page.page_id
            ));
        }
        self.connect(agent, &page, scopes, None).await
    }

    /// Stores the connection and syncs the agent once. Returns the Page name, or a Spanish reason
    /// when nothing was stored: among them, a Page another agent already has (the team chat hears
    /// about that too).
    ///
    /// `login_expires_at` is the end of the long-lived user login the Page token came from (about
    /// 60 days): the Page token itself reports no end, but the login is what the agent renews, so
    /// the earlier of the two is kept and the token reminder counts from it.
    pub(super) async fn connect(
        &self,
        agent: AgentId,
        page: &PageAccess,
        scopes: Vec<String>,
        login_expires_at: Option<DateTime<Utc>>,
    ) -> Result<String, String> {
        let agents = self.store.agents().await.map_err(|e| {
            tracing::error!(agent_id = agent, error = %e, "no se pudo leer la lista de agentes");
            UNAVAILABLE.to_string()
        })?;
        let name = page_label(&page.page_id, &page.name);
        if let Some(owner) = agents
            .iter()
            .find(|a| a.id != agent && a.facebook_page_id.as_deref() == Some(page.page_id.as_str()))
        {
            if let Some(me) = agents.iter().find(|a| a.id == agent) {
                self.tell_team_page_taken(me, &name, &page.page_id, &owner.name).await;
            }
            return Err(page_taken_for_agent(&name));
        }
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
                UNAVAILABLE.to_string()
            })?;
        self.notified.lock().unwrap_or_else(|p| p.into_inner()).remove(&agent);
        tracing::info!(agent_id = agent, page_id = %page.page_id, "página de Facebook conectada");
        if let Some(engine) = &self.engine
            && let Err(refusal) = engine.request_agent(agent, "onboarding").await
        {
            tracing::info!(agent_id = agent, reason = %refusal, "sincronización tras conectar no iniciada");
        }
        Ok(name)
    }

    /// Tells the team chat (the admins) that `agent` tried to connect a Page `owner` has.
    pub(super) async fn tell_team_page_taken(&self, agent: &Agent, page: &str, page_id: &str, owner: &str) {
        tracing::warn!(
            agent_id = agent.id,
            page_id,
            "página de Facebook ya conectada a otro agente"
        );
        let Some(outbox) = self.outbox.get() else {
            return;
        };
        let text = page_taken_for_admins(&agent.name, page, page_id, owner);
        if let Err(e) = outbox.to_team(&OutMessage::text(text)).await {
            tracing::warn!(
                agent_id = agent.id,
                error = format!("{e:#}"),
                "no se pudo avisar al equipo"
            );
        }
    }
}
