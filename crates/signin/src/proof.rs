//! What a user proved in one sign-in, on the policy's scale and as RFC 8176 method references.

use gatehouse_core::claims::AMR_PASSWORD;
use gatehouse_policy::AuthLevel;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    pub level: AuthLevel,
    /// RFC 8176 method references, in the order presented (`pwd`, `otp`, `mfa`...).
    pub amr: Vec<String>,
}

impl Proof {
    /// A password alone.
    pub fn password() -> Self {
        Self { level: AuthLevel::Password, amr: vec![AMR_PASSWORD.to_owned()] }
    }

    /// The first factor's method plus a second factor's `method`, reaching `level`. Two proofs
    /// over one channel never make two factors: the same method twice stays one factor.
    pub fn with_second_factor(first: &str, method: &str, level: AuthLevel) -> Self {
        if first == method {
            return Self { level: AuthLevel::Password, amr: vec![first.to_owned()] };
        }
        Self { level, amr: vec![first.to_owned(), method.to_owned(), "mfa".to_owned()] }
    }
}

/// What an entry point (password, SSO session, passkey, and later a federated identity) proved
/// before the policy is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstFactor {
    /// What answers the request when the policy asks nothing more (and what a refusal records).
    pub proved: Proof,
    /// What a further step builds on: its method is the first of the sign-in's two factors.
    pub first: Proof,
    /// The identity provider that vouched for the person (`TENANT_ID/PROVIDER_ID`).
    pub idp: Option<String>,
}

impl FirstFactor {
    /// A password: one factor.
    pub fn password() -> Self {
        Self { proved: Proof::password(), first: Proof::password(), idp: None }
    }

    /// A passkey with user verification (`amr` `hwk` or `swk`): two factors at once at
    /// `level`; where the policy asks for more, the passkey is the first factor of the next step.
    pub fn passkey(amr: &str, level: AuthLevel) -> Self {
        Self { proved: Proof { level, amr: vec![amr.to_owned(), "mfa".to_owned()] }, first: Proof { level, amr: vec![amr.to_owned()] }, idp: None }
    }

    /// An SSO session standing in for the first factor: its first method, at password level
    /// (what the session proved beyond that is the policy's `SessionState`).
    pub fn session(session_amr: &[String]) -> Self {
        let proof = Proof { level: AuthLevel::Password, amr: session_amr.iter().take(1).cloned().collect() };
        Self { proved: proof.clone(), first: proof, idp: None }
    }

    /// A sign-in at the tenant's identity provider `idp`, whose first method was `method`
    /// (`pwd` when it named none). With `mfa_trusted` the provider's multi-factor proof stands
    /// for two factors (as a passkey does); otherwise it is one factor.
    pub fn federated(idp: &str, method: Option<&str>, mfa_trusted: bool) -> Self {
        let method = method.filter(|m| !m.is_empty() && m.len() <= 16).unwrap_or(AMR_PASSWORD).to_owned();
        let idp = Some(idp.to_owned());
        if mfa_trusted {
            let first = Proof { level: AuthLevel::Mfa, amr: vec![method.clone()] };
            return Self { proved: Proof { level: AuthLevel::Mfa, amr: vec![method, "mfa".to_owned()] }, first, idp };
        }
        let proof = Proof { level: AuthLevel::Password, amr: vec![method] };
        Self { proved: proof.clone(), first: proof, idp }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_adds_mfa_only_over_a_new_channel() {
        let pwd = Proof::password();
        assert_eq!((pwd.level, pwd.amr.clone()), (AuthLevel::Password, vec!["pwd".to_owned()]));
        let totp = Proof::with_second_factor("pwd", "otp", AuthLevel::Mfa);
        assert_eq!(totp.amr, ["pwd", "otp", "mfa"]);
        assert_eq!(totp.level, AuthLevel::Mfa);
        let same = Proof::with_second_factor("otp", "otp", AuthLevel::Mfa);
        assert_eq!((same.level, same.amr), (AuthLevel::Password, vec!["otp".to_owned()]));
    }

    #[test]
    fn a_passkey_proves_two_factors_but_is_one_method_of_a_further_step() {
        let passkey = FirstFactor::passkey("hwk", AuthLevel::PhishingResistant);
        assert_eq!(passkey.proved.amr, ["hwk", "mfa"]);
        assert_eq!(passkey.first.amr, ["hwk"]);
        let again = Proof::with_second_factor(&passkey.first.amr[0], "hwk", AuthLevel::PhishingResistant);
        assert_eq!(again.level, AuthLevel::Password, "presenting the passkey again adds nothing");
        assert_eq!(FirstFactor::session(&["pwd".into(), "otp".into(), "mfa".into()]).first.amr, ["pwd"]);
    }

    #[test]
    fn a_federated_sign_in_is_two_factors_only_when_the_providers_proof_is_trusted() {
        let trusted = FirstFactor::federated("t/corp", Some("pwd"), true);
        assert_eq!((trusted.proved.level, trusted.proved.amr.clone()), (AuthLevel::Mfa, vec!["pwd".to_owned(), "mfa".to_owned()]));
        assert_eq!(trusted.idp.as_deref(), Some("t/corp"));
        let single = FirstFactor::federated("t/corp", None, false);
        assert_eq!((single.proved.level, single.proved.amr), (AuthLevel::Password, vec!["pwd".to_owned()]));
        let then_totp = Proof::with_second_factor(&single.first.amr[0], "otp", AuthLevel::Mfa);
        assert_eq!(then_totp.amr, ["pwd", "otp", "mfa"], "Gatehouse's own factor after the provider's password");
    }
}
