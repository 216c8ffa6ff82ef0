//! The binary's one reader of the clock: it is the edge, where `now` enters (the library
//! crates take it as a parameter).

use time::OffsetDateTime;

#[allow(clippy::disallowed_methods)]
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}
