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
    let email = match keys.verify(token) {
        Ok(email) => email,
        Err(reason) => return Ok(Authentication::Rejected(reason)),
    };
    Ok(match repo::tenancy::user_by_email(db, &email).await? {
        Some(user) => Authentication::Viewer(Viewer { user }),
        None => Authentication::Rejected("the token's user is not known to lift".to_owned()),
    })
}
