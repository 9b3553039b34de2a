//! Tokens verified by an independent JOSE implementation (PyJWT with PyJWKClient) against
//! the live JWKS, for every algorithm; a tampered token must be refused. CI installs PyJWT
//! and sets TEST_REQUIRE_INTEROP=1, which turns a missing PyJWT into a failure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use portcullis::keys::SigningAlg;

use crate::helpers::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/verify_jwt.py");

fn pyjwt_available() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if !found && std::env::var("TEST_REQUIRE_INTEROP").is_ok_and(|v| v == "1") {
        panic!(
            "TEST_REQUIRE_INTEROP=1 but python3 cannot import jwt and cryptography (pip install 'pyjwt[crypto]')"
        );
    }
    found
}

#[tokio::test]
async fn pyjwt_verifies_tokens_of_every_algorithm() {
    if !pyjwt_available() {
        eprintln!("PyJWT not installed: interop test skipped");
        return;
    }
    let secret = STANDARD.encode([11u8; 32]);
    for alg in [
        SigningAlg::EdDSA,
        SigningAlg::ES256,
        SigningAlg::RS256,
        SigningAlg::HS256,
    ] {
        let app = spawn_app_with(|c| {
            c.tokens.jwt_alg = alg;
            if alg == SigningAlg::HS256 {
                c.tokens.jwt_secret = Some(secret.clone().into());
            }
        })
        .await;
        let tokens = app.register(&unique_email()).await;
        let mut args = vec![
            SCRIPT.to_owned(),
            app.base.clone(),
            "http://localhost:8080".into(),
            alg.as_str().into(),
            tokens.access,
        ];
        if alg == SigningAlg::HS256 {
            args.push(secret.clone());
        }
        let output = tokio::process::Command::new("python3")
            .args(&args)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{alg:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("verified") && stdout.contains("tampered token refused"),
            "{stdout}"
        );
    }
}
