//! `DomainError`: every way an operation can be refused. The GraphQL layer maps each variant to a
//! stable `extensions.code` in one place (`graphql/error.rs`).

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// No token, a bad token, or a token for an unknown user.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller can see the object but may not do this to it.
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist, or the caller cannot see it (existence is not leaked).
    #[error("{0}")]
    NotFound(String),
    /// Input that breaks a rule; `field` is the input path (e.g. `definition.filters[1].value`).
    #[error("{message}")]
    Validation { field: String, message: String },
    /// The request clashes with the current state of other objects (duplicates, objects in use).
    #[error("{0}")]
    Conflict(String),
    /// The organisation has not enabled experimentation.
    #[error("experimentation is not enabled for this organisation")]
    ExperimentationDisabled,
    /// The environment has no warehouse connection and the server has no default one.
    #[error("no warehouse is configured for this environment: an environment admin can add one with createWarehouseConnection")]
    WarehouseNotConfigured,
    /// The warehouse did not answer in time or refused the query; the message is for people, the
    /// warehouse's own message is in the server log.
    #[error("{0}")]
    WarehouseUnavailable(String),
    /// A dependency lift cannot work without (its database) is down or saturated; retrying later
    /// may succeed. The message is for people; the cause is logged.
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected; the client sees an opaque message, the log gets the cause chain.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DomainError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        DomainError::NotFound(format!("{what} not found"))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        DomainError::Internal(anyhow::anyhow!(message.into()))
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
