use super::*;
use crate::SigningAlg;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(public: bool) -> Client {
    Client {
        client_id: ClientId::parse("app").unwrap(),
        name: "App".into(),
        secret_digest: if public { None } else { Some(vec![1; 32]) },
        redirect_uris: vec![RedirectUri::parse("https://app.test/cb").unwrap()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![GrantType::AuthorizationCode],
        id_token_signed_response_alg: SigningAlg::RS256,
        policy: Default::default(),
        operator: false,
        scopes: vec![],
    }
}

fn parse(query: &str, client: &Client) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let params = Params::parse(query.as_bytes()).unwrap();
    parse_authorization_request(&params, |id| (id == &client.client_id).then_some(client))
}

const BASE: &str = "client_id=app&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid";

#[test]
fn valid_request_parses_with_unknown_parameters_ignored() {
    let req = parse(&format!("{BASE}&state=s&nonce=n&foo=bar&max_age=10"), &client(false)).unwrap();
    assert_eq!(req.state.as_deref(), Some("s"));
    assert_eq!(req.nonce.as_deref(), Some("n"));
    assert_eq!(req.max_age, Some(10));
    assert_eq!(req.response_mode, ResponseMode::Query);
}

#[test]
fn unknown_client_or_unregistered_redirect_never_redirects() {
    let c = client(false);
    for q in [
        "redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid",
        "client_id=other&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&response_type=code&scope=openid",
        "client_id=app&redirect_uri=https%3A%2F%2Fapp.test%2Fcb2&response_type=code&scope=openid",
        "client_id=app&response_type=code&scope=openid",
    ] {
        assert!(matches!(parse(q, &c), Err(AuthorizeRejection::NoRedirect(_))), "{q}");
    }
}

#[test]
fn missing_response_type_is_redirected_invalid_request() {
    let q = "client_id=app&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&scope=openid&state=xyz";
    match parse(q, &client(false)) {
        Err(AuthorizeRejection::Redirect { error, state, .. }) => {
            assert_eq!(error.code, OAuthErrorCode::InvalidRequest);
            assert_eq!(state.as_deref(), Some("xyz"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsupported_response_type() {
    let q = BASE.replace("response_type=code", "response_type=token");
    assert_eq!(parse(&q, &client(false)).unwrap_err().error().code, OAuthErrorCode::UnsupportedResponseType);
}

#[test]
fn public_client_without_pkce_is_rejected_and_plain_is_refused() {
    assert_eq!(parse(BASE, &client(true)).unwrap_err().error().code, OAuthErrorCode::InvalidRequest);
    let plain = format!("{BASE}&code_challenge={CHALLENGE}&code_challenge_method=plain");
    assert!(parse(&plain, &client(true)).is_err());
    let s256 = format!("{BASE}&code_challenge={CHALLENGE}&code_challenge_method=S256");
    assert!(parse(&s256, &client(true)).unwrap().code_challenge.is_some());
}

#[test]
fn prompt_none_with_login_is_invalid() {
    let q = format!("{BASE}&prompt=none%20login");
    assert_eq!(parse(&q, &client(false)).unwrap_err().error().code, OAuthErrorCode::InvalidRequest);
}

#[test]
fn request_objects_are_not_supported() {
    let q = format!("{BASE}&request=eyJ");
    assert_eq!(parse(&q, &client(false)).unwrap_err().error().code, OAuthErrorCode::RequestNotSupported);
}

#[test]
fn missing_openid_and_bad_max_age() {
    let q = BASE.replace("scope=openid", "scope=unknown");
    assert_eq!(parse(&q, &client(false)).unwrap_err().error().code, OAuthErrorCode::InvalidScope);
    let q = format!("{BASE}&max_age=-1");
    assert_eq!(parse(&q, &client(false)).unwrap_err().error().code, OAuthErrorCode::InvalidRequest);
}

#[test]
fn form_post_mode_is_kept_for_errors() {
    let q = "client_id=app&redirect_uri=https%3A%2F%2Fapp.test%2Fcb&scope=openid&response_mode=form_post";
    match parse(q, &client(false)) {
        Err(AuthorizeRejection::Redirect { response_mode, .. }) => assert_eq!(response_mode, ResponseMode::FormPost),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_clients_step_up_scopes_are_kept_and_other_unknown_scopes_dropped() {
    let mut c = client(false);
    c.policy.step_up_scopes = vec![("pages:delete".into(), gatehouse_policy::AuthLevel::Mfa)];
    let req = parse(&format!("{BASE}%20pages%3Adelete%20email%20made:up"), &c).unwrap();
    assert_eq!(req.scopes.to_string(), "openid pages:delete email");
    let other = parse(&format!("{BASE}%20pages%3Adelete"), &client(false)).unwrap();
    assert_eq!(other.scopes.to_string(), "openid", "another client's sensitive scope means nothing here");
}

#[test]
fn only_first_party_clients_keep_gatehouse_scopes() {
    let third_party = parse(&format!("{BASE}%20gatehouse%3Aaccount%20gatehouse%3Aadmin"), &client(false)).unwrap();
    assert_eq!(third_party.scopes.to_string(), "openid");
    let mut first_party = client(false);
    first_party.operator = true;
    let kept = parse(&format!("{BASE}%20gatehouse%3Aaccount%20gatehouse%3Aadmin"), &first_party).unwrap();
    assert_eq!(kept.scopes.to_string(), "openid gatehouse:account gatehouse:admin");
}

#[test]
fn a_parked_request_keeps_only_known_parameters_and_parses_back_to_itself() {
    let c = client(true);
    let query = format!(
        "{BASE}%20email%20address&state=s%20t&nonce=n&foo={}&max_age=0&prompt=login&login_hint=a%40b.test&idp_hint=t1%2Fcorp&acr_values=urn%3Agatehouse%3Aacr%3Amfa%20phr&response_mode=form_post&code_challenge={CHALLENGE}&code_challenge_method=S256",
        "x".repeat(10_000)
    );
    let request = parse(&query, &c).unwrap();
    let parked = request.to_query();
    assert!(!parked.contains("foo") && !parked.contains("address") && parked.len() < 600, "{parked}");
    assert_eq!(parse(&parked, &c).unwrap(), request);
    assert_eq!(request.idp_hint.as_deref(), Some("t1/corp"), "the provider hint is kept");
    let minimal = parse(&format!("{BASE}&code_challenge={CHALLENGE}&code_challenge_method=S256"), &c).unwrap();
    assert_eq!(parse(&minimal.to_query(), &c).unwrap(), minimal);
}

#[test]
fn acr_values_are_bounded() {
    let c = client(false);
    let many = ["urn:x"; 9].join("%20");
    assert!(matches!(parse(&format!("{BASE}&acr_values={many}"), &c), Err(AuthorizeRejection::Redirect { .. })));
    let long = "a".repeat(513);
    assert!(matches!(parse(&format!("{BASE}&acr_values={long}"), &c), Err(AuthorizeRejection::Redirect { .. })));
    assert_eq!(parse(&format!("{BASE}&acr_values=urn%3Agatehouse%3Aacr%3Amfa"), &c).unwrap().acr_values, ["urn:gatehouse:acr:mfa"]);
}
