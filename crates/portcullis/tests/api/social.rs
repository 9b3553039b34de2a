//! Social sign-in against a real OpenID provider (`oidc-provider` on loopback) and a GitHub
//! stand-in: the whole browser flow over HTTP, the OpenID Foundation's relying-party checks
//! made by a misbehaving provider, the state's single use and binding to the browser,
//! `redirect_to`'s allow-list, the linking rule, the bearer app's one-time code, Google's
//! id-token sign-in, and the re-authentication of accounts without a password.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::*;
use crate::helpers::*;
use crate::oidc::*;

/// A provider, and an app with it as `corp`; `None` where the provider cannot run here.
async fn corp() -> Option<(NodeServer, TestApp)> {
    let op = start_provider(&[])?;
    let (app, _) = app_with_corp(&op, |_| {}).await;
    Some((op, app))
}

/// Claims the provider gives login `login` from now on.
async fn account(op: &NodeServer, login: &str, email: &str, verified: bool) {
    op.admin(
        "account",
        json!({"login": login, "sub": format!("sub-{login}"), "email": email, "email_verified": verified, "name": "Ada Lovelace"}),
    )
    .await;
}

/// The session cookies a callback set, as a Cookie header for the app.
fn session_of(browser: &Browser, app: &TestApp) -> CookieSession {
    let session = browser
        .cookie(&app.base, "__Host-portcullis_session")
        .expect("a session cookie");
    let csrf = browser.cookie(&app.base, "__Host-portcullis_csrf").unwrap();
    CookieSession {
        session,
        csrf,
        session_id: String::new(),
    }
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar(sql).await
}

#[tokio::test]
async fn a_real_provider_signs_a_browser_in_with_a_cookie_session() {
    let Some((op, app)) = corp().await else {
        return;
    };
    let config: Value = app
        .get("/api/auth/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        config["providers"],
        json!([{"name": "corp", "display_name": "Corp SSO"}])
    );
    let email = unique_email();
    let login = format!("ada-{}", uuid::Uuid::now_v7().simple());
    account(&op, &login, &email, true).await;

    let mut browser = Browser::new();
    let landed = sign_in_through(
        &app,
        &op,
        &mut browser,
        "corp",
        "?redirect_to=/after",
        &login,
    )
    .await;
    assert_eq!(landed.status(), StatusCode::FOUND);
    assert_eq!(location(&app.base, &landed), app.url("/after"));
    let cookies = session_of(&browser, &app);
    assert!(
        browser
            .cookie(&app.base, "__Host-portcullis_oauth")
            .is_none(),
        "binding cleared"
    );
    let me: Value = app.me_cookie(&cookies).await.json().await.unwrap();
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["name"], "Ada Lovelace");
    let accounts: Value = app
        .get("/api/auth/accounts")
        .header("cookie", cookies.header())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accounts["accounts"][0]["provider"], "corp");
    assert_eq!(
        accounts["accounts"][0]["provider_user_id"],
        format!("sub-{login}")
    );

    // The same identity signs in to the same account again.
    let mut again = Browser::new();
    sign_in_through(&app, &op, &mut again, "corp", "", &login).await;
    let me_again: Value = app
        .me_cookie(&session_of(&again, &app))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me_again["id"], me["id"]);
    for (action, expected) in [
        ("oauth.login", 2),
        ("user.registered", 1),
        ("oauth.linked", 1),
    ] {
        let sql = format!("SELECT count(*) FROM audit_events WHERE action = '{action}'");
        assert_eq!(count(&app, &sql).await, expected, "{action}");
    }
}

/// A browser's sign-in through `corp` as `login`, answered by the provider misbehaving in
/// `mode` (once, for this app's client only).
async fn sign_in_misbehaving(
    app: &TestApp,
    op: &NodeServer,
    client_id: &str,
    mode: &str,
    login: &str,
) -> (reqwest::Response, Browser) {
    op.admin(
        "misbehave",
        json!({"mode": mode, "client_id": client_id, "count": 1}),
    )
    .await;
    let mut browser = Browser::new();
    let answer = sign_in_through(app, op, &mut browser, "corp", "", login).await;
    op.admin("misbehave", json!({"mode": null})).await;
    (answer, browser)
}

#[tokio::test]
async fn every_relying_party_check_of_the_certification_refuses_a_misbehaving_provider() {
    let Some(op) = start_provider(&[]) else {
        return;
    };
    let (app, client_id) = app_with_corp(&op, |_| {}).await;
    let modes = [
        "iss_mismatch",
        "aud_mismatch",
        "aud_multiple_no_azp",
        "bad_signature",
        "alg_none",
        "alg_hs256",
        "kid_unknown",
        "kid_missing",
        "nonce_mismatch",
        "nonce_missing",
        "iat_future",
        "exp_past",
        "sub_missing",
        "id_token_missing",
        "userinfo_sub_mismatch",
        "auth_iss_mismatch",
        "auth_iss_missing",
    ];
    for mode in modes {
        let login = format!("victim-{mode}");
        account(&op, &login, &format!("{login}@example.com"), true).await;
        let (answer, browser) = sign_in_misbehaving(&app, &op, &client_id, mode, &login).await;
        let body = assert_problem(answer, 400, "oauth_failed").await;
        assert!(
            !body.to_string().contains(mode),
            "no detail that helps: {body}"
        );
        assert!(
            browser
                .cookie(&app.base, "__Host-portcullis_session")
                .is_none(),
            "{mode}: no session"
        );
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM users").await,
        0,
        "no account"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM oauth_accounts").await,
        0,
        "no link"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM sessions").await,
        0,
        "no session"
    );
    let failures = count(
        &app,
        "SELECT count(*) FROM audit_events WHERE action = 'oauth.login' AND outcome = 'failure'",
    )
    .await;
    assert_eq!(
        failures,
        modes.len() as i64,
        "each refusal audited with its reason"
    );
    // The provider behaving again, the same flow signs in.
    let mut browser = Browser::new();
    let answer = sign_in_through(&app, &op, &mut browser, "corp", "", "victim-iss_mismatch").await;
    assert_eq!(answer.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn without_a_kid_a_token_is_accepted_only_when_the_key_set_holds_one_key() {
    let Some(op) = start_provider(&["--keys", "1"]) else {
        return;
    };
    let (app, client_id) = app_with_corp(&op, |_| {}).await;
    account(&op, "single-key", &unique_email(), true).await;
    let (answer, _) = sign_in_misbehaving(&app, &op, &client_id, "kid_missing", "single-key").await;
    assert_eq!(answer.status(), StatusCode::FOUND, "one key: no ambiguity");
}

/// Starts a sign-in in `browser` and walks the provider's part; returns the callback URL
/// the provider sent the browser to, not yet visited.
async fn callback_url(
    app: &TestApp,
    op: &NodeServer,
    browser: &mut Browser,
    login: &str,
) -> String {
    let start = browser.get(&app.url("/api/auth/oauth/corp/start")).await;
    assert_eq!(start.status(), StatusCode::FOUND);
    consent(browser, op, &location(&app.base, &start), login).await
}

#[tokio::test]
async fn the_state_works_once_in_the_browser_that_started_it_and_not_for_long() {
    let Some((op, app)) = corp().await else {
        return;
    };
    account(&op, "state", &unique_email(), true).await;

    // Replayed: the first callback signs in, the same URL again is refused.
    let mut browser = Browser::new();
    let back = callback_url(&app, &op, &mut browser, "state").await;
    let binding = browser
        .cookie(&app.base, "__Host-portcullis_oauth")
        .unwrap();
    assert_eq!(browser.get(&back).await.status(), StatusCode::FOUND);
    let replay = app
        .client
        .get(&back)
        .header("cookie", format!("__Host-portcullis_oauth={binding}"))
        .send()
        .await
        .unwrap();
    assert_problem(replay, 400, "oauth_failed").await;

    // Another browser (no binding cookie, or another one) gets nowhere with the URL.
    let mut victim = Browser::new();
    let back = callback_url(&app, &op, &mut victim, "state").await;
    let mut attacker = Browser::new();
    attacker.get(&app.url("/api/auth/oauth/corp/start")).await;
    assert_problem(attacker.get(&back).await, 400, "oauth_failed").await;
    assert_problem(
        app.client.get(&back).send().await.unwrap(),
        400,
        "oauth_failed",
    )
    .await;

    // A tampered state, a missing code, or the provider's error are refused.
    let mut browser = Browser::new();
    let back = callback_url(&app, &op, &mut browser, "state").await;
    let tampered = back.replace("state=", "state=x");
    assert_problem(browser.get(&tampered).await, 400, "oauth_failed").await;
    // A browser navigating back from the provider gets a page it can act on, not JSON.
    let page = app
        .client
        .get(&tampered)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("did not work") && html.contains("href=\"/login\""),
        "{html}"
    );
    for strip in ["code", "state"] {
        let mut browser = Browser::new();
        let back = callback_url(&app, &op, &mut browser, "state").await;
        let mut url = url::Url::parse(&back).unwrap();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| name != strip)
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut().clear().extend_pairs(kept);
        assert_problem(browser.get(url.as_str()).await, 400, "oauth_failed").await;
    }
    let mut browser = Browser::new();
    let back = callback_url(&app, &op, &mut browser, "state").await;
    assert_problem(
        browser.get(&format!("{back}&error=access_denied")).await,
        400,
        "oauth_failed",
    )
    .await;

    // Expired: ten minutes after the start, the state is gone.
    let mut browser = Browser::new();
    let back = callback_url(&app, &op, &mut browser, "state").await;
    app.clock.advance_ms(10 * 60 * 1000 + 1);
    assert_problem(browser.get(&back).await, 400, "oauth_failed").await;
    assert_eq!(
        count(&app, "SELECT count(*) FROM sessions").await,
        1,
        "only the first callback signed in"
    );
}

#[tokio::test]
async fn redirect_to_must_be_on_the_allow_list_in_every_spelling() {
    let Some(op) = start_provider(&[]) else {
        return;
    };
    let (app, _) = app_with_corp(&op, |config| {
        config.server.allowed_origins = vec!["https://app.example.com".parse().unwrap()];
    })
    .await;
    let port = url::Url::parse(&app.base).unwrap().port().unwrap();
    let refused = [
        "//evil.example".to_owned(),
        "https://127.0.0.1.evil.example/".to_owned(),
        "https://app.example.com.evil.example/".to_owned(),
        "https://user@app.example.com/".to_owned(),
        "https://app.example.com@evil.example/".to_owned(),
        "/\\evil.example".to_owned(),
        "https:\\\\evil.example".to_owned(),
        format!("http://127.0.0.1:{}/", port + 1),
        format!("https://127.0.0.1:{port}/"),
        "http://app.example.com/".to_owned(),
        "javascript:alert(1)".to_owned(),
    ];
    for target in refused {
        let url = reqwest::Url::parse_with_params(
            &app.url("/api/auth/oauth/corp/start"),
            &[("redirect_to", &target)],
        )
        .unwrap();
        let answer = app.client.get(url).send().await.unwrap();
        assert_problem(answer, 400, "redirect_not_allowed").await;
    }
    for allowed in ["/account", "https://app.example.com/signed-in"] {
        let url = reqwest::Url::parse_with_params(
            &app.url("/api/auth/oauth/corp/start"),
            &[("redirect_to", allowed)],
        )
        .unwrap();
        let answer = no_redirects().get(url).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::FOUND, "{allowed}");
    }
    let unknown = app.get("/api/auth/oauth/nope/start").send().await.unwrap();
    assert_problem(unknown, 404, "not_found").await;
}

#[tokio::test]
async fn a_bearer_app_exchanges_a_one_time_code_once_within_a_minute() {
    let Some(op) = start_provider(&[]) else {
        return;
    };
    let (app, _) = app_with_corp(&op, |config| {
        config.server.allowed_origins = vec!["https://app.example.com".parse().unwrap()];
    })
    .await;
    account(&op, "mobile", &unique_email(), true).await;
    let code_of = |landed: &reqwest::Response| {
        let to = url::Url::parse(&location("https://app.example.com", landed)).unwrap();
        assert_eq!(to.origin().ascii_serialization(), "https://app.example.com");
        assert_eq!(to.path(), "/done");
        to.query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, code)| code.into_owned())
            .expect("a code")
    };
    let query = "?transport=bearer&redirect_to=https://app.example.com/done";
    let mut browser = Browser::new();
    let landed = sign_in_through(&app, &op, &mut browser, "corp", query, "mobile").await;
    assert!(
        browser
            .cookie(&app.base, "__Host-portcullis_session")
            .is_none(),
        "no cookies"
    );
    let code = code_of(&landed);
    let exchange = |code: String| {
        let app = &app;
        async move {
            app.post("/api/auth/oauth/exchange", &json!({"code": code}))
                .send()
                .await
                .unwrap()
        }
    };
    let answer = exchange(code.clone()).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let signed_in = tokens(answer.json().await.unwrap());
    assert_eq!(app.me(&signed_in.access).await.status(), StatusCode::OK);
    assert_problem(exchange(code).await, 400, "invalid_token").await;

    let mut browser = Browser::new();
    let code = code_of(&sign_in_through(&app, &op, &mut browser, "corp", query, "mobile").await);
    app.clock.advance_ms(61_000);
    assert_problem(exchange(code).await, 400, "invalid_token").await;
    assert_problem(exchange("not-a-code".into()).await, 400, "invalid_token").await;
}

/// A local account with a password and, when `verified`, a verified address.
async fn local_account(app: &TestApp, email: &str, verified: bool) -> String {
    let tokens = app.register(email).await;
    if verified {
        app.execute(&format!(
            "UPDATE users SET email_verified = TRUE WHERE email = '{email}'"
        ))
        .await;
    }
    app.user_id(&tokens.access).await
}

/// The user id a browser's cookie session belongs to.
async fn who(app: &TestApp, browser: &Browser) -> String {
    let me: Value = app
        .me_cookie(&session_of(browser, app))
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_verified_address_links_to_a_verified_account_and_anything_less_is_a_conflict() {
    let Some((op, app)) = corp().await else {
        return;
    };

    let email = unique_email();
    let id = local_account(&app, &email, true).await;
    account(&op, "linked", &email, true).await;
    let mut browser = Browser::new();
    assert_eq!(
        sign_in_through(&app, &op, &mut browser, "corp", "", "linked")
            .await
            .status(),
        StatusCode::FOUND
    );
    assert_eq!(
        who(&app, &browser).await,
        id,
        "signed in to the existing account"
    );

    // Unverified at the provider, or unverified here: refused, nothing linked.
    let verified_here = unique_email();
    local_account(&app, &verified_here, true).await;
    account(&op, "unverified-there", &verified_here, false).await;
    let unverified_here = unique_email();
    local_account(&app, &unverified_here, false).await;
    account(&op, "unverified-here", &unverified_here, true).await;
    for login in ["unverified-there", "unverified-here"] {
        let mut browser = Browser::new();
        let answer = sign_in_through(&app, &op, &mut browser, "corp", "", login).await;
        assert_problem(answer, 409, "account_exists").await;
        assert!(
            browser
                .cookie(&app.base, "__Host-portcullis_session")
                .is_none()
        );
    }
    assert_eq!(count(&app, "SELECT count(*) FROM oauth_accounts").await, 1);
}

#[tokio::test]
async fn linking_needs_a_session_and_an_identity_belongs_to_one_user() {
    let Some((op, app)) = corp().await else {
        return;
    };
    account(&op, "shared", "someone-else@example.org", false).await;
    let anonymous = app
        .get("/api/auth/oauth/corp/start?link=true")
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthenticated").await;

    // User A links the identity (its address need not match: A proves both).
    let a = unique_email();
    let a_id = local_account(&app, &a, false).await;
    let mut browser = Browser::new();
    let a_session = app.login_cookie(&a).await;
    browser_signed_in(&mut browser, &app, &a_session);
    let landed = sign_in_through(
        &app,
        &op,
        &mut browser,
        "corp",
        "?link=true&redirect_to=/linked",
        "shared",
    )
    .await;
    assert_eq!(location(&app.base, &landed), app.url("/linked"));
    let owner = app
        .scalar(&format!(
            "SELECT count(*) FROM oauth_accounts WHERE user_id = '{a_id}' AND provider = 'corp'"
        ))
        .await;
    assert_eq!(owner, 1);

    // User B cannot take it.
    let b = unique_email();
    local_account(&app, &b, true).await;
    let mut other = Browser::new();
    let b_session = app.login_cookie(&b).await;
    browser_signed_in(&mut other, &app, &b_session);
    let answer = sign_in_through(&app, &op, &mut other, "corp", "?link=true", "shared").await;
    assert_problem(answer, 409, "account_exists").await;
    assert_eq!(count(&app, "SELECT count(*) FROM oauth_accounts").await, 1);

    // A cross-site page cannot make a signed-in browser start a link.
    let cross_site = app
        .get("/api/auth/oauth/corp/start?link=true")
        .header("cookie", a_session.header())
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_problem(cross_site, 403, "csrf_failed").await;

    // The identity now signs in to A.
    let mut browser = Browser::new();
    sign_in_through(&app, &op, &mut browser, "corp", "", "shared").await;
    assert_eq!(who(&app, &browser).await, a_id);
}

/// Puts a cookie session into `browser`, as if it had signed in on the app's pages.
fn browser_signed_in(browser: &mut Browser, app: &TestApp, session: &CookieSession) {
    browser.set_cookie(&app.base, "__Host-portcullis_session", &session.session);
    browser.set_cookie(&app.base, "__Host-portcullis_csrf", &session.csrf);
}

#[tokio::test]
async fn the_last_way_to_sign_in_cannot_be_unlinked() {
    let Some((op, app)) = corp().await else {
        return;
    };
    account(&op, "only-oauth", &unique_email(), true).await;
    let mut browser = Browser::new();
    sign_in_through(&app, &op, &mut browser, "corp", "", "only-oauth").await;
    let session = session_of(&browser, &app);
    let unlink = |session: &CookieSession, provider: &str| {
        app.delete(&format!("/api/auth/accounts/{provider}"))
            .header("cookie", session.header())
            .header("x-csrf-token", &session.csrf)
            .send()
    };
    assert_problem(
        unlink(&session, "corp").await.unwrap(),
        409,
        "last_login_method",
    )
    .await;
    assert_problem(unlink(&session, "github").await.unwrap(), 404, "not_found").await;

    // With a password beside it, the identity can go.
    let email = unique_email();
    local_account(&app, &email, true).await;
    account(&op, "with-password", &email, true).await;
    let mut browser = Browser::new();
    sign_in_through(&app, &op, &mut browser, "corp", "", "with-password").await;
    let session = session_of(&browser, &app);
    assert_eq!(
        unlink(&session, "corp").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE action = 'oauth.unlinked'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_new_identity_needs_open_registration() {
    let Some(op) = start_provider(&[]) else {
        return;
    };
    let (app, _) = app_with_corp(&op, |config| config.accounts.registration_open = false).await;
    account(&op, "newcomer", &unique_email(), true).await;
    let mut browser = Browser::new();
    let answer = sign_in_through(&app, &op, &mut browser, "corp", "", "newcomer").await;
    assert_problem(answer, 403, "registration_disabled").await;
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, 0);
}

#[tokio::test]
async fn a_banned_user_is_refused_and_admins_see_and_delete_linked_identities() {
    let Some((op, app)) = corp().await else {
        return;
    };
    account(&op, "to-ban", &unique_email(), true).await;
    let mut browser = Browser::new();
    sign_in_through(&app, &op, &mut browser, "corp", "", "to-ban").await;
    let id = who(&app, &browser).await;
    let admin = app.admin().await;
    let view: Value = app
        .get(&format!("/api/admin/users/{id}"))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["accounts"][0]["provider"], "corp");
    assert_eq!(view["id"], id.as_str());
    let ban = app
        .post(
            &format!("/api/admin/users/{id}/ban"),
            &json!({"reason": "testing"}),
        )
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(ban.status(), StatusCode::OK);
    let mut browser = Browser::new();
    let answer = sign_in_through(&app, &op, &mut browser, "corp", "", "to-ban").await;
    assert_problem(answer, 403, "user_banned").await;
    let deleted = app
        .delete(&format!("/api/admin/users/{id}"))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(count(&app, "SELECT count(*) FROM oauth_accounts").await, 0);
}

/// An app with GitHub at the stand-in `gh`, registered there as a client.
async fn app_with_github(gh: &NodeServer) -> TestApp {
    let client_id = format!("gh-{}", uuid::Uuid::now_v7().simple());
    let app = spawn_app_with_providers(
        &[
            ("oauth_providers", "github".into()),
            ("oauth_github_client_id", client_id.clone()),
            ("oauth_github_client_secret", CLIENT_SECRET.into()),
            ("oauth_github_url", gh.url.clone()),
            ("oauth_github_api_url", format!("{}/api/v3", gh.url)),
        ],
        |_| {},
    )
    .await;
    gh.admin(
        "client",
        json!({
            "client_id": client_id,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [app.url("/api/auth/oauth/github/callback")],
        }),
    )
    .await;
    app
}

/// A browser's GitHub sign-in, approved by the stand-in's current user.
async fn github_sign_in(app: &TestApp, browser: &mut Browser) -> reqwest::Response {
    let start = browser.get(&app.url("/api/auth/oauth/github/start")).await;
    assert_eq!(start.status(), StatusCode::FOUND);
    let authorize = location(&app.base, &start);
    let back = browser.get(&authorize).await;
    let callback = location(&authorize, &back);
    assert!(callback.starts_with(&app.url("/api/auth/oauth/github/callback")));
    browser.get(&callback).await
}

#[tokio::test]
async fn github_counts_only_its_primary_verified_address() {
    let Some(gh) = start_github() else {
        return;
    };
    let app = app_with_github(&gh).await;
    let primary = unique_email();
    gh.admin(
        "user",
        json!({"login": "octo", "id": 4242, "name": "Octo Cat", "emails": [
            {"email": unique_email(), "primary": false, "verified": true, "visibility": "public"},
            {"email": primary, "primary": true, "verified": true, "visibility": "private"},
        ]}),
    )
    .await;
    let mut browser = Browser::new();
    assert_eq!(
        github_sign_in(&app, &mut browser).await.status(),
        StatusCode::FOUND
    );
    let me: Value = app
        .me_cookie(&session_of(&browser, &app))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], primary.as_str());
    assert_eq!(me["name"], "Octo Cat");
    let linked = count(&app, "SELECT count(*) FROM oauth_accounts WHERE provider = 'github' AND provider_user_id = '4242'").await;
    assert_eq!(linked, 1);

    // A verified address that is not the primary one, or a primary one GitHub has not
    // verified, counts for nothing.
    gh.admin(
        "user",
        json!({"login": "unverified", "id": 4343, "emails": [
            {"email": unique_email(), "primary": false, "verified": true, "visibility": null},
            {"email": unique_email(), "primary": true, "verified": false, "visibility": null},
        ]}),
    )
    .await;
    let mut browser = Browser::new();
    assert_problem(
        github_sign_in(&app, &mut browser).await,
        400,
        "oauth_failed",
    )
    .await;
    assert_eq!(count(&app, "SELECT count(*) FROM users").await, 1);
    let reason = count(
        &app,
        "SELECT count(*) FROM audit_events WHERE detail LIKE '%no_verified_email%'",
    )
    .await;
    assert_eq!(reason, 1);
}

async fn register_client(op: &NodeServer, client_id: &str) {
    op.admin(
        "client",
        json!({"client_id": client_id, "client_secret": CLIENT_SECRET, "redirect_uris": ["http://127.0.0.1/cb"]}),
    )
    .await;
}

/// An id_token for `email` that `op` issues to `client_id`, made to misbehave in `mode`.
async fn mint_id_token(
    op: &NodeServer,
    client_id: &str,
    mode: Option<&str>,
    email: &str,
) -> String {
    let body = json!({"client_id": client_id, "login": "one-tap", "mode": mode,
        "claims": {"email": email, "email_verified": true}});
    op.admin("id-token", body).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_google_id_token_signs_in_only_when_issued_by_google_to_this_client() {
    let (Some(google), Some(elsewhere)) = (start_provider(&[]), start_provider(&[])) else {
        return;
    };
    let client_id = format!("google-{}", uuid::Uuid::now_v7().simple());
    let app = spawn_app_with_providers(
        &[
            ("oauth_providers", "google".into()),
            ("oauth_google_client_id", client_id.clone()),
            ("oauth_google_client_secret", CLIENT_SECRET.into()),
            ("oauth_google_issuer", google.url.clone()),
        ],
        |_| {},
    )
    .await;
    register_client(&google, &client_id).await;
    register_client(&google, "another-client").await;
    register_client(&elsewhere, &client_id).await;
    let email = unique_email();
    let sign_in = |token: String| {
        app.post(
            "/api/auth/oauth/google/id-token",
            &json!({"id_token": token}),
        )
        .send()
    };
    let genuine = mint_id_token(&google, &client_id, None, &email).await;
    let answer = sign_in(genuine).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let signed_in = tokens(answer.json().await.unwrap());
    let me: Value = app.me(&signed_in.access).await.json().await.unwrap();
    assert_eq!(me["email"], email.as_str());

    for (token, what) in [
        (
            mint_id_token(&google, "another-client", None, &email).await,
            "another audience",
        ),
        (
            mint_id_token(&elsewhere, &client_id, None, &email).await,
            "another issuer",
        ),
        (
            mint_id_token(&google, &client_id, Some("bad_signature"), &email).await,
            "a bad signature",
        ),
        (
            mint_id_token(&google, &client_id, Some("exp_past"), &email).await,
            "expired",
        ),
        ("not.a.token".to_owned(), "garbage"),
    ] {
        let answer = sign_in(token).await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_problem(answer, 401, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn an_account_without_a_password_re_authenticates_through_its_provider() {
    let Some((op, app)) = corp().await else {
        return;
    };
    account(&op, "no-password", &unique_email(), true).await;
    let mut browser = Browser::new();
    sign_in_through(&app, &op, &mut browser, "corp", "", "no-password").await;
    let session = session_of(&browser, &app);
    let change_email = |session: &CookieSession, body: Value| {
        app.post("/api/auth/email/change", &body)
            .header("cookie", session.header())
            .header("x-csrf-token", &session.csrf)
            .send()
    };
    let body = json!({"new_email": unique_email()});
    assert_problem(
        change_email(&session, body.clone()).await.unwrap(),
        401,
        "reauthentication_required",
    )
    .await;
    // A password offered by an account that has none proves nothing either.
    let with_password = json!({"new_email": unique_email(), "password": PASSWORD});
    assert_problem(
        change_email(&session, with_password).await.unwrap(),
        401,
        "reauthentication_required",
    )
    .await;

    let landed = sign_in_through(
        &app,
        &op,
        &mut browser,
        "corp",
        "?reauth=true&redirect_to=/settings",
        "no-password",
    )
    .await;
    assert_eq!(location(&app.base, &landed), app.url("/settings"));
    assert_eq!(
        change_email(&session, body).await.unwrap().status(),
        StatusCode::ACCEPTED
    );
    // Setting a first password needs it too, and then the password is what counts.
    let set = app
        .post(
            "/api/auth/password/change",
            &json!({"new_password": "a brand new passphrase"}),
        )
        .header("cookie", session.header())
        .header("x-csrf-token", &session.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::NO_CONTENT);

    // Five minutes later the re-authentication no longer stands in.
    account(&op, "another", &unique_email(), true).await;
    let mut other = Browser::new();
    sign_in_through(&app, &op, &mut other, "corp", "", "another").await;
    let other_session = session_of(&other, &app);
    sign_in_through(&app, &op, &mut other, "corp", "?reauth=true", "another").await;
    app.clock.advance_ms(5 * 60 * 1000 + 1);
    assert_problem(
        change_email(&other_session, json!({"new_email": unique_email()}))
            .await
            .unwrap(),
        401,
        "reauthentication_required",
    )
    .await;
    // Re-authenticating with someone else's identity is refused.
    let mut third = Browser::new();
    browser_signed_in(&mut third, &app, &other_session);
    let answer =
        sign_in_through(&app, &op, &mut third, "corp", "?reauth=true", "no-password").await;
    assert_problem(answer, 400, "oauth_failed").await;
}
