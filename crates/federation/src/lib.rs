//! Gatehouse as the client of a tenant's own identity provider: the applications keep speaking
//! OpenID Connect to Gatehouse, which signs their people in through their company's Entra ID,
//! Google Workspace, Okta or ADFS.
//!
//! - [`oidc`]: an OpenID Connect upstream: its metadata and keys (fetched bounded, cached, the
//!   keys fetched again on an unknown `kid`), the authorization request (code flow, PKCE S256,
//!   `state`, `nonce`), the code exchange, and the ID token's checks, each failure naming the
//!   check;
//! - [`identity`]: who the upstream says signed in, under the provider's preset (Entra's
//!   `tid` + `oid`, Google's `hd`), and whether it asserted multi-factor authentication;
//! - [`saml`]: a SAML 2.0 upstream: the provider's metadata (its signing certificates
//!   pinned), Gatehouse's SP metadata, the AuthnRequest (HTTP-Redirect or HTTP-POST), and the
//!   answer's signature (samael with xmlsec, reduced to the signed subtree) and checks;
//! - [`guard`]: what an admin-typed upstream URL may reach (public addresses only, unless the
//!   operator allows private networks);
//! - [`providers`]: the tenants' providers in memory, by key and by bound email domain.
//!
//! What a verified identity means for Gatehouse's accounts (link, create, refuse) and for the
//! 2FA policy is `gatehouse-signin`'s; the browser, cookies and pages are the server's. This
//! crate does HTTP only as a client, and reads the clock only through its parameters.

mod fetch;
pub mod guard;
pub mod identity;
pub mod oidc;
pub mod providers;
pub mod saml;

pub use identity::UpstreamIdentity;
pub use oidc::{Rejection, UpstreamError};
pub use providers::{Provider, Providers};
