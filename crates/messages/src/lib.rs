//! Every text the pages show, in one catalogue so a translation is one more value of
//! [`Messages`] (English first). Templates read `m.section.text`; the compiler checks every
//! name, and a translation that misses a text does not build.

mod admin;
mod en;
mod flow;

pub use admin::Admin;
pub use en::EN;
pub use flow::{Around, Flow};

/// Texts shared by every console page.
pub struct Common {
    pub product: &'static str,
    pub skip_to_content: &'static str,
    pub nav_label: &'static str,
    pub nav_account: &'static str,
    pub nav_admin: &'static str,
    pub sign_out: &'static str,
    pub save: &'static str,
    pub cancel: &'static str,
    pub back: &'static str,
    pub never: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub form_expired_title: &'static str,
    pub form_expired: &'static str,
    pub not_found_title: &'static str,
    pub not_found: &'static str,
    pub sign_in_failed_title: &'static str,
    pub sign_in_stale: &'static str,
    pub sign_in_refused: &'static str,
    pub start_again: &'static str,
    pub older: &'static str,
}

/// The account page (`/account`) and its factor pages.
pub struct Account {
    pub title: &'static str,
    pub profile: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub methods: &'static str,
    pub methods_none: &'static str,
    pub method_kind: &'static str,
    pub method_label: &'static str,
    pub added: &'static str,
    pub last_used: &'static str,
    pub pending: &'static str,
    pub rename: &'static str,
    pub new_label: &'static str,
    pub remove: &'static str,
    pub remove_title: &'static str,
    pub remove_explain: &'static str,
    pub remove_confirm: &'static str,
    pub add_method: &'static str,
    pub add_totp: &'static str,
    pub add_sms: &'static str,
    pub add_security_key: &'static str,
    pub add_passkey: &'static str,
    pub reauth_note: &'static str,
    pub phone_label: &'static str,
    pub send_code: &'static str,
    pub totp_title: &'static str,
    pub totp_steps: [&'static str; 3],
    pub qr_alt: &'static str,
    pub key: &'static str,
    pub totp_code: &'static str,
    pub sms_title: &'static str,
    pub sms_code: &'static str,
    pub confirm: &'static str,
    pub webauthn_unsupported: &'static str,
    pub recovery: &'static str,
    pub recovery_left: &'static str,
    pub recovery_none: &'static str,
    pub recovery_regenerate: &'static str,
    pub recovery_new: &'static str,
    pub recovery_explain: &'static str,
    pub history: &'static str,
    pub history_none: &'static str,
    pub when: &'static str,
    pub application: &'static str,
    pub address: &'static str,
    pub result: &'static str,
    pub sessions: &'static str,
    pub session_started: &'static str,
    pub session_seen: &'static str,
    pub session_methods: &'static str,
    pub this_session: &'static str,
    pub revoke: &'static str,
    pub data: &'static str,
    pub data_explain: &'static str,
    pub data_download: &'static str,
    pub renamed: &'static str,
    pub removed: &'static str,
    pub method_added: &'static str,
    pub session_revoked: &'static str,
    pub codes_made: &'static str,
    pub code_sent: &'static str,
}

/// The whole catalogue for one language.
pub struct Messages {
    pub lang: &'static str,
    pub common: Common,
    pub account: Account,
    pub admin: Admin,
    pub flow: Flow,
}

/// The catalogue for an `Accept-Language` header's value. English is the only language so
/// far; this is where the header will choose when there are others.
pub fn for_accept_language(_accept_language: Option<&str>) -> &'static Messages {
    &EN
}
