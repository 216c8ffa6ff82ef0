//! Where the person is signed in, and signing one of those sessions out (its grants and
//! refresh tokens are revoked, like at logout). Another person's session is "not found", like
//! a missing one.

use gatehouse_api::sessions::{Session, SessionList};
use gatehouse_core::ids::SessionId;
use gatehouse_core::session::SessionTimeouts;

use crate::account::Account;
use crate::caller::{Origin, SignedIn};
use crate::error::{AdminError, Result};

impl Account<'_> {
    /// The active sessions, newest first; `current` marks the one the calling token was
    /// issued in.
    pub async fn sessions(&self, me: &SignedIn, timeouts: &SessionTimeouts) -> Result<SessionList> {
        let mut sessions = self.factors.store.user_sessions(&me.user.id).await?;
        sessions.retain(|s| s.ended_at.is_none() && timeouts.is_active(s.created_at, s.last_seen_at, self.now));
        sessions.sort_by_key(|s| std::cmp::Reverse(s.created_at));
        let sessions = sessions
            .iter()
            .map(|s| Session {
                id: s.id.as_str().to_owned(),
                created_at: s.created_at.unix_timestamp(),
                last_seen_at: s.last_seen_at.unix_timestamp(),
                auth_time: s.auth_time.unix_timestamp(),
                methods: s.amr.clone(),
                current: me.sid.as_deref() == Some(s.id.as_str()),
            })
            .collect();
        Ok(SessionList { sessions })
    }

    /// Signs one of the person's sessions out, audited.
    pub async fn end_session(&self, me: &SignedIn, origin: &Origin, id: &str) -> Result<()> {
        let store = self.factors.store.as_ref();
        let session = store
            .session(&SessionId::new(id))
            .await?
            .filter(|s| s.user_id == me.user.id && s.ended_at.is_none())
            .ok_or(AdminError::NotFound("no such session"))?;
        for grant in store.end_session(&session.id, self.now).await? {
            self.caches.revoke_grant(grant);
        }
        self.audit.append(&me.audit(origin, self.now, "session.revoke", format!("session:{}", session.id))).await?;
        tracing::info!(user = %me.user.id, "session signed out from the account page");
        Ok(())
    }
}
