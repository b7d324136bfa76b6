//! Authentication: verifying `Authorization: Bearer <JWT>` and knowing who the caller is.
//!
//! - `jwt`    keys from configuration (algorithm pinned), verify and issue tokens;
//! - `viewer` the authenticated user of a request, looked up by the token's `sub` (email).

pub mod jwt;
pub mod viewer;

pub use jwt::JwtKeys;
pub use viewer::{authenticate, Authentication, Viewer};
