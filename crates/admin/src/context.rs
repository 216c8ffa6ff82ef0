//! What the management services use, named by type: the store, the audit writer for records
//! that stand alone, the monitor where alerts are raised (and whose notifier tells people), the
//! development outbox an erasure rewrites, and the clock of this one request.

use async_trait::async_trait;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::ids::{TenantId, UserId};
use gatehouse_core::model::{Tenant, User};
use gatehouse_delivery::DevOutbox;
use gatehouse_delivery::NotificationKind;
use gatehouse_ops::monitor::Monitor;
use gatehouse_ops::monitor::audit_writer::AuditWriter;
use gatehouse_store::{ImportPlan, Store, StoreError};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::caller::Caller;
use crate::error::{AdminError, Result};

/// The context of one management call.
pub struct Admin<'a> {
    pub store: &'a dyn Store,
    /// Records that stand alone (reads of personal data, exports), group-committed.
    pub audit: &'a AuditWriter,
    /// Alerts for the admins, and the notifier that tells users about their account.
    pub monitor: &'a Monitor,
    /// The development outbox, which an erasure rewrites.
    pub outbox: &'a DevOutbox,
    pub now: OffsetDateTime,
}

/// Hashes a new password: the edge owns the hashing pool (Argon2 off the async workers,
/// within the same concurrency cap as sign-ins).
#[async_trait]
pub trait PasswordHashing: Send + Sync {
    async fn hash(&self, password: Zeroizing<String>) -> Result<String>;
}

impl<'a> Admin<'a> {
    /// A tenant the caller may manage.
    pub async fn tenant_for(&self, caller: &Caller, id: &str) -> Result<Tenant> {
        let id = TenantId::new(id);
        caller.require_tenant(&id)?;
        self.store.tenant(&id).await?.ok_or(AdminError::NotFound("no such tenant"))
    }

    /// A user the caller may manage; another tenant's user (or, for a tenant admin, an
    /// operator) is "not found", like a missing one.
    pub async fn user_for(&self, caller: &Caller, id: &str) -> Result<User> {
        self.store.user(&UserId::new(id)).await?.filter(|u| caller.may_manage(u)).ok_or(AdminError::NotFound("no such user"))
    }

    /// Applies an import plan with its audit record; a conflict (a domain another tenant owns)
    /// is a conflict, nothing applied (and nothing audited).
    pub(crate) async fn apply(&self, mut plan: ImportPlan, audit: AuditEntry) -> Result<()> {
        plan.audit.push(audit);
        match self.store.apply_import(&plan, self.now).await {
            Err(StoreError::Conflict(detail)) => Err(AdminError::conflict(detail)),
            other => {
                other?;
                Ok(())
            }
        }
    }

    /// Sends a notice to the user without waiting for it; failures are logged, never shown.
    pub(crate) fn notify(&self, user: &User, kind: NotificationKind) {
        gatehouse_delivery::notify_in_background(self.monitor.notifier(), user, kind, self.now);
    }
}
