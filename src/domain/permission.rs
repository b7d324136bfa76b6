//! Who may do what to an environment and everything in it (metrics, experiments, attachments).
//!
//! A user's access to an environment is derived from three kinds of grant:
//! - organisation membership with role ADMIN ⇒ admin of every environment of the organisation
//!   (role USER grants nothing by itself);
//! - a project permission ⇒ view of the project's environments, admin with `admin = true`;
//! - an environment permission ⇒ view, admin with `admin = true`.
//!
//! The strongest grant wins. Decisions are then, in this order: no access ⇒ `NOT_FOUND` (existence
//! is not leaked); experimentation disabled ⇒ `EXPERIMENTATION_DISABLED` (for everyone who can see
//! the environment, admins included); view where admin is needed ⇒ `FORBIDDEN`.

use super::error::{DomainError, DomainResult};
use super::string_enum::string_enum;

string_enum! {
    /// A user's role in an organisation.
    pub enum OrganisationRole { Admin = "ADMIN", User = "USER" }
}

/// What a user may do in one environment. Ordered: `None < View < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    View,
    Admin,
}

/// The grants a user holds that bear on one environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Grants {
    pub organisation_role: Option<OrganisationRole>,
    /// `Some(admin)` when the user has a permission row on the environment's project.
    pub project: Option<bool>,
    /// `Some(admin)` when the user has a permission row on the environment itself.
    pub environment: Option<bool>,
}

impl Grants {
    pub fn access(&self) -> Access {
        let from_org = match self.organisation_role {
            Some(OrganisationRole::Admin) => Access::Admin,
            Some(OrganisationRole::User) | None => Access::None,
        };
        let from_row = |grant: Option<bool>| match grant {
            Some(true) => Access::Admin,
            Some(false) => Access::View,
            None => Access::None,
        };
        from_org
            .max(from_row(self.project))
            .max(from_row(self.environment))
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    View,
    Admin,
}

/// Decides an experimentation operation (anything on metrics, experiments or attachments).
/// `what` names the object for the error message, e.g. "metric".
pub fn authorize_experimentation(
    access: Access,
    experimentation_enabled: bool,
    need: Need,
    what: &str,
) -> DomainResult<()> {
    // Visibility first (existence never leaks), then the feature gate (for everyone who can see),
    // then the admin requirement.
    authorize(access, Need::View, what)?;
    if !experimentation_enabled {
        return Err(DomainError::ExperimentationDisabled);
    }
    authorize(access, need, what)
}

/// Decides an operation on the environment itself (no experimentation gate).
pub fn authorize(access: Access, need: Need, what: &str) -> DomainResult<()> {
    match (access, need) {
        (Access::None, _) => Err(DomainError::not_found(what)),
        (Access::View, Need::Admin) => Err(DomainError::Forbidden(format!(
            "you can view this {what}, but changing it needs admin permission on the environment"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(org: Option<OrganisationRole>, project: Option<bool>, env: Option<bool>) -> Grants {
        Grants {
            organisation_role: org,
            project,
            environment: env,
        }
    }

    #[test]
    fn strongest_grant_wins() {
        use OrganisationRole::*;
        let cases = [
            (grants(None, None, None), Access::None),
            (grants(Some(User), None, None), Access::None),
            (grants(Some(Admin), None, None), Access::Admin),
            (grants(Some(User), Some(false), None), Access::View),
            (grants(None, Some(true), None), Access::Admin),
            (grants(None, None, Some(false)), Access::View),
            (grants(None, None, Some(true)), Access::Admin),
            (grants(None, Some(false), Some(true)), Access::Admin),
            (grants(Some(Admin), Some(false), Some(false)), Access::Admin),
        ];
        for (g, expected) in cases {
            assert_eq!(g.access(), expected, "{g:?}");
        }
    }

    #[test]
    fn outsiders_get_not_found_before_the_feature_gate() {
        let err = authorize_experimentation(Access::None, false, Need::View, "metric");
        assert!(matches!(err, Err(DomainError::NotFound(_))));
    }

    #[test]
    fn the_feature_gate_applies_to_admins() {
        let err = authorize_experimentation(Access::Admin, false, Need::Admin, "metric");
        assert!(matches!(err, Err(DomainError::ExperimentationDisabled)));
    }

    #[test]
    fn the_feature_gate_comes_before_forbidden() {
        let err = authorize_experimentation(Access::View, false, Need::Admin, "metric");
        assert!(matches!(err, Err(DomainError::ExperimentationDisabled)));
    }

    #[test]
    fn viewers_may_read_but_not_write() {
        assert!(authorize_experimentation(Access::View, true, Need::View, "metric").is_ok());
        let err = authorize_experimentation(Access::View, true, Need::Admin, "metric");
        assert!(matches!(err, Err(DomainError::Forbidden(_))));
        assert!(authorize_experimentation(Access::Admin, true, Need::Admin, "metric").is_ok());
    }
}
