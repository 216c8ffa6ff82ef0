//! The catalogue is complete: every flow text is there, no template writes a text of its own,
//! and every flow page renders with no empty heading, label or button.

use askama::Template;
use std::path::Path;

use super::EN;
use crate::pages::*;

/// Words a template may write itself (none so far: even the product's name is `m.common.product`).
const ALLOWED_WORDS: &[&str] = &[];

/// Attributes people read (or hear from a screen reader): their values are texts too.
const TEXT_ATTRIBUTES: &[&str] = &["alt", "title", "aria-label", "placeholder"];

/// The template with its `{{ }}`, `{% %}` and `{# #}` blocks replaced by a space.
fn without_template_syntax(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((at, close)) = [("{{", "}}"), ("{%", "%}"), ("{#", "#}")].iter().filter_map(|(open, close)| rest.find(open).map(|at| (at, *close))).min() {
        out.push_str(&rest[..at]);
        out.push(' ');
        let after = &rest[at + 2..];
        let end = after.find(close).unwrap_or_else(|| panic!("an unclosed template block: {}", &rest[at..]));
        rest = &after[end + close.len()..];
    }
    out.push_str(rest);
    out
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty())
}

/// The words of `html` a person would read: text between tags (character references
/// skipped) and the values of [`TEXT_ATTRIBUTES`].
fn readable_words(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
        } else if rest.starts_with('<') {
            let end = rest.find('>').unwrap_or(rest.len() - 1);
            let tag = &rest[..=end];
            for name in TEXT_ATTRIBUTES {
                let key = format!(" {name}=\"");
                if let Some(start) = tag.find(&key) {
                    let value = &tag[start + key.len()..];
                    let value = &value[..value.find('"').unwrap_or(value.len())];
                    found.extend(words(value).map(|w| format!("{w} (in {name}=)")));
                }
            }
            rest = &rest[end + 1..];
        } else if rest.starts_with('&') && rest.find(';').is_some_and(|end| rest[1..end].chars().all(|c| c.is_ascii_alphanumeric() || c == '#')) {
            rest = &rest[rest.find(';').unwrap_or(0) + 1..];
        } else {
            let end = rest[1..].find(['<', '&']).map_or(rest.len(), |i| i + 1);
            found.extend(words(&rest[..end]).map(str::to_owned));
            rest = &rest[end..];
        }
    }
    found
}

fn templates(dir: &Path, into: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            templates(&path, into);
        } else if path.extension().is_some_and(|e| e == "html") {
            into.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn no_template_writes_a_text_of_its_own() {
    let mut all = Vec::new();
    templates(&Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"), &mut all);
    assert!(all.len() > 15, "the templates were found: {}", all.len());
    let raw: Vec<String> = all
        .iter()
        .flat_map(|(path, template)| {
            readable_words(&without_template_syntax(template))
                .into_iter()
                .filter(|w| !ALLOWED_WORDS.contains(&w.split(' ').next().unwrap_or_default()))
                .map(move |w| format!("{path}: {w}"))
        })
        .collect();
    assert!(raw.is_empty(), "texts belong in the message catalogue (crate::messages), not in templates:\n{}", raw.join("\n"));
}

#[test]
fn the_check_finds_texts_in_text_and_attributes_but_not_in_markup() {
    let template = "<p class=\"muted\">{{ m.flow.sign_in }} &middot; {% if x %}Hello{% endif %}</p>\n<img alt=\"A picture\" src=\"/x.svg\"><!-- a comment -->";
    assert_eq!(readable_words(&without_template_syntax(template)), ["Hello", "A (in alt=)", "picture (in alt=)"]);
    assert!(readable_words(&without_template_syntax("<input aria-label=\"{{ m.flow.email }}\"> · 3")).is_empty());
}

#[test]
fn every_flow_text_is_there() {
    let texts = EN.flow.texts();
    assert!(texts.len() > 100, "{}", texts.len());
    for (name, text) in &texts {
        assert!(!text.replace('…', "").trim().is_empty(), "flow.{name} is empty");
        assert!(!text.contains("[]"), "flow.{name} has an empty part: {text:?}");
    }
    assert_eq!(EN.flow.list(&["A"]), "A");
    assert_eq!(EN.flow.list(&["A", "B", "C"]), "A, B or C");
    assert_eq!(EN.flow.remember.with(30), "Don't ask again on this browser for 30 days");
}

/// Every element of the page that holds text has some: a text the catalogue lost shows here.
fn empty_elements(html: &str) -> Vec<String> {
    let mut empty = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>').map(|e| start + e) else { break };
        let tag = &rest[start..=end];
        rest = &rest[end + 1..];
        let name: String = tag[1..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if name.is_empty() || name == "script" || tag.contains("id=\"webauthn-error\"") {
            continue;
        }
        if rest.trim_start().starts_with(&format!("</{name}>")) {
            empty.push(tag.to_owned());
        }
    }
    if html.contains("<title> ·") || html.contains("· </title>") {
        empty.push("<title>".to_owned());
    }
    empty
}

/// `text` as askama's HTML escaping writes it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;").replace('\'', "&#39;")
}

#[test]
fn every_flow_page_renders_its_texts() {
    let m = &EN;
    let f = &m.flow;
    let webauthn = vec![("security_key", f.use_security_key), ("passkey", f.use_passkey)];
    let fields = vec![("state", "s".to_owned())];
    let pages: Vec<(&str, String, &str)> = vec![
        ("error", ErrorPage { m, title: f.error_title, message: f.error_message }.render().unwrap(), f.error_title),
        (
            "login",
            LoginPage {
                m,
                client_name: "Payroll",
                request_id: "r",
                csrf_token: "c",
                email: "ann@acme.test",
                error: Some(f.bad_credentials),
                passkeys: true,
                identify: false,
                providers: vec![crate::pages::ProviderButton { key: "t/corp".into(), name: "Acme staff" }],
            }
            .render()
            .unwrap(),
            f.sign_in,
        ),
        (
            "password_change",
            PasswordChangePage {
                m,
                request_id: "r",
                csrf_token: "c",
                email: "a@b.test",
                min_length: 8,
                code_deliverable: true,
                error: Some(f.password_mismatch),
            }
            .render()
            .unwrap(),
            f.password_title,
        ),
        ("form_post", FormPostPage { m, action: "https://app.test/cb", fields: fields.clone() }.render().unwrap(), f.returning),
        ("logout_confirm", LogoutConfirmPage { m, csrf_token: "c", fields }.render().unwrap(), f.sign_out_question),
        ("logged_out", LoggedOutPage { m, provider: Some(("Acme staff", "https://login.acme.test/end")) }.render().unwrap(), f.signed_out_heading),
        ("demo_home", DemoHomePage { m }.render().unwrap(), f.demo_heading),
        ("demo_claims", DemoClaimsPage { m, claims: vec![("sub".into(), "\"u\"".into())], logout_url: "/logout".into() }.render().unwrap(), f.demo_signed_in),
        (
            "factor",
            FactorPage {
                m,
                client_name: "Payroll",
                request_id: "r",
                csrf_token: "c",
                totp: true,
                sms_to: Some(f.phone_ending.with(67)),
                sms_sent: true,
                recovery: true,
                webauthn: webauthn.clone(),
                remember_days: 30,
                message: Some(&f.sms_sent.with(f.phone_ending.with(67))),
                error: Some(f.wrong_code),
            }
            .render()
            .unwrap(),
            f.two_step,
        ),
        (
            "factor, no code sent yet",
            FactorPage {
                m,
                client_name: "Payroll",
                request_id: "r",
                csrf_token: "c",
                totp: false,
                sms_to: Some(f.phone_ending.with(67)),
                sms_sent: false,
                recovery: false,
                webauthn: vec![],
                remember_days: 0,
                message: None,
                error: None,
            }
            .render()
            .unwrap(),
            f.sms_send_to.before,
        ),
        (
            "enroll",
            EnrollPage {
                m,
                client_name: "Payroll",
                request_id: "r",
                csrf_token: "c",
                totp: Some(("data:image/svg+xml;base64,".into(), "JBSWY3DP")),
                webauthn: vec![("security_key", f.set_up_security_key), ("passkey", f.set_up_passkey)],
                sms: true,
                sms_sent: false,
                error: Some(f.wrong_code),
            }
            .render()
            .unwrap(),
            f.totp_steps[0],
        ),
        (
            "enroll, code sent",
            EnrollPage { m, client_name: "Payroll", request_id: "r", csrf_token: "c", totp: None, webauthn: vec![], sms: true, sms_sent: true, error: None }
                .render()
                .unwrap(),
            f.sms_code_we_sent,
        ),
        ("recovery_codes", RecoveryCodesPage { m, request_id: "r", csrf_token: "c", codes: &["aaaa-bbbb"] }.render().unwrap(), f.recovery_explain),
        ("recovery_codes, shown before", RecoveryCodesPage { m, request_id: "r", csrf_token: "c", codes: &[] }.render().unwrap(), f.recovery_shown_before),
        (
            "enroll_unavailable",
            EnrollUnavailablePage { m, client_name: "Payroll", methods: f.list(&[f.method_security_key, f.method_passkey]) }.render().unwrap(),
            f.cannot_set_up,
        ),
    ];
    for (name, html, text) in &pages {
        assert!(html.contains("<html lang=\"en\">"), "{name}");
        assert!(html.contains(&escaped(text)), "{name} shows {text:?}:\n{html}");
        assert_eq!(empty_elements(html), Vec::<String>::new(), "{name} has an empty element:\n{html}");
    }
    let factor = &pages[8].1;
    assert!(factor.contains("Don&#39;t ask again on this browser for 30 days"), "{factor}");
    assert!(factor.contains("Code sent to your phone ending in 67"), "{factor}");
    assert!(factor.contains(">Use your passkey</button>"), "{factor}");
    assert!(pages[1].1.contains("to continue to <strong>Payroll</strong>"));
    assert!(pages[14].1.contains("<strong>Payroll</strong> requires two-step verification, and your organisation allows a security key or a passkey.</p>"));
}
