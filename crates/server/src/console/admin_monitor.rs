//! Watching the tenant from the admin console: the change history (who changed what, when and
//! why; filtered and paged by the API) and the security alerts, each acknowledged once.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::Method;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_api::monitoring::{AlertList, ChangeHistory};
use std::collections::HashMap;

use super::account::encode;
use super::admin_pages::{AdminNav, api_from, at, chrome, refused_page, viewer};
use super::api::NO_BODY;
use super::pages::Chrome;
use super::{Console, Form};
use crate::messages::Messages;
use crate::state::AppState;

/// Entries a page.
const PAGE: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/audit", get(audit)).route("/admin/alerts", get(alerts)).route("/admin/alerts/{id}/acknowledge", post(acknowledge))
}

pub struct RecordRow {
    pub at: String,
    pub actor: String,
    pub you: bool,
    pub action: String,
    pub target: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "console/admin_audit.html")]
pub struct AuditPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub records: Vec<RecordRow>,
    pub older: Option<String>,
}

/// `GET /admin/audit?actor=&action=&target=&before=`: the change history, newest first (the
/// API confines a tenant admin to their tenant, and records the read).
async fn audit(console: Console, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let api = console.api()?;
        let viewer = viewer(&console).await;
        let filter = |name: &str| query.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        let (actor, action, target) = (filter("actor"), filter("action"), filter("target"));
        let filters: Vec<(&str, &String)> = [("actor", &actor), ("action", &action), ("target", &target)].into_iter().filter(|(_, v)| !v.is_empty()).collect();
        let encoded = |before: Option<&str>| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(filters.iter().copied());
            if let Some(before) = before {
                query.append_pair("before", before);
            }
            query.finish()
        };
        let asked = encoded(query.get("before").filter(|b| !b.is_empty()).map(String::as_str));
        let records: ChangeHistory = match api.get(&format!("/api/v1/audit?limit={PAGE}&{asked}")).await {
            Ok(records) => records,
            Err(failure) => return refused_page(&console, viewer, failure, &console.here),
        };
        let m = console.m;
        let me = format!("user:{}", console.user_id());
        let rows = records
            .records
            .into_iter()
            .map(|r| RecordRow {
                at: at(r.at, m),
                you: r.actor == me,
                actor: match r.on_behalf_of {
                    Some(on_behalf_of) => format!("{} ({} {on_behalf_of})", r.actor, m.admin.on_behalf_of),
                    None => r.actor,
                },
                action: r.action,
                target: r.target,
                reason: r.reason.unwrap_or_default(),
            })
            .collect();
        let older = records.next.map(|next| format!("/admin/audit?{}", encoded(Some(&next.to_string()))));
        let page = AuditPage { m, chrome: chrome(&console, viewer), nav: AdminNav::new(viewer, "audit"), actor, action, target, records: rows, older };
        Ok(Html(page.render()?).into_response())
    }
    .await;
    console.finish(result)
}

pub struct AlertRow {
    pub at: String,
    pub kind: String,
    pub severity: String,
    pub summary: String,
    /// Who acknowledged it and when; empty while open.
    pub acknowledged: String,
    pub action: String,
}

#[derive(Template)]
#[template(path = "console/admin_alerts.html")]
pub struct AlertsPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub csrf_token: &'a str,
    pub alerts: Vec<AlertRow>,
    pub older: Option<String>,
}

/// `GET /admin/alerts?before=`: newest first.
async fn alerts(console: Console, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let api = console.api()?;
        let viewer = viewer(&console).await;
        let mut path = format!("/api/v1/alerts?limit={PAGE}");
        if let Some(before) = query.get("before").filter(|b| !b.is_empty()) {
            path.push_str(&format!("&before={}", encode(before)));
        }
        let alerts: AlertList = match api.get(&path).await {
            Ok(alerts) => alerts,
            Err(failure) => return refused_page(&console, viewer, failure, &console.here),
        };
        let m = console.m;
        let rows = alerts
            .alerts
            .into_iter()
            .map(|a| AlertRow {
                at: at(a.at, m),
                kind: a.kind.as_str().replace('_', " "),
                severity: a.severity.as_str().to_owned(),
                summary: a.summary,
                acknowledged: match a.acknowledged_at {
                    Some(when) => format!("{} {}", a.acknowledged_by.unwrap_or_default(), at(when, m)),
                    None => String::new(),
                },
                action: format!("/admin/alerts/{}/acknowledge", encode(&a.id)),
            })
            .collect();
        let older = alerts.next.map(|next| format!("/admin/alerts?before={}", encode(&next)));
        let page =
            AlertsPage { m, chrome: chrome(&console, viewer), nav: AdminNav::new(viewer, "alerts"), csrf_token: &console.view.csrf_token, alerts: rows, older };
        Ok(Html(page.render()?).into_response())
    }
    .await;
    console.finish(result)
}

/// `POST /admin/alerts/{id}/acknowledge`: a second acknowledgement is the API's 409, shown as
/// its reason.
async fn acknowledge(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let path = format!("/api/v1/alerts/{}/acknowledge", encode(&id));
        api_from(&console, "/admin/alerts")?.send_only(Method::POST, &path, NO_BODY).await.map_err(|e| console.failed(e, "/admin/alerts"))?;
        Ok(console.done("/admin/alerts", console.m.admin.acknowledged))
    }
    .await;
    console.finish(result)
}
