//! Operator pages of the admin console.
