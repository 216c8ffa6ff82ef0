//! RFC 9457 problem documents for the JSON management APIs (`/api/v1`), and the error those
//! APIs return: a bearer-token failure (RFC 6750 / RFC 9470, with its `WWW-Authenticate`
//! challenge) or a problem document.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use gatehouse_admin::AdminError;

use crate::error::{ApiError, Challenge, ServerError};
use crate::mfa::MfaError;

/// `application/problem+json`: what went wrong, for people and programs.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    pub retry_after: Option<i64>,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, title, detail: detail.into(), retry_after: None }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Invalid request", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({ "type": "about:blank", "title": self.title, "status": self.status.as_u16(), "detail": self.detail });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The error of a management API handler.
#[derive(Debug)]
pub enum ManagementError {
    /// Missing, invalid or insufficient bearer token.
    Token(ApiError),
    Problem(Problem),
}

impl IntoResponse for ManagementError {
    fn into_response(self) -> Response {
        match self {
            Self::Token(error) => error.into_response(),
            Self::Problem(problem) => problem.into_response(),
        }
    }
}

impl From<Problem> for ManagementError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl<E: Into<ServerError>> From<E> for ManagementError {
    fn from(error: E) -> Self {
        Self::Token(ApiError::Internal(error.into()))
    }
}

/// A second-factor failure as a problem document (store and crypto failures stay internal).
impl From<MfaError> for ManagementError {
    fn from(error: MfaError) -> Self {
        let status = match &error {
            MfaError::Store(e) => return Self::Token(ApiError::Internal(ServerError::Internal(store_failure(e)))),
            MfaError::Crypto(_) => return Self::Token(ApiError::Internal(ServerError::Internal("cryptography failed"))),
            MfaError::Throttled { retry_after } => {
                return Self::Problem(Problem {
                    retry_after: Some(*retry_after),
                    ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too many attempts", error.to_string())
                });
            }
            MfaError::UnknownFactor => StatusCode::NOT_FOUND,
            MfaError::NotAllowed => StatusCode::FORBIDDEN,
            MfaError::AlreadyRegistered => StatusCode::CONFLICT,
            MfaError::SmsUnavailable(_) | MfaError::SmsNotConfigured | MfaError::WebAuthnUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::Problem(Problem::new(status, "Second factor", error.to_string()))
    }
}

/// The management services' refusals as problem documents (or, for a sign-in too weak for
/// the change, the RFC 9470 step-up challenge); failures below them as before.
impl From<AdminError> for ManagementError {
    fn from(error: AdminError) -> Self {
        match error {
            AdminError::BadRequest(detail) => Problem::bad_request(detail).into(),
            AdminError::Forbidden { title, detail } => Problem::new(StatusCode::FORBIDDEN, title, detail).into(),
            AdminError::NotFound(detail) => Problem::new(StatusCode::NOT_FOUND, "Not found", detail).into(),
            AdminError::Conflict { title, detail } => Problem::new(StatusCode::CONFLICT, title, detail).into(),
            AdminError::Unavailable(detail) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Unavailable", detail).into(),
            AdminError::StepUp { acr_values, max_age, description } => {
                let error = gatehouse_core::OAuthError::new(gatehouse_core::OAuthErrorCode::InsufficientUserAuthentication, description);
                Self::Token(ApiError::OAuth { error, challenge: Challenge::BearerStepUp { acr_values, max_age }, retry_after: None })
            }
            AdminError::Factor(e) => e.into(),
            AdminError::Store(e) => e.into(),
            AdminError::Crypto(e) => e.into(),
            AdminError::Ops(e) => e.into(),
        }
    }
}

fn store_failure(error: &gatehouse_store::StoreError) -> &'static str {
    tracing::error!(%error, "storage failed in a management API");
    "storage failed"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_rfc9457_documents() {
        let response = Problem::bad_request("label: too long").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    }

    #[test]
    fn second_factor_errors_map_to_statuses() {
        let status = |e: MfaError| ManagementError::from(e).into_response().status();
        assert_eq!(status(MfaError::UnknownFactor), StatusCode::NOT_FOUND);
        assert_eq!(status(MfaError::NotAllowed), StatusCode::FORBIDDEN);
        assert_eq!(status(MfaError::AlreadyRegistered), StatusCode::CONFLICT);
        assert_eq!(status(MfaError::WrongCode { tries_left: None }), StatusCode::BAD_REQUEST);
        assert_eq!(status(MfaError::Throttled { retry_after: 5 }), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(status(MfaError::SmsNotConfigured), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(status(MfaError::Store(gatehouse_store::StoreError::Corrupt("x".into()))), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn admin_errors_map_to_statuses_and_titles() {
        let response = |e: AdminError| ManagementError::from(e).into_response();
        let forbidden = AdminError::Forbidden { title: "Operators only", detail: "x".into() };
        let cases = [
            (AdminError::bad_request("name"), StatusCode::BAD_REQUEST),
            (forbidden, StatusCode::FORBIDDEN),
            (AdminError::NotFound("no such user"), StatusCode::NOT_FOUND),
            (AdminError::conflict("taken"), StatusCode::CONFLICT),
            (AdminError::Unavailable("shutting down"), StatusCode::SERVICE_UNAVAILABLE),
            (AdminError::Factor(MfaError::UnknownFactor), StatusCode::NOT_FOUND),
            (AdminError::Store(gatehouse_store::StoreError::Corrupt("x".into())), StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (error, status) in cases {
            let response = response(error);
            assert_eq!(response.status(), status);
            if status != StatusCode::INTERNAL_SERVER_ERROR {
                assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
            }
        }
        let step_up = response(AdminError::StepUp { acr_values: "x", max_age: 600, description: "sign in again" });
        assert_eq!(step_up.status(), StatusCode::UNAUTHORIZED);
        assert!(step_up.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains("insufficient_user_authentication"));
    }
}
