//! Checks shared by every free-text input: trimmed, non-empty when required, bounded, no control
//! characters.

use super::error::{DomainError, DomainResult};

/// A required single-line text: trimmed, 1..=max characters, no control characters.
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
    Ok(trimmed.to_owned())
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
}
