//! The admin API's edge for third-party sign-in: a tenant's identity providers (read with the
//! values to register; created, replaced and deleted) and a person's linked identities
//! (listed, linked by hand, unlinked). The logic is `gatehouse_admin::identities`'s and
//! `identity_providers`'s; this is bodies and the network: a provider's URLs an admin typed are
//! reached only on public addresses (unless the operator allows private networks), an OpenID
//! Connect issuer's discovery must answer before it is saved, a SAML metadata URL is fetched
//! once, here.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_admin::error::AdminError;
use gatehouse_admin::identities::Registration;
use gatehouse_admin::identity_providers::provider_from_settings;
use gatehouse_admin::parse_body;
use gatehouse_api::identities::{NewLink, ProviderSettings};
use gatehouse_federation::{guard, saml};

use super::api_body::ApiBody;
use super::api_caller::AdminCall;
use super::problem::ManagementError;
use crate::state::AppState;

type Result<T> = std::result::Result<T, ManagementError>;

/// How long fetching an admin-typed URL (discovery, SAML metadata) may take.
const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn registration(state: &AppState) -> Registration {
    Registration {
        redirect_uri: format!("{}{}", state.config.issuer, super::federated::CALLBACK_PATH),
        sp_entity_id: state.federation.sp.entity_id.clone(),
        acs_url: state.federation.sp.acs_url.clone(),
    }
}

/// `GET /api/v1/tenants/{id}/identity-providers` (tenant admins for their tenant, operators).
pub async fn providers(Path(id): Path<String>, call: AdminCall) -> Result<Response> {
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    Ok(Json(admin.identity_providers(&tenant, &registration(&call.state)).await?).into_response())
}

/// `PUT /api/v1/tenants/{id}/identity-providers/{provider}`: creates (201) or replaces (200)
/// the provider. Before anything is saved: a SAML metadata URL is fetched, an OpenID Connect
/// issuer's discovery document must answer, both on public addresses only unless the operator
/// allows private networks.
pub async fn save_provider(Path((id, provider_id)): Path<(String, String)>, call: AdminCall, ApiBody(body): ApiBody) -> Result<Response> {
    let settings: ProviderSettings = parse_body(&body)?;
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    let public_only = !call.state.config.federation_allow_private_networks;
    let unreachable = |e: String| ManagementError::from(AdminError::bad_request(e));
    let saml_metadata = match (&settings.metadata, &settings.metadata_url) {
        (Some(_), Some(_)) => return Err(unreachable("give metadata or metadata_url, not both".into())),
        (Some(document), None) => Some(document.clone()),
        (None, Some(url)) => Some(saml::fetch_metadata(url, FETCH_TIMEOUT, public_only).await.map_err(|e| unreachable(format!("metadata_url: {e}")))?),
        (None, None) => None,
    };
    let provider = provider_from_settings(&tenant, &provider_id, &settings, saml_metadata)?;
    if let Some(oidc) = provider.oidc() {
        if public_only {
            guard::check_public(&oidc.issuer).await.map_err(|e| unreachable(format!("issuer: {e}")))?;
        }
        // Fetched afresh through the client the provider will use, the cache left alone: its
        // discovery must name the issuer, its keys must be there.
        call.state.federation.upstreams.check_discovery(&provider).await.map_err(|e| unreachable(format!("issuer: {e}")))?;
    }
    let (saved, created) = admin.save_identity_provider(&call.caller, &call.origin, provider, settings.client_secret, &registration(&call.state)).await?;
    call.state.reload().await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(saved)).into_response())
}

/// `DELETE /api/v1/tenants/{id}/identity-providers/{provider}`: the provider and the
/// identities linked through it.
pub async fn delete_provider(Path((id, provider_id)): Path<(String, String)>, call: AdminCall) -> Result<Response> {
    let admin = call.admin();
    let tenant = admin.tenant_for(&call.caller, &id).await?;
    admin.delete_identity_provider(&call.caller, &call.origin, &tenant, &provider_id).await?;
    call.state.reload().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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
