//! The sign-in flow's texts (`/login`, the second-factor step, the enrollment wizard, recovery
//! codes, password change, logout, the form-post and error pages, the demo application) and
//! their English values.

use std::fmt::Display;

/// A text with a value inside it: `before`, the value, `after`. Either piece may be empty, and
/// the spaces around the value belong to the pieces, so a translation can move the value to
/// the start or the end of its sentence.
#[derive(Clone, Copy, Debug)]
pub struct Around {
    pub before: &'static str,
    pub after: &'static str,
}

impl Around {
    /// The whole text with `value` in place (templates escape the result as any other value).
    pub fn with(&self, value: impl Display) -> String {
        format!("{}{value}{}", self.before, self.after)
    }
}

/// How a text of the catalogue reads with a placeholder for its value, for tests that check
/// every text is there.
pub trait Text {
    fn sample(&self) -> String;
}

impl Text for &'static str {
    fn sample(&self) -> String {
        (*self).to_owned()
    }
}

impl Text for Around {
    fn sample(&self) -> String {
        self.with("…")
    }
}

impl<const N: usize> Text for [&'static str; N] {
    fn sample(&self) -> String {
        self.iter().map(|t| format!("[{t}]")).collect()
    }
}

/// Declares `Flow` and `Flow::texts`, the list of every text with its name (so a test can
/// check each one without naming them again).
macro_rules! texts {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$field_meta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
        }

        impl $name {
            /// Every text, with its name and how it reads (values shown as `…`).
            pub fn texts(&self) -> Vec<(&'static str, String)> {
                vec![$((stringify!($field), Text::sample(&self.$field)),)*]
            }
        }
    };
}

texts! {
    pub struct Flow {
        // The password page.
        sign_in: &'static str,
        /// Under the heading: "to continue to <strong>Payroll</strong>".
        continue_to: Around,
        email: &'static str,
        password: &'static str,
        sign_in_passkey: &'static str,
        bad_credentials: &'static str,
        email_invalid: &'static str,
        /// Around the seconds to wait.
        too_many_attempts: Around,
        /// The identifier step's button (the email first, then the password or the
        /// organisation's own sign-in).
        identify_continue: &'static str,
        change_email: &'static str,
        /// Around an organisation's identity provider's name, on its button.
        sign_in_with: Around,
        federation_failed: &'static str,
        federation_no_account: &'static str,
        federation_unavailable: &'static str,
        federation_redirecting: &'static str,
        /// Around the company's provider's name, on the signed-out page.
        provider_sign_out: Around,

        // Pages that can no longer continue, and refusals shown as error pages.
        form_expired_title: &'static str,
        form_expired: &'static str,
        page_expired_title: &'static str,
        page_expired: &'static str,
        continued_elsewhere: &'static str,
        unavailable_title: &'static str,
        shutting_down: &'static str,
        password_check_failed: &'static str,
        password_not_saved: &'static str,
        request_invalid_title: &'static str,
        request_not_form: &'static str,
        request_not_utf8: &'static str,
        request_rejected_title: &'static str,
        /// Around the reason the request was refused (the OAuth error description).
        request_rejected: Around,
        account_unavailable_title: &'static str,
        account_gone: &'static str,
        sign_in_ended_title: &'static str,
        sign_in_ended: &'static str,
        too_many_sign_ins_title: &'static str,
        /// Around the minutes until this network may start another sign-in.
        too_many_sign_ins: Around,
        redirect_invalid_title: &'static str,
        redirect_invalid: &'static str,
        error_title: &'static str,
        error_message: &'static str,

        // The second-factor step.
        two_step: &'static str,
        totp_code: &'static str,
        /// Around the number of days a browser is remembered.
        remember: Around,
        verify: &'static str,
        sms_heading: &'static str,
        sms_less_secure: &'static str,
        /// Around where the code went ([`Flow::phone_ending`]).
        sms_code_sent_to: Around,
        sms_send_new: &'static str,
        /// Around where the code would go ([`Flow::phone_ending`]).
        sms_send_to: Around,
        /// Around the phone number's last two digits.
        phone_ending: Around,
        /// Around where the code went ([`Flow::phone_ending`]).
        sms_sent: Around,
        use_security_key: &'static str,
        use_passkey: &'static str,
        recovery_use: &'static str,
        recovery_code: &'static str,
        recovery_submit: &'static str,
        webauthn_unsupported: &'static str,
        webauthn_failed: &'static str,
        webauthn_not_used: &'static str,

        // Why a second factor (or a new one) was not accepted.
        wrong_code: &'static str,
        /// Around the number of tries left.
        wrong_code_tries: Around,
        code_reused: &'static str,
        code_expired: &'static str,
        /// Around the seconds to wait.
        throttled: Around,
        unknown_factor: &'static str,
        not_enrolled: &'static str,
        method_not_allowed: &'static str,
        not_webauthn: &'static str,
        webauthn_unavailable: &'static str,
        unknown_credential: &'static str,
        already_registered: &'static str,
        cloned_authenticator: &'static str,
        /// Around the WebAuthn library's reason.
        webauthn_check_failed: Around,
        sms_unavailable: &'static str,
        /// No SMS gateway is configured on this server.
        sms_not_configured: &'static str,
        our_side: &'static str,

        // The enrollment wizard.
        enroll_title: &'static str,
        /// Around the application's name.
        enroll_required: Around,
        totp_heading: &'static str,
        totp_steps: [&'static str; 3],
        qr_alt: &'static str,
        key: &'static str,
        turn_on: &'static str,
        sms_code_we_sent: &'static str,
        phone_label: &'static str,
        send_code: &'static str,
        set_up_security_key: &'static str,
        set_up_passkey: &'static str,
        synced_passkey: &'static str,
        /// Around the number as typed.
        phone_invalid: Around,
        enroll_failed_title: &'static str,
        enroll_failed: &'static str,
        stronger_needed_title: &'static str,
        stronger_needed: &'static str,
        /// Around the application's name; the allowed methods follow.
        enroll_allows: Around,
        /// Between the last two methods of a list, and between the others.
        list_or: &'static str,
        list_comma: &'static str,
        /// After the list of methods.
        list_end: &'static str,
        cannot_set_up: &'static str,
        method_totp: &'static str,
        method_sms: &'static str,
        method_security_key: &'static str,
        method_passkey: &'static str,
        method_recovery: &'static str,

        // Recovery codes, once a factor is set up.
        recovery_title: &'static str,
        recovery_shown_before: &'static str,
        recovery_explain: &'static str,
        recovery_codes: &'static str,
        continue_button: &'static str,

        // The new password after a reported sign-in.
        password_title: &'static str,
        password_why: &'static str,
        /// Around the email address the code went to.
        email_code_sent: Around,
        email_code_label: &'static str,
        /// Around the number of tries left.
        email_code_wrong: Around,
        email_code_resent: &'static str,
        email_code_unavailable: &'static str,
        new_password: &'static str,
        /// Around the minimum length, after the field's name.
        min_length: Around,
        new_password_again: &'static str,
        save_continue: &'static str,
        /// Around the minimum length.
        password_too_short: Around,
        password_too_long: &'static str,
        password_unprintable: &'static str,
        password_mismatch: &'static str,
        password_is_email: &'static str,
        password_reused: &'static str,

        // Sign-out.
        sign_out: &'static str,
        sign_out_question: &'static str,
        sign_out_explain: &'static str,
        signed_out_title: &'static str,
        signed_out_heading: &'static str,
        signed_out_explain: &'static str,
        logout_invalid_title: &'static str,
        logout_bad_hint: &'static str,
        logout_client_mismatch: &'static str,
        logout_redirect_needs_client: &'static str,
        logout_redirect_unregistered: &'static str,
        logout_redirect_invalid: &'static str,

        // The form-post response (OAuth 2.0 Form Post Response Mode).
        returning: &'static str,
        noscript: &'static str,

        // The demo application (`--demo`).
        demo_title: &'static str,
        demo_heading: &'static str,
        demo_explain: &'static str,
        demo_sign_in: &'static str,
        demo_signed_in: &'static str,
        demo_verified: &'static str,
        demo_claims: &'static str,
        demo_claim: &'static str,
        demo_value: &'static str,
        demo_again: &'static str,
        demo_unavailable_title: &'static str,
        demo_bad_issuer: &'static str,
        demo_failed_title: &'static str,
        /// Around the error code and its description.
        demo_error_answer: Around,
        demo_cookie_missing: &'static str,
        demo_cookie_malformed: &'static str,
        demo_state_mismatch: &'static str,
        demo_iss_mismatch: &'static str,
        demo_no_code: &'static str,
        /// Around the HTTP client's reason.
        demo_token_failed: Around,
        demo_token_unavailable: &'static str,
        demo_no_id_token: &'static str,
        demo_bad_signature: &'static str,
        demo_bad_claims: &'static str,
        demo_undisplayable: &'static str,
    }
}

impl Flow {
    /// The methods in a list: "a security key or a passkey", "A, B or C".
    pub fn list(&self, items: &[&str]) -> String {
        let mut text = String::new();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                text.push_str(if i + 1 == items.len() { self.list_or } else { self.list_comma });
            }
            text.push_str(item);
        }
        text
    }
}

const fn around(before: &'static str, after: &'static str) -> Around {
    Around { before, after }
}

pub(super) const EN_FLOW: Flow = Flow {
    sign_in: "Sign in",
    continue_to: around("to continue to ", ""),
    email: "Email",
    password: "Password",
    sign_in_passkey: "Sign in with a passkey",
    bad_credentials: "The email address or password is incorrect.",
    email_invalid: "Enter your email address, like name@example.com.",
    too_many_attempts: around("Too many failed attempts. Wait ", " seconds and try again."),
    identify_continue: "Continue",
    change_email: "Use another email address",
    sign_in_with: around("Sign in with ", ""),
    federation_failed: "Your organisation's sign-in did not complete. Try again, or ask your administrator.",
    federation_no_account: "Your organisation signed you in, but that account cannot be used here. Ask your administrator.",
    federation_unavailable: "Your organisation's sign-in service cannot be reached right now. Try again in a moment.",
    federation_redirecting: "Continuing to your organisation's sign-in",
    provider_sign_out: around("Also sign out of ", ""),

    form_expired_title: "This form has expired",
    form_expired: "Reload the sign-in page and try again.",
    page_expired_title: "This sign-in page has expired",
    page_expired: "Return to the application and start signing in again.",
    continued_elsewhere: "The sign-in continued in another window. Return to the application and start again.",
    unavailable_title: "Unavailable",
    shutting_down: "The server is shutting down.",
    password_check_failed: "Password check failed; try again.",
    password_not_saved: "The password could not be saved; try again.",
    request_invalid_title: "Invalid sign-in request",
    request_not_form: "The request must be sent as a form.",
    request_not_utf8: "The request is not valid UTF-8.",
    request_rejected_title: "This sign-in request is not valid",
    request_rejected: around("The application sent a request Gatehouse cannot accept (", "). Please contact the application's support."),
    account_unavailable_title: "Account unavailable",
    account_gone: "This account no longer exists.",
    sign_in_ended_title: "This sign-in has already ended",
    sign_in_ended: "It was completed, or you were signed out, in another window. Return to the application and sign in again.",
    too_many_sign_ins_title: "Too many sign-ins started",
    too_many_sign_ins: around("Too many sign-ins were started from your network. Try again in ", " minutes."),
    redirect_invalid_title: "Invalid redirect",
    redirect_invalid: "The application's redirect URI is not a valid URL.",
    error_title: "Something went wrong",
    error_message: "Gatehouse could not complete this request. Please try again in a moment.",

    two_step: "Two-step verification",
    totp_code: "Code from your authenticator app",
    remember: around("Don't ask again on this browser for ", " days"),
    verify: "Verify",
    sms_heading: "Text message",
    sms_less_secure: "Text messages are less secure than an authenticator app or a security key.",
    sms_code_sent_to: around("Code sent to ", ""),
    sms_send_new: "Send a new code",
    sms_send_to: around("Text a code to ", ""),
    phone_ending: around("your phone ending in ", ""),
    sms_sent: around("We sent a code to ", "."),
    use_security_key: "Use your security key",
    use_passkey: "Use your passkey",
    recovery_use: "Use a recovery code",
    recovery_code: "Recovery code",
    recovery_submit: "Use recovery code",
    webauthn_unsupported: "This browser does not support security keys or passkeys.",
    webauthn_failed: "Something went wrong; try again.",
    webauthn_not_used: "The security key or passkey was not used. Try again, or choose another method.",

    wrong_code: "The code is not correct. Check the time on your phone and try the newest code.",
    wrong_code_tries: around("The code is not correct. ", " tries left for this code."),
    code_reused: "this code was already used",
    code_expired: "the code has expired or was already used; ask for a new one",
    throttled: around("too many attempts; try again in ", " seconds"),
    unknown_factor: "no such second factor",
    not_enrolled: "no second factor of this kind is set up",
    method_not_allowed: "your organisation does not allow this method",
    not_webauthn: "this is not a WebAuthn method",
    webauthn_unavailable: "security keys and passkeys need Gatehouse to run on a domain name",
    unknown_credential: "this authenticator is not registered",
    already_registered: "this authenticator is already registered",
    cloned_authenticator: "the authenticator's signature counter went backwards: it may have been cloned",
    webauthn_check_failed: around("the security key or passkey check failed: ", ""),
    sms_unavailable: "the text message could not be sent; try again later",
    sms_not_configured: "text messages are not available on this server; choose another method or ask your administrator",
    our_side: "Something went wrong on our side; try again.",

    enroll_title: "Set up two-step verification",
    enroll_required: around("", " requires a second step when you sign in."),
    totp_heading: "Authenticator app",
    totp_steps: [
        "Open an authenticator app (Google Authenticator, Microsoft Authenticator, 1Password...).",
        "Scan this code, or enter the key below by hand.",
        "Type the 6-digit code the app shows.",
    ],
    qr_alt: "QR code for your authenticator app; the same key is written below",
    key: "Key:",
    turn_on: "Turn on two-step verification",
    sms_code_we_sent: "Code we sent to your phone",
    phone_label: "Mobile number, with country code (like +358 40 123 4567)",
    send_code: "Text me a code",
    set_up_security_key: "Set up a security key",
    set_up_passkey: "Set up a passkey",
    synced_passkey: "This passkey is saved to an account and synced, so it counts as phishing-resistant but not hardware-bound, which this application requires. Use a security key.",
    phone_invalid: around(
        "`",
        "` is not a phone number in international form: + and country code, then 7 to 14 digits (e.g. +358401234567). Write the number with its country code, like +358 40 123 4567.",
    ),
    enroll_failed_title: "Two-step verification is unavailable",
    enroll_failed: "Setting up two-step verification failed; try again later.",
    stronger_needed_title: "A stronger method is needed",
    stronger_needed: "The application asks for a security key that cannot be copied. Return to the application and sign in again with one.",
    enroll_allows: around("", " requires two-step verification, and your organisation allows "),
    list_or: " or ",
    list_comma: ", ",
    list_end: ".",
    cannot_set_up: "These cannot be set up during sign-in yet. Ask your administrator to allow authenticator apps, or to set up your phone number for you.",
    method_totp: "an authenticator app",
    method_sms: "text messages",
    method_security_key: "a security key",
    method_passkey: "a passkey",
    method_recovery: "recovery codes",

    recovery_title: "Save your recovery codes",
    recovery_shown_before: "Your recovery codes were shown once when two-step verification was turned on. You can make new ones in your account settings.",
    recovery_explain: "If you lose your authenticator, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.",
    recovery_codes: "Recovery codes",
    continue_button: "Continue",

    password_title: "Choose a new password",
    password_why: "You reported a sign-in that was not yours, so your old password no longer counts. Choose a new one to continue.",
    email_code_sent: around("We sent a code to ", ". Enter it to show this is your mailbox; it works for 10 minutes."),
    email_code_label: "Code from the email",
    email_code_wrong: around("That code is not right. Tries left: ", "."),
    email_code_resent: "That code was used up or has expired, so we sent a new one.",
    email_code_unavailable: "This server cannot send email, so a new password cannot be confirmed here. Ask your administrator for help.",
    new_password: "New password",
    min_length: around("(at least ", " characters)"),
    new_password_again: "New password again",
    save_continue: "Save and continue",
    password_too_short: around("Use at least ", " characters."),
    password_too_long: "That password is too long.",
    password_unprintable: "Use visible characters: a password cannot be only spaces, or hold control characters.",
    password_mismatch: "The two passwords are not the same.",
    password_is_email: "Do not use your email address as your password.",
    password_reused: "Choose a password you have not used for this account.",

    sign_out: "Sign out",
    sign_out_question: "Sign out?",
    sign_out_explain: "You will be signed out of Gatehouse and every application that uses it.",
    signed_out_title: "Signed out",
    signed_out_heading: "You have signed out",
    signed_out_explain: "You are signed out of Gatehouse and every application that uses it. You can close this window.",
    logout_invalid_title: "Invalid sign-out request",
    logout_bad_hint: "The id_token_hint is not a valid ID token from this provider.",
    logout_client_mismatch: "client_id does not match the id_token_hint audience.",
    logout_redirect_needs_client: "post_logout_redirect_uri needs a client_id or id_token_hint naming the application.",
    logout_redirect_unregistered: "post_logout_redirect_uri is not registered for this application.",
    logout_redirect_invalid: "post_logout_redirect_uri is not a valid URL.",

    returning: "Returning to the application",
    noscript: "JavaScript is off: press the button to continue.",

    demo_title: "Demo application",
    demo_heading: "Gatehouse demo application",
    demo_explain: "This page plays the part of an application that uses Gatehouse for sign-in. It runs an OpenID Connect authorization-code flow with PKCE and shows the ID token it receives.",
    demo_sign_in: "Sign in with Gatehouse",
    demo_signed_in: "Signed in",
    demo_verified: "The demo application received and verified this ID token (signature checked against the JWKS, nonce and issuer matched).",
    demo_claims: "ID token claims",
    demo_claim: "Claim",
    demo_value: "Value",
    demo_again: "Sign in again (single sign-on: no password)",
    demo_unavailable_title: "Demo unavailable",
    demo_bad_issuer: "The issuer URL is invalid.",
    demo_failed_title: "Demo sign-in failed",
    demo_error_answer: around("Gatehouse answered ", ""),
    demo_cookie_missing: "The demo's state cookie is missing; start again.",
    demo_cookie_malformed: "The demo's state cookie is malformed.",
    demo_state_mismatch: "The state parameter does not match (possible CSRF).",
    demo_iss_mismatch: "The response's iss does not name this issuer (RFC 9207).",
    demo_no_code: "No authorization code was returned.",
    demo_token_failed: around("The token request failed: ", "."),
    demo_token_unavailable: "the token endpoint could not answer; try again",
    demo_no_id_token: "No ID token was returned.",
    demo_bad_signature: "The ID token's signature did not verify.",
    demo_bad_claims: "The ID token's audience, nonce or issuer is wrong.",
    demo_undisplayable: "The ID token could not be displayed.",
};
