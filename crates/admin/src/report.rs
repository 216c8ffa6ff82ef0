//! "This wasn't me" on an entry of the person's login history.
//!
//! What a genuine victim needs is open to any sign-in, password-only included: every session
//! ends, every token is revoked, the admins are alerted, and the next sign-in must change the
//! password (after a fresh second factor where the account has one). What an intruder who
//! knows only the password would want is not: the password is never set here, and second
//! factors are removed only by a sign-in that used one recently, as for removing a factor.

use gatehouse_api::sign_ins::SignInReported;
use gatehouse_core::alert::AlertKind;
use gatehouse_core::audit::AuditEntry;
use gatehouse_delivery::NotificationKind;
use gatehouse_ops::monitor::NewAlert;
use gatehouse_store::SignInReport;
use serde::Deserialize;
use serde_json::json;

use crate::account::Account;
use crate::caller::{Origin, SignedIn};
use crate::error::{AdminError, Result};

/// The body of a report (it may be empty).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// No longer accepted: a report never sets the password. Named here only so that a client
    /// still sending it gets a clear refusal, not "unknown field".
    pub new_password: Option<serde::de::IgnoredAny>,
    /// Also remove the second factors and recovery codes created since the reported sign-in.
    /// Needs a sign-in within the freshness window that used a second factor (otherwise the
    /// RFC 9470 challenge); such a sign-in removes them without asking.
    pub remove_factors: Option<bool>,
}

impl Account<'_> {
    /// Reports sign-in `id` as not the person's.
    pub async fn report_sign_in(&self, me: &SignedIn, origin: &Origin, id: &str, request: ReportRequest) -> Result<SignInReported> {
        let (store, now, user) = (self.factors.store.as_ref(), self.now, &me.user);
        if request.new_password.is_some() {
            return Err(AdminError::bad_request(
                "new_password: a report no longer sets the password; your next sign-in asks for a new one (after a second factor, where your account has one)",
            ));
        }
        let not_found = || AdminError::NotFound("no such sign-in");
        let event = store.sign_in_event(id).await?.filter(|e| e.user_id.as_ref() == Some(&user.id)).ok_or_else(not_found)?;
        let factors = store.factors(&user.id).await?;
        let later = factors.iter().filter(|f| f.created_at >= event.at).count();
        let has_factor = factors.iter().any(|f| f.is_confirmed());
        let fresh = me.require_fresh(true, now);
        let fresh_second_factor = fresh.is_ok();
        if request.remove_factors == Some(true) {
            // Refused before anything changed, so the caller can sign in again and repeat it.
            fresh?;
        }
        let remove_later_factors = fresh_second_factor && request.remove_factors != Some(false);
        let factors_kept = if remove_later_factors { 0 } else { later };
        let audit = AuditEntry {
            reason: Some("the user reported this sign-in as not theirs".into()),
            after: Some(json!({ "sign_in": id, "factors_removed": remove_later_factors })),
            ..me.audit(origin, now, "sign_in.report", format!("user:{}", user.id))
        };
        // The address counts as risky in the reporter's tenant until then, unless an admin
        // clears it sooner.
        let address_reported_until = now + time::Duration::days(self.factors.monitor.settings.detection.reported_address_days);
        let ask = SignInReport { event_id: id, remove_later_factors, address_reported_until };
        let report = store.report_sign_in(&user.id, &ask, now, &audit).await?.ok_or_else(not_found)?;
        for grant in &report.revoked_grants {
            self.caches.revoke_grant(grant.clone());
        }
        self.caches.forget_user(&user.id);
        self.notify(user, NotificationKind::SignInReported { sign_in: id.to_owned() });
        let event = &report.event;
        let alert = NewAlert {
            kind: AlertKind::SignInReported,
            tenant: Some(user.tenant_id.clone()),
            subject: format!("user:{}", user.id),
            summary: format!("user:{} reported a sign-in from {} as not theirs", user.id, event.address),
            details: json!({
                "user": user.id.as_str(), "sign_in": event.id, "address": event.address, "user_agent": event.user_agent,
                "device": event.device_id, "at": event.at.unix_timestamp(), "sessions_ended": report.sessions_ended,
                "grants_revoked": report.revoked_grants.len(), "factors_removed": report.factors_removed,
                "recovery_codes_removed": report.recovery_codes_removed,
                "factors_kept": factors_kept,
            }),
        };
        self.factors.monitor.raise(alert, now).await?;
        let next_sign_in = if has_factor { "requires a fresh second factor and a new password" } else { "requires a new password" };
        Ok(SignInReported {
            sign_in: id.to_owned(),
            sessions_ended: report.sessions_ended,
            grants_revoked: report.revoked_grants.len() as u64,
            factors_removed: report.factors_removed,
            recovery_codes_removed: report.recovery_codes_removed,
            factors_kept: factors_kept as u64,
            next_sign_in: next_sign_in.to_owned(),
        })
    }
}
