//! `DomainError` → GraphQL error with a stable `extensions.code`. This is the only place codes are
//! assigned; `INTERNAL` errors are logged with their cause chain and reach clients as an opaque message.

use async_graphql::ErrorExtensions;

use crate::domain::DomainError;

pub type GqlResult<T> = async_graphql::Result<T>;

pub mod code {
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const EXPERIMENTATION_DISABLED: &str = "EXPERIMENTATION_DISABLED";
    pub const WAREHOUSE_NOT_CONFIGURED: &str = "WAREHOUSE_NOT_CONFIGURED";
    pub const WAREHOUSE_UNAVAILABLE: &str = "WAREHOUSE_UNAVAILABLE";
    /// Retryable: the database is down or busy (see `DomainError::Unavailable`).
    pub const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const INTERNAL: &str = "INTERNAL";
}

impl ErrorExtensions for DomainError {
    fn extend(&self) -> async_graphql::Error {
        let (code, message) = match self {
            DomainError::Unauthenticated(_) => (code::UNAUTHENTICATED, self.to_string()),
            DomainError::Forbidden(_) => (code::FORBIDDEN, self.to_string()),
            DomainError::NotFound(_) => (code::NOT_FOUND, self.to_string()),
            DomainError::Validation { .. } => (code::BAD_USER_INPUT, self.to_string()),
            DomainError::Conflict(_) => (code::CONFLICT, self.to_string()),
            DomainError::ExperimentationDisabled => {
                (code::EXPERIMENTATION_DISABLED, self.to_string())
            }
            DomainError::WarehouseNotConfigured => {
                (code::WAREHOUSE_NOT_CONFIGURED, self.to_string())
            }
            DomainError::WarehouseUnavailable(_) => (code::WAREHOUSE_UNAVAILABLE, self.to_string()),
            DomainError::Unavailable(_) => (code::SERVICE_UNAVAILABLE, self.to_string()),
            DomainError::Internal(cause) => {
                tracing::error!(error.cause_chain = ?cause, "internal error");
                (
                    code::INTERNAL,
                    "internal error: the server could not complete the request".to_owned(),
                )
            }
        };
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code);
            if let DomainError::Validation { field, .. } = self {
                ext.set("field", field.as_str());
            }
            if let DomainError::Unavailable(_) = self {
                ext.set("retryable", true);
            }
        })
    }
}

/// Converts a domain error; use as `.map_err(gql)`.
pub fn gql(err: DomainError) -> async_graphql::Error {
    err.extend()
}

/// `.gql()` on a domain result: the error gains its code.
pub trait IntoGql<T> {
    fn gql(self) -> GqlResult<T>;
}

impl<T> IntoGql<T> for Result<T, DomainError> {
    fn gql(self) -> GqlResult<T> {
        self.map_err(gql)
    }
}
