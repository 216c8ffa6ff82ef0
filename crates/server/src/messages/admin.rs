//! The admin console's texts (`/admin`).

pub struct Admin {
    pub title: &'static str,
}
