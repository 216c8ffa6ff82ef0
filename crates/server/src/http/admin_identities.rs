//! The admin API's edge for third-party sign-in: a tenant's identity providers (read, with the
//! redirect URI to register) and a person's linked identities (listed, linked by hand,
//! unlinked). The logic is `gatehouse_admin::identities`'s; this is bodies.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_admin::parse_body;
use gatehouse_api::identities::NewLink;

use super::api_body::ApiBody;
use super::api_caller::AdminCall;
use super::problem::ManagementError;

type Result<T> = std::result::Result<T, ManagementError>;

/// `GET /api/v1/tenants/{id}/identity-providers` (tenant admins for their tenant, operators).
pub async fn providers(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    let redirect_uri = format!("{}{}", call.state.config.issuer, super::federated::CALLBACK_PATH);
    Ok(Json(admin.identity_providers(&tenant, &redirect_uri).await?).into_response())
}

/// `GET /api/v1/users/{id}/identities`.
pub async fn identities(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    Ok(Json(call.admin().identities_of(&call.caller, &id).await?).into_response())
}

/// `POST /api/v1/users/{id}/identities`: links an identity by hand.
pub async fn link(Path(id): Path<String>, call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    let request: NewLink = parse_body(&body)?;
    let linked = call.admin().link_identity(&call.caller, &call.origin, &id, request).await?;
    Ok((StatusCode::CREATED, Json(linked)).into_response())
}

/// `DELETE /api/v1/users/{id}/identities/{provider}`: unlinks the person's identity there.
pub async fn unlink(Path((id, provider)): Path<(String, String)>, call: AdminCall) -> Result<Response> {
    call.admin().unlink_identity(&call.caller, &call.origin, &id, &provider).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
