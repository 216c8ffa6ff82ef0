//! Integration tests: each starts the real `gatehouse` binary on a loopback port with a fresh
//! data directory and drives it over HTTP, as a browser and as OIDC clients would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod account_api;
mod admin_api;
mod audit;
mod backups;
mod bad_input;
mod browser_pages;
mod conformance;
mod connection_limits;
mod console_account;
mod console_admin;
mod data_protection;
mod federation;
mod federation_admin;
mod federation_api;
mod federation_import;
mod federation_saml;
mod federation_userinfo;
mod flow_states;
mod logout;
mod monitoring;
mod openid_client;
mod operations;
mod rfc9700;
mod risk_signals;
mod security_review;
mod settings;
mod sms_webhook;
mod support;
mod tokens;
mod trust_history;
mod two_factor;
mod webauthn;
