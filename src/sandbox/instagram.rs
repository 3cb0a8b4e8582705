//! Instagram professional accounts: discovery on the Page node, the IG user node with field
//! expansion and routing to `/insights` and `/media`, with the access rule (the owning Page's
//! token). Accounts and errors: `instagram_account.rs`; data: `instagram_data.rs`.

use serde_json::{Map, Value, json};

use super::fields::{base_name, expansion, split_fields};
use super::instagram_account::{Account, by_id, by_page, followers_now, permission_denied};
use super::reply::{self, Body, Reply};
use super::request::Request;
use super::state::TokenKind;
use super::{Sandbox, instagram_insights, instagram_media};

/// `instagram_business_account{id,username,followers_count}` on the Page node; `None` = absent.
pub(crate) fn discovery(sb: &Sandbox, page_id: &str, field: &str) -> Option<Value> {
    let acct = by_page(sb, page_id)?;
    let params = expansion(field);
    let wanted = params.get("fields").map(String::as_str).unwrap_or("id");
    let mut out = Map::new();
    for f in split_fields(wanted) {
        if let Some(v) = node_field(sb, &acct, base_name(f)) {
            out.insert(base_name(f).to_string(), v);
        }
    }
    out.entry("id").or_insert_with(|| json!(acct.ig_id));
    Some(Value::Object(out))
}

fn node_field(sb: &Sandbox, acct: &Account, name: &str) -> Option<Value> {
    Some(match name {
        "id" => json!(acct.ig_id),
        "ig_id" => json!(1_000_000_000 + acct.n),
        "username" => json!(acct.username),
        "name" => json!(sb.state().page(&acct.page_id).map(|p| p.page.agent_name.clone())),
        "followers_count" => json!(followers_now(sb, acct)),
        "follows_count" => json!(150 + acct.n % 300),
        "biography" => json!("Asesor inmobiliario · Casas y departamentos en venta y renta 🏡"),
        "website" => json!("https://inmuebles.example.mx"),
        "profile_picture_url" => json!(format!("https://scontent.sandbox.example/ig/{}.jpg", acct.ig_id)),
        "media_count" => json!(instagram_media::count(sb, acct)),
        _ => return None,
    })
}

/// `/{ig-id}…`: the node, `/insights` or `/media`, for a caller allowed to read the account.
pub(crate) fn answer(sb: &Sandbox, ig_id: &str, rest: &[&str], req: &Request<'_>) -> Reply {
    let acct = match readable(sb, ig_id, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match rest {
        [] => node(sb, &acct, req),
        ["insights"] => instagram_insights::answer(sb, &acct, req),
        ["media"] => instagram_media::answer(sb, &acct, req),
        [edge, ..] => reply::nonexisting_field(edge, "ShadowIGUser"),
    }
}

/// The account, if the caller may read it: the owning Page's token, a user managing that Page,
/// or the app; another Page's token gets (#10).
fn readable(sb: &Sandbox, ig_id: &str, req: &Request<'_>) -> Result<Account, Reply> {
    let acct = by_id(sb, ig_id).ok_or_else(|| reply::object_missing(ig_id))?;
    let allowed = match &req.caller.kind {
        TokenKind::Page { page_id, .. } => *page_id == acct.page_id,
        TokenKind::User { user_id } => sb.state().users.get(user_id).is_some_and(|p| p.contains(&acct.page_id)),
        TokenKind::App => true,
    };
    if allowed { Ok(acct) } else { Err(permission_denied()) }
}

fn node(sb: &Sandbox, acct: &Account, req: &Request<'_>) -> Reply {
    let fields = req.params.get("fields").map(String::as_str).unwrap_or("id");
    let mut body = Map::new();
    for field in split_fields(fields) {
        let name = base_name(field);
        if name == "insights" || name == "media" {
            let params = expansion(field);
            let sub = Request {
                version: req.version,
                params: &params,
                caller: req.caller.clone(),
                origin: req.origin,
            };
            let reply = if name == "insights" {
                instagram_insights::answer(sb, acct, &sub)
            } else {
                instagram_media::answer(sb, acct, &sub)
            };
            // One failing edge fails the whole request, as on Graph; an empty media edge is left out.
            if !reply.status.is_success() {
                return reply;
            }
            if let Body::Json(mut value) = reply.body {
                let empty = value["data"].as_array().is_some_and(|d| d.is_empty());
                if name == "media" && empty {
                    continue;
                }
                if name == "insights"
                    && let Some(obj) = value.as_object_mut()
                {
                    obj.remove("paging");
                }
                body.insert(name.to_string(), value);
            }
            continue;
        }
        match node_field(sb, acct, name) {
            Some(v) => body.insert(name.to_string(), v),
            None => return reply::nonexisting_field(name, "ShadowIGUser"),
        };
    }
    body.entry("id").or_insert_with(|| json!(acct.ig_id));
    Reply::ok(Value::Object(body))
}
