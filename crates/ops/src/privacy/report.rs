//! The access report (GDPR Art. 15): every personal field held about one person, their factors
//! (metadata, never secrets), sessions, browsers, login history and the audit records about
//! them or by them, with the retention rule of each kind of data. One builder serves the CLI,
//! the admin API and "download my data".

use gatehouse_core::model::{Tenant, User};
use gatehouse_core::{Factor, FactorSecret};
use gatehouse_store::{AuditFilter, SignInFilter, Store, StoreError};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::csv_field;
use crate::settings::RetentionSettings;

const PAGE: u32 = 500;

fn rfc3339(t: OffsetDateTime) -> Value {
    t.format(&Rfc3339).map_or(Value::Null, Value::String)
}

fn unix(t: i64) -> Value {
    OffsetDateTime::from_unix_timestamp(t).map_or(Value::Null, rfc3339)
}

fn factor_json(factor: &Factor) -> Value {
    // What the person gave us is theirs to see (a phone number); what proves the factor (a TOTP
    // secret, a credential's key) is never shown, even to its owner.
    let detail = match &factor.secret {
        FactorSecret::Totp { .. } => json!({}),
        FactorSecret::Sms { phone } => json!({ "phone": phone.as_str() }),
        FactorSecret::WebAuthn { device_bound, .. } => json!({ "device_bound": device_bound }),
    };
    json!({
        "id": factor.id.as_str(),
        "kind": factor.kind.as_str(),
        "label": factor.label,
        "detail": detail,
        "created_at": rfc3339(factor.created_at),
        "confirmed_at": factor.confirmed_at.map(rfc3339),
        "last_used_at": factor.last_used_at.map(rfc3339),
    })
}

/// The retention rule of each kind of data, in words a person can read.
pub fn retention_rules(retention: &RetentionSettings) -> Value {
    json!({
        "profile": format!("kept while the account exists; erased on request, or {} days after the organisation's contract ends", retention.terminated_tenant_days),
        "factors": "kept until removed by the person or an admin, or the account is erased",
        "sessions": "kept while the account exists; a session ends at sign-out, on expiry or when revoked",
        "devices": "kept while the account exists; forgotten when a sign-in is reported",
        "sign_ins": format!("{} days", retention.login_history_days),
        "audit_records": format!("{} days; they name people only by a pseudonymous id, which stays after erasure so the tamper-evident chain still verifies", retention.audit_days),
        "backups": format!("{} days, encrypted; erased data stays unreadable in earlier backups because its key is destroyed", retention.backup_days),
    })
}

/// Builds the report. Reads only; the caller audits the read.
pub async fn access_report(
    store: &dyn Store,
    user: &User,
    tenant: Option<&Tenant>,
    retention: &RetentionSettings,
    now: OffsetDateTime,
) -> Result<Value, StoreError> {
    let factors = store.factors(&user.id).await?;
    let sessions = store.user_sessions(&user.id).await?;
    let devices = store.user_devices(&user.id).await?;
    let mut sign_ins = Vec::new();
    let mut before = None;
    loop {
        let page = store.sign_ins(&user.id, &SignInFilter::default(), before, PAGE).await?;
        let full = page.len() == PAGE as usize;
        before = page.last().map(|e| (e.at, e.id.clone()));
        sign_ins.extend(page);
        if !full {
            break;
        }
    }
    let subject = format!("user:{}", user.id);
    let mut audit = Vec::new();
    for filter in [AuditFilter { target: Some(subject.clone()), ..Default::default() }, AuditFilter { actor: Some(subject.clone()), ..Default::default() }] {
        let mut before = None;
        loop {
            let page = store.audit_query(&filter, before, PAGE).await?;
            let full = page.len() == PAGE as usize;
            before = page.last().map(|r| r.seq);
            audit.extend(page);
            if !full {
                break;
            }
        }
    }
    audit.sort_by_key(|r| r.seq);
    audit.dedup_by_key(|r| r.seq);
    Ok(json!({
        "format": "gatehouse-access-report-v1",
        "generated_at": rfc3339(now),
        "subject": {
            "id": user.id.as_str(),
            "email": user.email.as_str(),
            "name": user.name,
            "roles": user.roles,
            "email_verified": user.email_verified,
            "password_set": user.password_hash.is_some(),
            "credentials_reset_required": user.credentials_reset_required,
            "tenant": tenant.map(|t| json!({ "id": t.id.as_str(), "name": t.name })),
        },
        "factors": factors.iter().map(factor_json).collect::<Vec<_>>(),
        "recovery_codes": { "remaining": store.recovery_codes_left(&user.id).await? },
        "sessions": sessions.iter().map(|s| json!({
            "id": s.id.as_str(), "created_at": rfc3339(s.created_at), "last_seen_at": rfc3339(s.last_seen_at),
            "auth_time": rfc3339(s.auth_time), "acr": s.acr, "amr": s.amr, "ended_at": s.ended_at.map(rfc3339),
        })).collect::<Vec<_>>(),
        "devices": devices.iter().map(|d| json!({
            "id": d.id, "created_at": rfc3339(d.created_at), "last_seen_at": rfc3339(d.last_seen_at), "user_agent": d.user_agent,
            "second_factor_at": d.second_factor_at.map(rfc3339), "reported_at": d.reported_at.map(rfc3339),
        })).collect::<Vec<_>>(),
        "sign_ins": sign_ins.iter().map(|e| json!({
            "id": e.id, "at": rfc3339(e.at), "application": e.client_id, "address": e.address, "user_agent": e.user_agent,
            "result": e.result.as_str(), "methods": e.amr, "acr": e.acr, "risky": e.risky,
            "policy_outcome": e.decision.as_ref().and_then(|d| d.pointer("/outcome/kind")).cloned(),
            "reported_at": e.reported_at.map(rfc3339),
        })).collect::<Vec<_>>(),
        // Where someone else acted on the person, that actor's address and browser are theirs,
        // not the subject's: left out.
        "audit_records": audit.iter().map(|r| {
            let own = r.entry.actor == subject;
            json!({
                "seq": r.seq, "at": unix(r.entry.at), "actor": r.entry.actor, "action": r.entry.action, "target": r.entry.target,
                "before": r.entry.before, "after": r.entry.after, "reason": r.entry.reason,
                "address": if own { r.entry.address.clone() } else { None }, "user_agent": if own { r.entry.user_agent.clone() } else { None },
            })
        }).collect::<Vec<_>>(),
        "retention": retention_rules(retention),
    }))
}

/// The report's tables as CSV (RFC 4180, formula injection defused): one per list, plus the
/// subject as a one-row table. Nested values are written as JSON text.
pub fn csv_tables(report: &Value) -> Vec<(String, String)> {
    let mut tables = Vec::new();
    if let Some(subject) = report.get("subject") {
        tables.push(("subject".to_owned(), csv_of(std::slice::from_ref(subject))));
    }
    for name in ["factors", "sessions", "devices", "sign_ins", "audit_records"] {
        let rows = report.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        tables.push((name.to_owned(), csv_of(rows)));
    }
    tables
}

fn csv_of(rows: &[Value]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for row in rows {
        for key in row.as_object().into_iter().flat_map(|o| o.keys()) {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let mut out = columns.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",") + "\r\n";
    for row in rows {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| match row.get(*c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => csv_field(s),
                Some(other) => csv_field(&other.to_string()),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_tables_cover_every_list_and_defuse_formulas() {
        let report = json!({
            "subject": { "id": "u1", "email": "a@example.test", "name": "=HYPERLINK(\"x\")" },
            "factors": [{ "id": "f1", "kind": "totp" }, { "id": "f2", "kind": "sms", "detail": { "phone": "+358401234567" } }],
            "sessions": [], "devices": [], "sign_ins": [], "audit_records": [],
        });
        let tables = csv_tables(&report);
        assert_eq!(tables.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["subject", "factors", "sessions", "devices", "sign_ins", "audit_records"]);
        assert!(tables[0].1.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{}", tables[0].1);
        assert_eq!(tables[1].1.lines().count(), 3);
        assert!(tables[1].1.starts_with("\"id\",\"kind\",\"detail\""));
        assert!(tables[1].1.contains("+358401234567"));
    }
}
