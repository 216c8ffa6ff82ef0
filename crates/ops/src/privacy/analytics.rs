//! Pseudonymised analytics: sign-in, factor-adoption and policy-outcome statistics per tenant and
//! application. People appear only as keyed pseudonyms (HMAC-SHA256 of their id under the
//! export key): stable within one key, so rows about one person can be related, and unlinkable
//! to them without it. No email, name, address, user agent or user id is written.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_crypto::SecretDigester;
use gatehouse_store::{SignInResult, Store, StoreError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const PAGE: u32 = 5_000;

#[derive(Default)]
struct Counts {
    results: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<String, u64>,
    rules: BTreeMap<String, u64>,
    methods: BTreeMap<String, u64>,
    people: BTreeSet<String>,
}

impl Counts {
    fn add(&mut self, result: SignInResult, outcome: Option<&str>, rule: Option<&str>, amr: &[String], person: Option<String>) {
        *self.results.entry(result.as_str()).or_default() += 1;
        if let Some(outcome) = outcome {
            *self.outcomes.entry(outcome.to_owned()).or_default() += 1;
        }
        if let Some(rule) = rule {
            *self.rules.entry(rule.to_owned()).or_default() += 1;
        }
        if result == SignInResult::Success {
            for method in amr {
                *self.methods.entry(method.clone()).or_default() += 1;
            }
        }
        self.people.extend(person);
    }

    fn to_json(&self) -> Value {
        json!({
            "sign_ins": self.results,
            "policy_outcomes": self.outcomes,
            "winning_rules": self.rules,
            "methods_used": self.methods,
            "distinct_people": self.people.len(),
        })
    }
}

#[derive(Default)]
struct PersonStats {
    tenant: String,
    sign_ins: u64,
    failures: u64,
    applications: BTreeSet<String>,
    factors: BTreeSet<&'static str>,
}

pub struct Pseudonymiser(SecretDigester);

impl Pseudonymiser {
    pub fn new(export_key: &[u8]) -> Self {
        Self(SecretDigester::new(export_key))
    }

    /// `p-` and 128 bits of the keyed digest of the person's id.
    pub fn person(&self, user_id: &str) -> String {
        let digest = self.0.digest(&format!("person:{user_id}"));
        format!("p-{}", URL_SAFE_NO_PAD.encode(digest.get(..16).unwrap_or(&digest)))
    }
}

/// The export: events at or after `since` (all when `None`).
pub async fn export(store: &dyn Store, export_key: &[u8], since: Option<OffsetDateTime>, now: OffsetDateTime) -> Result<Value, StoreError> {
    let names = Pseudonymiser::new(export_key);
    let mut by_tenant: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_app: BTreeMap<(String, String), Counts> = BTreeMap::new();
    let mut people: BTreeMap<String, PersonStats> = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.sign_in_events_after(after, PAGE).await?;
        let full = page.len() == PAGE as usize;
        for (position, event) in &page {
            after = *position;
            if since.is_some_and(|s| event.at < s) {
                continue;
            }
            let tenant = event.tenant_id.as_ref().map_or("(unknown account)", |t| t.as_str()).to_owned();
            let app = event.client_id.clone().unwrap_or_else(|| "(none)".into());
            let person = event.user_id.as_ref().map(|u| names.person(u.as_str()));
            let outcome = event.decision.as_ref().and_then(|d| d.pointer("/outcome/kind")).and_then(Value::as_str);
            let rule = event.decision.as_ref().and_then(|d| d.pointer("/winning_rule/code")).and_then(Value::as_str);
            by_tenant.entry(tenant.clone()).or_default().add(event.result, outcome, rule, &event.amr, person.clone());
            by_app.entry((tenant.clone(), app.clone())).or_default().add(event.result, outcome, rule, &event.amr, person.clone());
            if let Some(person) = person {
                let stats = people.entry(person).or_insert_with(|| PersonStats { tenant: tenant.clone(), ..Default::default() });
                stats.sign_ins += 1;
                stats.failures += u64::from(event.result != SignInResult::Success);
                stats.applications.insert(app);
            }
        }
        if !full {
            break;
        }
    }
    let mut adoption: BTreeMap<String, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut with_factor: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (tenant, user, kind) in store.factor_adoption().await? {
        let person = names.person(user.as_str());
        *adoption.entry(tenant.to_string()).or_default().entry(kind.as_str()).or_default() += 1;
        with_factor.entry(tenant.to_string()).or_default().insert(person.clone());
        people.entry(person).or_insert_with(|| PersonStats { tenant: tenant.to_string(), ..Default::default() }).factors.insert(kind.as_str());
    }
    let mut tenants = Vec::new();
    for tenant in store.tenants().await? {
        let id = tenant.id.to_string();
        let users = store.tenant_users(&tenant.id).await?.len();
        tenants.push(json!({
            "tenant": id,
            "people": users,
            "factor_adoption": {
                "people_with_a_second_factor": with_factor.get(&id).map_or(0, BTreeSet::len),
                "by_kind": adoption.get(&id).cloned().unwrap_or_default(),
            },
            "activity": by_tenant.get(&id).map(Counts::to_json),
        }));
    }
    Ok(json!({
        "format": "gatehouse-analytics-v1",
        "generated_at": now.format(&Rfc3339).ok(),
        "since": since.and_then(|s| s.format(&Rfc3339).ok()),
        "pseudonyms": "HMAC-SHA256 of each person's id under this export's key; stable for one key, meaningless without it",
        "tenants": tenants,
        "applications": by_app.iter().map(|((tenant, app), counts)| json!({ "tenant": tenant, "application": app, "activity": counts.to_json() })).collect::<Vec<_>>(),
        "people": people.iter().map(|(person, s)| json!({
            "person": person, "tenant": s.tenant, "sign_ins": s.sign_ins, "failures": s.failures,
            "applications": s.applications, "factors": s.factors,
        })).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_key_and_reveal_nothing() {
        let a = Pseudonymiser::new(b"key-one");
        let b = Pseudonymiser::new(b"key-two");
        assert_eq!(a.person("u-alice"), a.person("u-alice"));
        assert_ne!(a.person("u-alice"), a.person("u-bob"));
        assert_ne!(a.person("u-alice"), b.person("u-alice"), "another key, another pseudonym");
        assert!(!a.person("u-alice").contains("alice"));
        assert_eq!(a.person("u-alice").len(), 2 + 22);
    }
}
