//! Individuals' rights: the access report ("download my data", or answered on a person's
//! behalf by their tenant admin or an operator) as JSON or one CSV table, and erasure by
//! crypto-shredding. Every read and change here is audited.

use gatehouse_api::users::{Erasure, UserErased};
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::model::User;
use gatehouse_ops::privacy::{erasure, report};
use gatehouse_store::StoreError;
use serde::Deserialize;
use serde_json::Value;

use crate::caller::{Caller, Origin};
use crate::context::Admin;
use crate::error::{AdminError, Result};

/// How an access report is wanted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFormat {
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// With `format=csv`: subject, factors, sessions, devices, sign_ins or audit_records.
    pub table: Option<String>,
}

/// An access report as asked for.
pub enum PersonalData {
    Json(Value),
    /// One table of the report; `name` is the table's, for the file name.
    Csv {
        name: String,
        body: String,
    },
}

const TABLES: &str = "subject, factors, sessions, devices, sign_ins, audit_records";

impl Admin<'_> {
    async fn personal_data(&self, user: &User, format: &ReportFormat) -> Result<PersonalData> {
        let tenant = self.store.tenant(&user.tenant_id).await?;
        let report = report::access_report(self.store, user, tenant.as_ref(), &self.monitor.settings.retention, self.now).await?;
        match (format.format.as_deref().unwrap_or("json"), format.table.as_deref()) {
            ("json", None) => Ok(PersonalData::Json(report)),
            ("csv", Some(table)) => {
                let (name, body) = report::csv_tables(&report)
                    .into_iter()
                    .find(|(name, _)| name == table)
                    .ok_or_else(|| AdminError::bad_request(format!("table: one of {TABLES}")))?;
                Ok(PersonalData::Csv { name, body })
            }
            ("csv", None) => Err(AdminError::bad_request(format!("format=csv needs table: one of {TABLES}"))),
            _ => Err(AdminError::bad_request("format: json, or csv with a table")),
        }
    }

    /// Everything held about the signed-in person, audited as their own export.
    pub async fn my_personal_data(&self, user: &User, origin: &Origin, format: &ReportFormat) -> Result<PersonalData> {
        let data = self.personal_data(user, format).await?;
        let subject = format!("user:{}", user.id);
        let entry = origin.audit(subject.clone(), "personal_data.export", subject, self.now).in_tenant(user.tenant_id.as_str());
        self.audit.append(&AuditEntry { reason: Some("download my data".into()), ..entry }).await?;
        Ok(data)
    }

    /// An access report answered on a person's behalf, audited.
    pub async fn personal_data_of(&self, caller: &Caller, origin: &Origin, id: &str, format: &ReportFormat) -> Result<PersonalData> {
        let user = self.user_for(caller, id).await?;
        let data = self.personal_data(&user, format).await?;
        let entry = caller.audit(origin, self.now, "personal_data.export", format!("user:{}", user.id), None, None).in_tenant(user.tenant_id.as_str());
        self.audit.append(&AuditEntry { reason: Some("access request".into()), ..entry }).await?;
        Ok(data)
    }

    /// Erasure: the person's data key is destroyed, so their sealed data is unreadable
    /// everywhere, earlier backups included, and their lines leave the development outbox;
    /// audit records keep their pseudonymous id. The tenant's last admin cannot be erased.
    /// The edge then reloads its directory and refreshes the backups' key vaults.
    pub async fn erase(&self, caller: &Caller, origin: &Origin, id: &str) -> Result<UserErased> {
        let user = self.user_for(caller, id).await?;
        let entry = caller.audit(origin, self.now, "user.erase", format!("user:{}", user.id), None, None).in_tenant(user.tenant_id.as_str());
        let entry = AuditEntry { reason: Some("erasure request".into()), ..entry };
        let erased = match erasure::erase_user(self.store, self.outbox, &user, self.now, &entry).await {
            Ok(Some(erased)) => erased,
            Ok(None) => return Err(AdminError::NotFound("no such user")),
            Err(StoreError::Conflict(reason)) => return Err(AdminError::conflict(reason)),
            Err(e) => return Err(e.into()),
        };
        if let Err(error) = &erased.outbox {
            tracing::error!(user = %user.id, %error, "erased, but the development outbox could not be rewritten: it may still hold the person's lines");
        }
        let e = erased.erasure;
        let erasure = Erasure {
            user: e.user,
            tenant: e.tenant,
            factors: e.factors,
            sessions: e.sessions,
            sign_ins: e.sign_ins,
            devices: e.devices,
            revoked_grants: e.revoked_grants.iter().map(|g| g.as_str().to_owned()).collect(),
        };
        Ok(UserErased { erased: erasure })
    }
}
