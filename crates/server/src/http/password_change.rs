//! The new-password step after a reported sign-in ("this wasn't me"): once the user passed
//! every factor (including the fresh second factor the report requires), and before the
//! application gets its code, they choose a new password. The change, its audit record and
//! clearing the reset land in one transaction.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::model::User;
use gatehouse_core::params::Params;
use gatehouse_policy::AuthLevel;
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::proof::Proof;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::login::{LoginQuery, check_csrf, expired};
use super::reset_code::{self, CodeCheck};
use super::respond::see_other;
use super::second_factor::{Step, flow_page, load_step};
use super::{ClientAddr, audit_entry};
use crate::delivery::NotificationKind;
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::complete::{Context, finish};
use crate::http::flow::progress::PendingReset;
use crate::messages::{EN, Messages};
use crate::pages::PasswordChangePage;
use crate::state::{AppState, now};

use gatehouse_core::password::{self as password_rule, PasswordProblem};

/// The one password rule (`gatehouse_core::password`), shown on the page.
pub const MIN_PASSWORD_LENGTH: usize = password_rule::MIN_CHARS;

/// Stops a sign-in that met every factor, for a password change; called by `finish` while
/// the user must reset their credentials.
pub async fn park(
    state: &AppState,
    parked: &ParkedSignIn,
    user: &User,
    proof: &Proof,
    context: &Context<'_>,
    now: OffsetDateTime,
) -> Result<Response, PageError> {
    // An account with a second factor proves a fresh one first (the policy's step-up); only
    // an account without any sets its new password after the password alone.
    let has_trusted_factor =
        proof.level == AuthLevel::Password && state.store.factors(&user.id).await?.iter().any(|f| f.is_confirmed() && user.trusts_factor_from(f.created_at));
    let progress = gatehouse_signin::next::awaiting_password_change(
        parked.progress().ok(),
        user,
        proof,
        context.decision,
        context.remember_device,
        has_trusted_factor,
        now,
    )
    .ok_or_else(expired)?;
    let mut parked = parked.clone();
    if !parked.advance(state.store.as_ref(), progress).await? {
        return Err(expired());
    }
    Ok(see_other(&format!("/login/password?request={}", parked.id)))
}

fn render(state: &AppState, step: &Step, error: Option<&str>, status: StatusCode) -> Result<Response, PageError> {
    let page = PasswordChangePage {
        m: step.m,
        request_id: &step.parked.id,
        csrf_token: &step.parked.csrf_token,
        email: step.user.email.as_str(),
        min_length: MIN_PASSWORD_LENGTH,
        code_deliverable: reset_code::deliverable(state),
        error,
    };
    Ok(flow_page(step, page.render()?, status))
}

async fn load(state: &AppState, headers: &HeaderMap, request: &str, now: OffsetDateTime) -> Result<(Step, PendingReset), PageError> {
    let step = load_step(state, headers, request, now).await?;
    let reset = step.progress.pending_reset().cloned().filter(|_| step.user.credentials_reset_required).ok_or_else(expired)?;
    Ok((step, reset))
}

/// `GET /login/password`
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    let now = now();
    let (mut step, reset) = load(&state, &headers, &query.request, now).await?;
    match reset_code::ensure_sent(&state, &mut step, &reset, now).await? {
        Some(retry_after) => render(&state, &step, Some(&step.m.flow.throttled.with(retry_after)), StatusCode::TOO_MANY_REQUESTS),
        None => render(&state, &step, None, StatusCode::OK),
    }
}

/// Why a new password is refused, in the texts of `m`.
pub fn refusal_in(m: &Messages, new: &str, confirm: &str, email: &str) -> Option<String> {
    match password_rule::check_new_password(new, email) {
        Err(PasswordProblem::TooShort) => return Some(m.flow.password_too_short.with(MIN_PASSWORD_LENGTH)),
        Err(PasswordProblem::TooLong) => return Some(m.flow.password_too_long.into()),
        Err(PasswordProblem::IsEmail) => return Some(m.flow.password_is_email.into()),
        Err(PasswordProblem::Unprintable) => return Some(m.flow.password_unprintable.into()),
        Ok(()) => {}
    }
    (new != confirm).then(|| m.flow.password_mismatch.into())
}

/// `POST /login/password`
pub async fn submit(State(state): State<AppState>, ClientAddr(addr): ClientAddr, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let now = now();
    let form = Params::parse(&body).map_err(|_| expired())?;
    let (mut step, reset) = load(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    // The mailbox first: nothing about the new password is looked at without it.
    match reset_code::check(&state, &mut step, &reset, form.get("email_code").unwrap_or_default(), addr, now).await? {
        CodeCheck::Throttled { retry_after } => return render(&state, &step, Some(&step.m.flow.throttled.with(retry_after)), StatusCode::TOO_MANY_REQUESTS),
        CodeCheck::Accepted => {}
        CodeCheck::Wrong { tries_left } => return render(&state, &step, Some(&step.m.flow.email_code_wrong.with(tries_left)), StatusCode::OK),
        CodeCheck::Resent => return render(&state, &step, Some(step.m.flow.email_code_resent), StatusCode::OK),
    }
    let new = Zeroizing::new(form.get("new_password").unwrap_or_default().to_owned());
    let confirm = Zeroizing::new(form.get("confirm_password").unwrap_or_default().to_owned());
    if let Some(message) = refusal_in(step.m, &new, &confirm, step.user.email.as_str()) {
        return render(&state, &step, Some(&message), StatusCode::OK);
    }
    let (reused, hash) = hash_new(&state, &new, step.user.password_hash.clone()).await?;
    if reused {
        return render(&state, &step, Some(step.m.flow.password_reused), StatusCode::OK);
    }
    let audit = audit_entry(format!("user:{}", step.user.id), "user.password.change", format!("user:{}", step.user.id), addr, &headers)
        .in_tenant(step.user.tenant_id.as_str());
    let audit = gatehouse_core::audit::AuditEntry { reason: Some("required after a reported sign-in".into()), ..audit };
    // Factors enrolled during this sign-in (the wizard) stay; earlier suspect ones go.
    let sign_in_began = OffsetDateTime::from_unix_timestamp(step.progress.auth_time).unwrap_or(now);
    state.store.set_password(&step.user.id, &hash, sign_in_began, now, &audit).await?;
    state.forget_user(&step.user.id);
    crate::mfa::notify(&state.factors, &step.user, NotificationKind::PasswordChanged, now);
    let user = User { password_hash: Some(hash), credentials_reset_required: false, ..(*step.user).clone() };
    let attempt = attempt::of_request(&state, &headers, addr);
    let context = Context { attempt: &attempt, decision: Some(&step.progress.decision), remember_device: reset.remember_device };
    let proof = Proof { level: reset.level, amr: reset.amr };
    finish(&state, &headers, &step.parked, &user, proof, context, now).await
}

/// Whether the new password is the old one, and its Argon2id hash (off the async workers).
pub(crate) async fn hash_new(state: &AppState, new: &str, old: Option<String>) -> Result<(bool, String), PageError> {
    let unavailable = || PageError::bad_request(EN.flow.unavailable_title, EN.flow.password_not_saved);
    let _permit = state.passwords.permits.acquire().await.map_err(|_| unavailable())?;
    let (passwords, new) = (std::sync::Arc::clone(&state.passwords), Zeroizing::new(new.to_owned()));
    let result = tokio::task::spawn_blocking(move || {
        let reused = passwords.hasher.verify(&new, old.as_deref());
        passwords.hasher.hash(&new).map(|hash| (reused, hash))
    })
    .await;
    result.map_err(|_| unavailable())?.map_err(|_| unavailable())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(new: &str, confirm: &str, email: &str) -> Option<String> {
        refusal_in(&EN, new, confirm, email)
    }

    #[test]
    fn weak_mismatched_or_email_passwords_are_refused() {
        assert!(refusal("short", "short", "a@b.test").is_some());
        assert!(refusal("a long enough one", "a long enough two", "a@b.test").unwrap().contains("not the same"));
        assert!(refusal("alice@acme.test", "alice@acme.test", "Alice@acme.test").is_some());
        assert!(refusal(&"x".repeat(2000), &"x".repeat(2000), "a@b.test").is_some());
        assert_eq!(refusal("correct horse battery", "correct horse battery", "a@b.test"), None);
    }
}
