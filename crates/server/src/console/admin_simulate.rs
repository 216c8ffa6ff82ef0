//! The policy simulator in the admin console: "what would happen if this person signed in to
//! this application from this address?", answered by the API with the same code as a real
//! sign-in, and shown with the winning rule and every reason. It writes nothing; its form
//! still carries the CSRF token (it spends the admin's token on the API).

use askama::Template;
use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use gatehouse_api::applications::ApplicationList;
use gatehouse_api::simulate::{SimulatedDecision, Simulation};
use gatehouse_api::tenants::TenantList;

use super::admin::kind_label;
use super::admin_operator::app_choices;
use super::admin_pages::{AdminNav, Viewer, api_from, chrome, refused_page, viewer};
use super::admin_users::{outcome_text, rule_text};
use super::api::ApiFailure;
use super::pages::{Chrome, RenderPage};
use super::{Console, ConsoleError, Form};
use crate::messages::Messages;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/simulate", get(page).post(simulate))
}

/// The form as sent (shown again with the answer).
#[derive(Default)]
pub struct Asked {
    pub email: String,
    pub client_id: String,
    pub ip: String,
    pub acr_values: String,
    pub scopes: String,
    pub known_device: bool,
}

/// A decision as the page shows it.
pub struct Answer {
    pub outcome: String,
    pub level: String,
    pub methods: String,
    pub rule: String,
    pub rule_code: String,
    pub risk: String,
    pub reasons: Vec<String>,
    /// What a policy on trial in report-only mode would have decided.
    pub staged: Option<Staged>,
}

pub struct Staged {
    pub outcome: String,
    pub rule: String,
}

/// An application to pick.
pub struct Choice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "console/admin_simulate.html")]
pub struct SimulatorPage<'a> {
    pub m: &'static Messages,
    pub chrome: Option<Chrome<'a>>,
    pub nav: AdminNav,
    pub csrf_token: &'a str,
    /// The applications to choose from (operators); a text field for anyone else.
    pub apps: Option<Vec<Choice>>,
    pub asked: Asked,
    pub error: Option<String>,
    pub answer: Option<Answer>,
}

fn risk_text(m: &'static Messages, risk: &str) -> String {
    match risk {
        "low" => m.admin.risk_low.to_owned(),
        "elevated" => m.admin.risk_elevated.to_owned(),
        "high" => m.admin.risk_high.to_owned(),
        other => other.to_owned(),
    }
}

fn answer(m: &'static Messages, decision: SimulatedDecision) -> Answer {
    Answer {
        outcome: outcome_text(m, &decision.outcome.kind),
        level: decision.outcome.level.unwrap_or_default(),
        methods: decision.outcome.methods.iter().map(|k| kind_label(m, k)).collect::<Vec<_>>().join(", "),
        rule: rule_text(&decision.winning_rule.code),
        rule_code: decision.winning_rule.code,
        risk: risk_text(m, &decision.risk),
        reasons: decision.reasons.into_iter().map(|r| r.text).collect(),
        staged: decision.report_only.map(|s| Staged { outcome: outcome_text(m, &s.outcome.kind), rule: rule_text(&s.winning_rule.code) }),
    }
}

/// The applications an operator may pick from; `None` (a text field) when the API lists them
/// only for operators and this is a tenant admin.
async fn choices(console: &Console, viewer: Viewer, chosen: &str) -> Result<Option<Vec<Choice>>, ConsoleError> {
    if !viewer.operator {
        return Ok(None);
    }
    match console.api()?.get::<ApplicationList>("/api/v1/applications").await {
        Ok(apps) => Ok(Some(app_choices(apps).into_iter().map(|(id, name)| Choice { selected: id == chosen, id, name }).collect())),
        Err(ApiFailure::Refused { .. }) => Ok(None),
        Err(failure) => Err(console.failed(failure, "/admin/simulate")),
    }
}

async fn render(console: &Console, asked: Asked, error: Option<String>, answer: Option<Answer>) -> Result<Response, ConsoleError> {
    let viewer = viewer(console).await;
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = SimulatorPage {
        m: console.m,
        chrome: chrome(console, viewer),
        nav: AdminNav::new(viewer, "simulate"),
        csrf_token: &console.view.csrf_token,
        apps: choices(console, viewer, &asked.client_id).await?,
        asked,
        error,
        answer,
    };
    Ok(page.render_page(status))
}

/// `GET /admin/simulate`
async fn page(console: Console) -> Response {
    let result = async {
        // Only admins may simulate: the API's cheapest admin read says whether this is one.
        if let Err(failure) = console.api()?.get::<TenantList>("/api/v1/tenants").await {
            return refused_page(&console, viewer(&console).await, failure, "/admin/simulate");
        }
        render(&console, Asked::default(), None, None).await
    }
    .await;
    console.finish(result)
}

/// `POST /admin/simulate` → `POST /api/v1/policy/simulate`; the answer (or the API's reason
/// for refusing the question) is shown under the form as it was filled in.
async fn simulate(console: Console, axum::Form(form): Form) -> Response {
    let result = async {
        console.check_form(&form)?;
        let field = |name: &str| form.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
        let asked = Asked {
            email: field("email"),
            client_id: field("client_id"),
            ip: field("ip"),
            acr_values: field("acr_values"),
            scopes: field("scopes"),
            known_device: form.contains_key("known_device"),
        };
        let words = |text: &str| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let body = Simulation {
            email: asked.email.clone(),
            client_id: asked.client_id.clone(),
            ip: asked.ip.clone(),
            acr_values: words(&asked.acr_values),
            scopes: words(&asked.scopes),
            known_device: asked.known_device,
            session_acr: None,
        };
        let api = api_from(&console, "/admin/simulate")?;
        match api.send::<_, SimulatedDecision>(axum::http::Method::POST, "/api/v1/policy/simulate", Some(&body)).await {
            Ok(decision) => render(&console, asked, None, Some(answer(console.m, decision))).await,
            Err(ApiFailure::Refused { status: StatusCode::NOT_FOUND, detail }) => {
                render(&console, asked, Some(format!("{} ({detail})", console.m.admin.simulate_not_found)), None).await
            }
            Err(ApiFailure::Refused { detail, .. }) => render(&console, asked, Some(detail), None).await,
            Err(failure) => Err(console.failed(failure, "/admin/simulate")),
        }
    }
    .await;
    console.finish(result)
}
