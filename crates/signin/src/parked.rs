//! An authorization request parked while its user signs in. `/authorize` validates the request
//! once and parks the typed value; every later step opens the parked record once and gets the
//! request and the progress together, without parsing or validating anything again.

use gatehouse_core::authorize::AuthorizationRequest;
use gatehouse_store::{GrantStore, PendingAuthorization};
use time::OffsetDateTime;

use crate::SignInError;
use crate::progress::Progress;

/// Where a parked sign-in stands, as stored in its progress column.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FlowState {
    /// Nothing proved yet.
    Started {
        /// A passwordless passkey ceremony in flight (`webauthn-rs` state), used once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passkey_login: Option<String>,
        /// A sign-in at the tenant's own identity provider in flight, used once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        federated: Option<Box<FederatedLeg>>,
    },
    /// A first factor passed.
    Proved(Box<Progress>),
}

/// A trip to an upstream identity provider: what its callback must match. The `state` sent
/// upstream is `PARKED_ID.SECRET`; only the secret's digest is kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FederatedLeg {
    /// The provider's key, `TENANT_ID/PROVIDER_ID`.
    pub provider: String,
    /// Hex of the keyed digest of the state's secret part.
    pub state_digest: String,
    pub nonce: String,
    pub code_verifier: String,
    /// This trip asked the provider for multi-factor authentication (a step-up): whatever it
    /// answers, the next step is Gatehouse's own factor, never another trip.
    #[serde(default)]
    pub step_up: bool,
    /// On a step-up trip, the upstream subject the first trip proved: the second must be the
    /// same person.
    #[serde(default)]
    pub subject: Option<String>,
    /// When the trip started (unix seconds): a step-up's authentication must be this fresh.
    #[serde(default)]
    pub started_at: i64,
    /// A SAML trip: the ID of the AuthnRequest, which the answer's `InResponseTo` must name
    /// (the OIDC `nonce` and verifier are empty then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml_request_id: Option<String>,
}

impl FlowState {
    /// Nothing proved, nothing in flight.
    pub fn fresh() -> Self {
        Self::Started { passkey_login: None, federated: None }
    }

    fn encode(&self) -> String {
        // Plain strings, numbers and a JSON value: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Clone, Debug)]
pub struct ParkedSignIn {
    pub id: String,
    /// Binds the request to the browser that started it (a keyed digest of its flow cookie).
    pub browser_digest: Vec<u8>,
    pub csrf_token: String,
    pub request: AuthorizationRequest,
    pub expires_at: OffsetDateTime,
    pub state: FlowState,
    /// The progress as stored: what the next compare-and-set expects.
    stored_progress: Option<String>,
}

impl ParkedSignIn {
    pub fn new(
        id: String,
        browser_digest: Vec<u8>,
        csrf_token: String,
        request: AuthorizationRequest,
        expires_at: OffsetDateTime,
        progress: Option<Progress>,
    ) -> Self {
        let state = progress.map_or(FlowState::fresh(), |p| FlowState::Proved(Box::new(p)));
        let stored_progress = Some(state.encode());
        Self { id, browser_digest, csrf_token, request, expires_at, state, stored_progress }
    }

    /// The record to store.
    pub fn to_record(&self) -> Result<PendingAuthorization, SignInError> {
        let request = serde_json::to_string(&self.request).map_err(|_| SignInError::Expired)?;
        Ok(PendingAuthorization {
            id: self.id.clone(),
            browser_digest: self.browser_digest.clone(),
            csrf_token: self.csrf_token.clone(),
            request,
            expires_at: self.expires_at,
            progress: self.stored_progress.clone(),
        })
    }

    /// Reads a stored record. A record this version cannot read (parked by an older one) has
    /// expired: its sign-in starts again.
    pub fn open(record: PendingAuthorization) -> Result<Self, SignInError> {
        let request = serde_json::from_str(&record.request).map_err(|_| SignInError::Expired)?;
        let state = match record.progress.as_deref() {
            Some(raw) => serde_json::from_str(raw).map_err(|_| SignInError::Expired)?,
            None => FlowState::fresh(),
        };
        Ok(Self {
            id: record.id,
            browser_digest: record.browser_digest,
            csrf_token: record.csrf_token,
            request,
            expires_at: record.expires_at,
            state,
            stored_progress: record.progress,
        })
    }

    /// The progress, which a step past the first factor needs.
    pub fn progress(&self) -> Result<&Progress, SignInError> {
        match &self.state {
            FlowState::Proved(progress) => Ok(progress),
            FlowState::Started { .. } => Err(SignInError::Expired),
        }
    }

    /// The passwordless ceremony parked before anyone is known.
    pub fn passkey_login(&self) -> Option<&str> {
        match &self.state {
            FlowState::Started { passkey_login, .. } => passkey_login.as_deref(),
            FlowState::Proved(_) => None,
        }
    }

    /// The upstream trip in flight, before anyone is known.
    pub fn federated(&self) -> Option<&FederatedLeg> {
        match &self.state {
            FlowState::Started { federated, .. } => federated.as_deref(),
            FlowState::Proved(_) => None,
        }
    }

    /// Stores `next` if nobody advanced the sign-in since it was opened (another tab, a racing
    /// request): one statement, so of two racing steps exactly one wins. False when it lost.
    pub async fn advance(&mut self, store: &dyn GrantStore, next: Progress) -> Result<bool, SignInError> {
        self.advance_to(store, FlowState::Proved(Box::new(next))).await
    }

    /// Like [`ParkedSignIn::advance`], to any state (a passkey ceremony started or spent).
    pub async fn advance_to(&mut self, store: &dyn GrantStore, next: FlowState) -> Result<bool, SignInError> {
        let encoded = next.encode();
        if !store.update_pending_progress(&self.id, self.stored_progress.as_deref(), &encoded).await? {
            return Ok(false);
        }
        self.stored_progress = Some(encoded);
        self.state = next;
        Ok(true)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gatehouse_core::params::Params;
    use gatehouse_core::{Client, ClientId, GrantType, RedirectUri, SigningAlg};

    /// The confidential-less test application `app` (redirect `https://app.test/cb`).
    pub(crate) fn app() -> Client {
        Client {
            client_id: ClientId::parse("app").unwrap(),
            name: "App".into(),
            secret_digest: None,
            redirect_uris: vec![RedirectUri::parse("https://app.test/cb").unwrap()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            id_token_signed_response_alg: SigningAlg::RS256,
            policy: Default::default(),
            operator: false,
            scopes: vec![],
        }
    }

    /// Ann (`ann@acme.test`), verified, no roles, as user `id` of tenant `tenant`.
    pub(crate) fn ann(id: &str, tenant: &str) -> gatehouse_core::model::User {
        gatehouse_core::model::User {
            id: gatehouse_core::ids::UserId::new(id),
            tenant_id: gatehouse_core::ids::TenantId::new(tenant),
            email: gatehouse_core::Email::parse("ann@acme.test").unwrap(),
            name: "Ann".into(),
            password_hash: None,
            roles: vec![],
            email_verified: true,
            credentials_reset_required: false,
            credentials_reset_since: None,
        }
    }

    /// An authorization request of [`app`] with PKCE, `acr_values`, `max_age`, `prompt=login`.
    pub(crate) fn request() -> AuthorizationRequest {
        let client = app();
        let query = "client_id=app&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid%20email&state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&acr_values=urn%3Aexample%3Asilver&max_age=60&prompt=login&response_mode=form_post";
        let params = Params::parse(query.as_bytes()).unwrap();
        gatehouse_core::authorize::parse_authorization_request(&params, |_| Some(&client)).unwrap()
    }

    #[test]
    fn a_parked_request_reads_back_as_the_same_typed_value() {
        let parked = ParkedSignIn::new("p1".into(), vec![1, 2], "csrf".into(), request(), OffsetDateTime::UNIX_EPOCH, None);
        let opened = ParkedSignIn::open(parked.to_record().unwrap()).unwrap();
        assert_eq!(opened.request, parked.request);
        assert!(opened.request.prompt.login && opened.request.code_challenge.is_some() && opened.request.max_age == Some(60));
        assert!(matches!(opened.progress(), Err(SignInError::Expired)), "no progress before the first factor");
    }

    #[test]
    fn a_record_this_version_cannot_read_has_expired() {
        let mut record = ParkedSignIn::new("p1".into(), vec![], "csrf".into(), request(), OffsetDateTime::UNIX_EPOCH, None).to_record().unwrap();
        record.request = "client_id=a&redirect_uri=b".into();
        assert!(matches!(ParkedSignIn::open(record.clone()), Err(SignInError::Expired)));
        record.request = serde_json::to_string(&request()).unwrap();
        record.progress = Some("{\"user_id\":1}".into());
        assert!(matches!(ParkedSignIn::open(record), Err(SignInError::Expired)));
    }
}
