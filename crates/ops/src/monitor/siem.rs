//! SIEM export in the Open Cybersecurity Schema Framework (OCSF 1.1.0): sign-in attempts as
//! class 3002 Authentication, changes to users and their factors as 3001 Account Change, every
//! other audit record as 3004 Entity Management. Two streams (sign-in history and the audit
//! trail) merged by time behind one resumable cursor, `<audit seq>.<sign-in event id>`: a
//! consumer that stores the cursor it was given resumes exactly after what it has. Read-only:
//! an export never changes what it exports.

use gatehouse_core::audit::ChainedRecord;
use gatehouse_store::{SignInEvent, SignInResult, Store, StoreError};
use serde_json::{Value, json};

const OCSF_VERSION: &str = "1.1.0";

fn metadata(uid: String) -> Value {
    json!({ "version": OCSF_VERSION, "uid": uid, "product": { "name": "Gatehouse", "vendor_name": "Gatehouse", "version": env!("CARGO_PKG_VERSION") } })
}

/// A sign-in attempt as an OCSF Authentication event (Logon).
pub fn authentication(event: &SignInEvent) -> Value {
    let (status_id, status) = match event.result {
        SignInResult::Success => (1, "Success"),
        _ => (2, "Failure"),
    };
    let severity_id = if event.result == SignInResult::Success && !event.risky { 1 } else { 3 };
    json!({
        "class_uid": 3002,
        "class_name": "Authentication",
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "activity_id": 1,
        "activity_name": "Logon",
        "type_uid": 300_201,
        "time": event.at.unix_timestamp() * 1000,
        "severity_id": severity_id,
        "status_id": status_id,
        "status": status,
        "status_detail": event.result.as_str(),
        "is_mfa": event.amr.iter().any(|m| m == "mfa"),
        "auth_protocol_id": 99,
        "auth_protocol": "OpenID Connect",
        "user": { "uid": event.user_id.as_ref().map(|u| u.as_str()), "org": { "uid": event.tenant_id.as_ref().map(|t| t.as_str()) } },
        "src_endpoint": { "ip": event.address },
        "http_request": { "user_agent": event.user_agent },
        "service": { "name": event.client_id },
        "device": { "uid": event.device_id },
        "metadata": metadata(format!("sign-in:{}", event.id)),
        "unmapped": { "acr": event.acr, "amr": event.amr, "policy": event.decision, "reported_at": event.reported_at.map(|t| t.unix_timestamp()) },
    })
}

/// The OCSF Account Change activity of an audit action on a user or factor, if it is one.
fn account_change_activity(action: &str) -> Option<(u8, &'static str)> {
    Some(match action {
        "user.create" => (1, "Create"),
        "user.password.change" => (3, "Password Change"),
        "user.factors.reset" => (11, "MFA Factor Disable"),
        "factor.add" | "factor.confirm" => (10, "MFA Factor Enable"),
        "factor.remove" => (11, "MFA Factor Disable"),
        "sign_in.report" => (9, "Lock"),
        a if a.starts_with("user.") || a.starts_with("factor.") || a.starts_with("recovery_codes.") => (99, "Other"),
        _ => return None,
    })
}

fn entity_activity(action: &str) -> (u8, &'static str) {
    let verb = action.rsplit('.').next().unwrap_or_default();
    match verb {
        "create" | "add" => (1, "Create"),
        "read" | "export" => (2, "Read"),
        "delete" | "remove" | "discard_staged" => (4, "Delete"),
        _ => (3, "Update"),
    }
}

/// An audit record as OCSF Account Change or Entity Management.
pub fn audit_event(record: &ChainedRecord) -> Value {
    let e = &record.entry;
    let common = json!({
        "time": e.at * 1000,
        "severity_id": 1,
        "status_id": 1,
        "actor": { "user": { "uid": e.actor }, "invoked_by": e.on_behalf_of },
        "src_endpoint": { "ip": e.address },
        "http_request": { "user_agent": e.user_agent },
        "metadata": metadata(format!("audit:{}", record.seq)),
        "unmapped": {
            "action": e.action, "target": e.target, "tenant": e.tenant, "before": e.before, "after": e.after, "reason": e.reason,
            "chain": { "seq": record.seq, "hash": hex(&record.hash) },
        },
    });
    let specific = match account_change_activity(&e.action) {
        Some((activity_id, name)) => json!({
            "class_uid": 3001, "class_name": "Account Change", "category_uid": 3, "category_name": "Identity & Access Management",
            "activity_id": activity_id, "activity_name": name, "type_uid": 300_100 + u32::from(activity_id),
            "user": { "uid": e.target.strip_prefix("user:").unwrap_or(&e.target) },
        }),
        None => {
            let (activity_id, name) = entity_activity(&e.action);
            json!({
                "class_uid": 3004, "class_name": "Entity Management", "category_uid": 3, "category_name": "Identity & Access Management",
                "activity_id": activity_id, "activity_name": name, "type_uid": 300_400 + u32::from(activity_id),
                "entity": { "uid": e.target, "type": e.target.split(':').next() },
            })
        }
    };
    let (Value::Object(mut object), Value::Object(extra)) = (common, specific) else { return Value::Null };
    object.extend(extra);
    Value::Object(object)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where an export stands in both streams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub audit_seq: u64,
    pub sign_in_position: i64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Self> {
        let (seq, position) = text.split_once('.')?;
        let sign_in_position = position.parse().ok().filter(|p: &i64| *p >= 0)?;
        Some(Self { audit_seq: seq.parse().ok()?, sign_in_position })
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.audit_seq, self.sign_in_position)
    }
}

/// The next page of both streams after `cursor`, oldest first, records before `since` (unix
/// seconds) skipped; returns the events and the cursor to resume from.
pub async fn page(store: &dyn Store, cursor: &Cursor, since: i64, limit: u32) -> Result<(Vec<Value>, Cursor), StoreError> {
    let audit = store.audit_records(cursor.audit_seq, limit).await?;
    let sign_ins = store.sign_in_events_after(cursor.sign_in_position, limit).await?;
    let (mut a, mut s) = (audit.iter().peekable(), sign_ins.iter().peekable());
    let mut next = cursor.clone();
    let mut events = Vec::new();
    while events.len() < limit as usize {
        let take_audit = match (a.peek(), s.peek()) {
            (Some(r), Some((_, e))) => r.entry.at <= e.at.unix_timestamp(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_audit {
            let Some(record) = a.next() else { break };
            next.audit_seq = record.seq;
            if record.entry.at >= since {
                events.push(audit_event(record));
            }
        } else {
            let Some((position, event)) = s.next() else { break };
            next.sign_in_position = *position;
            if event.at.unix_timestamp() >= since {
                events.push(authentication(event));
            }
        }
    }
    Ok((events, next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::audit::AuditEntry;

    fn record(action: &str, target: &str) -> ChainedRecord {
        let entry = AuditEntry {
            at: 1_700_000_000,
            actor: "user:u1".into(),
            on_behalf_of: None,
            action: action.into(),
            target: target.into(),
            tenant: Some("t1".into()),
            before: None,
            after: None,
            address: Some("192.0.2.1".into()),
            user_agent: None,
            reason: None,
        };
        ChainedRecord { seq: 7, entry, prev_hash: vec![0; 32], hash: vec![1; 32] }
    }

    #[test]
    fn audit_records_map_to_account_change_or_entity_management() {
        let added = audit_event(&record("factor.add", "factor:f1"));
        assert_eq!((added["class_uid"].as_u64(), added["activity_id"].as_u64(), added["type_uid"].as_u64()), (Some(3001), Some(10), Some(300_110)));
        let password = audit_event(&record("user.password.change", "user:u2"));
        assert_eq!((password["activity_name"].as_str(), password["user"]["uid"].as_str()), (Some("Password Change"), Some("u2")));
        let policy = audit_event(&record("tenant.policy.update", "tenant:t1"));
        assert_eq!((policy["class_uid"].as_u64(), policy["activity_id"].as_u64(), policy["entity"]["type"].as_str()), (Some(3004), Some(3), Some("tenant")));
        assert_eq!(policy["time"].as_i64(), Some(1_700_000_000_000), "milliseconds");
        assert_eq!(policy["metadata"]["uid"], "audit:7");
        assert_eq!(audit_event(&record("personal_data.read", "user:u2"))["activity_name"], "Read");
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let cursor = Cursor { audit_seq: 12, sign_in_position: 40 };
        assert_eq!(Cursor::parse(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::parse("0.0"), Some(Cursor::default()));
        for bad in ["", "x.y", "1", "1.a", "-1.2", "1.-2", "1."] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }
}
