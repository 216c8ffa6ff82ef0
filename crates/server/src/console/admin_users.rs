//! A tenant's users in the admin console: a person's login history with the policy's reasons,
//! their personal data, and the actions on them (roles, unlock, reset of second factors,
//! erasure), each through the admin API. Actions come back to the tenant page they were made
//! from (the form names it); the irreversible ones ask first.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_api::sign_ins::SignInHistory;
use gatehouse_api::users::{User, UserChange};
use gatehouse_policy::Rule;
use std::collections::HashMap;

use super::account::encode;
use super::admin::kind_label;
use super::admin_pages::{
    AdminNav, ConfirmPage, SignInRow, UserPage, api_from, at, back_to_tenant, chrome, find_user, notice, refused_page, tenant_path, user_path, viewer,
};
use super::api::NO_BODY;
use super::{Console, ConsoleError, Form};
use crate::messages::Messages;
use crate::state::AppState;

/// Sign-ins a page.
const PAGE: u32 = 25;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users/{id}", get(user_page))
        .route("/admin/users/{id}/personal-data", get(personal_data))
        .route("/admin/users/{id}/roles", post(roles))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/users/{id}/reset-factors", get(reset_page).post(reset))
        .route("/admin/users/{id}/erase", get(erase_page).post(erase))
}

/// What the policy decided, in words.
pub(super) fn outcome_text(m: &'static Messages, kind: &str) -> String {
    match kind {
        "no_prompt" => m.admin.outcome_no_prompt.to_owned(),
        "second_factor" => m.admin.outcome_second_factor.to_owned(),
        "enroll" => m.admin.outcome_enroll.to_owned(),
        "deny" => m.admin.outcome_deny.to_owned(),
        other => other.replace('_', " "),
    }
}

/// A winning rule's code, in the words of the policy.
pub(super) fn rule_text(code: &str) -> String {
    Rule::ALL.into_iter().find(|r| r.code() == code).map_or_else(|| code.to_owned(), |r| r.text().to_owned())
}

/// `GET /admin/users/{id}?tenant=&before=`: who the person is and their login history, newest
/// first, with older pages by the API's cursor.
async fn user_page(console: Console, Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = async {
        let api = console.api()?;
        let viewer = viewer(&console).await;
        let here = console.here.clone();
        let mut path = format!("/api/v1/users/{}/sign-ins?limit={PAGE}", encode(&id));
        if let Some(before) = query.get("before").filter(|b| !b.is_empty()) {
            path.push_str(&format!("&before={}", encode(before)));
        }
        // The history first: the API answers it only for the caller's own users.
        let history: SignInHistory = match api.get(&path).await {
            Ok(history) => history,
            Err(failure) => return refused_page(&console, viewer, failure, &here),
        };
        let (tenant, user) = match find_user(&api, query.get("tenant"), &id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(notice(&console, viewer, StatusCode::NOT_FOUND, console.m.common.not_found_title, console.m.common.not_found, "")),
            Err(failure) => return refused_page(&console, viewer, failure, &here),
        };
        let m = console.m;
        let rows = history
            .sign_ins
            .into_iter()
            .map(|s| {
                let (outcome, rule, reasons) = match s.policy {
                    Some(policy) => (policy.outcome.clone(), policy.rule.clone(), policy.reason_texts()),
                    None => (None, None, Vec::new()),
                };
                SignInRow {
                    at: at(s.at, m),
                    application: s.application.unwrap_or_default(),
                    address: s.address,
                    result: s.result.replace('_', " "),
                    // The provider a federated sign-in went through, after its methods.
                    methods: match &s.identity_provider {
                        Some(idp) => format!("{} ({idp})", s.methods.join(", ")),
                        None => s.methods.join(", "),
                    },
                    outcome: outcome.map(|o| outcome_text(m, &o)).unwrap_or_default(),
                    rule: rule.map(|r| rule_text(&r)).unwrap_or_default(),
                    reasons,
                }
            })
            .collect();
        let older = history.next.map(|next| {
            let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("tenant", &tenant).append_pair("before", &next).finish();
            format!("/admin/users/{}?{query}", encode(&id))
        });
        let page = UserPage {
            m,
            chrome: chrome(&console, viewer),
            nav: AdminNav::new(viewer, "overview"),
            roles: user.roles.join(", "),
            methods: user.methods.iter().map(|k| kind_label(m, k)).collect::<Vec<_>>().join(", "),
            tenant_href: tenant_path(&tenant),
            data_href: user_path(&id, "", "/personal-data"),
            reset_href: user_path(&id, &tenant, "/reset-factors"),
            erase_href: user_path(&id, &tenant, "/erase"),
            email: user.email,
            name: user.name,
            history: rows,
            older,
        };
        Ok(Html(askama::Template::render(&page)?).into_response())
    }
    .await;
    console.finish(result)
}

/// `GET /admin/users/{id}/personal-data`: the access report answered on the person's behalf,
/// as a JSON download (the API records the export).
async fn personal_data(console: Console, Path(id): Path<String>) -> Response {
    let result = async {
        console.require_same_site()?;
        let path = format!("/api/v1/users/{}/personal-data", encode(&id));
        let back = user_path(&id, "", "");
        let (_, body) = console.api()?.call(Method::GET, &path, NO_BODY).await.map_err(|e| console.failed(e, &back))?;
        Ok(Console::download(body, "gatehouse-personal-data.json"))
    }
    .await;
    console.finish(result)
}

/// `POST /admin/users/{id}/roles` → `PATCH /api/v1/users/{id}` with the boxes ticked.
async fn roles(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let back = back_to_tenant(&form);
        let roles: Vec<&str> = ["admin", "operator"].into_iter().filter(|r| form.contains_key(&format!("role_{r}"))).collect();
        let path = format!("/api/v1/users/{}", encode(&id));
        let change = UserChange { name: None, roles: Some(roles.into_iter().map(str::to_owned).collect()) };
        let answer: User =
            api_from(&console, &back)?.send(Method::PATCH, &path, Some(&change)).await.map_err(|e| console.failed(e, &format!("{back}#users-h")))?;
        let email = answer.email;
        Ok(console.done(&format!("{back}#users-h"), format!("{} {email}", console.m.admin.roles_saved)))
    }
    .await;
    console.finish(result)
}

/// `POST /admin/users/{id}/unlock` → `POST /api/v1/users/{id}/unlock`.
async fn unlock(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let back = format!("{}#users-h", back_to_tenant(&form));
        let path = format!("/api/v1/users/{}/unlock", encode(&id));
        api_from(&console, &back)?.send_only(Method::POST, &path, NO_BODY).await.map_err(|e| console.failed(e, &back))?;
        Ok(console.done(&back, console.m.admin.unlocked))
    }
    .await;
    console.finish(result)
}

/// A confirmation page about one user, found in the tenant the link named.
async fn confirm_page(console: &Console, id: &str, query: &HashMap<String, String>, kind: Confirm) -> Result<Response, ConsoleError> {
    let api = console.api()?;
    let viewer = viewer(console).await;
    let (tenant, user) = match find_user(&api, query.get("tenant"), id).await {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(notice(console, viewer, StatusCode::NOT_FOUND, console.m.common.not_found_title, console.m.common.not_found, "")),
        Err(failure) => return refused_page(console, viewer, failure, &console.here),
    };
    let a = &console.m.admin;
    let (title, explain, rest, typed, button) = match kind {
        Confirm::Reset => (a.reset_title, a.reset_explain, "/reset-factors", None, a.reset_confirm),
        Confirm::Erase => (a.erase_title, a.erase_explain, "/erase", Some(a.erase_type_email), a.erase_confirm),
    };
    let page = ConfirmPage {
        m: console.m,
        chrome: chrome(console, viewer),
        nav: AdminNav::new(viewer, "overview"),
        csrf_token: &console.view.csrf_token,
        title,
        subject: user.email,
        explain,
        action: user_path(id, "", rest),
        hidden: vec![("tenant", tenant.clone())],
        typed,
        reason: None,
        button,
        cancel: tenant_path(&tenant),
    };
    Ok(Html(askama::Template::render(&page)?).into_response())
}

enum Confirm {
    Reset,
    Erase,
}

/// `GET /admin/users/{id}/reset-factors`: asks first.
async fn reset_page(console: Console, Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = confirm_page(&console, &id, &query, Confirm::Reset).await;
    console.finish(result)
}

/// `POST /admin/users/{id}/reset-factors` → `DELETE /api/v1/users/{id}/factors` (a lost
/// phone): the person sets up a second factor again at their next sign-in that needs one.
async fn reset(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let back = format!("{}#users-h", back_to_tenant(&form));
        let path = format!("/api/v1/users/{}/factors", encode(&id));
        api_from(&console, &back)?.send_only(Method::DELETE, &path, NO_BODY).await.map_err(|e| console.failed(e, &back))?;
        Ok(console.done(&back, console.m.admin.reset_done))
    }
    .await;
    console.finish(result)
}

/// `GET /admin/users/{id}/erase`: asks for the email address again.
async fn erase_page(console: Console, Path(id): Path<String>, Query(query): Query<HashMap<String, String>>) -> Response {
    let result = confirm_page(&console, &id, &query, Confirm::Erase).await;
    console.finish(result)
}

/// `POST /admin/users/{id}/erase` → `DELETE /api/v1/users/{id}`, only when the address typed is
/// the person's: a mismatch erases nothing.
async fn erase(console: Console, Path(id): Path<String>, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let tenant = form.get("tenant").cloned().unwrap_or_default();
        let again = user_path(&id, &tenant, "/erase");
        let api = api_from(&console, &again)?;
        let (tenant, user) = match find_user(&api, Some(&tenant), &id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(ConsoleError::Refused { back_to: back_to_tenant(&form), detail: console.m.common.not_found.to_owned() }),
            Err(failure) => return Err(console.failed(failure, &back_to_tenant(&form))),
        };
        let typed = form.get("confirm").map_or("", |t| t.trim());
        if !typed.eq_ignore_ascii_case(&user.email) {
            return Err(ConsoleError::Refused { back_to: again, detail: console.m.admin.erase_mismatch.to_owned() });
        }
        let path = format!("/api/v1/users/{}", encode(&id));
        api.send_only(Method::DELETE, &path, NO_BODY).await.map_err(|e| console.failed(e, &again))?;
        Ok(console.done(&format!("{}#users-h", tenant_path(&tenant)), format!("{} {}", console.m.admin.erased, user.email)))
    }
    .await;
    console.finish(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_outcomes_read_in_words() {
        assert!(rule_text("app_bypass").contains("The App Bypass always wins"));
        assert_eq!(rule_text("made_up"), "made_up");
        assert_eq!(outcome_text(&crate::messages::EN, "deny"), crate::messages::EN.admin.outcome_deny);
    }
}
