//! The OpenAPI document (`crates/server/static/openapi.json`, served at
//! `/api/v1/openapi.json`) against the structs the API serializes: for every documented JSON
//! answer, a representative value of its struct must have only the fields the schema names,
//! every field it requires, and values of the documented types and enums, all the way down.
//! Representative values fill every `Option`, so nested schemas are checked too. A field
//! added, renamed or dropped on either side fails here rather than surprising a client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use gatehouse_api::{applications, factors, identities, monitoring, sessions, sign_ins, simulate, tenants, users};
use gatehouse_core::alert::{Alert, AlertKind, Severity};
use gatehouse_policy::{AppPolicy, DomainPolicy};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;

const DOCUMENT: &str = include_str!("../../server/static/openapi.json");

/// Where the schema at `schema` lets `value` down, as `at: what` lines.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let target = doc.pointer(reference.trim_start_matches('#')).unwrap_or_else(|| panic!("{at}: dangling {reference}"));
        return check(doc, target, value, at, errors);
    }
    if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
        let failures: Vec<Vec<String>> = choices
            .iter()
            .map(|choice| {
                let mut found = Vec::new();
                check(doc, choice, value, at, &mut found);
                found
            })
            .collect();
        if failures.iter().all(|f| !f.is_empty()) {
            errors.push(format!("{at}: matches none of oneOf: {failures:?}"));
        }
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let Some(kind) = schema.get("type") {
        let kinds: Vec<&str> = match kind {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let is = |k: &str| match k {
            "null" => value.is_null(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            _ => false,
        };
        if !kinds.iter().any(|k| is(k)) {
            errors.push(format!("{at}: {value} is not {kinds:?}"));
            return;
        }
    }
    match value {
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for required in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                if !fields.contains_key(required) {
                    errors.push(format!("{at}: required field {required} is missing"));
                }
            }
            let extra = schema.get("additionalProperties");
            for (name, field) in fields {
                let here = format!("{at}.{name}");
                match (properties.and_then(|p| p.get(name)), extra) {
                    (Some(property), _) => check(doc, property, field, &here, errors),
                    (None, Some(extra)) if extra.is_object() => check(doc, extra, field, &here, errors),
                    (None, Some(Value::Bool(true))) => {}
                    // No properties named at all: a free-form object (an alert's details).
                    (None, None) if properties.is_none() => {}
                    (None, _) => errors.push(format!("{at}: field {name} is not in the schema")),
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for (n, element) in items.iter().enumerate() {
                    check(doc, item, element, &format!("{at}[{n}]"), errors);
                }
            }
        }
        _ => {}
    }
}

/// One documented answer and a representative value of the struct the handler sends.
struct Answer {
    method: &'static str,
    path: &'static str,
    status: &'static str,
    body: Value,
}

fn answer(method: &'static str, path: &'static str, status: &'static str, body: impl Serialize) -> Answer {
    Answer { method, path, status, body: serde_json::to_value(body).unwrap() }
}

fn factor() -> factors::Factor {
    factors::Factor { id: "f1".into(), kind: "totp".into(), label: "Phone app".into(), confirmed: true, created_at: 1, last_used_at: Some(2) }
}

fn tenant() -> tenants::Tenant {
    tenants::Tenant {
        id: "t1".into(),
        name: "Acme Oy".into(),
        domains: vec!["acme.test".into()],
        policy: DomainPolicy::default(),
        staged_policy: Some(DomainPolicy::default()),
    }
}

fn user() -> users::User {
    users::User { id: "u1".into(), tenant: "t1".into(), email: "alice@acme.test".into(), name: "Alice".into(), roles: vec!["admin".into()] }
}

fn oidc_provider() -> identities::IdentityProvider {
    identities::IdentityProvider {
        id: "corp".into(),
        key: "t1/corp".into(),
        name: "Acme staff".into(),
        protocol: "oidc".into(),
        preset: "okta".into(),
        issuer: "https://acme.okta.com".into(),
        client_id: "0oa1".into(),
        client_secret_set: true,
        domains: vec!["acme.test".into()],
        upstream_mfa: "if_asserted".into(),
        provisioning: "jit".into(),
        mfa_acr_values: vec!["urn:mfa".into()],
        required: true,
        break_glass: vec!["root@acme.test".into()],
        redirect_uri: "https://id.acme.test/login/federated/callback".into(),
        saml: None,
        via_api: false,
        warnings: vec!["the provider is required".into()],
    }
}

fn saml_provider() -> identities::IdentityProvider {
    identities::IdentityProvider {
        id: "adfs".into(),
        key: "t1/adfs".into(),
        protocol: "saml".into(),
        preset: "adfs".into(),
        issuer: "https://adfs.acme.test/adfs/services/trust".into(),
        client_id: String::new(),
        client_secret_set: false,
        saml: Some(identities::SamlRegistration {
            sp_entity_id: "https://id.acme.test/saml/metadata".into(),
            acs_url: "https://id.acme.test/saml/acs".into(),
            idp_entity_id: "https://adfs.acme.test/adfs/services/trust".into(),
            metadata_url: Some("https://adfs.acme.test/FederationMetadata/2007-06/FederationMetadata.xml".into()),
            email_attribute: None,
            name_attribute: None,
            allow_idp_initiated: true,
        }),
        via_api: true,
        ..oidc_provider()
    }
}

fn linked() -> identities::LinkedIdentity {
    identities::LinkedIdentity { provider: "t1/corp".into(), issuer: "https://acme.okta.com".into(), subject: "00u1".into() }
}

fn sign_in() -> sign_ins::SignIn {
    sign_ins::SignIn {
        id: "s1".into(),
        at: 1,
        application: Some("vault".into()),
        address: "192.0.2.1".into(),
        user_agent: "Firefox".into(),
        device: Some("d1".into()),
        result: "success".into(),
        methods: vec!["pwd".into(), "otp".into()],
        acr: Some("urn:gatehouse:acr:mfa".into()),
        policy: Some(sign_ins::SignInPolicy {
            outcome: Some("second_factor".into()),
            rule: Some("domain_required".into()),
            reasons: Some(json!([{ "text": "the domain requires two-step verification" }])),
        }),
        risky: false,
        reported_at: Some(3),
        identity_provider: Some("t1/corp".into()),
        federation_refusal: Some(sign_ins::FederationRefusal {
            check: "unverified_email".into(),
            issuer: Some("https://acme.okta.com".into()),
            subject: Some("00u1".into()),
        }),
    }
}

fn alert() -> Alert {
    Alert {
        id: "a1".into(),
        at: 1,
        tenant: Some("t1".into()),
        kind: AlertKind::BruteForce,
        severity: Severity::Medium,
        subject: "user:u1".into(),
        summary: "many failures".into(),
        details: json!({ "failures": 20 }),
        acknowledged_at: Some(2),
        acknowledged_by: Some("user:u2".into()),
    }
}

fn decision() -> simulate::SimulatedDecision {
    simulate::SimulatedDecision {
        outcome: simulate::DecidedOutcome { kind: "second_factor".into(), level: Some("urn:gatehouse:acr:mfa".into()), methods: vec!["totp".into()] },
        winning_rule: simulate::WinningRule { code: "domain_required".into() },
        reasons: vec![simulate::DecisionReason { text: "the domain requires it".into() }],
        risk: "low".into(),
        report_only: None,
    }
}

fn answers() -> Vec<Answer> {
    let staged = decision();
    let with_staged = simulate::SimulatedDecision { report_only: Some(Box::new(staged)), ..decision() };
    vec![
        answer("get", "/api/v1/me/factors", "200", factors::FactorList { factors: vec![factor()], recovery_codes_left: 10 }),
        answer(
            "post",
            "/api/v1/me/factors",
            "201",
            factors::EnrollmentStarted::<Value>::App(factors::AppEnrollment {
                factor: "f1".into(),
                secret: "JBSWY3DP".into(),
                otpauth_uri: "otpauth://totp/x".into(),
                qr_code: "data:image/svg+xml;base64,".into(),
            }),
        ),
        answer(
            "post",
            "/api/v1/me/factors",
            "201",
            factors::EnrollmentStarted::<Value>::Phone(factors::PhoneEnrollment { factor: "f1".into(), challenge: "c1".into() }),
        ),
        answer(
            "post",
            "/api/v1/me/factors",
            "201",
            factors::EnrollmentStarted::Key(factors::KeyEnrollment { ceremony: "c1".into(), options: json!({ "publicKey": {} }) }),
        ),
        answer("patch", "/api/v1/me/factors/{id}", "200", factor()),
        answer("post", "/api/v1/me/factors/{id}/confirm", "200", factor()),
        answer("post", "/api/v1/me/factors/webauthn", "201", factor()),
        answer("post", "/api/v1/me/recovery-codes", "200", factors::RecoveryCodes { codes: vec!["abcd-efgh".into()] }),
        answer(
            "get",
            "/api/v1/me/sessions",
            "200",
            sessions::SessionList {
                sessions: vec![sessions::Session { id: "s1".into(), created_at: 1, last_seen_at: 2, auth_time: 1, methods: vec!["pwd".into()], current: true }],
            },
        ),
        answer("get", "/api/v1/me/sign-ins", "200", sign_ins::SignInHistory { sign_ins: vec![sign_in()], next: Some("1.s1".into()) }),
        answer("get", "/api/v1/users/{id}/sign-ins", "200", sign_ins::SignInHistory { sign_ins: vec![sign_in()], next: None }),
        answer(
            "post",
            "/api/v1/me/sign-ins/{id}/report",
            "200",
            sign_ins::SignInReported {
                sign_in: "s1".into(),
                sessions_ended: 1,
                grants_revoked: 2,
                factors_removed: 0,
                recovery_codes_removed: 0,
                factors_kept: 1,
                next_sign_in: "requires a new password".into(),
            },
        ),
        answer("get", "/api/v1/tenants", "200", tenants::TenantList { tenants: vec![tenant()] }),
        answer("post", "/api/v1/tenants", "201", tenant()),
        answer("get", "/api/v1/tenants/{id}", "200", tenant()),
        answer("post", "/api/v1/tenants/{id}/domains", "201", tenant()),
        answer("put", "/api/v1/tenants/{id}/policy", "200", tenants::PolicyChanged { tenant: tenant(), users_to_enroll: 1 }),
        answer(
            "get",
            "/api/v1/tenants/{id}/staged-policy/report",
            "200",
            tenants::StagedPolicyReport {
                days: 30,
                sign_ins: 10,
                changed: 2,
                would_prompt: 1,
                would_stop_prompting: 0,
                would_deny: 1,
                by_user: [("alice@acme.test".to_owned(), 2)].into(),
                by_application: [("vault".to_owned(), 2)].into(),
            },
        ),
        answer(
            "post",
            "/api/v1/tenants/{id}/terminate",
            "200",
            tenants::TenantTerminated { tenant: "t1".into(), status: "terminated".into(), deletion_due: Some("2026-01-31T00:00:00Z".into()) },
        ),
        answer("post", "/api/v1/tenants/{id}/reinstate", "200", tenants::TenantReinstated { tenant: "t1".into(), status: "active".into() }),
        answer(
            "get",
            "/api/v1/tenants/{id}/reported-addresses",
            "200",
            tenants::ReportedAddressList { reported_addresses: vec![tenants::ReportedAddress { address: "192.0.2.1".into(), reported_at: 1, expires_at: 2 }] },
        ),
        answer(
            "get",
            "/api/v1/tenants/{id}/users",
            "200",
            users::Directory {
                users: vec![users::DirectoryEntry {
                    id: "u1".into(),
                    email: "alice@acme.test".into(),
                    name: "Alice".into(),
                    roles: vec!["admin".into()],
                    methods: vec!["totp".into()],
                }],
            },
        ),
        answer("post", "/api/v1/tenants/{id}/users", "201", user()),
        answer("patch", "/api/v1/users/{id}", "200", user()),
        answer(
            "delete",
            "/api/v1/users/{id}",
            "200",
            users::UserErased {
                erased: users::Erasure {
                    user: "u1".into(),
                    tenant: "t1".into(),
                    factors: 1,
                    sessions: 1,
                    sign_ins: 3,
                    devices: 1,
                    revoked_grants: vec!["g1".into()],
                },
            },
        ),
        answer(
            "get",
            "/api/v1/applications",
            "200",
            applications::ApplicationList {
                applications: vec![applications::Application {
                    client_id: "vault".into(),
                    name: "Vault".into(),
                    policy: AppPolicy::default(),
                    operator: false,
                }],
            },
        ),
        answer("post", "/api/v1/applications", "201", applications::ApplicationCreated { client_id: "vault".into(), client_secret: Some("s3cret".into()) }),
        answer(
            "put",
            "/api/v1/applications/{client_id}/policy",
            "200",
            applications::AppPolicyChanged { client_id: "vault".into(), policy: AppPolicy::default() },
        ),
        answer("post", "/api/v1/policy/simulate", "200", with_staged),
        answer(
            "get",
            "/api/v1/audit",
            "200",
            monitoring::ChangeHistory {
                records: vec![monitoring::AuditRecord {
                    seq: 7,
                    at: 1,
                    actor: "user:u1".into(),
                    on_behalf_of: Some("client:vault".into()),
                    action: "user.update".into(),
                    target: "user:u2".into(),
                    tenant: Some("t1".into()),
                    before: Some(json!({ "roles": [] })),
                    after: Some(json!({ "roles": ["admin"] })),
                    address: Some("192.0.2.1".into()),
                    user_agent: Some("Firefox".into()),
                    reason: Some("asked".into()),
                }],
                next: Some(6),
            },
        ),
        answer("get", "/api/v1/alerts", "200", monitoring::AlertList { alerts: vec![alert()], next: Some("a0".into()) }),
        answer("get", "/api/v1/tenants/{id}/identity-providers", "200", identities::IdentityProviderList { identity_providers: vec![oidc_provider()] }),
        answer("put", "/api/v1/tenants/{id}/identity-providers/{provider}", "201", saml_provider()),
        answer("put", "/api/v1/tenants/{id}/identity-providers/{provider}", "200", oidc_provider()),
        answer("get", "/api/v1/users/{id}/identities", "200", identities::LinkedIdentityList { identities: vec![linked()] }),
        answer("post", "/api/v1/users/{id}/identities", "201", linked()),
        answer("post", "/api/v1/alerts/{id}/acknowledge", "200", alert()),
    ]
}

#[test]
fn every_documented_json_answer_matches_the_struct_the_api_sends() {
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let mut errors = Vec::new();
    let mut covered = BTreeSet::new();
    for a in answers() {
        let response = &doc["paths"][a.path][a.method]["responses"][a.status];
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{} {} {}: the document gives no JSON schema", a.method, a.path, a.status);
        check(&doc, schema, &a.body, &format!("{} {} {}", a.method, a.path, a.status), &mut errors);
        covered.insert((a.method.to_owned(), a.path.to_owned(), a.status.to_owned()));
    }
    assert!(errors.is_empty(), "the OpenAPI document and the structs disagree:\n{}", errors.join("\n"));
    // The other way round: a JSON answer the document describes has a struct checked here.
    let mut documented = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                if status.starts_with('2') && response["content"]["application/json"]["schema"].is_object() {
                    documented.insert((method.clone(), path.clone(), status.clone()));
                }
            }
        }
    }
    let unchecked: Vec<_> = documented.difference(&covered).collect();
    assert!(unchecked.is_empty(), "documented answers without a struct checked against them: {unchecked:?}");
}

#[test]
fn the_checker_notices_drift() {
    let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
    let schema = json!({ "$ref": "#/components/schemas/Factor" });
    let mut renamed = serde_json::to_value(factor()).unwrap();
    let label = renamed.as_object_mut().unwrap().remove("label").unwrap();
    renamed["name"] = label;
    let mut errors = Vec::new();
    check(&doc, &schema, &renamed, "factor", &mut errors);
    assert!(errors.iter().any(|e| e.contains("required field label")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("field name is not in the schema")), "{errors:?}");
    let mut wrong_type = serde_json::to_value(factor()).unwrap();
    wrong_type["created_at"] = json!("yesterday");
    errors.clear();
    check(&doc, &schema, &wrong_type, "factor", &mut errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
}
