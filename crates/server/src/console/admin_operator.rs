//! Operator pages of the admin console: every application's 2FA behaviour and step-up scopes,
//! and terminating a tenant. The API refuses tenant admins (403), which the pages show as a
//! notice.

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_api::applications::{AppPolicyDraft, ApplicationList};
use gatehouse_api::tenants::{Tenant, TenantTerminated, Termination};
use gatehouse_policy::{AppTwoFactor, AuthLevel};
use serde_json::{Map, Value};

use super::account::encode;
use super::admin_pages::{AdminNav, ConfirmPage, api_from, chrome, refused_page, tenant_path, viewer};
use super::pages::Chrome;
use super::{Console, ConsoleError, Form};
use crate::messages::Messages;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/applications", get(applications))
        .route("/admin/applications/{id}/policy", post(save_app_policy))
        .route("/admin/tenants/{id}/terminate", get(terminate_page).post(terminate))
}

/// (client id, name) of each application, for the simulator's choice.
pub(super) fn app_choices(list: ApplicationList) -> Vec<(String, String)> {
    list.applications.into_iter().map(|a| (a.client_id, a.name)).collect()
}

/// One choice of an application's 2FA behaviour.
pub struct ModeOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub action: String,
    pub modes: Vec<ModeOption>,
    pub scopes: String,
}

#[derive(Template)]
#[template(path = "console/admin_applications.html")]
pub struct ApplicationsPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub csrf_token: &'a str,
    pub apps: Vec<AppRow>,
}

fn modes(m: &'static Messages, current: AppTwoFactor) -> Vec<ModeOption> {
    [(AppTwoFactor::Bypass, m.admin.app_bypass), (AppTwoFactor::Adaptive, m.admin.app_adaptive), (AppTwoFactor::Required, m.admin.app_required)]
        .into_iter()
        .map(|(mode, label)| ModeOption { value: mode.as_str(), label, selected: mode == current })
        .collect()
}

/// `GET /admin/applications` (operators).
async fn applications(console: Console) -> Response {
    let result = async {
        let api = console.api()?;
        let viewer = viewer(&console).await;
        let apps: ApplicationList = match api.get("/api/v1/applications").await {
            Ok(apps) => apps,
            Err(failure) => return refused_page(&console, viewer, failure, "/admin/applications"),
        };
        let m = console.m;
        let apps = apps
            .applications
            .into_iter()
            .map(|a| AppRow {
                action: format!("/admin/applications/{}/policy", encode(&a.client_id)),
                modes: modes(m, a.policy.two_factor),
                scopes: a.policy.step_up_scopes.iter().map(|(scope, level)| format!("{scope} = {level}")).collect::<Vec<_>>().join("\n"),
                client_id: a.client_id,
                name: a.name,
            })
            .collect();
        let page =
            ApplicationsPage { m, chrome: chrome(&console, viewer), nav: AdminNav::new(viewer, "applications"), csrf_token: &console.view.csrf_token, apps };
        Ok(Html(page.render()?).into_response())
    }
    .await;
    console.finish(result)
}

/// The step-up scopes box: one `scope = level` a line, the level an acr value or `mfa` for
/// `urn:gatehouse:acr:mfa` (`phr` and `phrh` are already short). The API checks the levels.
fn step_up_scopes(m: &'static Messages, text: &str) -> Result<Map<String, Value>, String> {
    let mut scopes = Map::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((scope, level)) = line.split_once('=').map(|(s, l)| (s.trim(), l.trim())) else {
            return Err(format!("{} {line:?}", m.admin.scope_line_invalid));
        };
        if scope.is_empty() || level.is_empty() || scope.contains(char::is_whitespace) {
            return Err(format!("{} {line:?}", m.admin.scope_line_invalid));
        }
        let level = if level.eq_ignore_ascii_case("mfa") { AuthLevel::Mfa.acr() } else { level };
        if scopes.insert(scope.to_owned(), Value::from(level)).is_some() {
            return Err(format!("{} {scope:?}", m.admin.scope_twice));
        }
    }
    Ok(scopes)
}

/// `POST /admin/applications/{id}/policy` → `PUT /api/v1/applications/{id}/policy`.
async fn save_app_policy(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let back = "/admin/applications";
        let scopes = step_up_scopes(console.m, form.get("step_up_scopes").map_or("", String::as_str))
            .map_err(|detail| ConsoleError::Refused { back_to: back.to_owned(), detail })?;
        let two_factor = form.get("two_factor").map_or("adaptive", String::as_str);
        let body = AppPolicyDraft { two_factor: two_factor.to_owned(), step_up_scopes: scopes };
        let path = format!("/api/v1/applications/{}/policy", encode(&id));
        api_from(&console, back)?.send_only(Method::PUT, &path, Some(&body)).await.map_err(|e| console.failed(e, back))?;
        Ok(console.done(back, format!("{} {id}", console.m.admin.app_saved)))
    }
    .await;
    console.finish(result)
}

/// `GET /admin/tenants/{id}/terminate`: asks first, naming the tenant.
async fn terminate_page(console: Console, Path(id): Path<String>) -> Response {
    let result = async {
        let api = console.api()?;
        let viewer = viewer(&console).await;
        let tenant: Tenant = match api.get(&format!("/api/v1/tenants/{}", encode(&id))).await {
            Ok(tenant) => tenant,
            Err(failure) => return refused_page(&console, viewer, failure, &console.here),
        };
        let a = &console.m.admin;
        let page = ConfirmPage {
            m: console.m,
            chrome: chrome(&console, viewer),
            nav: AdminNav::new(viewer, "overview"),
            csrf_token: &console.view.csrf_token,
            title: a.terminate_title,
            subject: tenant.name,
            explain: a.terminate_explain,
            action: format!("{}/terminate", tenant_path(&tenant.id)),
            hidden: Vec::new(),
            typed: None,
            reason: Some(a.terminate_reason),
            button: a.terminate_confirm,
            cancel: tenant_path(&tenant.id),
        };
        Ok(Html(page.render()?).into_response())
    }
    .await;
    console.finish(result)
}

/// `POST /admin/tenants/{id}/terminate` (operators): sign-in stops now; the data goes after
/// the retention period unless the tenant is reinstated.
async fn terminate(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let back = tenant_path(&id);
        // Without a reason, no body at all (the API takes an empty one).
        let body = form.get("reason").map(|r| r.trim()).filter(|r| !r.is_empty()).map(|reason| Termination { reason: Some(reason.to_owned()) });
        let path = format!("/api/v1/tenants/{}/terminate", encode(&id));
        let answer: TenantTerminated = api_from(&console, &back)?.send(Method::POST, &path, body.as_ref()).await.map_err(|e| console.failed(e, &back))?;
        let due = answer.deletion_due.unwrap_or_default();
        Ok(console.done("/admin", format!("{} {due}", console.m.admin.terminated)))
    }
    .await;
    console.finish(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_policy::AppPolicy;
    use serde_json::json;

    #[test]
    fn step_up_lines_read_as_a_scope_table() {
        let m = &crate::messages::EN;
        let scopes = step_up_scopes(m, "payments:approve = mfa\r\n\n keys:rotate=phrh \n").unwrap();
        assert_eq!(Value::Object(scopes), json!({ "payments:approve": "urn:gatehouse:acr:mfa", "keys:rotate": "phrh" }));
        assert!(step_up_scopes(m, "payments:approve").unwrap_err().contains("payments:approve"));
        assert!(step_up_scopes(m, "a = mfa\na = phr").is_err(), "a scope twice");
        assert!(step_up_scopes(m, "two words = mfa").is_err());
        let policy: AppPolicy = serde_json::from_value(json!({ "two_factor": "bypass", "step_up_scopes": step_up_scopes(m, "x = mfa").unwrap() })).unwrap();
        assert_eq!(policy.step_up_level("x"), Some(("x", AuthLevel::Mfa)));
    }
}
