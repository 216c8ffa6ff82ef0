//! The server's errors and their single mapping to HTTP: OAuth JSON errors (RFC 6749 §5.2,
//! RFC 6750 §3) for API endpoints, friendly pages for browser endpoints.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use gatehouse_core::{OAuthError, OAuthErrorCode};
use gatehouse_crypto::CryptoError;
use gatehouse_store::StoreError;

use crate::messages::EN;
use crate::pages::ErrorPage;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("template rendering: {0}")]
    Template(#[from] askama::Error),
    #[error("internal: {0}")]
    Internal(&'static str),
    #[error("configuration: {0}")]
    Config(String),
}

impl From<gatehouse_federation::saml::SpKeyError> for ServerError {
    /// A store failure keeps its kind; a key that cannot be made or loaded stops the start.
    fn from(error: gatehouse_federation::saml::SpKeyError) -> Self {
        match error {
            gatehouse_federation::saml::SpKeyError::Store(e) => Self::Store(e),
            other => Self::Config(other.to_string()),
        }
    }
}

impl From<gatehouse_signin::SignInError> for ServerError {
    /// Storage and crypto failures keep their kind. An expired sign-in is answered by the
    /// flow's pages (`http::login::expired`) before it could get here; one that still does is
    /// ours to explain.
    fn from(error: gatehouse_signin::SignInError) -> Self {
        match error {
            gatehouse_signin::SignInError::Store(e) => Self::Store(e),
            gatehouse_signin::SignInError::Crypto(e) => Self::Crypto(e),
            gatehouse_signin::SignInError::Expired => Self::Internal("a sign-in step reached an expired request"),
        }
    }
}

/// The operations' errors, mapped once here: a store, crypto or I/O failure stays what it was,
/// so it is answered exactly as when the code lived in the server.
impl From<gatehouse_ops::OpsError> for ServerError {
    fn from(error: gatehouse_ops::OpsError) -> Self {
        use gatehouse_ops::OpsError;
        match error {
            OpsError::Store(e) => Self::Store(e),
            OpsError::Crypto(e) => Self::Crypto(e),
            OpsError::Io(e) => Self::Io(e),
            OpsError::Config(message) => Self::Config(message),
            OpsError::Internal(what) => Self::Internal(what),
        }
    }
}

/// The directory failing to load keeps its kind.
impl From<gatehouse_oauth::DirectoryError> for ServerError {
    fn from(error: gatehouse_oauth::DirectoryError) -> Self {
        use gatehouse_oauth::DirectoryError;
        match error {
            DirectoryError::Store(e) => Self::Store(e),
            DirectoryError::Crypto(e) => Self::Crypto(e),
            DirectoryError::Internal(what) => Self::Internal(what),
        }
    }
}

/// The listener's start-up errors keep the server's kinds and messages.
impl From<gatehouse_listener::ListenerError> for ServerError {
    fn from(error: gatehouse_listener::ListenerError) -> Self {
        use gatehouse_listener::ListenerError;
        match error {
            ListenerError::Tls(message) => Self::Tls(message),
            ListenerError::Config(message) => Self::Config(message),
        }
    }
}

/// How a JSON API error presents its credentials challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Challenge {
    None,
    /// A bearer-token resource (RFC 6750 §3).
    Bearer,
    /// RFC 9470 step-up: the token is valid but its authentication is too weak or too old;
    /// the challenge names what a new one must meet.
    BearerStepUp {
        acr_values: &'static str,
        max_age: u32,
    },
}

/// An error from a JSON endpoint (token, userinfo, introspection, revocation).
#[derive(Debug)]
pub enum ApiError {
    OAuth {
        error: OAuthError,
        challenge: Challenge,
        retry_after: Option<i64>,
    },
    /// The body exceeds the size limit: `invalid_request` with status 413.
    PayloadTooLarge,
    /// Too many failures from one address: `invalid_request` with status 429 and Retry-After.
    Throttled {
        retry_after: i64,
    },
    Internal(ServerError),
}

impl ApiError {
    pub fn oauth(error: OAuthError) -> Self {
        Self::OAuth { error, challenge: Challenge::None, retry_after: None }
    }
    pub fn bearer(error: OAuthError) -> Self {
        Self::OAuth { error, challenge: Challenge::Bearer, retry_after: None }
    }
}

impl From<OAuthError> for ApiError {
    fn from(error: OAuthError) -> Self {
        Self::oauth(error)
    }
}

/// The token service's answers, as the token, introspection and revocation endpoints give
/// them (userinfo answers rejections with a Bearer challenge: `ApiError::bearer`). A client
/// locked out of authenticating gets `invalid_client` with Retry-After; an `invalid_client`
/// carries `WWW-Authenticate: Basic` whichever way the client authenticated.
impl From<gatehouse_oauth::ServiceError> for ApiError {
    fn from(error: gatehouse_oauth::ServiceError) -> Self {
        use gatehouse_oauth::ServiceError;
        match error {
            ServiceError::Rejected(error) => Self::oauth(error),
            ServiceError::Replayed { replay, revoking: None } => Self::oauth(replay.error()),
            ServiceError::Replayed { revoking: Some(e), .. } => Self::Internal(e.into()),
            ServiceError::ClientLockedOut { retry_after } => {
                Self::OAuth { error: gatehouse_oauth::client_locked_out(), challenge: Challenge::None, retry_after: Some(retry_after) }
            }
            ServiceError::Store(e) => Self::Internal(e.into()),
            ServiceError::Crypto(e) => Self::Internal(e.into()),
            ServiceError::Internal(what) => Self::Internal(ServerError::Internal(what)),
        }
    }
}

impl<E: Into<ServerError>> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self::Internal(error.into())
    }
}

/// The one status mapping for OAuth error codes.
pub fn status_for(code: OAuthErrorCode) -> StatusCode {
    match code {
        // RFC 6749 §5.2 allows 400 for a client that did not use the Authorization header;
        // Gatehouse answers 401 whichever way the client authenticated.
        OAuthErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        OAuthErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
        // RFC 6750 §3.1 and RFC 9470 §3: the token is fine but not enough for this resource.
        OAuthErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        OAuthErrorCode::InsufficientUserAuthentication => StatusCode::UNAUTHORIZED,
        OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        OAuthErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        OAuthErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn quote(s: &str) -> String {
    s.replace(['"', '\\'], "'")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut status_override = None;
        let (error, challenge, retry_after) = match self {
            Self::OAuth { error, challenge, retry_after } => (error, challenge, retry_after),
            Self::PayloadTooLarge => {
                status_override = Some(StatusCode::PAYLOAD_TOO_LARGE);
                (OAuthError::invalid_request("the request body is too large"), Challenge::None, None)
            }
            Self::Throttled { retry_after } => {
                status_override = Some(StatusCode::TOO_MANY_REQUESTS);
                (OAuthError::invalid_request("too many failed requests from this address; retry later"), Challenge::None, Some(retry_after))
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "internal error on an API endpoint");
                (OAuthError::new(OAuthErrorCode::ServerError, "internal error"), Challenge::None, None)
            }
        };
        let status = status_override.unwrap_or_else(|| status_for(error.code));
        let body = serde_json::json!({ "error": error.code.as_str(), "error_description": error.description });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let challenge_value = match challenge {
            // RFC 6749 §5.2: an `invalid_client` answers with a Basic challenge however the
            // client authenticated.
            Challenge::None if error.code == OAuthErrorCode::InvalidClient => Some("Basic realm=\"gatehouse\"".to_owned()),
            Challenge::None => None,
            Challenge::Bearer => {
                Some(format!("Bearer realm=\"gatehouse\", error=\"{}\", error_description=\"{}\"", error.code.as_str(), quote(&error.description)))
            }
            Challenge::BearerStepUp { acr_values, max_age } => Some(format!(
                "Bearer realm=\"gatehouse\", error=\"{}\", error_description=\"{}\", acr_values=\"{acr_values}\", max_age=\"{max_age}\"",
                error.code.as_str(),
                quote(&error.description)
            )),
        };
        if let Some(value) = challenge_value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// An error on a browser-facing endpoint: shown as a page, never redirected.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl PageError {
    pub fn bad_request(title: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, title, message: message.into() }
    }
    pub fn too_many_requests(title: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::TOO_MANY_REQUESTS, title, message: message.into() }
    }
}

impl<E: Into<ServerError>> From<E> for PageError {
    fn from(error: E) -> Self {
        let error = error.into();
        tracing::error!(error = %error, "internal error on a page");
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, title: EN.flow.error_title, message: EN.flow.error_message.into() }
    }
}

/// A sign-in step that could not be taken, as the flow's pages have always answered it: an
/// expired or raced page, a wizard that could not set up its factor, or ours (500).
impl From<gatehouse_signin::steps::StepError> for PageError {
    fn from(error: gatehouse_signin::steps::StepError) -> Self {
        use gatehouse_signin::steps::StepError;
        match error {
            StepError::Expired => Self::bad_request(EN.flow.page_expired_title, EN.flow.page_expired),
            StepError::ContinuedElsewhere => Self::bad_request(EN.flow.page_expired_title, EN.flow.continued_elsewhere),
            StepError::Enrollment(error) => {
                tracing::warn!(%error, "enrollment failed");
                Self::bad_request(EN.flow.enroll_failed_title, EN.flow.enroll_failed)
            }
            StepError::Store(e) => e.into(),
            StepError::Crypto(e) => e.into(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // No request headers here to choose a language by: the texts are the catalogue's
        // English, as are the titles and messages the handlers gave.
        let page = ErrorPage { m: &EN, title: self.title, message: &self.message };
        match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_codes_map_to_rfc_statuses() {
        assert_eq!(status_for(OAuthErrorCode::InvalidRequest), StatusCode::BAD_REQUEST);
        assert_eq!(status_for(OAuthErrorCode::InvalidGrant), StatusCode::BAD_REQUEST);
        assert_eq!(status_for(OAuthErrorCode::InvalidClient), StatusCode::UNAUTHORIZED, "whether or not the client used Basic");
        assert_eq!(status_for(OAuthErrorCode::InvalidToken), StatusCode::UNAUTHORIZED);
        assert_eq!(status_for(OAuthErrorCode::ServerError), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status_for(OAuthErrorCode::SlowDown), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status_for(OAuthErrorCode::InsufficientScope), StatusCode::FORBIDDEN);
    }

    #[test]
    fn oversized_bodies_get_json_413() {
        let response = ApiError::PayloadTooLarge.into_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn bearer_errors_carry_www_authenticate_and_no_store() {
        let response = ApiError::bearer(OAuthError::new(OAuthErrorCode::InvalidToken, "expired")).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""));
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn step_up_challenges_name_the_acr_and_max_age() {
        let error = OAuthError::new(OAuthErrorCode::InsufficientUserAuthentication, "sign in again");
        let challenge = Challenge::BearerStepUp { acr_values: "urn:gatehouse:acr:mfa", max_age: 600 };
        let response = ApiError::OAuth { error, challenge, retry_after: None }.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let value = response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(value.contains("error=\"insufficient_user_authentication\""), "{value}");
        assert!(value.contains("acr_values=\"urn:gatehouse:acr:mfa\", max_age=\"600\""), "{value}");
    }

    #[test]
    fn token_service_errors_keep_their_answers() {
        use gatehouse_oauth::{Replay, ServiceError};
        let replay = ApiError::from(ServiceError::Replayed { replay: Replay::RefreshToken, revoking: None }).into_response();
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
        let locked = ApiError::from(ServiceError::ClientLockedOut { retry_after: 42 }).into_response();
        assert_eq!(locked.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(locked.headers()[header::RETRY_AFTER], "42");
        assert_eq!(locked.headers()[header::WWW_AUTHENTICATE], "Basic realm=\"gatehouse\"");
        let failed = ServiceError::Replayed { replay: Replay::Code, revoking: Some(StoreError::Corrupt("x".into())) };
        assert_eq!(ApiError::from(failed).into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn listener_errors_keep_their_kind_and_message() {
        use gatehouse_listener::ListenerError;
        let tls = ServerError::from(ListenerError::Tls("cert.pem holds no certificate".into()));
        assert!(matches!(&tls, ServerError::Tls(m) if m == "cert.pem holds no certificate"));
        assert_eq!(tls.to_string(), "TLS configuration: cert.pem holds no certificate");
        let config = ServerError::from(ListenerError::Config("too many".into()));
        assert!(matches!(&config, ServerError::Config(m) if m == "too many"));
        assert_eq!(config.to_string(), ListenerError::Config("too many".into()).to_string());
    }

    #[test]
    fn store_failures_are_server_errors_not_not_found() {
        let err: ApiError = StoreError::Corrupt("x".into()).into();
        assert_eq!(err.into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
        let page: PageError = StoreError::Corrupt("x".into()).into();
        assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
