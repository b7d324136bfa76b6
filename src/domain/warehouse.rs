//! Warehouse connections: where an environment's events live. Parsed once at the API boundary, so
//! the results engine only ever sees a checked URL and plain identifiers.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::error::{DomainError, DomainResult};
use super::string_enum::string_enum;
use super::text::required_line;

pub const DEFAULT_DATABASE: &str = "default";
pub const DEFAULT_TABLE: &str = "events";
pub const DEFAULT_USER: &str = "default";
const MAX_URL: usize = 2048;
const MAX_IDENTIFIER: usize = 64;
const MAX_SECRET: usize = 1024;

string_enum! {
    pub enum WarehouseKind { ClickHouse = "CLICKHOUSE" }
}

/// A stored connection. The password never leaves the server through the API.
#[derive(Debug, Clone)]
pub struct WarehouseConnection {
    pub id: String,
    pub environment_id: String,
    pub kind: WarehouseKind,
    pub target: WarehouseTarget,
    pub created_at: DateTime<Utc>,
}

/// Everything needed to query a ClickHouse events table. `Debug` hides the password.
#[derive(Clone)]
pub struct WarehouseTarget {
    pub url: String,
    pub database: String,
    pub table: String,
    /// The cluster (a name in the servers' `remote_servers`) whose shards each hold `table`,
    /// sharded by `identifier`; `None`: `table` on `url`'s server holds every event.
    pub cluster: Option<String>,
    pub user: String,
    pub password: SecretString,
}

impl PartialEq for WarehouseTarget {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.url,
            &self.database,
            &self.table,
            &self.cluster,
            &self.user,
        ) == (
            &other.url,
            &other.database,
            &other.table,
            &other.cluster,
            &other.user,
        ) && self.password.expose_secret() == other.password.expose_secret()
    }
}

impl Eq for WarehouseTarget {}

/// A connection as submitted.
#[derive(Debug, Clone, Default)]
pub struct WarehouseDraft {
    pub url: String,
    pub database: Option<String>,
    pub table: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    pub password: Option<SecretString>,
}

impl std::fmt::Debug for WarehouseTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarehouseTarget")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("table", &self.table)
            .field("cluster", &self.cluster)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.expose_secret().is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

impl WarehouseTarget {
    pub fn parse(draft: WarehouseDraft) -> DomainResult<Self> {
        let url = required_line("url", &draft.url, MAX_URL)?;
        let after_scheme = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        let authority = after_scheme.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(rest));
        if authority.is_some_and(|a| a.contains('@')) {
            return Err(DomainError::validation(
                "url",
                "put the user and password in their own fields, not in the url",
            ));
        }
        match after_scheme {
            Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => {}
            _ => {
                return Err(DomainError::validation(
                    "url",
                    "url must be an http:// or https:// address of the ClickHouse HTTP interface",
                ))
            }
        }
        let password = draft.password.unwrap_or_default();
        let text = password.expose_secret();
        if text.chars().count() > MAX_SECRET || text.chars().any(char::is_control) {
            return Err(DomainError::validation(
                "password",
                format!(
                    "password must be at most {MAX_SECRET} characters without control characters"
                ),
            ));
        }
        Ok(WarehouseTarget {
            url: url.trim_end_matches('/').to_owned(),
            database: identifier("database", draft.database, DEFAULT_DATABASE)?,
            table: identifier("table", draft.table, DEFAULT_TABLE)?,
            cluster: draft.cluster.map(cluster_name).transpose()?,
            user: match draft.user {
                Some(user) => required_line("user", &user, MAX_IDENTIFIER)?,
                None => DEFAULT_USER.to_owned(),
            },
            password,
        })
    }
}

/// Database and table names are plain identifiers. They still travel as `Identifier` query
/// parameters; this check keeps surprising names (dots, quotes) out of the configuration.
fn identifier(field: &str, value: Option<String>, default: &str) -> DomainResult<String> {
    let value = value.unwrap_or_else(|| default.to_owned());
    let mut chars = value.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts_well
        && value.len() <= MAX_IDENTIFIER
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        Ok(value)
    } else {
        Err(DomainError::validation(
            field,
            format!(
                "{field} must be a name of letters, digits and underscores, starting with a letter or underscore (at most {MAX_IDENTIFIER})"
            ),
        ))
    }
}

/// A cluster name as `remote_servers` spells it. Besides travelling as a parameter in queries, it
/// is written into `ON CLUSTER` of `lift clickhouse init` (where ClickHouse takes no parameter),
/// so only letters, digits, `_` and `-` pass.
pub fn cluster_name(name: String) -> DomainResult<String> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if starts_well
        && name.len() <= MAX_IDENTIFIER
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(name)
    } else {
        Err(DomainError::validation(
            "cluster",
            format!(
                "cluster must be a name of letters, digits, underscores and hyphens, starting with a letter or underscore (at most {MAX_IDENTIFIER})"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(url: &str) -> WarehouseDraft {
        WarehouseDraft {
            url: url.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_fill_database_table_and_user() {
        let target = WarehouseTarget::parse(draft("http://127.0.0.1:8123/")).expect("valid");
        assert_eq!(target.url, "http://127.0.0.1:8123");
        assert_eq!(
            (
                target.database.as_str(),
                target.table.as_str(),
                target.user.as_str()
            ),
            (DEFAULT_DATABASE, DEFAULT_TABLE, DEFAULT_USER)
        );
    }

    #[test]
    fn only_http_urls_without_credentials_are_accepted() {
        for bad in [
            "ftp://x",
            "127.0.0.1:8123",
            "http://",
            "http://a b",
            "http://u:pw@ch:8123",
        ] {
            assert!(WarehouseTarget::parse(draft(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_names_with_quotes_or_dots_are_rejected() {
        for bad in ["a.b", "ev`ents", "1events", "", "x y"] {
            let mut d = draft("http://ch:8123");
            d.table = Some(bad.into());
            let err = WarehouseTarget::parse(d);
            assert!(
                matches!(err, Err(DomainError::Validation { ref field, .. }) if field == "table"),
                "{bad}"
            );
        }
    }

    #[test]
    fn cluster_names_are_plain_names_or_absent() {
        assert_eq!(
            WarehouseTarget::parse(draft("http://ch:8123"))
                .expect("valid")
                .cluster,
            None
        );
        for good in ["analytics", "lift_two-shards", "_c1"] {
            let mut d = draft("http://ch:8123");
            d.cluster = Some(good.into());
            let target = WarehouseTarget::parse(d).expect("valid");
            assert_eq!(target.cluster.as_deref(), Some(good));
        }
        for bad in ["", "a b", "c`; DROP", "x.y", "1c", "{cluster}", "é"] {
            let mut d = draft("http://ch:8123");
            d.cluster = Some(bad.into());
            let err = WarehouseTarget::parse(d);
            assert!(
                matches!(err, Err(DomainError::Validation { ref field, .. }) if field == "cluster"),
                "{bad}"
            );
        }
    }
}
