//! The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) turned into a typed value.
//!
//! Errors are split by where they may go: an unknown client or an unregistered redirect URI is
//! shown to the user and never redirected (RFC 6749 §4.1.2.1); anything else is sent back to the
//! client's registered redirect URI.

use crate::params::Params;
use crate::pkce::CodeChallenge;
use crate::{Client, ClientId, GrantType, OAuthError, OAuthErrorCode, RedirectUri, Scopes};
use serde::{Deserialize, Serialize};

/// Scopes this provider grants; others are left out of the grant, as RFC 6749 §3.3 allows.
/// Not `address` (Gatehouse holds no postal addresses) nor `phone`: the only phone numbers it
/// holds are text-message second factors, which are credentials, not profile claims to
/// release to applications. Discovery advertises exactly this list.
pub const SUPPORTED_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// Gatehouse's own APIs: `gatehouse:account` (the user's self-service API) and
/// `gatehouse:admin` (the admin API as a tenant admin). Only first-party applications (marked
/// `operator`) may ask for them, so a third-party application holding a user's token cannot
/// change the user's factors or act as their admin.
pub const FIRST_PARTY_SCOPES: [&str; 2] = ["gatehouse:account", "gatehouse:admin"];

const MAX_STATE_LEN: usize = 2048;
const MAX_NONCE_LEN: usize = 512;
const MAX_HINT_LEN: usize = 320;
/// `acr_values`: a handful of URIs (the values Gatehouse knows are under 40 characters).
const MAX_ACR_VALUES_LEN: usize = 512;
const MAX_ACR_VALUES: usize = 8;
const MAX_ID_TOKEN_HINT_LEN: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

impl ResponseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "query" => Some(Self::Query),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// `prompt` as OIDC Core §3.1.2.1 defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

impl Prompt {
    pub fn parse(value: Option<&str>) -> Result<Self, OAuthError> {
        let mut prompt = Prompt::default();
        for v in value.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                other => return Err(OAuthError::invalid_request(format!("unknown prompt value `{other}`"))),
            }
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
            return Err(OAuthError::invalid_request("prompt=none cannot be combined with other values"));
        }
        Ok(prompt)
    }
}

/// A validated authorization request, ready to be stored while the user signs in. Its serde
/// form is how a parked request is stored: typed, so no later step parses it again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub acr_values: Vec<String>,
    pub code_challenge: Option<CodeChallenge>,
    /// The identity provider the client suggests (`TENANT_ID/PROVIDER_ID`): the sign-in page
    /// offers it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_hint: Option<String>,
}

/// Where an authorization error may be reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeRejection {
    /// The client or redirect URI cannot be trusted: show an error page, never redirect.
    NoRedirect(OAuthError),
    /// Report to the client at its registered redirect URI.
    Redirect { error: OAuthError, redirect_uri: RedirectUri, state: Option<String>, response_mode: ResponseMode },
}

impl AuthorizeRejection {
    pub fn error(&self) -> &OAuthError {
        match self {
            Self::NoRedirect(error) | Self::Redirect { error, .. } => error,
        }
    }
}

fn bounded(params: &Params, name: &'static str, max: usize) -> Result<Option<String>, OAuthError> {
    match params.get(name) {
        Some(v) if v.len() > max => Err(OAuthError::invalid_request(format!("`{name}` is longer than {max} characters"))),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Validates an authorization request. `find_client` looks up a registered client.
pub fn parse_authorization_request<'c>(
    params: &Params,
    find_client: impl FnOnce(&ClientId) -> Option<&'c Client>,
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let no_redirect = |msg: &'static str| AuthorizeRejection::NoRedirect(OAuthError::invalid_request(msg));
    let raw_client = params.get("client_id").ok_or_else(|| no_redirect("client_id is required"))?;
    let client_id = ClientId::parse(raw_client).map_err(|_| no_redirect("client_id is not valid"))?;
    let client = find_client(&client_id).ok_or_else(|| no_redirect("unknown client_id"))?;
    let raw_redirect = params.get("redirect_uri").ok_or_else(|| no_redirect("redirect_uri is required"))?;
    let redirect_uri = client.registered_redirect(raw_redirect).cloned().ok_or_else(|| no_redirect("redirect_uri is not registered for this client"))?;

    // From here on the redirect URI is trusted, so errors go back to the client.
    let state = params.get("state").filter(|s| s.len() <= MAX_STATE_LEN).map(str::to_owned);
    let response_mode_param = params.get("response_mode");
    let response_mode = response_mode_param.and_then(ResponseMode::parse).unwrap_or_default();
    let redirect = |error: OAuthError| AuthorizeRejection::Redirect { error, redirect_uri: redirect_uri.clone(), state: state.clone(), response_mode };

    if params.get("state").is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(redirect(OAuthError::invalid_request("state is longer than 2048 characters")));
    }
    if response_mode_param.is_some() && response_mode_param.and_then(ResponseMode::parse).is_none() {
        return Err(redirect(OAuthError::invalid_request("response_mode must be query or form_post")));
    }
    if params.contains("request") {
        return Err(redirect(OAuthError::new(OAuthErrorCode::RequestNotSupported, "request objects are not supported")));
    }
    if params.contains("request_uri") {
        return Err(redirect(OAuthError::new(OAuthErrorCode::RequestUriNotSupported, "request_uri is not supported")));
    }
    match params.get("response_type") {
        None => return Err(redirect(OAuthError::invalid_request("response_type is required"))),
        Some("code") => {}
        Some(_) => {
            return Err(redirect(OAuthError::new(OAuthErrorCode::UnsupportedResponseType, "only response_type=code is supported")));
        }
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(redirect(OAuthError::new(OAuthErrorCode::UnauthorizedClient, "this client may not use the authorization code grant")));
    }
    let scopes = Scopes::parse(params.get("scope").unwrap_or_default())
        .ok_or_else(|| redirect(OAuthError::new(OAuthErrorCode::InvalidScope, "scope contains invalid characters")))?
        // The application's own sensitive scopes are kept: they are what a step-up is about.
        .retain_known(|s| SUPPORTED_SCOPES.contains(&s) || client.policy.step_up_level(s).is_some() || (client.operator && FIRST_PARTY_SCOPES.contains(&s)));
    if scopes.is_empty() {
        return Err(redirect(OAuthError::new(OAuthErrorCode::InvalidScope, "scope must include openid")));
    }
    let prompt = Prompt::parse(params.get("prompt")).map_err(redirect)?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| redirect(OAuthError::invalid_request("max_age must be a non-negative integer")))?),
    };
    let code_challenge = match params.get("code_challenge") {
        Some(challenge) => Some(CodeChallenge::parse(challenge, params.get("code_challenge_method")).map_err(redirect)?),
        None if params.contains("code_challenge_method") => {
            return Err(redirect(OAuthError::invalid_request("code_challenge_method without code_challenge")));
        }
        None if client.is_public() => {
            return Err(redirect(OAuthError::invalid_request("public clients must use PKCE (code_challenge, S256)")));
        }
        None => None,
    };
    let acr_values: Vec<String> = bounded(params, "acr_values", MAX_ACR_VALUES_LEN)
        .map_err(redirect)?
        .map(|v| v.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    if acr_values.len() > MAX_ACR_VALUES {
        return Err(redirect(OAuthError::invalid_request("acr_values names more than 8 values")));
    }

    Ok(AuthorizationRequest {
        client_id,
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: state.clone(),
        nonce: bounded(params, "nonce", MAX_NONCE_LEN).map_err(redirect)?,
        response_mode,
        prompt,
        max_age,
        login_hint: bounded(params, "login_hint", MAX_HINT_LEN).map_err(redirect)?,
        id_token_hint: bounded(params, "id_token_hint", MAX_ID_TOKEN_HINT_LEN).map_err(redirect)?,
        acr_values,
        code_challenge,
        idp_hint: bounded(params, "idp_hint", MAX_HINT_LEN).map_err(redirect)?,
    })
}

impl Prompt {
    fn to_param(self) -> Option<String> {
        let values: Vec<&str> = [(self.none, "none"), (self.login, "login"), (self.consent, "consent"), (self.select_account, "select_account")]
            .into_iter()
            .filter_map(|(on, value)| on.then_some(value))
            .collect();
        (!values.is_empty()).then(|| values.join(" "))
    }
}

impl AuthorizationRequest {
    /// The request as the query of an equivalent authorization request holding only the
    /// parameters Gatehouse uses, each within its bound: what is parked while the person signs
    /// in. Unknown parameters and unsupported scopes are gone, so parking costs at most a few
    /// kilobytes whatever the browser sent; parsing it again gives this request back.
    pub fn to_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("client_id", self.client_id.as_str());
        query.append_pair("redirect_uri", self.redirect_uri.as_str());
        query.append_pair("response_type", "code");
        query.append_pair("scope", &self.scopes.to_string());
        let optional = [
            ("state", self.state.clone()),
            ("nonce", self.nonce.clone()),
            ("response_mode", (self.response_mode != ResponseMode::Query).then(|| self.response_mode.as_str().to_owned())),
            ("prompt", self.prompt.to_param()),
            ("max_age", self.max_age.map(|age| age.to_string())),
            ("login_hint", self.login_hint.clone()),
            ("id_token_hint", self.id_token_hint.clone()),
            ("acr_values", (!self.acr_values.is_empty()).then(|| self.acr_values.join(" "))),
            ("code_challenge", self.code_challenge.as_ref().map(|c| c.as_str().to_owned())),
            ("code_challenge_method", self.code_challenge.as_ref().map(|_| "S256".to_owned())),
            ("idp_hint", self.idp_hint.clone()),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                query.append_pair(name, &value);
            }
        }
        query.finish()
    }
}

#[cfg(test)]
mod tests;
