//! Erasure at the service level, shared by `gatehouse gdpr erase` and `DELETE /api/v1/users/{id}`:
//! the store's crypto-shredding ([`gatehouse_store::PrivacyStore::erase_user`]: the person's
//! data key destroyed, their rows deleted, in one transaction with the audit record), then what
//! lies outside the database: the person's lines in the development outbox files.

use gatehouse_core::FactorSecret;
use gatehouse_core::audit::AuditEntry;
use gatehouse_core::model::User;
use gatehouse_store::{Erasure, Store, StoreError};
use time::OffsetDateTime;

use gatehouse_delivery::{DeliveryError, DevOutbox, Recipient};

/// What an erasure did.
#[derive(Debug)]
pub struct Erased {
    pub erasure: Erasure,
    /// How many development outbox lines about the person were removed, or why the outbox could
    /// not be rewritten (the erasure in the database stands either way).
    pub outbox: Result<usize, DeliveryError>,
}

/// The person as outbox lines name them: their id, email address and every phone number of
/// their text-message factors, confirmed or not. Read before the erasure: the numbers are sealed
/// under the key it destroys.
pub async fn recipient(store: &dyn Store, user: &User) -> Result<Recipient, StoreError> {
    let phones = store
        .factors(&user.id)
        .await?
        .into_iter()
        .filter_map(|factor| match factor.secret {
            FactorSecret::Sms { phone } => Some(phone.as_str().to_owned()),
            _ => None,
        })
        .collect();
    Ok(Recipient { user_id: user.id.as_str().to_owned(), email: user.email.as_str().to_owned(), phones })
}

/// Erases one person: `None` when there is no such user, `Conflict` when they are their
/// tenant's last admin (then nothing changes, the outbox included).
pub async fn erase_user(store: &dyn Store, outbox: &DevOutbox, user: &User, now: OffsetDateTime, audit: &AuditEntry) -> Result<Option<Erased>, StoreError> {
    let person = recipient(store, user).await?;
    let Some(erasure) = store.erase_user(&user.id, now, audit).await? else {
        return Ok(None);
    };
    // Synchronous file work under the outbox's locks; erasures are rare and the files small.
    let outbox = outbox.forget(&person);
    Ok(Some(Erased { erasure, outbox }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::ids::{FactorId, TenantId, UserId};
    use gatehouse_core::{Email, EmailDomain, PhoneNumber};
    use gatehouse_store::{ImportPlan, TenantPlan, UserPlan};
    use time::macros::datetime;

    fn user_plan(id: &str, email: &str, phone: Option<&str>, roles: &[&str]) -> UserPlan {
        UserPlan {
            new_id: UserId::new(id),
            email: Email::parse(email).unwrap(),
            name: id.into(),
            password_hash: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            totp_secret: None,
            phone: phone.map(|p| PhoneNumber::parse(p).unwrap()),
            new_factor_ids: [FactorId::new(format!("{id}-f1")), FactorId::new(format!("{id}-f2"))],
        }
    }

    fn audit() -> AuditEntry {
        AuditEntry {
            at: 0,
            actor: "cli:gatehouse".into(),
            on_behalf_of: None,
            action: "user.erase".into(),
            target: "user:u-bob".into(),
            tenant: None,
            before: None,
            after: None,
            address: None,
            user_agent: None,
            reason: None,
        }
    }

    /// The phone number comes from the sealed factor read before the key is destroyed; lines
    /// about someone else stay; a refused erasure rewrites nothing.
    #[tokio::test]
    async fn erasure_removes_the_persons_outbox_lines_found_by_id_email_and_phone() {
        let owned = gatehouse_store::testing::in_memory().await.unwrap();
        let store = owned.as_ref();
        let plan = ImportPlan {
            identity_providers: vec![],
            audit: vec![],
            tenants: vec![TenantPlan {
                new_id: TenantId::new("t-acme"),
                name: "Acme".into(),
                domains: vec![EmailDomain::parse("acme.test").unwrap()],
                users: vec![user_plan("u-ann", "ann@acme.test", None, &["admin"]), user_plan("u-bob", "bob@acme.test", Some("+358401234567"), &[])],
                policy: None,
            }],
            clients: vec![],
        };
        store.apply_import(&plan, datetime!(2026-01-01 0:00 UTC)).await.unwrap();
        let dir = std::env::temp_dir().join(format!("gatehouse-erasure-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outbox = DevOutbox::new(&dir);
        // A line from before SMS lines named the user: found by the number alone.
        outbox.sms().append(&serde_json::json!({ "id": "1", "to": "+358401234567", "text": "Your code is 123456" })).unwrap();
        outbox.notifications().append(&serde_json::json!({ "user_id": "u-bob", "to": "bob@acme.test", "kind": "password_changed" })).unwrap();
        outbox.notifications().append(&serde_json::json!({ "user_id": "u-ann", "to": "ann@acme.test", "kind": "password_changed" })).unwrap();

        let ann = store.user(&UserId::new("u-ann")).await.unwrap().unwrap();
        assert!(matches!(erase_user(store, &outbox, &ann, datetime!(2026-01-02 0:00 UTC), &audit()).await, Err(StoreError::Conflict(_))));
        assert_eq!(std::fs::read_to_string(dir.join("notifications.jsonl")).unwrap().lines().count(), 2, "a refused erasure rewrites nothing");

        let bob = store.user(&UserId::new("u-bob")).await.unwrap().unwrap();
        let erased = erase_user(store, &outbox, &bob, datetime!(2026-01-02 0:00 UTC), &audit()).await.unwrap().unwrap();
        assert_eq!(erased.outbox.unwrap(), 2);
        assert_eq!(std::fs::read_to_string(dir.join("sms.jsonl")).unwrap(), "");
        let notices = std::fs::read_to_string(dir.join("notifications.jsonl")).unwrap();
        assert!(notices.contains("ann@acme.test") && !notices.contains("bob@acme.test"), "{notices}");
        assert!(erase_user(store, &outbox, &bob, datetime!(2026-01-02 0:00 UTC), &audit()).await.unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
