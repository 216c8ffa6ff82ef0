//! What the admin console's pages share: who is looking (for the navigation only: the API
//! decides what each person may do), the frame, the API's JSON as the pages read it, the
//! notice shown when the API will not show a page, and the page models (askama templates).

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_api::tenants::TenantList;
use gatehouse_api::users::{Directory, DirectoryEntry};
use gatehouse_core::ids::UserId;

use super::account::encode;
use super::api::{Api, ApiFailure};
use super::pages::{Chrome, RenderPage};
use super::{Console, ConsoleError};
use crate::messages::Messages;

/// What the signed-in person administers, read for the navigation and to leave out forms
/// the API would refuse them anyway.
#[derive(Clone, Copy)]
pub struct Viewer {
    pub admin: bool,
    pub operator: bool,
}

pub async fn viewer(console: &Console) -> Viewer {
    match console.state.user(&UserId::new(console.user_id())).await {
        Ok(Some(user)) => {
            let has = |role: &str| user.roles.iter().any(|r| r == role);
            Viewer { admin: has("admin") || has("operator"), operator: has("operator") }
        }
        _ => Viewer { admin: false, operator: false },
    }
}

/// The frame of an admin page, with the message the last action left.
pub fn chrome(console: &Console, viewer: Viewer) -> Option<Chrome<'_>> {
    Some(Chrome { csrf_token: &console.view.csrf_token, admin: viewer.admin, section: "admin", flash: console.view.flash.clone() })
}

/// The admin section's own navigation; `current` marks the page.
pub struct AdminNav {
    pub operator: bool,
    pub current: &'static str,
}

impl AdminNav {
    pub fn new(viewer: Viewer, current: &'static str) -> Self {
        Self { operator: viewer.operator, current }
    }
}

/// The API for a form's action. A sign-in it needs first comes back to the page the form was
/// on, not to the action (which answers only POST).
pub fn api_from<'c>(console: &'c Console, back: &str) -> Result<Api<'c>, ConsoleError> {
    console.api().map_err(|e| match e {
        ConsoleError::SignIn { step_up, .. } => ConsoleError::SignIn { return_to: back.to_owned(), step_up },
        other => other,
    })
}

/// `/admin/tenants/{id}`
pub fn tenant_path(id: &str) -> String {
    format!("/admin/tenants/{}", encode(id))
}

/// `/admin/users/{id}`, with the tenant it was reached from (the API has no single-user read:
/// the page finds the person in that tenant's directory).
pub fn user_path(id: &str, tenant: &str, rest: &str) -> String {
    let query = if tenant.is_empty() { String::new() } else { format!("?tenant={}", encode(tenant)) };
    format!("/admin/users/{}{rest}{query}", encode(id))
}

/// Where an action on a user goes back to: their tenant's page when the form named it.
pub fn back_to_tenant(form: &std::collections::HashMap<String, String>) -> String {
    form.get("tenant").filter(|t| !t.is_empty()).map_or_else(|| "/admin".to_owned(), |t| tenant_path(t))
}

/// The user `id` as their tenant's directory lists them, with that tenant: the tenant the page
/// names, else each tenant the caller sees (a tenant admin sees one).
pub async fn find_user(api: &Api<'_>, hint: Option<&String>, id: &str) -> Result<Option<(String, DirectoryEntry)>, ApiFailure> {
    let tenants: Vec<String> = match hint.filter(|h| !h.is_empty()) {
        Some(tenant) => vec![tenant.clone()],
        None => api.get::<TenantList>("/api/v1/tenants").await?.tenants.into_iter().map(|t| t.id).collect(),
    };
    for tenant in tenants {
        let users: Directory = api.get(&format!("/api/v1/tenants/{}/users", encode(&tenant))).await?;
        if let Some(user) = users.users.into_iter().find(|u| u.id == id) {
            return Ok(Some((tenant, user)));
        }
    }
    Ok(None)
}

/// A page the API would not show (another tenant's, an operator's, a tampered id): its own
/// notice, never a redirect back to the same page.
pub fn refused_page(console: &Console, viewer: Viewer, failure: ApiFailure, here: &str) -> Result<Response, ConsoleError> {
    let ApiFailure::Refused { status, detail } = failure else { return Err(console.failed(failure, here)) };
    let (m, a) = (console.m, &console.m.admin);
    let (status, title, message, detail) = match status {
        StatusCode::FORBIDDEN => (status, a.refused_title, a.refused, detail),
        StatusCode::NOT_FOUND => (status, m.common.not_found_title, m.common.not_found, String::new()),
        _ => (StatusCode::BAD_REQUEST, a.bad_request_title, a.bad_request, detail),
    };
    Ok(notice(console, viewer, status, title, message, &detail))
}

/// A notice inside the admin frame.
pub fn notice(console: &Console, viewer: Viewer, status: StatusCode, title: &str, message: &str, detail: &str) -> Response {
    let (link, link_text) = if viewer.admin { ("/admin", console.m.admin.back_to_admin) } else { ("/account", console.m.admin.back_to_account) };
    let page = AdminNotice {
        m: console.m,
        chrome: chrome(console, viewer),
        nav: viewer.admin.then(|| AdminNav::new(viewer, "")),
        title,
        message,
        detail,
        link,
        link_text,
    };
    page.render_page(status)
}

/// A Unix time as people read it.
pub fn at(unix: i64, m: &Messages) -> String {
    super::pages::when(Some(unix), m.common.never)
}

#[derive(Template)]
#[template(path = "console/admin_notice.html")]
pub struct AdminNotice<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: Option<AdminNav>,
    pub title: &'a str,
    pub message: &'a str,
    pub detail: &'a str,
    pub link: &'a str,
    pub link_text: &'a str,
}

pub struct TenantLink {
    pub name: String,
    pub domains: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "console/admin_overview.html")]
pub struct OverviewPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub tenants: Vec<TenantLink>,
}

/// One checkbox of the allowed methods.
pub struct MethodBox {
    pub name: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// The authentication settings as the form shows them (and as the lock-out page carries them).
pub struct PolicyForm {
    pub required: bool,
    pub methods: Vec<MethodBox>,
    /// One network a line (on the lock-out page, one a space).
    pub networks: String,
    pub remember_days: String,
}

pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: String,
    pub methods: String,
    pub href: String,
    pub admin: bool,
    pub operator: bool,
    /// Whether this viewer may change the roles (a tenant admin cannot touch an operator's).
    pub roles_editable: bool,
    pub roles_action: String,
    pub unlock_action: String,
    /// The confirmation page (a GET form, so the button names its row without a second link
    /// named after the person).
    pub reset_action: String,
}

#[derive(Template)]
#[template(path = "console/admin_tenant.html")]
pub struct TenantPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub csrf_token: &'a str,
    pub id: String,
    pub base: String,
    pub name: String,
    pub domains: Vec<String>,
    pub providers: Vec<gatehouse_api::identities::IdentityProvider>,
    pub staged: bool,
    pub policy: PolicyForm,
    pub users: Vec<UserRow>,
}

#[derive(Template)]
#[template(path = "console/admin_lockout.html")]
pub struct LockoutPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub csrf_token: &'a str,
    pub action: String,
    pub back: String,
    pub detail: String,
    pub policy: PolicyForm,
}

/// A confirmation before a change that cannot be undone.
#[derive(Template)]
#[template(path = "console/admin_confirm.html")]
pub struct ConfirmPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub csrf_token: &'a str,
    pub title: &'a str,
    pub subject: String,
    pub explain: &'a str,
    pub action: String,
    pub hidden: Vec<(&'static str, String)>,
    /// The label of a field where the admin types the subject again.
    pub typed: Option<&'a str>,
    /// The label of an optional reason, recorded in the audit trail.
    pub reason: Option<&'a str>,
    pub button: &'a str,
    pub cancel: String,
}

pub struct SignInRow {
    pub at: String,
    pub application: String,
    pub address: String,
    pub result: String,
    pub methods: String,
    pub outcome: String,
    pub rule: String,
    pub reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/admin_user.html")]
pub struct UserPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub email: String,
    pub name: String,
    pub roles: String,
    pub methods: String,
    pub tenant_href: String,
    pub data_href: String,
    pub reset_href: String,
    pub erase_href: String,
    pub history: Vec<SignInRow>,
    pub older: Option<String>,
}
