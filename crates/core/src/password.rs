//! The one rule a new password meets, whatever door it comes through (the import file, the
//! admin API, the forced change after a reported sign-in): NIST SP 800-63B §5.1.1.2. At least
//! 8 characters; anything up to 1,024 bytes (so at least 256 characters of any script, well
//! over the 64 NIST asks to allow) and exactly what the sign-in form accepts, so every
//! password that can be set can also be used; not the account's own email address.
//! Composition rules and forced rotation are deliberately absent, as NIST advises.

/// Fewest characters (Unicode scalar values) in a new password.
pub const MIN_CHARS: usize = 8;
/// Most bytes in any password, new or presented at sign-in.
pub const MAX_BYTES: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("a password must be at least 8 characters")]
    TooShort,
    #[error("a password must be at most 1024 bytes")]
    TooLong,
    #[error("a password must not be the account's email address")]
    IsEmail,
    #[error("a password must have visible characters and no control characters")]
    Unprintable,
}

/// Checks a new password for the account with this email address.
pub fn check_new_password(password: &str, email: &str) -> Result<(), PasswordProblem> {
    if password.len() > MAX_BYTES {
        return Err(PasswordProblem::TooLong);
    }
    if password.chars().count() < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    // Spaces are welcome (passphrases); a password of nothing but spaces or invisible
    // characters, or one with control characters no keyboard types, is not.
    let invisible = |c: char| c.is_whitespace() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2060}' | '\u{feff}');
    if password.chars().any(char::is_control) || password.chars().all(invisible) {
        return Err(PasswordProblem::Unprintable);
    }
    if password.trim().eq_ignore_ascii_case(email.trim()) {
        return Err(PasswordProblem::IsEmail);
    }
    Ok(())
}

/// Whether a password presented at sign-in could be anyone's (it is then verified).
pub fn acceptable_at_sign_in(password: &str) -> bool {
    !password.is_empty() && password.len() <= MAX_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_password_rule_nist_800_63b_for_every_door() {
        assert_eq!(check_new_password("seven77", "a@b.test"), Err(PasswordProblem::TooShort));
        assert_eq!(check_new_password("eight888", "a@b.test"), Ok(()));
        assert_eq!(check_new_password(&"x".repeat(64), "a@b.test"), Ok(()), "64 characters are allowed");
        assert_eq!(check_new_password(&"ä".repeat(512), "a@b.test"), Ok(()), "1024 bytes are allowed");
        assert_eq!(check_new_password(&"x".repeat(1025), "a@b.test"), Err(PasswordProblem::TooLong));
        assert_eq!(check_new_password(&"x".repeat(60_000), "a@b.test"), Err(PasswordProblem::TooLong));
        assert_eq!(check_new_password("Alice@Acme.test", "alice@acme.test"), Err(PasswordProblem::IsEmail));
        for unprintable in ["        ", "\t\t\t\t\t\t\t\t", "\u{200b}".repeat(8).as_str(), "password\r\nxx", "pass\0word"] {
            assert_eq!(check_new_password(unprintable, "a@b.test"), Err(PasswordProblem::Unprintable), "{unprintable:?}");
        }
        assert_eq!(check_new_password("correct horse battery staple", "a@b.test"), Ok(()), "spaces inside are fine");
        // A short multi-byte password counts characters, not bytes.
        assert_eq!(check_new_password("ääääääa", "a@b.test"), Err(PasswordProblem::TooShort));
    }

    #[test]
    fn every_settable_password_can_be_used_to_sign_in() {
        for len in [MIN_CHARS, 64, MAX_BYTES] {
            let password = "p".repeat(len);
            assert!(check_new_password(&password, "a@b.test").is_ok() && acceptable_at_sign_in(&password));
        }
        assert!(!acceptable_at_sign_in("") && !acceptable_at_sign_in(&"p".repeat(MAX_BYTES + 1)));
    }
}
