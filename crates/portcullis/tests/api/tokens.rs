//! Access tokens: every forgery is refused with 401 `unauthenticated`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn parts(token: &str) -> (Value, Value) {
    let mut segments = token.split('.');
    let decode = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (
        decode(segments.next().unwrap()),
        decode(segments.next().unwrap()),
    )
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// `token` with its header replaced and its signature kept.
fn with_header(token: &str, header: &Value) -> String {
    let rest = token.split_once('.').unwrap().1;
    format!("{}.{rest}", encode(header))
}

async fn assert_refused(app: &TestApp, token: &str) {
    let response = app.me(token).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_problem(response, 401, "unauthenticated").await;
}

#[tokio::test]
async fn issued_token_has_the_contract_claims() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let (header, claims) = parts(&tokens.access);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "no private key material in the JWKS"
    );
    for claim in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "sid",
        "email",
        "email_verified",
        "role",
    ] {
        assert!(claims.get(claim).is_some(), "missing {claim}");
    }
    assert_eq!(claims["iss"], "http://localhost:8080");
    assert_eq!(claims["aud"], "http://localhost:8080");
    assert_eq!(claims["sid"], tokens.session_id);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
}

#[tokio::test]
async fn tampered_claims_are_refused() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let (_, mut claims) = parts(&tokens.access);
    claims["role"] = json!("admin");
    let mut segments: Vec<&str> = tokens.access.split('.').collect();
    let forged_claims = encode(&claims);
    segments[1] = &forged_claims;
    assert_refused(&app, &segments.join(".")).await;
    // A flipped signature byte.
    let mut bad_sig = tokens.access.clone();
    let last = bad_sig.pop().unwrap();
    bad_sig.push(if last == 'A' { 'B' } else { 'A' });
    assert_refused(&app, &bad_sig).await;
    assert_refused(&app, "not-a-jwt").await;
}

#[tokio::test]
async fn alg_none_is_refused_in_any_case() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let (header, _) = parts(&tokens.access);
    for alg in ["none", "None", "NONE"] {
        let mut header = header.clone();
        header["alg"] = json!(alg);
        let unsigned = with_header(&tokens.access, &header);
        let (head_and_claims, _) = unsigned.rsplit_once('.').unwrap();
        assert_refused(&app, &format!("{head_and_claims}.")).await;
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let forged = forge_hs256_with_public_key(&app, &tokens.access).await;
    assert_refused(&app, &forged).await;
}

#[tokio::test]
async fn wrong_type_unknown_kid_and_key_urls_are_refused() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let (header, _) = parts(&tokens.access);
    let mut edits = Vec::new();
    for (name, value) in [
        ("typ", json!("JWT")),
        ("kid", json!("someone-elses-key")),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"})),
    ] {
        let mut edited = header.clone();
        edited[name] = value;
        edits.push(edited);
    }
    let mut no_typ = header.clone();
    no_typ.as_object_mut().unwrap().remove("typ");
    edits.push(no_typ);
    for edited in edits {
        assert_refused(&app, &with_header(&tokens.access, &edited)).await;
    }
}

#[tokio::test]
async fn expired_tokens_are_refused_after_the_leeway() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    // Keep the session alive (it is idle-timed separately) while the token ages.
    app.clock.advance_ms(15 * 60 * 1000 + 2_000);
    assert_eq!(
        app.me(&tokens.access).await.status(),
        StatusCode::OK,
        "within the 5 s leeway"
    );
    app.clock.advance_ms(4_000);
    assert_refused(&app, &tokens.access).await;
}

#[tokio::test]
async fn malformed_authorization_headers_are_refused() {
    let app = spawn_app().await;
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "bearer-ish token"] {
        let response = app
            .get("/api/auth/me")
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_problem(response, 401, "unauthenticated").await;
    }
    assert_problem(
        app.get("/api/auth/me").send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn jwks_is_cacheable() {
    let app = spawn_app().await;
    let response = app.get("/.well-known/jwks.json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=300");
}
