//! Logins that manage several Pages (the agent picks one in chat) and the admin's manual connection.

use super::callback::login_reason;
use super::*;

impl Onboarding {
    /// `/conectar N`: connects the N-th Page of the agent's pending list. Ok = the reply
    /// ("✅ Página conectada: …"); Err = a Spanish reason for the reply.
    pub async fn choose_page(&self, agent: AgentId, n: usize) -> Result<String, String> {
        let candidates = self.store.page_candidates(agent, Utc::now()).await.map_err(|e| {
            tracing::error!(agent_id = agent, error = %e, "no se pudieron leer las páginas candidatas");
            "Datos temporalmente no disponibles: la base de datos no respondió. Inténtalo en unos minutos.".to_string()
        })?;
        if candidates.is_empty() {
            return Err(
                "No tengo páginas pendientes de elegir (la lista dura 30 minutos). Escribe /conectar para recibir un enlace nuevo."
                    .to_string(),
            );
        }
        let Some(chosen) = candidates.iter().find(|c| c.position == n as i64) else {
            let list = candidates
                .iter()
                .map(|c| format!("{}. {}", c.position, display_name(c)))
                .collect::<Vec<_>>()
                .join("\n");
            return Err(format!(
                "Elige un número entre 1 y {}:\n{list}\nPor ejemplo: /conectar 1",
                candidates.len()
            ));
        };
        let token = self.cipher.decrypt(agent, &chosen.token_encrypted).map_err(|e| {
            tracing::error!(agent_id = agent, error = %e, "token de página candidata ilegible");
            "No se pudo leer la página elegida. Escribe /conectar para empezar de nuevo.".to_string()
        })?;
        let page = PageAccess {
            page_id: chosen.page_id.clone(),
            name: chosen.page_name.clone(),
            token,
        };
        let name = self
            .connect(agent, &page, chosen.scopes.clone(), chosen.token_expires_at, false)
            .await?;
        Ok(format!(
            "✅ Página conectada: {name}\nEstoy trayendo tus métricas; en unos minutos podrás verlas con /mis_metricas."
        ))
    }

    /// The agent's pending Pages (number, name), for the chat layer to show again.
    pub async fn pending_pages(&self, agent: AgentId) -> anyhow::Result<Vec<(usize, String)>> {
        Ok(self
            .store
            .page_candidates(agent, Utc::now())
            .await?
            .iter()
            .map(|c| (c.position as usize, display_name(c)))
            .collect())
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
                    .filter(|p| *p != "pages_show_list" && !info.scopes.iter().any(|s| s == *p))
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
        self.connect(agent, &page, scopes, None, false).await
    }
}

pub(super) fn display_name(c: &PageCandidate) -> String {
    if c.page_name.is_empty() {
        c.page_id.clone()
    } else {
        c.page_name.clone()
    }
}
