//! Authentication through the real HTTP path: every way a token can be wrong is UNAUTHENTICATED
//! with a reason, and a good token identifies the viewer.

use serde_json::{json, Value};

use crate::helpers::*;

const VIEWER: &str = "{ viewer { email } }";

async fn as_header(app: &TestApp, header: Option<&str>) -> Value {
    app.post(header, VIEWER, json!({})).await
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

db_test!(a_valid_token_identifies_the_viewer, |app| {
    app.world().await;
    let data = app.ok(users::ENV_VIEWER, VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["email"], users::ENV_VIEWER);
});

db_test!(every_bad_token_is_unauthenticated_with_a_reason, |app| {
    app.world().await;
    let user = users::ENV_VIEWER;
    let expired = sign(
        &json!({"sub": user, "exp": now() - 3600}),
        TEST_SECRET.as_bytes(),
    );
    let wrong_key = sign(
        &json!({"sub": user, "exp": now() + 3600}),
        b"another-secret-that-is-long-enough-0123456789",
    );
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &json!({"sub": user, "exp": now() + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .expect("sign");
    let unsigned = format!(
        "{}.{}.",
        base64_url(r#"{"alg":"none","typ":"JWT"}"#),
        base64_url(&json!({"sub": user, "exp": now() + 3600}).to_string())
    );
    let no_sub = sign(&json!({"exp": now() + 3600}), TEST_SECRET.as_bytes());
    let no_exp = sign(&json!({"sub": user}), TEST_SECRET.as_bytes());
    let unknown_user = sign(
        &json!({"sub": "ghost@nowhere.test", "exp": now() + 3600}),
        TEST_SECRET.as_bytes(),
    );

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no header", None, "Authorization: Bearer"),
        (
            "not bearer",
            Some(format!("Basic {}", token(user))),
            "Bearer",
        ),
        ("expired", Some(format!("Bearer {expired}")), "expired"),
        (
            "wrong key",
            Some(format!("Bearer {wrong_key}")),
            "signature",
        ),
        ("alg mismatch", Some(format!("Bearer {hs384}")), "HS256"),
        ("alg none", Some(format!("Bearer {unsigned}")), "token"),
        ("missing sub", Some(format!("Bearer {no_sub}")), "`sub`"),
        ("missing exp", Some(format!("Bearer {no_exp}")), "`exp`"),
        (
            "unknown user",
            Some(format!("Bearer {unknown_user}")),
            "not known",
        ),
        ("garbage", Some("Bearer not.a.jwt".into()), "malformed"),
    ];
    for (case, header, reason) in cases {
        let body = as_header(&app, header.as_deref()).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{case}: {body}");
        assert!(body["data"].is_null(), "{case}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(reason),
            "{case}: {message:?} should mention {reason:?}"
        );
    }
});

db_test!(
    not_before_and_critical_headers_are_checked_and_the_subject_must_match_exactly,
    |app| {
        app.world().await;
        let user = users::ENV_VIEWER;
        let with_claims = |claims: Value| sign(&claims, TEST_SECRET.as_bytes());
        // `nbf` has the same 60 s leeway as `exp`.
        let not_yet = with_claims(json!({"sub": user, "exp": now() + 3600, "nbf": now() + 600}));
        let within_leeway =
            with_claims(json!({"sub": user, "exp": now() + 3600, "nbf": now() + 30}));
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.crit = Some(vec!["exp".into()]);
        let critical = jsonwebtoken::encode(
            &header,
            &json!({"sub": user, "exp": now() + 3600}),
            &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()),
        )
        .expect("sign");
        let padded = with_claims(json!({"sub": format!("{user} "), "exp": now() + 3600}));
        let leading = with_claims(json!({"sub": format!(" {user}"), "exp": now() + 3600}));
        let upper = with_claims(json!({"sub": user.to_uppercase(), "exp": now() + 3600}));

        let body = as_header(&app, Some(&format!("Bearer {within_leeway}"))).await;
        assert_eq!(body["data"]["viewer"]["email"], user, "{body}");

        for (case, token, reason) in [
            ("nbf in the future", not_yet, "not valid yet"),
            ("crit header", critical, "critical"),
            ("sub with a trailing space", padded, "not known"),
            ("sub with a leading space", leading, "not known"),
            ("sub in another case", upper, "not known"),
        ] {
            let body = as_header(&app, Some(&format!("Bearer {token}"))).await;
            assert_eq!(code(&body), "UNAUTHENTICATED", "{case}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(reason),
                "{case}: {message:?} should mention {reason:?}"
            );
        }
    }
);

db_test_with!(
    issuer_and_audience_are_checked_when_configured,
    |settings| {
        settings.auth.jwt_issuer = Some("https://issuer.test".into());
        settings.auth.jwt_audience = Some("lift".into());
    },
    |app| {
        app.world().await;
        let user = users::ENV_VIEWER;
        let claims = |iss: &str, aud: &str| json!({"sub": user, "exp": now() + 3600, "iss": iss, "aud": aud});
        let good = sign(
            &claims("https://issuer.test", "lift"),
            TEST_SECRET.as_bytes(),
        );
        let body = as_header(&app, Some(&format!("Bearer {good}"))).await;
        assert_eq!(body["data"]["viewer"]["email"], user, "{body}");
        for (iss, aud, reason) in [
            ("https://evil.test", "lift", "issuer"),
            ("https://issuer.test", "other", "audience"),
        ] {
            let bad = sign(&claims(iss, aud), TEST_SECRET.as_bytes());
            let body = as_header(&app, Some(&format!("Bearer {bad}"))).await;
            assert_eq!(code(&body), "UNAUTHENTICATED", "{body}");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(reason),
                "{body}"
            );
        }
    }
);

fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[test]
fn short_secrets_are_refused_at_start_up() {
    let auth = lift::configuration::AuthSettings {
        jwt_secret: Some("too-short".into()),
        ..lift::configuration::Settings::defaults().auth
    };
    let err = lift::auth::JwtKeys::from_settings(&auth, "sqlite::memory:")
        .err()
        .map(|e| e.to_string());
    assert!(err.unwrap_or_default().contains("at least 32 bytes"));
}
