//! Checks shared by every free-text input: trimmed, non-empty when required, bounded (in
//! characters, as PostgreSQL's `varchar(n)` counts them; SQLite would store anything), no control
//! characters; names and keys also without invisible or text-direction characters.

use super::error::{DomainError, DomainResult};

/// Longest search term or filter value used only to look rows up.
pub const MAX_SEARCH: usize = 200;
/// Longest email address (RFC 5321), also the `users.email` column.
pub const MAX_EMAIL: usize = 320;
/// Longest name of an organisation, project, environment, feature or user (their columns).
pub const MAX_NAME: usize = 255;
/// Longest environment key (its column).
pub const MAX_ENVIRONMENT_KEY: usize = 100;

/// Characters that are invisible or change the direction of the text around them: zero-width
/// space, non-joiner and joiner, the left-to-right and right-to-left marks, the Arabic letter
/// mark, the bidirectional embeddings, overrides and isolates, the word joiner and invisible
/// operators, and the byte-order mark. In a name they make different names look the same, or
/// display text in another order than it is stored.
pub fn is_invisible_or_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{061C}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// A required single-line text (a name or key): trimmed, 1..=max characters, no control,
/// invisible or text-direction characters.
pub fn required_line(field: &str, value: &str, max: usize) -> DomainResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    bounded(field, trimmed, max)?;
    if trimmed.chars().any(char::is_control) {
        return Err(DomainError::validation(
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    if let Some(c) = trimmed.chars().find(|&c| is_invisible_or_bidi(c)) {
        return Err(DomainError::validation(
            field,
            format!(
                "{field} must not contain invisible or text-direction characters (found U+{:04X})",
                c as u32
            ),
        ));
    }
    Ok(trimmed.to_owned())
}

/// A value used only to find rows (a search term, an email to filter by): at most `max`
/// characters, so an oversized one is refused before it reaches the database.
pub fn lookup<'a>(field: &str, value: &'a str, max: usize) -> DomainResult<&'a str> {
    bounded(field, value, max)?;
    Ok(value)
}

/// A free text (may be empty or multi-line), bounded in length.
pub fn optional_text(field: &str, value: &str, max: usize) -> DomainResult<String> {
    bounded(field, value, max)?;
    Ok(value.to_owned())
}

fn bounded(field: &str, value: &str, max: usize) -> DomainResult<()> {
    let len = value.chars().count();
    if len > max {
        return Err(DomainError::validation(
            field,
            format!("{field} must be at most {max} characters (got {len})"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_line_trims_and_bounds() {
        assert_eq!(required_line("name", "  a b ", 10).ok(), Some("a b".into()));
        assert!(required_line("name", "   ", 10).is_err());
        assert!(required_line("name", &"x".repeat(11), 10).is_err());
        assert!(required_line("name", &"é".repeat(10), 10).is_ok());
        assert!(required_line("name", "a\nb", 10).is_err());
    }

    #[test]
    fn names_with_invisible_or_text_direction_characters_are_refused() {
        for c in [
            '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}',
            '\u{2060}', '\u{2066}', '\u{2069}', '\u{FEFF}', '\u{061C}',
        ] {
            let err = required_line("name", &format!("pay{c}ment"), 50).expect_err("refused");
            assert!(
                err.to_string().contains(&format!("U+{:04X}", c as u32)),
                "{err}"
            );
        }
        // Letters of any script and emoji without joiners are fine.
        for ok in ["Umsatz pro Nutzer", "متوسط الإيرادات", "收入", "🚀 launch"] {
            assert!(required_line("name", ok, 50).is_ok(), "{ok}");
        }
    }

    #[test]
    fn lookups_are_bounded() {
        assert_eq!(lookup("search", "abc", 3).ok(), Some("abc"));
        assert!(lookup("search", &"x".repeat(4), 3).is_err());
    }
}
