//! Features and their variants. A feature's variants are an ordered list of `{key, weight}`; an
//! experiment needs at least two of them.

use serde::{Deserialize, Serialize};

use super::error::{DomainError, DomainResult};

pub const MAX_VARIANT_KEY: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub key: String,
    pub weight: f64,
}

/// Checks a variant list: keys non-empty, unique, made of letters, digits, `-`, `_` or `.`;
/// weights positive and finite.
pub fn parse_variants(variants: Vec<Variant>) -> DomainResult<Vec<Variant>> {
    let field = "variants";
    if variants.is_empty() {
        return Err(DomainError::validation(
            field,
            "a feature needs at least one variant",
        ));
    }
    for (i, v) in variants.iter().enumerate() {
        let key_ok = !v.key.is_empty()
            && v.key.len() <= MAX_VARIANT_KEY
            && v.key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !key_ok {
            return Err(DomainError::validation(
                format!("variants[{i}].key"),
                format!(
                    "variant keys are 1 to {MAX_VARIANT_KEY} letters, digits, '-', '_' or '.' (got {:?})",
                    v.key
                ),
            ));
        }
        if !(v.weight.is_finite() && v.weight > 0.0) {
            return Err(DomainError::validation(
                format!("variants[{i}].weight"),
                "variant weights must be positive numbers",
            ));
        }
        if variants[..i].iter().any(|earlier| earlier.key == v.key) {
            return Err(DomainError::validation(
                format!("variants[{i}].key"),
                format!("variant key {:?} appears twice", v.key),
            ));
        }
    }
    Ok(variants)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: &str, weight: f64) -> Variant {
        Variant {
            key: key.into(),
            weight,
        }
    }

    #[test]
    fn variants_need_clean_unique_keys_and_positive_weights() {
        assert!(parse_variants(vec![v("control", 1.0), v("treatment", 1.0)]).is_ok());
        assert!(parse_variants(vec![]).is_err());
        assert!(parse_variants(vec![v("a b", 1.0)]).is_err());
        assert!(parse_variants(vec![v("a", 0.0)]).is_err());
        assert!(parse_variants(vec![v("a", 1.0), v("a", 2.0)]).is_err());
    }
}
