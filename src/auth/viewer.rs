//! The caller of a request. A request is authenticated once, when it arrives; resolvers that need
//! a user ask for the `Viewer` and get `UNAUTHENTICATED` (with the reason) when there is none.

use crate::db::{repo, Db};
use crate::domain::model::User;
use crate::domain::DomainError;

use super::JwtKeys;

/// The authenticated user.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: User,
    /// When the token stops being accepted (Unix seconds): live subscriptions end then.
    pub valid_until: u64,
}

impl Viewer {
    pub fn user_id(&self) -> &str {
        &self.user.id
    }
}

/// What the request's credentials amount to.
#[derive(Debug, Clone)]
pub enum Authentication {
    Viewer(Viewer),
    Anonymous,
    Rejected(String),
}

impl Authentication {
    pub fn viewer(&self) -> Result<&Viewer, DomainError> {
        match self {
            Authentication::Viewer(v) => Ok(v),
            Authentication::Anonymous => Err(DomainError::Unauthenticated(
                "sign in: send `Authorization: Bearer <token>`".to_owned(),
            )),
            Authentication::Rejected(reason) => Err(DomainError::Unauthenticated(reason.clone())),
        }
    }
}

/// Authenticates an `Authorization` header value (or its absence).
pub async fn authenticate(
    db: &Db,
    keys: &JwtKeys,
    header: Option<&str>,
) -> Result<Authentication, DomainError> {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(Authentication::Anonymous);
    };
    let token = match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Ok(Authentication::Rejected(
                "use `Authorization: Bearer <token>`".to_owned(),
            ))
        }
    };
    let token = match keys.verify(token) {
        Ok(token) => token,
        Err(reason) => return Ok(Authentication::Rejected(reason)),
    };
    // `sub` must be the stored email exactly: the lookup normalises (trims, lowercases) for the
    // command line, a token is never normalised.
    Ok(
        match repo::tenancy::user_by_email(db, &token.subject).await? {
            Some(user) if user.email == token.subject => Authentication::Viewer(Viewer {
                user,
                valid_until: token.valid_until,
            }),
            _ => Authentication::Rejected("the token's user is not known to lift".to_owned()),
        },
    )
}
