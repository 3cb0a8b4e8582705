//! Instagram at `/conectar`: its permissions are asked for but optional, so declining them still
//! connects the Page, and the confirmation says whether Instagram comes too.

use super::*;

/// The link pulso made, with the `scope` Facebook's dialog will grant replaced: what a person who
/// unticks permissions in the dialog sends back.
fn with_granted_scopes(link: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut url = url::Url::parse(link).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "scope" {
                let kept: Vec<&str> = v.split(',').filter(|s| keep(s)).collect();
                (k, kept.join(","))
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

#[tokio::test]
async fn declining_the_instagram_permissions_still_connects_the_page() {
    let w = world(2, true).await;
    let page = w.pages[0].clone();
    let ana = w.agent("Ana Pérez", Some(&page.page_id)).await;
    let mut events = w.engine.subscribe();
    w.sandbox.set_login_page(Some(&page.page_id));

    // The real link asks for Instagram; Ana unticks both Instagram permissions in the dialog.
    let link = w.onboarding.link_for(ana).await.unwrap();
    let asked: Vec<String> = query_of(&link)["scope"].split(',').map(str::to_string).collect();
    assert!(asked.iter().any(|s| s == "instagram_basic"), "{asked:?}");
    assert!(asked.iter().any(|s| s == "instagram_manage_insights"), "{asked:?}");
    let declined = with_granted_scopes(&link, |s| !s.starts_with("instagram_"));
    let (status, html) = w.get(&w.login(&declined).await).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Confirma en el chat"), "{html}");

    let done = w.onboarding.confirm_page(ana, None).await.unwrap();
    assert!(
        done.starts_with(&format!("✅ Página conectada: {}", page.page_name)),
        "{done}"
    );
    assert!(done.contains("no concediste los permisos de Instagram"), "{done}");
    assert!(!done.contains("permiso concedido"), "{done}");
    let stored = w.snapshot(ana).await;
    assert_eq!(stored.agent.status, ConnectionStatus::Active);
    assert_eq!(stored.agent.facebook_page_id.as_deref(), Some(page.page_id.as_str()));
    // What Facebook granted is what was stored: the Page permissions, no Instagram ones.
    let scopes = stored.scopes.unwrap();
    assert!(scopes.iter().any(|s| s == "read_insights"), "{scopes:?}");
    assert!(!scopes.iter().any(|s| s.starts_with("instagram_")), "{scopes:?}");
    let report = finished_for(&mut events, ana).await;
    assert!(report.synced.iter().any(|o| o.agent_id == ana), "{report:?}");

    // A required Page permission declined together with Instagram is still refused, and the
    // refusal names only what is required.
    let bob = w.agent("Beto Ruiz", Some(&w.pages[1].page_id)).await;
    let before = w.snapshot(bob).await;
    w.sandbox.set_login_page(Some(&w.pages[1].page_id));
    let link = w.onboarding.link_for(bob).await.unwrap();
    let partial = with_granted_scopes(&link, |s| s != "read_insights" && !s.starts_with("instagram_"));
    let (status, html) = w.get(&w.login(&partial).await).await;
    assert_eq!(status, 400);
    assert!(html.contains("Faltan permisos de Facebook: read_insights."), "{html}");
    assert!(!html.contains("instagram"), "{html}");
    assert_eq!(w.snapshot(bob).await, before, "nothing stored for Beto");
}
