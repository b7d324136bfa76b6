//! JWT keys and claims. The algorithm comes from configuration only: HS256 with a secret of at least
//! 32 bytes, or RS256/ES256 with a PEM public key. `exp` is required; `nbf` is checked when present
//! (both with [`LEEWAY_SECONDS`] for clock skew); `iss` and `aud` are checked when configured; a
//! `crit` header is refused (lift understands no critical extension); `sub` is the user's email.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::configuration::{AuthSettings, JwtAlgorithm};

pub const MIN_SECRET_BYTES: usize = 32;
pub const SECRET_FILE_NAME: &str = "jwt-secret";
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The `sub` claim as written in the token (an email; never trimmed or case-folded).
    pub subject: String,
    /// The last second (Unix time) at which the token is accepted: `exp` plus the leeway.
    pub valid_until: u64,
}

pub struct JwtKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    /// Optional here so that a missing `exp` is reported as such by the validation (which requires it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
}

impl JwtKeys {
    /// Builds keys from settings. Without a secret or public key, uses (creating it on first use)
    /// the secret file beside the SQLite database at `database_url`.
    pub fn from_settings(auth: &AuthSettings, database_url: &str) -> anyhow::Result<Self> {
        match (&auth.jwt_secret, &auth.jwt_public_key_file) {
            (Some(_), Some(_)) => {
                bail!("configure either LIFT_JWT_SECRET or LIFT_JWT_PUBLIC_KEY_FILE, not both")
            }
            (Some(secret), None) => Self::hs256(secret.expose_secret().as_bytes(), auth),
            (None, Some(public_key)) => Self::asymmetric(public_key, auth),
            (None, None) => {
                let secret = secret_beside_database(database_url)?;
                Self::hs256(secret.as_bytes(), auth)
            }
        }
    }

    fn hs256(secret: &[u8], auth: &AuthSettings) -> anyhow::Result<Self> {
        if let Some(alg) = auth.jwt_algorithm.filter(|a| *a != JwtAlgorithm::Hs256) {
            bail!(
                "LIFT_JWT_ALGORITHM={alg:?} needs LIFT_JWT_PUBLIC_KEY_FILE; a secret means HS256"
            );
        }
        if secret.len() < MIN_SECRET_BYTES {
            bail!(
                "LIFT_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (got {})",
                secret.len()
            );
        }
        Ok(Self::new(
            Algorithm::HS256,
            DecodingKey::from_secret(secret),
            Some(EncodingKey::from_secret(secret)),
            auth,
        ))
    }

    fn asymmetric(public_key: &Path, auth: &AuthSettings) -> anyhow::Result<Self> {
        let pem = std::fs::read(public_key).with_context(|| {
            format!("reading LIFT_JWT_PUBLIC_KEY_FILE {}", public_key.display())
        })?;
        let private = auth
            .jwt_private_key_file
            .as_ref()
            .map(|p| {
                std::fs::read(p)
                    .with_context(|| format!("reading LIFT_JWT_PRIVATE_KEY_FILE {}", p.display()))
            })
            .transpose()?;
        let (algorithm, decoding, encoding) =
            match auth.jwt_algorithm.unwrap_or(JwtAlgorithm::Rs256) {
                JwtAlgorithm::Rs256 => (
                    Algorithm::RS256,
                    DecodingKey::from_rsa_pem(&pem)
                        .context("LIFT_JWT_PUBLIC_KEY_FILE is not an RSA PEM key")?,
                    private.map(|k| EncodingKey::from_rsa_pem(&k)).transpose()?,
                ),
                JwtAlgorithm::Es256 => (
                    Algorithm::ES256,
                    DecodingKey::from_ec_pem(&pem)
                        .context("LIFT_JWT_PUBLIC_KEY_FILE is not an EC PEM key")?,
                    private.map(|k| EncodingKey::from_ec_pem(&k)).transpose()?,
                ),
                JwtAlgorithm::Hs256 => bail!("HS256 uses LIFT_JWT_SECRET, not a public key"),
            };
        Ok(Self::new(algorithm, decoding, encoding, auth))
    }

    fn new(
        algorithm: Algorithm,
        decoding: DecodingKey,
        encoding: Option<EncodingKey>,
        auth: &AuthSettings,
    ) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp"]);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        match &auth.jwt_issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &auth.jwt_audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        JwtKeys {
            algorithm,
            decoding,
            encoding,
            validation,
            issuer: auth.jwt_issuer.clone(),
            audience: auth.jwt_audience.clone(),
        }
    }

    /// Verifies a token and returns what it says, or a message a person understands.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, String> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                ErrorKind::InvalidSignature => "the token's signature is not valid".to_owned(),
                ErrorKind::InvalidAlgorithm => {
                    format!("the token must be signed with {:?}", self.algorithm)
                }
                ErrorKind::InvalidIssuer => "the token's issuer is not accepted".to_owned(),
                ErrorKind::InvalidAudience => "the token's audience is not accepted".to_owned(),
                ErrorKind::MissingRequiredClaim(claim) => {
                    format!("the token has no `{claim}` claim")
                }
                ErrorKind::ImmatureSignature => "the token is not valid yet".to_owned(),
                _ => "the token is malformed".to_owned(),
            })?;
        // A `crit` header names extensions the verifier must understand (RFC 7515 §4.1.11).
        if let Some(crit) = &data.header.crit {
            return Err(format!(
                "the token's critical header extensions ({}) are not understood",
                crit.join(", ")
            ));
        }
        let Some(exp) = data.claims.exp else {
            return Err("the token has no `exp` claim".to_owned());
        };
        match data.claims.sub {
            Some(subject) if !subject.trim().is_empty() => Ok(VerifiedToken {
                subject,
                valid_until: exp.saturating_add(LEEWAY_SECONDS),
            }),
            _ => Err("the token has no `sub` claim".to_owned()),
        }
    }

    /// Issues a token for `email`, valid for `ttl` (needs a secret or a private key).
    pub fn issue(&self, email: &str, ttl: Duration) -> anyhow::Result<String> {
        let Some(encoding) = &self.encoding else {
            bail!(
                "issuing tokens with {:?} needs LIFT_JWT_PRIVATE_KEY_FILE",
                self.algorithm
            );
        };
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: Some(email.to_owned()),
            exp: Some(now + ttl.as_secs()),
            iat: Some(now),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            &claims,
            encoding,
        )?)
    }
}

/// Reads the generated secret beside the SQLite database, creating it (mode 0600) on first use.
fn secret_beside_database(database_url: &str) -> anyhow::Result<String> {
    let Some(path) = crate::secret_file::beside_sqlite(database_url, SECRET_FILE_NAME) else {
        bail!("set LIFT_JWT_SECRET (≥ {MIN_SECRET_BYTES} bytes) or LIFT_JWT_PUBLIC_KEY_FILE: a secret can only be generated beside an SQLite database file");
    };
    crate::secret_file::read_or_create(&path, || {
        let mut bytes = [0u8; 48];
        rand::rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    })
}
