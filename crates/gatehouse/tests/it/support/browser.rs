//! A scripted browser: keeps cookies, never follows redirects, fills in the sign-in form; and
//! what a test reads off its responses (hidden inputs, `Location`, query parameters), the
//! authorization queries of the default fixture's `payroll` and `spa` clients, and `payroll`'s
//! code exchange.

use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Client, Response, StatusCode};
use url::Url;

use crate::support::app::TestApp;
use crate::support::fixtures::basic::{PAYROLL_CB, PAYROLL_SECRET};

/// A browser-like HTTP client: a cookie jar, redirects left to the test.
pub struct Browser {
    pub http: Client,
}

/// The value of a hidden input in a page.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&#x2f;", "/").replace("&#x3d;", "=").replace("&#43;", "+").replace("&amp;", "&"))
}

/// The `Location` header of a response (which must have one).
pub fn location(response: &Response) -> String {
    response.headers().get(LOCATION).expect("a Location header").to_str().unwrap().to_owned()
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

impl Browser {
    pub fn new() -> Self {
        Self::from_address("127.0.0.1".parse().unwrap())
    }

    /// A browser whose connections come from `address` (any 127.0.0.0/8 address on Linux), to
    /// play an office or a coffee-shop network.
    pub fn from_address(address: std::net::IpAddr) -> Self {
        Self::behind(address, None)
    }

    /// A browser at `address` whose requests carry `X-Forwarded-For: forwarded_for`, as a
    /// reverse proxy at that address would send them.
    pub fn behind(address: std::net::IpAddr, forwarded_for: Option<&str>) -> Self {
        let mut headers = HeaderMap::new();
        if let Some(value) = forwarded_for {
            headers.insert("x-forwarded-for", value.parse().unwrap());
        }
        let http =
            Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).local_address(address).default_headers(headers).build().unwrap();
        Self { http }
    }

    /// Posts a form on a flow page, carrying its `request` and `csrf_token`.
    pub async fn post_step(&self, app: &TestApp, path: &str, page_html: &str, fields: &[(&str, &str)]) -> Response {
        let request = hidden(page_html, "request").expect("a request field");
        let csrf = hidden(page_html, "csrf_token").expect("a csrf_token field");
        let mut form: Vec<(&str, &str)> = vec![("request", &request), ("csrf_token", &csrf)];
        form.extend_from_slice(fields);
        self.http.post(app.url(path)).form(&form).send().await.unwrap()
    }

    pub async fn get(&self, url: &str) -> Response {
        self.http.get(url).send().await.unwrap()
    }

    /// GET /authorize with the given query string.
    pub async fn authorize(&self, app: &TestApp, query: &str) -> Response {
        self.get(&app.url(&format!("/authorize?{query}"))).await
    }

    /// Follows a redirect to the login page and submits credentials; returns the response to
    /// the POST.
    pub async fn submit_login(&self, app: &TestApp, login_location: &str, email: &str, password: &str) -> Response {
        assert!(login_location.starts_with("/login?request="), "expected the login page, got {login_location}");
        let page = self.get(&app.url(login_location)).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let request = hidden(&html, "request").unwrap();
        let csrf = hidden(&html, "csrf_token").unwrap();
        self.http
            .post(app.url("/login"))
            .form(&[("request", request.as_str()), ("csrf_token", csrf.as_str()), ("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Runs an authorization request through sign-in; returns the final redirect to the client.
    pub async fn sign_in(&self, app: &TestApp, query: &str, who: (&str, &str)) -> String {
        let response = self.authorize(app, query).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let login = location(&response);
        let response = self.submit_login(app, &login, who.0, who.1).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in should redirect with 303");
        location(&response)
    }
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An authorization query for the confidential `payroll` client.
pub fn payroll_query(extra: &str) -> String {
    format!("client_id=payroll&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&response_type=code&scope=openid%20profile%20email&state=st-1&nonce=n-1{extra}")
}

/// A fixed PKCE pair (RFC 7636 Appendix B).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An authorization query for the public `spa` client with PKCE.
pub fn spa_query(extra: &str) -> String {
    format!(
        "client_id=spa&redirect_uri=http%3A%2F%2F127.0.0.1%3A9998%2Fcb&response_type=code&scope=openid%20email&state=st-2&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
    )
}

/// Exchanges a code at the token endpoint as `payroll`.
pub async fn redeem_payroll(app: &TestApp, code: &str) -> Response {
    Client::new()
        .post(app.url("/token"))
        .basic_auth("payroll", Some(PAYROLL_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", PAYROLL_CB)])
        .send()
        .await
        .unwrap()
}
