//! The hosted pages over HTTP, as a browser without JavaScript uses them: every form posts
//! with its `csrf` token and answers 303; without the token, with a wrong one or from another
//! origin nothing changes (403); `return_to` is followed only on the allow-list; the same
//! words for an unknown account and a wrong password; link pages use their token only when
//! posted; admin pages are for admins; strict headers; the reader's language; a theme.

use reqwest::StatusCode;

use crate::browser::*;
use crate::helpers::*;

/// The token in a page's forms.
fn csrf_of(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with its token")
        + 19;
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// GETs `path` in `browser` and returns its status and HTML.
async fn page(app: &TestApp, browser: &mut Browser, path: &str) -> (StatusCode, String) {
    let response = browser.get(&app.url(path)).await;
    (response.status(), response.text().await.unwrap())
}

/// Opens `form_page`, then posts `fields` with the page's token to `action`.
async fn submit(
    app: &TestApp,
    browser: &mut Browser,
    form_page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, html) = page(app, browser, form_page).await;
    let token = csrf_of(&html);
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    browser.post_form(&app.url(action), &form).await
}

async fn signed_in(app: &TestApp, browser: &mut Browser, email: &str) {
    let answer = submit(
        app,
        browser,
        "/login",
        "/login",
        &[("email", email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "signed in");
}

#[tokio::test]
async fn signing_up_in_and_out_are_plain_forms() {
    let app = spawn_app().await;
    let mut browser = Browser::new();
    let email = unique_email();
    let answer = submit(
        &app,
        &mut browser,
        "/signup",
        "/signup",
        &[
            ("email", &email),
            ("password", PASSWORD),
            ("name", "Ada Lovelace"),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"], "/account");
    let (status, html) = page(&app, &mut browser, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(&email) && html.contains("Ada Lovelace"));

    let answer = submit(&app, &mut browser, "/account", "/logout", &[]).await;
    assert_eq!(answer.headers()["location"], "/login?notice=signed_out");
    let away = browser.get(&app.url("/account")).await;
    assert_eq!(away.status(), StatusCode::SEE_OTHER);
    assert_eq!(away.headers()["location"], "/login?return_to=%2Faccount");
    signed_in(&app, &mut browser, &email).await;
    assert_eq!(page(&app, &mut browser, "/account").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_form_without_its_token_or_from_elsewhere_changes_nothing() {
    let app = spawn_app().await;
    let mut browser = Browser::new();
    let (_, html) = page(&app, &mut browser, "/signup").await;
    let token = csrf_of(&html);
    let email = unique_email();
    let fields = |token: Option<&str>| {
        let mut form = vec![
            ("email".to_owned(), email.clone()),
            ("password".to_owned(), PASSWORD.to_owned()),
        ];
        if let Some(token) = token {
            form.push(("csrf".to_owned(), token.to_owned()));
        }
        form
    };
    let cookie = browser
        .cookie_header(&url::Url::parse(&app.url("/")).unwrap())
        .unwrap();
    let post = |form: Vec<(String, String)>, origin: Option<&str>, fetch_site: Option<&str>| {
        let mut request = no_redirects()
            .post(app.url("/signup"))
            .header("cookie", &cookie)
            .form(&form);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let refused = [
        post(fields(None), None, None).await.unwrap(),
        post(fields(Some("not-the-token")), None, None)
            .await
            .unwrap(),
        post(fields(Some(&token)), Some("https://evil.example"), None)
            .await
            .unwrap(),
        post(fields(Some(&token)), Some("null"), None)
            .await
            .unwrap(),
        post(fields(Some(&token)), None, Some("cross-site"))
            .await
            .unwrap(),
    ];
    for answer in refused {
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        assert!(
            answer
                .text()
                .await
                .unwrap()
                .contains("out of date or came from another site")
        );
    }
    // A token from another browser (its own pre-session cookie) is no good either.
    let mut other = Browser::new();
    let (_, html) = page(&app, &mut other, "/signup").await;
    let foreign = csrf_of(&html);
    assert_eq!(
        post(fields(Some(&foreign)), None, None)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        app.scalar("SELECT count(*) FROM users").await,
        0,
        "nothing changed"
    );
    // The page's own token, from its own origin (the public URL's), works.
    let answer = post(
        fields(Some(&token)),
        Some("http://localhost:8080"),
        Some("same-origin"),
    )
    .await
    .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);

    // Signed in, forms carry the session's token: the pre-session one no longer acts.
    let mut browser = Browser::new();
    let email = unique_email();
    app.register(&email).await;
    let (_, before) = page(&app, &mut browser, "/login").await;
    let anonymous_token = csrf_of(&before);
    signed_in(&app, &mut browser, &email).await;
    let answer = browser
        .post_form(
            &app.url("/account/profile"),
            &[("csrf", &anonymous_token), ("name", "Mallory")],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let answer = submit(
        &app,
        &mut browser,
        "/account",
        "/account/profile",
        &[("name", "Grace"), ("username", "")],
    )
    .await;
    assert_eq!(answer.headers()["location"], "/account?notice=saved");
    assert!(
        page(&app, &mut browser, "/account")
            .await
            .1
            .contains("Grace")
    );
}

#[tokio::test]
async fn return_to_is_followed_only_on_the_allow_list() {
    let app = spawn_app_with(|config| {
        config.server.allowed_origins = vec!["https://app.example.com".parse().unwrap()];
    })
    .await;
    let email = unique_email();
    app.register(&email).await;
    for (return_to, expected) in [
        ("/account?tab=sessions", "/account?tab=sessions"),
        (
            "https://app.example.com/home",
            "https://app.example.com/home",
        ),
        ("https://evil.example/", "/account"),
        ("//evil.example", "/account"),
        ("https://app.example.com.evil.example/", "/account"),
    ] {
        let mut browser = Browser::new();
        let query = serde_urlencoded::to_string([("return_to", return_to)]).unwrap();
        let (_, html) = page(&app, &mut browser, &format!("/login?{query}")).await;
        let answer = browser
            .post_form(
                &app.url("/login"),
                &[
                    ("csrf", &csrf_of(&html)),
                    ("email", &email),
                    ("password", PASSWORD),
                    ("return_to", return_to),
                ],
            )
            .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(answer.headers()["location"], expected, "{return_to}");
    }
}

#[tokio::test]
async fn sign_up_keeps_return_to_and_redirects_when_the_address_needs_verifying() {
    let app = spawn_app().await;
    let mut browser = Browser::new();
    let (_, html) = page(&app, &mut browser, "/signup?return_to=%2Faccount%3Ftab%3Dx").await;
    let html = html.replace("&#x2f;", "/");
    assert!(html.contains("name=\"return_to\" value=\"/account?tab=x\""));
    assert!(html.contains("href=\"/login?return_to=%2Faccount%3Ftab%3Dx\""));
    let answer = browser
        .post_form(
            &app.url("/signup"),
            &[
                ("csrf", &csrf_of(&html)),
                ("email", &unique_email()),
                ("password", PASSWORD),
                ("return_to", "/account?tab=x"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()["location"], "/account?tab=x");

    let strict = spawn_app_with(|config| {
        config.accounts.require_email_verification = Some(true);
    })
    .await;
    let mut browser = Browser::new();
    let (_, html) = page(&strict, &mut browser, "/signup?return_to=%2Faccount").await;
    let answer = browser
        .post_form(
            &strict.url("/signup"),
            &[
                ("csrf", &csrf_of(&html)),
                ("email", &unique_email()),
                ("password", PASSWORD),
                ("return_to", "/account"),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "post/redirect/get");
    assert_eq!(
        answer.headers()["location"],
        "/login?return_to=%2Faccount&notice=check_inbox"
    );
    let (_, html) = page(&strict, &mut browser, "/login?notice=check_inbox").await;
    assert!(html.contains("Check your inbox"));
}

/// The text of the error next to field `name` in `html`.
fn field_error(html: &str, name: &str) -> String {
    let marker = format!("id=\"e-{name}\">");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no error for {name}"))
        + marker.len();
    html[start..start + html[start..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn an_unknown_account_and_a_wrong_password_read_the_same() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let mut answers = Vec::new();
    for (who, password) in [
        (email.as_str(), "not the password at all"),
        ("nobody@example.com", PASSWORD),
    ] {
        let mut browser = Browser::new();
        let answer = submit(
            &app,
            &mut browser,
            "/login",
            "/login",
            &[("email", who), ("password", password)],
        )
        .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        let html = answer.text().await.unwrap();
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"e-password\""));
        assert!(
            html.contains("autofocus"),
            "the first field in error takes the focus"
        );
        answers.push(field_error(&html, "password"));
    }
    assert_eq!(answers[0], answers[1]);
    // Rule violations are shown next to their fields.
    let mut browser = Browser::new();
    let answer = submit(
        &app,
        &mut browser,
        "/signup",
        "/signup",
        &[("email", "not-an-address"), ("password", "short")],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = answer.text().await.unwrap();
    assert_eq!(field_error(&html, "email"), "Enter an email address.");
    assert_eq!(field_error(&html, "password"), "Too short.");
    assert!(
        html.contains("value=\"not-an-address\""),
        "what was typed is kept"
    );
    assert!(!html.contains("value=\"short\""), "but never a password");
}

#[tokio::test]
async fn link_pages_use_their_token_only_when_their_form_is_posted() {
    let Some((app, sink)) = spawn_app_with_mail(|_| {}).await else {
        return;
    };
    let email = unique_email();
    app.register(&email).await;
    let verify = sink.wait_for(&email, 1).await[0].token();
    let mut browser = Browser::new();
    let path = format!("/verify-email?token={verify}");
    for _ in 0..2 {
        let (status, html) = page(&app, &mut browser, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains(&verify));
    }
    let unverified =
        format!("SELECT count(*) FROM users WHERE email = '{email}' AND email_verified = FALSE");
    assert_eq!(
        app.scalar(&unverified).await,
        1,
        "opening the page verified nothing"
    );
    let answer = submit(
        &app,
        &mut browser,
        &path,
        "/verify-email",
        &[("token", &verify)],
    )
    .await;
    assert_eq!(answer.headers()["location"], "/login?notice=email_verified");
    assert_eq!(app.scalar(&unverified).await, 0);

    let forgot = submit(
        &app,
        &mut browser,
        "/forgot-password",
        "/forgot-password",
        &[("email", &email)],
    )
    .await;
    assert_eq!(
        forgot.headers()["location"],
        "/forgot-password?notice=reset_sent"
    );
    let reset = sink
        .wait_for(&email, 2)
        .await
        .into_iter()
        .find(|m| m.subject.starts_with("Reset your"))
        .unwrap()
        .token();
    let path = format!("/reset-password?token={reset}");
    assert_eq!(page(&app, &mut browser, &path).await.0, StatusCode::OK);
    assert_eq!(page(&app, &mut browser, &path).await.0, StatusCode::OK);
    let new_password = "a completely different passphrase";
    let answer = submit(
        &app,
        &mut browser,
        &path,
        "/reset-password",
        &[("token", &reset), ("new_password", new_password)],
    )
    .await;
    assert_eq!(answer.headers()["location"], "/login?notice=password_reset");
    assert_eq!(app.login(&email, new_password).await.status(), 200);
    let again = submit(
        &app,
        &mut browser,
        &path,
        "/reset-password",
        &[("token", &reset), ("new_password", new_password)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "used once");
}

#[tokio::test]
async fn admin_pages_are_for_admins_and_act_through_forms() {
    let app = spawn_app().await;
    let (admin_email, user_email) = (unique_email(), unique_email());
    assert!(
        app.create_admin(&admin_email, PASSWORD)
            .await
            .status
            .success()
    );
    let user = app.register(&user_email).await;
    let user_id = app.user_id(&user.access).await;

    let mut anonymous = Browser::new();
    let away = anonymous.get(&app.url("/admin/audit")).await;
    assert_eq!(
        away.headers()["location"],
        "/login?return_to=%2Fadmin%2Faudit"
    );
    let mut as_user = Browser::new();
    signed_in(&app, &mut as_user, &user_email).await;
    for path in [
        "/admin",
        &format!("/admin/users/{user_id}"),
        "/admin/audit",
        "/admin/suspicious",
        "/admin/settings",
    ] {
        assert_eq!(
            page(&app, &mut as_user, path).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }

    let mut admin = Browser::new();
    signed_in(&app, &mut admin, &admin_email).await;
    let (status, html) = page(
        &app,
        &mut admin,
        &format!("/admin?q={}", user_email.split('@').next().unwrap()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&user_email) && !html.contains(&admin_email),
        "search"
    );
    for path in [
        "/admin/audit?action=user.login_succeeded",
        "/admin/suspicious?window=1h",
        "/admin/settings",
    ] {
        assert_eq!(
            page(&app, &mut admin, path).await.0,
            StatusCode::OK,
            "{path}"
        );
    }
    let user_page = format!("/admin/users/{user_id}");
    let ban = submit(
        &app,
        &mut admin,
        &user_page,
        &format!("{user_page}/ban"),
        &[("reason", "spam"), ("expires_at", "")],
    )
    .await;
    assert_eq!(
        ban.headers()["location"],
        format!("{user_page}?notice=saved").as_str()
    );
    assert_eq!(
        page(&app, &mut as_user, "/account").await.0,
        StatusCode::SEE_OTHER,
        "the ban ends the session"
    );
    let unban = submit(
        &app,
        &mut admin,
        &user_page,
        &format!("{user_page}/unban"),
        &[],
    )
    .await;
    assert_eq!(unban.status(), StatusCode::SEE_OTHER);
    let role = submit(
        &app,
        &mut admin,
        &user_page,
        &format!("{user_page}/role"),
        &[("role", "admin")],
    )
    .await;
    assert_eq!(role.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM users WHERE id = '{user_id}' AND role = 'admin'"
        ))
        .await,
        1
    );
    let confirm = page(&app, &mut admin, &format!("{user_page}/delete")).await;
    assert!(confirm.1.contains(&user_email));
    let deleted = submit(
        &app,
        &mut admin,
        &format!("{user_page}/delete"),
        &format!("{user_page}/delete"),
        &[],
    )
    .await;
    assert_eq!(deleted.headers()["location"], "/admin?notice=saved");
    assert_eq!(
        app.scalar(&format!(
            "SELECT count(*) FROM users WHERE id = '{user_id}'"
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn closing_registration_on_the_settings_page_hides_sign_up() {
    let app = spawn_app().await;
    let admin_email = unique_email();
    assert!(
        app.create_admin(&admin_email, PASSWORD)
            .await
            .status
            .success()
    );
    let mut admin = Browser::new();
    signed_in(&app, &mut admin, &admin_email).await;
    let mut visitor = Browser::new();
    assert!(
        page(&app, &mut visitor, "/login")
            .await
            .1
            .contains("href=\"/signup")
    );
    let saved = submit(
        &app,
        &mut admin,
        "/admin/settings",
        "/admin/settings",
        &[("registration_open", "off")],
    )
    .await;
    assert_eq!(saved.headers()["location"], "/admin/settings?notice=saved");
    assert!(
        !page(&app, &mut visitor, "/login")
            .await
            .1
            .contains("href=\"/signup")
    );
    let (status, html) = page(&app, &mut visitor, "/signup").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("Sign-up is closed"));
    let config: serde_json::Value = app
        .get("/api/auth/config")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["registration_open"], false);
}

#[tokio::test]
async fn pages_send_strict_headers_and_speak_the_reader_s_language() {
    let app = spawn_app().await;
    let response = app.get("/login").send().await.unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(response.headers()["referrer-policy"], "same-origin");
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "no inline script or style"
    );

    let french = app
        .get("/login")
        .header("accept-language", "fr-CA,fr;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(french.contains("<html lang=\"fr\">") && french.contains("Se connecter"));

    // Assets live under their content's hash, cached for a year; another hash is not found.
    let css = html
        .split("href=\"")
        .find(|p| p.contains("style.css"))
        .unwrap();
    let css = css[..css.find('"').unwrap()].replace("&#x2f;", "/");
    let asset = app.get(&css).send().await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(asset.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        app.get("/assets/000000000000/style.css")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A browser asking for an unknown page gets a page; an API client, problem+json.
    let missing = app
        .get("/nowhere")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_problem(app.get("/nowhere").send().await.unwrap(), 404, "not_found").await;
}

#[tokio::test]
async fn a_theme_replaces_templates_words_and_assets_file_by_file() {
    let theme = std::env::temp_dir().join(format!("portcullis-theme-{}", uuid::Uuid::now_v7()));
    for dir in ["templates", "assets", "i18n"] {
        std::fs::create_dir_all(theme.join(dir)).unwrap();
    }
    std::fs::write(
        theme.join("templates/signup.html"),
        "{% extends \"base.html\" %}{% block title %}Join{% endblock %}{% block main %}<p>Themed sign-up of {{ product }}</p>{% endblock %}",
    )
    .unwrap();
    std::fs::write(
        theme.join("assets/style.css"),
        "/* themed */ body { color: teal; }",
    )
    .unwrap();
    std::fs::write(
        theme.join("assets/brand.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    std::fs::write(
        theme.join("i18n/en.toml"),
        "[login]\nsubmit = \"Log in, please\"\n",
    )
    .unwrap();
    let dir = theme.clone();
    let app = spawn_app_with(move |config| {
        config.pages.theme_dir = Some(dir);
        config.accounts.product_name = "Acme".into();
    })
    .await;
    let signup = app
        .get("/signup")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(signup.contains("Themed sign-up of Acme"));
    let login = app
        .get("/login")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("Log in, please"), "a word replaced");
    assert!(login.contains("Email or username"), "the others kept");
    let css = login
        .split("href=\"")
        .find(|p| p.contains("style.css"))
        .unwrap();
    let css = css[..css.find('"').unwrap()].replace("&#x2f;", "/");
    assert!(
        app.get(&css)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("themed")
    );
    std::fs::remove_dir_all(&theme).unwrap();

    // A broken template stops the server at start, naming the file.
    let broken = std::env::temp_dir().join(format!("portcullis-theme-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(broken.join("templates")).unwrap();
    std::fs::write(broken.join("templates/login.html"), "{% if %}").unwrap();
    let mut config = test_config(broken.clone());
    config.pages.theme_dir = Some(broken.clone());
    let err = portcullis::pages::Pages::new(&config)
        .err()
        .expect("refused");
    assert!(format!("{err:#}").contains("login.html"), "{err:#}");
    std::fs::remove_dir_all(&broken).unwrap();
}

#[tokio::test]
async fn the_account_page_ends_other_sessions_and_changes_the_password() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let other = app.login_bearer(&email).await;
    let mut browser = Browser::new();
    signed_in(&app, &mut browser, &email).await;
    let (_, html) = page(&app, &mut browser, "/account").await;
    assert!(html.contains("This device"));
    let answer = submit(
        &app,
        &mut browser,
        "/account",
        "/account/sessions/revoke-others",
        &[],
    )
    .await;
    assert_eq!(answer.headers()["location"], "/account?notice=saved");
    assert_eq!(
        app.me(&other.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        page(&app, &mut browser, "/account").await.0,
        StatusCode::OK,
        "this one lives on"
    );

    let wrong = submit(
        &app,
        &mut browser,
        "/account",
        "/account/password",
        &[
            ("current_password", "not it at all, no"),
            ("new_password", "a brand new passphrase"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = submit(
        &app,
        &mut browser,
        "/account",
        "/account/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
        ],
    )
    .await;
    assert_eq!(
        right.headers()["location"],
        "/account?notice=password_changed"
    );
    assert_eq!(
        app.login(&email, "a brand new passphrase").await.status(),
        200
    );
}

#[tokio::test]
async fn revoking_this_browser_s_session_signs_it_out() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register(&email).await;
    let mut browser = Browser::new();
    signed_in(&app, &mut browser, &email).await;
    // The page offers no button for its own session; the form's route still takes it.
    let listed: serde_json::Value = browser
        .get(&app.url("/api/auth/sessions"))
        .await
        .json()
        .await
        .unwrap();
    let own = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .expect("the current session")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = submit(
        &app,
        &mut browser,
        "/account",
        &format!("/account/sessions/{own}/revoke"),
        &[],
    )
    .await;
    assert_eq!(answer.headers()["location"], "/login?notice=signed_out");
    let cleared = set_cookie(&answer, "__Host-portcullis_session").expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(
        browser
            .cookie(&app.url("/"), "__Host-portcullis_session")
            .is_none()
    );
}

/// The first form action in `html` that starts with `prefix` and ends with `suffix`.
fn action(html: &str, prefix: &str, suffix: &str) -> String {
    html.split("action=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .find(|a| a.starts_with(prefix) && a.ends_with(suffix))
        .unwrap_or_else(|| panic!("no form {prefix}…{suffix}"))
        .to_owned()
}

#[tokio::test]
async fn the_other_account_and_admin_forms_act() {
    let app = spawn_app().await;
    let (admin_email, email) = (unique_email(), unique_email());
    assert!(
        app.create_admin(&admin_email, PASSWORD)
            .await
            .status
            .success()
    );
    let phone = app.register(&email).await;
    let user_id = app.user_id(&phone.access).await;
    let mut browser = Browser::new();
    signed_in(&app, &mut browser, &email).await;

    // One other session ended from its row.
    let (_, html) = page(&app, &mut browser, "/account").await;
    let revoke = action(&html, "/account/sessions/", "/revoke");
    let answer = submit(&app, &mut browser, "/account", &revoke, &[]).await;
    assert_eq!(answer.headers()["location"], "/account?notice=saved");
    assert_eq!(
        app.me(&phone.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // An email change asks for the password and is confirmed from the new inbox.
    let wrong = submit(
        &app,
        &mut browser,
        "/account",
        "/account/email",
        &[("new_email", "new@example.com"), ("password", "not it")],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let changed = submit(
        &app,
        &mut browser,
        "/account",
        "/account/email",
        &[("new_email", "new@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        changed.headers()["location"],
        "/account?notice=email_change_sent"
    );

    // The admin edits the user, unlocks them and ends one session, then all.
    let mut admin = Browser::new();
    signed_in(&app, &mut admin, &admin_email).await;
    let user_page = format!("/admin/users/{user_id}");
    let edit = format!("{user_page}/edit");
    let fields = [
        ("name", "Edited Name"),
        ("username", ""),
        ("email", email.as_str()),
        ("email_verified", "true"),
    ];
    let edited = submit(&app, &mut admin, &user_page, &edit, &fields).await;
    assert_eq!(
        edited.headers()["location"],
        format!("{user_page}?notice=saved").as_str()
    );
    let query = format!(
        "SELECT count(*) FROM users WHERE id = '{user_id}' AND name = 'Edited Name' AND email_verified = TRUE"
    );
    assert_eq!(app.scalar(&query).await, 1);
    let unlock = submit(
        &app,
        &mut admin,
        &user_page,
        &format!("{user_page}/unlock"),
        &[],
    )
    .await;
    assert_eq!(unlock.status(), StatusCode::SEE_OTHER);
    let tablet = app.login_bearer(&email).await;
    let (_, html) = page(&app, &mut admin, &user_page).await;
    let one = action(&html, &format!("{user_page}/sessions/"), "/revoke");
    assert_eq!(
        submit(&app, &mut admin, &user_page, &one, &[])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let all = submit(
        &app,
        &mut admin,
        &user_page,
        &format!("{user_page}/sessions/revoke"),
        &[],
    )
    .await;
    assert_eq!(all.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.me(&tablet.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        page(&app, &mut browser, "/account").await.0,
        StatusCode::SEE_OTHER,
        "signed out everywhere"
    );
}
