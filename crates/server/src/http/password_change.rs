//! The new-password page after a reported sign-in ("this wasn't me"): the form and its texts
//! around `gatehouse_signin::steps::password_change` (the mailbox code, the stage, storing
//! the new password with its audit record). The new password's rules are checked here for
//! their messages, and hashed here on the blocking pool, as at the password page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_core::model::User;
use gatehouse_core::params::Params;
use gatehouse_signin::parked::ParkedSignIn;
use gatehouse_signin::progress::PendingReset;
use gatehouse_signin::proof::Proof;
use gatehouse_signin::steps::Origin;
use gatehouse_signin::steps::password_change::{self as steps, CodeCheck};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::ClientAddr;
use super::login::{LoginQuery, check_csrf};
use super::respond::see_other;
use super::second_factor::{Step, flow_page, load_step};
use crate::error::PageError;
use crate::http::flow::attempt;
use crate::http::flow::complete::{Context, finish};
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
    steps::stop_for_new_password(state.store.as_ref(), parked, user, proof, context.decision, context.remember_device, now).await?;
    Ok(see_other(&format!("/login/password?request={}", parked.id)))
}

/// What the mailbox code needs from the server: the code goes out by the notifier (SMTP, a
/// webhook, or the development outbox).
fn codes(state: &AppState) -> steps::Context<'_> {
    let deliverable = state.config.monitoring.notifier.is_some() || state.config.dev_outbox;
    steps::Context { factors: &state.factors, limiter: &state.limits.reset_code, deliverable }
}

fn render(state: &AppState, step: &Step, error: Option<&str>, status: StatusCode) -> Result<Response, PageError> {
    let page = PasswordChangePage {
        m: step.m,
        request_id: &step.parked.id,
        csrf_token: &step.parked.csrf_token,
        email: step.user.email.as_str(),
        min_length: MIN_PASSWORD_LENGTH,
        code_deliverable: codes(state).deliverable,
        error,
    };
    Ok(flow_page(step, page.render()?, status))
}

async fn load(state: &AppState, headers: &HeaderMap, request: &str, now: OffsetDateTime) -> Result<(Step, PendingReset), PageError> {
    let step = load_step(state, headers, request, now).await?;
    let reset = steps::pending(&step)?;
    Ok((step, reset))
}

/// `GET /login/password`
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LoginQuery>) -> Result<Response, PageError> {
    let now = now();
    let (mut step, reset) = load(&state, &headers, &query.request, now).await?;
    match steps::ensure_sent(&codes(&state), &mut step, &reset, now).await? {
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
    let form = Params::parse(&body).map_err(|_| super::login::expired())?;
    let (mut step, reset) = load(&state, &headers, form.get("request").unwrap_or_default(), now).await?;
    check_csrf(&form, &step.parked)?;
    // The mailbox first: nothing about the new password is looked at without it.
    match steps::check_code(&codes(&state), &mut step, &reset, form.get("email_code").unwrap_or_default(), addr, now).await? {
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
    let origin = Origin { address: addr, user_agent: &super::user_agent(&headers) };
    let remember_device = reset.remember_device;
    let (user, proof) = steps::set_password(&state.factors, &step, reset, hash, origin, now).await?;
    state.forget_user(&step.user.id);
    let attempt = attempt::of_request(&state, &headers, addr);
    let context = Context { attempt: &attempt, decision: Some(&step.progress.decision), remember_device, idp: step.progress.idp.as_deref() };
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
