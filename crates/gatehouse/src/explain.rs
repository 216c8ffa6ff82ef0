//! `gatehouse policy explain`: what the 2FA policy would decide for one person signing in to
//! one application from one address, with the winning rule and every reason. It reads the
//! data directory (read-only, safe beside a running server) and calls the same decision code
//! the server runs at sign-in.

use anyhow::{Context, Result, bail};
use clap::Args;
use gatehouse_core::{ClientId, Email};
use gatehouse_policy::AuthLevel;
use gatehouse_signin::decide::{Hypothetical, simulate};
use gatehouse_store::sqlite::OpenMode;
use gatehouse_store::{DirectoryStore, Store};
use serde_json::Value;
use std::net::IpAddr;

use crate::clock::now;
use crate::settings::{CommonArgs, FileSettings};

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// The person signing in.
    #[arg(long)]
    pub email: String,
    /// The application's client_id.
    #[arg(long)]
    pub app: String,
    /// The client address the sign-in comes from.
    #[arg(long)]
    pub ip: IpAddr,
    /// `acr_values` the application asks for (repeatable).
    #[arg(long)]
    pub acr: Vec<String>,
    /// Scopes the application asks for (repeatable); a step-up scope raises the requirement.
    #[arg(long)]
    pub scope: Vec<String>,
    /// The browser is known and completed a second factor just now (a remembered device).
    #[arg(long)]
    pub known_device: bool,
    /// An SSO session already proved this level (an acr value).
    #[arg(long)]
    pub session_acr: Option<String>,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn explain(common: &CommonArgs, file: &FileSettings, args: &ExplainArgs) -> Result<()> {
    let email = Email::parse(&args.email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let client_id = ClientId::parse(&args.app).map_err(|e| anyhow::anyhow!("--app: {e}"))?;
    let session = match &args.session_acr {
        Some(acr) => Some(AuthLevel::from_acr(acr).with_context(|| format!("--session-acr: unknown acr value `{acr}`"))?),
        None => None,
    };
    let (_, store) = common.open(file, OpenMode::ReadOnly, false).await?;
    let Some(user) = store.user_by_email(&email).await? else { bail!("no user with email {email}") };
    let Some(client) = store.client(&client_id).await? else { bail!("no application with client_id `{client_id}`") };
    let sign_in = Hypothetical { acr_values: &args.acr, scopes: &args.scope, address: args.ip, known_device: args.known_device, session };
    let verdict = simulate(&store, &user, &client, &sign_in, now()).await?;
    store.close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict.record)?);
    } else {
        print!("{}", render(&email, &client.name, args.ip, &verdict.record));
    }
    Ok(())
}

/// The decision as text for people.
fn render(email: &Email, app: &str, ip: IpAddr, decision: &Value) -> String {
    let text = |pointer: &str| decision.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut out = format!("{email} signing in to {app} from {ip}\n");
    out.push_str(&format!("outcome: {}", text("/outcome/kind")));
    if let Some(level) = decision.pointer("/outcome/level").and_then(Value::as_str) {
        out.push_str(&format!(" (level {level})"));
    }
    if let Some(methods) = decision.pointer("/outcome/methods").and_then(Value::as_array) {
        let names: Vec<&str> = methods.iter().filter_map(Value::as_str).collect();
        out.push_str(&format!(", methods: {}", names.join(", ")));
    }
    if let Some(error) = decision.pointer("/outcome/error").and_then(Value::as_str) {
        out.push_str(&format!(", error {error}"));
    }
    out.push('\n');
    out.push_str(&format!("winning rule: {} — {}\n", text("/winning_rule/code"), text("/winning_rule/text")));
    out.push_str(&format!("risk: {}\n", text("/risk")));
    out.push_str("reasons:\n");
    for reason in decision.get("reasons").and_then(Value::as_array).into_iter().flatten() {
        let field = |name: &str| reason.get(name).and_then(Value::as_str).unwrap_or_default();
        out.push_str(&format!("  - {}: {}\n", field("code"), field("text")));
    }
    out
}
