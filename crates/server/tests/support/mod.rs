//! What the in-process tests share (the bench includes `seeded.rs` by path).

pub mod seeded;
