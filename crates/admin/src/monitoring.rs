//! Security monitoring for admins: alerts (list, acknowledge), change history (filter, page,
//! JSON or CSV) and the SIEM export (OCSF, resumable cursor). Tenant admins see their own
//! tenant; operators see everything. Reading the change history or exporting is itself a read
//! of personal data, and is audited.

use gatehouse_api::monitoring::{AlertList, AuditRecord, ChangeHistory};
use gatehouse_core::alert::Alert;
use gatehouse_core::audit::{AuditEntry, ChainedRecord};
use gatehouse_ops::csv_field;
use gatehouse_ops::monitor::siem::{self, Cursor};
use gatehouse_store::AuditFilter;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::caller::{Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};
use crate::history::parse_time;

const MAX_PAGE: u32 = 500;

/// A page of alerts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// Only unacknowledged alerts.
    pub open: Option<bool>,
    pub before: Option<String>,
    pub limit: Option<u32>,
}

/// A page of the change history, and its filters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub before: Option<u64>,
    pub limit: Option<u32>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// A page of the SIEM export.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    pub cursor: Option<String>,
    pub since: Option<String>,
    pub limit: Option<u32>,
}

/// A page of the change history as asked for.
pub enum HistoryPage {
    Json(ChangeHistory),
    /// One CSV table; `next` is the `before` of the next page.
    Csv {
        body: String,
        next: Option<u64>,
    },
}

/// A page of the SIEM export: OCSF events as JSON lines, oldest first, and the cursor that
/// resumes after them.
pub struct SiemPage {
    pub body: String,
    pub next_cursor: String,
}

fn audit_record(record: &ChainedRecord) -> AuditRecord {
    let e = record.entry.clone();
    AuditRecord {
        seq: record.seq,
        at: e.at,
        actor: e.actor,
        on_behalf_of: e.on_behalf_of,
        action: e.action,
        target: e.target,
        tenant: e.tenant,
        before: e.before,
        after: e.after,
        address: e.address,
        user_agent: e.user_agent,
        reason: e.reason,
    }
}

/// The records as one CSV table (RFC 4180, CRLF line ends).
fn csv(records: &[ChainedRecord]) -> String {
    let mut out = String::from("seq,at,actor,on_behalf_of,action,target,tenant,address,user_agent,reason,before,after\r\n");
    for r in records {
        let e = &r.entry;
        let time = OffsetDateTime::from_unix_timestamp(e.at).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default();
        let json_text = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
        let fields = [
            r.seq.to_string(),
            time,
            e.actor.clone(),
            e.on_behalf_of.clone().unwrap_or_default(),
            e.action.clone(),
            e.target.clone(),
            e.tenant.clone().unwrap_or_default(),
            e.address.clone().unwrap_or_default(),
            e.user_agent.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            json_text(&e.before),
            json_text(&e.after),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

impl Admin<'_> {
    /// Alerts, newest first.
    pub async fn alerts(&self, caller: &Caller, query: &AlertQuery) -> Result<AlertList> {
        let limit = query.limit.unwrap_or(50).clamp(1, MAX_PAGE);
        let found = self.store.alerts(caller.scope().as_ref(), query.open.unwrap_or(false), query.before.as_deref(), limit).await?;
        let next = (found.len() == limit as usize).then(|| found.last().map(|a| a.id.clone())).flatten();
        Ok(AlertList { alerts: found, next })
    }

    /// Acknowledges an alert of the caller's tenant (any, for an operator), once.
    pub async fn acknowledge(&self, caller: &Caller, origin: &Origin, id: &str) -> Result<Alert> {
        let scope = caller.scope();
        let alert = self
            .store
            .alert(id)
            .await?
            .filter(|a| scope.as_ref().is_none_or(|t| a.tenant.as_deref() == Some(t.as_str())))
            .ok_or(AdminError::NotFound("no such alert"))?;
        let mut audit = caller.audit(origin, self.now, "alert.acknowledge", format!("alert:{}", alert.id), None, None);
        audit.tenant = alert.tenant.clone();
        if !self.store.acknowledge_alert(&alert.id, &caller.actor(), self.now, &audit).await? {
            return Err(AdminError::Conflict { title: "Already acknowledged", detail: "this alert was acknowledged before".into() });
        }
        self.store.alert(id).await?.ok_or(AdminError::NotFound("no such alert"))
    }

    /// The change history, newest first; the read is audited.
    pub async fn change_history(&self, caller: &Caller, origin: &Origin, query: &HistoryQuery) -> Result<HistoryPage> {
        let csv_wanted = match query.format.as_deref() {
            None | Some("json") => false,
            Some("csv") => true,
            Some(_) => return Err(AdminError::bad_request("format: json or csv")),
        };
        let too_long = |v: &Option<String>| v.as_ref().is_some_and(|s| s.len() > 200);
        if too_long(&query.actor) || too_long(&query.target) || too_long(&query.action) {
            return Err(AdminError::bad_request("filters are at most 200 characters"));
        }
        let filter = AuditFilter {
            tenant: caller.scope(),
            actor: query.actor.clone(),
            target: query.target.clone(),
            action: query.action.clone(),
            since: parse_time("since", query.since.as_deref())?.map(OffsetDateTime::unix_timestamp),
            until: parse_time("until", query.until.as_deref())?.map(OffsetDateTime::unix_timestamp),
        };
        let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
        let records = self.store.audit_query(&filter, query.before, limit).await?;
        let next = (records.len() == limit as usize).then(|| records.last().map(|r| r.seq)).flatten();
        let after = json!({ "records": records.len(), "format": if csv_wanted { "csv" } else { "json" } });
        let read = caller.audit(origin, self.now, "audit.read", "audit".into(), None, Some(after));
        let read = AuditEntry { tenant: filter.tenant.as_ref().map(|t| t.as_str().to_owned()), ..read };
        self.audit.append(&read).await?;
        if csv_wanted {
            return Ok(HistoryPage::Csv { body: csv(&records), next });
        }
        Ok(HistoryPage::Json(ChangeHistory { records: records.iter().map(audit_record).collect(), next }))
    }

    /// A page of OCSF events (operators only: the export spans every tenant).
    pub async fn siem_export(&self, caller: &Caller, origin: &Origin, query: &ExportQuery) -> Result<SiemPage> {
        caller.require_operator()?;
        let cursor = match query.cursor.as_deref() {
            Some(text) => Cursor::parse(text).ok_or_else(|| AdminError::bad_request("cursor: not a cursor from a previous page"))?,
            None => Cursor::default(),
        };
        let since = parse_time("since", query.since.as_deref())?.map_or(0, OffsetDateTime::unix_timestamp);
        let limit = query.limit.unwrap_or(1000).clamp(1, 5000);
        let (events, next) = siem::page(self.store, &cursor, since, limit).await?;
        // A page holding only the records of earlier exports is not recorded again: otherwise
        // each page would add the record the next page reads, and the export would never end.
        if events.iter().any(|e| e.pointer("/unmapped/action").and_then(Value::as_str) != Some("audit.export")) {
            let after = json!({ "events": events.len(), "from": cursor.encode(), "to": next.encode() });
            let export = caller.audit(origin, self.now, "audit.export", "siem".into(), None, Some(after));
            self.audit.append(&export).await?;
        }
        let mut body = String::new();
        for event in &events {
            body.push_str(&event.to_string());
            body.push('\n');
        }
        Ok(SiemPage { body, next_cursor: next.encode() })
    }
}
