//! Spanish texts of the connection flow, shared by the callback and the chat confirmation. Pure:
//! no I/O. Names that come from Facebook (Page, account) are outside text: made plain here.

use crate::chat::text::plain;
use crate::facebook::{FacebookUser, FetchError};
use crate::ports::Button;
use crate::store::PageCandidate;

use super::CHOICE_TTL_MINUTES;

/// Command buttons listed under a choice of Pages, at most.
const MAX_CHOICE_BUTTONS: usize = 10;
/// Characters of a Page name on a button.
const BUTTON_NAME_CHARS: usize = 40;

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

pub(super) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A Page's name as shown (its id when Facebook gave no name), one plain line.
pub(super) fn page_label(page_id: &str, name: &str) -> String {
    let name = plain(name);
    if name.trim().is_empty() {
        page_id.to_string()
    } else {
        name.trim().to_string()
    }
}

pub(super) fn display_name(c: &PageCandidate) -> String {
    page_label(&c.page_id, &c.page_name)
}

/// "Ana Pérez (id 1000…)": the Facebook account that logged in.
pub(super) fn account_label(user: &FacebookUser) -> String {
    let name = plain(&user.name);
    match (name.trim(), user.id.is_empty()) {
        ("", true) => "sin nombre".to_string(),
        ("", false) => format!("id {}", user.id),
        (name, true) => name.to_string(),
        (name, false) => format!("{name} (id {})", user.id),
    }
}

fn short(name: &str) -> String {
    if name.chars().count() > BUTTON_NAME_CHARS {
        format!("{}…", name.chars().take(BUTTON_NAME_CHARS - 1).collect::<String>())
    } else {
        name.to_string()
    }
}

/// The numbered list of Pages to choose from.
pub(super) fn choice_list(candidates: &[PageCandidate]) -> String {
    candidates
        .iter()
        .map(|c| format!("{}. {}", c.position, display_name(c)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One button per Page to choose (`/conectar N`).
pub(super) fn choice_buttons(candidates: &[PageCandidate]) -> Vec<Button> {
    candidates
        .iter()
        .take(MAX_CHOICE_BUTTONS)
        .map(|c| {
            Button::command(
                format!("{}. {}", c.position, short(&display_name(c))),
                format!("/conectar {}", c.position),
            )
        })
        .collect()
}

/// The message asking the agent, in their own chat, to confirm what the Facebook login returned:
/// the account that logged in and the Page (or the Pages to choose from), with buttons. Nothing
/// is stored until they press one.
pub(super) fn confirmation_request(account: &FacebookUser, candidates: &[PageCandidate]) -> (String, Vec<Button>) {
    let head = format!(
        "🔐 Se inició sesión en Facebook con tu enlace de /conectar.\nCuenta de Facebook: {}",
        account_label(account)
    );
    let tail = format!(
        "Si no reconoces esta cuenta, no pulses nada: sin tu confirmación no se guarda nada, y la solicitud vence en {CHOICE_TTL_MINUTES} minutos."
    );
    match candidates {
        [one] => {
            let name = display_name(one);
            (
                format!(
                    "{head}\nPágina: {name}\n¿Es tu página? Pulsa «Confirmar» (o escribe /conectar confirmar) para conectarla.\n{tail}"
                ),
                vec![Button::command(
                    format!("✅ Confirmar {}", short(&name)),
                    "/conectar confirmar",
                )],
            )
        }
        many => (
            format!(
                "{head}\nEsa cuenta administra varias páginas:\n{}\nPulsa la tuya (o escribe /conectar N con su número, por ejemplo /conectar 2).\n{tail}",
                choice_list(many)
            ),
            choice_buttons(many),
        ),
    }
}

/// To the agent: the Page is someone else's in pulso.
pub(super) fn page_taken_for_agent(page: &str) -> String {
    format!(
        "La página «{page}» ya está conectada a otro agente de la oficina, así que no se conectó. Si es tuya, habla con tu administrador."
    )
}

/// To the team chat (the admins): who tried, which Page, whose it is.
pub(super) fn page_taken_for_admins(agent: &str, page: &str, page_id: &str, owner: &str) -> String {
    format!(
        "⚠️ {} intentó conectar la página de Facebook «{page}» ({page_id}), que ya está conectada a {}. No se cambió nada; revisa cuál de los dos debe tenerla.",
        plain(agent),
        plain(owner)
    )
}

/// What the connection means for Instagram, from the permissions the login granted: granted →
/// Instagram comes too (when the Page has a linked professional account); declined → how to add it
/// later. None when the granted permissions are unknown (no app secret to ask Facebook).
pub(super) fn instagram_note(scopes: &[String]) -> Option<String> {
    if scopes.is_empty() {
        return None;
    }
    let granted = super::OPTIONAL_PERMISSIONS
        .iter()
        .all(|p| scopes.iter().any(|s| s == p));
    Some(if granted {
        "📸 Instagram: permiso concedido. Si tu página tiene una cuenta profesional de Instagram vinculada, también traeré sus métricas.".to_string()
    } else {
        "Instagram: no concediste los permisos de Instagram, así que solo traeré Facebook. Si quieres ver también Instagram, vuelve a conectar con /conectar y acéptalos.".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(position: i64, name: &str) -> PageCandidate {
        PageCandidate {
            position,
            page_id: format!("10{position}"),
            page_name: name.to_string(),
            token_encrypted: String::new(),
            token_expires_at: None,
            scopes: Vec::new(),
        }
    }

    #[test]
    fn one_page_asks_for_a_confirmation_naming_page_and_account() {
        let user = FacebookUser {
            id: "77".into(),
            name: "Beto\u{E000} Ruiz".into(),
        };
        let (text, buttons) = confirmation_request(&user, &[candidate(1, "Casas Beto")]);
        assert!(text.contains("Cuenta de Facebook: Beto Ruiz (id 77)"), "{text}");
        assert!(text.contains("Página: Casas Beto"), "{text}");
        assert_eq!(
            buttons,
            [Button::command("✅ Confirmar Casas Beto", "/conectar confirmar")]
        );
    }

    #[test]
    fn several_pages_get_one_button_each() {
        let user = FacebookUser {
            id: String::new(),
            name: String::new(),
        };
        let (text, buttons) = confirmation_request(&user, &[candidate(1, "A"), candidate(2, "")]);
        assert!(text.contains("1. A\n2. 102"), "{text}");
        assert!(text.contains("Cuenta de Facebook: sin nombre"), "{text}");
        assert_eq!(buttons[1], Button::command("2. 102", "/conectar 2"));
    }
}
