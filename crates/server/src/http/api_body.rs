//! The body of a JSON API request (token, introspection, revocation, userinfo). A body over the
//! size limit is answered with an RFC 6749 JSON error, not axum's plain-text rejection, so
//! clients parsing `error` still learn what went wrong.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use gatehouse_core::OAuthError;

use crate::error::ApiError;

pub struct ApiBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge),
            Err(_) => Err(OAuthError::invalid_request("the request body could not be read").into()),
        }
    }
}
