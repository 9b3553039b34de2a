//! `portcullis users import`: one bad line imports nothing and is named; imported users sign
//! in with their old passwords and leave with Argon2id hashes; a second run changes nothing.

use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

// Hashes of PASSWORD made by other systems (see portcullis-core's vector tests).
const BCRYPT: &str = "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS";
const DJANGO_PBKDF2: &str =
    "pbkdf2_sha256$1000$mpC7Gp68TO0AjJ4jwxtYc2$H5pfeSx8/rh92F3LzZ47leyDgAoN/4Wdq0CGZvhelcU=";
const PASSLIB_SCRYPT: &str =
    "$scrypt$ln=8,r=8,p=2$N6bUWguhNEYopfR+713rnQ$OW/6Mb5dyGMAhoKJfLxqfuvxxzb7CZaWiEpPdrSUqsE";
const WEAK_ARGON2ID: &str = "$argon2id$v=19$m=256,t=2,p=2$gX38kbcsmg4zNZiA/0q9Eg$\
                             DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU";

/// Runs `portcullis users import` on `lines` against the app's database.
fn import(app: &TestApp, lines: &[Value]) -> Output {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    import_bytes(app, text.as_bytes())
}

/// Runs `portcullis users import` on a file holding `bytes`.
fn import_bytes(app: &TestApp, bytes: &[u8]) -> Output {
    let file = app
        .config
        .server
        .data_dir
        .join(format!("import-{}.jsonl", uuid::Uuid::now_v7()));
    std::fs::write(&file, bytes).unwrap();
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["users", "import", file.to_str().unwrap()])
        .env_clear()
        .env(
            "DATABASE_URL",
            app.config.database.database_url.as_ref().unwrap().expose(),
        )
        .env("PORTCULLIS_DATA_DIR", &app.config.server.data_dir)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn users(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM users").await
}

#[tokio::test]
async fn one_bad_line_imports_nothing_and_is_named() {
    let app = spawn_app().await;
    let good =
        |i: usize| json!({"email": format!("good-{i}@example.com"), "password_hash": BCRYPT});
    let file = [
        good(1),
        good(2),
        good(3),
        json!({"email": "not an address"}),
        good(5),
        json!({"email": "six@example.com", "password_hash": "$2b$04$tooshort"}),
        json!({"email": "seven@example.com", "role": "overlord"}),
        json!({"email": "GOOD-1@example.com"}),
        json!({"email": "nine@example.com", "is_admin": true}),
        json!({"email": "ten@example.com", "role": "admin"}),
    ];
    let output = import(&app, &file);
    assert!(!output.status.success());
    let errors = stderr(&output);
    for expected in [
        "line 4: email: invalid_email",
        "line 6: password_hash: malformed bcrypt hash",
        "line 7: role:",
        "line 8: email: the same as on line 1",
        "line 9: unknown field `is_admin`",
        "line 10: role: admin is not imported",
        "6 bad line(s)",
        "nothing was imported",
    ] {
        assert!(errors.contains(expected), "{expected:?} not in:\n{errors}");
    }
    assert_eq!(users(&app).await, 0);
    let not_json = import(&app, &[good(1), json!("just a string")]);
    assert!(
        stderr(&not_json).contains("line 2:"),
        "{}",
        stderr(&not_json)
    );
    let latin1 = import_bytes(
        &app,
        b"{\"email\": \"a@example.com\"}\n{\"email\": \"caf\xe9@example.com\"}\n",
    );
    assert!(
        stderr(&latin1).contains("line 2: not UTF-8"),
        "{}",
        stderr(&latin1)
    );
    assert_eq!(users(&app).await, 0);
}

#[tokio::test]
async fn imported_users_sign_in_with_their_old_password_and_are_upgraded_to_argon2id() {
    let app = spawn_app().await;
    let emails: Vec<String> = (0..5).map(|_| unique_email()).collect();
    let file = [
        json!({"email": emails[0], "password_hash": BCRYPT, "name": "Bea Crypt",
               "email_verified": true, "created_at": "2019-05-04T03:02:01Z"}),
        json!({"email": emails[1], "password_hash": DJANGO_PBKDF2, "username": "django"}),
        json!({"email": emails[2], "password_hash": PASSLIB_SCRYPT, "role": "user"}),
        json!({"email": emails[3], "password_hash": WEAK_ARGON2ID}),
        json!({"email": emails[4]}),
    ];
    let output = import(&app, &file);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("imported 5 users"),
        "{}",
        stdout(&output)
    );

    for email in &emails[..4] {
        let before = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM credentials c JOIN users u ON u.id = c.user_id
                 WHERE lower(u.email) = lower('{email}') AND c.scheme <> 'argon2id'"
            ))
            .await;
        let signed_in = app.login(email, PASSWORD).await;
        assert_eq!(signed_in.status(), StatusCode::OK, "{email}");
        let upgraded = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM credentials c JOIN users u ON u.id = c.user_id
                 WHERE lower(u.email) = lower('{email}') AND c.scheme = 'argon2id'
                 AND c.password_hash LIKE '$argon2id$v=19$m=19456,t=2,p=1$%'"
            ))
            .await;
        assert_eq!(upgraded, 1, "{email} still has its old hash");
        assert!(before <= 1);
        assert_eq!(app.login(email, PASSWORD).await.status(), StatusCode::OK);
    }
    assert_problem(
        app.login(&emails[0], "not the old password").await,
        401,
        "invalid_credentials",
    )
    .await;

    let bea: Value = app
        .me(&tokens(app.login(&emails[0], PASSWORD).await.json().await.unwrap()).access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bea["name"], "Bea Crypt");
    assert_eq!(bea["email_verified"], true);
    assert_eq!(bea["created_at"], "2019-05-04T03:02:01Z");
    let django = tokens(
        app.post(
            "/api/auth/login",
            &json!({"username": "DJANGO", "password": PASSWORD}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap(),
    );
    assert!(!django.access.is_empty());
    // No password: nothing signs in until one is set by a reset link.
    assert_problem(
        app.login(&emails[4], PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let imported_events = app
        .scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'user.registered' AND detail LIKE '%import%'")
        .await;
    assert_eq!(imported_events, 5);
}

#[tokio::test]
async fn a_second_run_changes_nothing() {
    let app = spawn_app().await;
    let existing = unique_email();
    let tokens = app.register(&existing).await;
    let file: Vec<Value> = (0..20)
        .map(|i| json!({"email": format!("again-{i}-{}", unique_email()), "password_hash": BCRYPT}))
        .chain([
            json!({"email": existing.to_uppercase(), "password_hash": BCRYPT, "name": "Not Applied"}),
        ])
        .collect();
    let first = import(&app, &file);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stdout(&first).contains("imported 20 users; skipped 1"),
        "{}",
        stdout(&first)
    );
    let second = import(&app, &file);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("imported 0 users; skipped 21"),
        "{}",
        stdout(&second)
    );
    assert_eq!(users(&app).await, 21);
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert!(me["name"].is_null(), "an existing account is not touched");
}

#[tokio::test]
async fn a_username_taken_by_an_existing_account_imports_nothing() {
    let app = spawn_app().await;
    let holder = app.register(&unique_email()).await;
    app.patch("/api/auth/me")
        .json(&json!({"username": "taken"}))
        .bearer_auth(&holder.access)
        .send()
        .await
        .unwrap();
    let file = [
        json!({"email": unique_email()}),
        json!({"email": unique_email(), "username": "Taken"}),
    ];
    let output = import(&app, &file);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("line 2: username: already taken"),
        "{}",
        stderr(&output)
    );
    assert_eq!(users(&app).await, 1, "the first line was rolled back too");
}

#[tokio::test]
async fn hashes_costlier_than_the_ceilings_are_refused_with_their_line() {
    let app = spawn_app().await;
    // Valid in form: a 1 GiB Argon2id with t=4, bcrypt 15 and 16; each would cost a sign-in
    // seconds of CPU (and the first a gigabyte of memory) per attempt.
    let bombs = [
        "$argon2id$v=19$m=1048576,t=4,p=1$gX38kbcsmg4zNZiA/0q9Eg$\
         DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU",
        "$2b$15$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS",
        "$2b$16$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS",
    ];
    for bomb in bombs {
        let output = import(
            &app,
            &[
                json!({"email": unique_email(), "password_hash": BCRYPT}),
                json!({"email": unique_email(), "password_hash": bomb}),
            ],
        );
        assert!(!output.status.success(), "{bomb}");
        assert!(
            stderr(&output).contains("line 2: password_hash:")
                && stderr(&output).contains("too costly"),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(users(&app).await, 0, "nothing was imported");
    // What real products export still goes in: bcrypt 14, argon2-cffi's 64 MiB with t=3.
    let output = import(
        &app,
        &[
            json!({"email": unique_email(), "password_hash":
                "$2b$14$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS"}),
            json!({"email": unique_email(), "password_hash":
                "$argon2id$v=19$m=65536,t=3,p=4$gX38kbcsmg4zNZiA/0q9Eg$\
                 DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU"}),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn bcrypt_never_accepts_a_password_past_72_bytes() {
    let app = spawn_app().await;
    // bcrypt (libxcrypt, cost 4) of an 80-byte password; bcrypt read only its first 72 bytes.
    let long = format!("{}12345678", "x".repeat(72));
    let same_first_72 = format!("{}87654321", "x".repeat(72));
    let mcf = "$2b$04$jwIRzybBMJ0VOvVFPrO7B.m3x9euezgK7wxz3nO/VbZBwuaXZz/pm";
    let email = unique_email();
    let output = import(&app, &[json!({"email": email, "password_hash": mcf})]);
    assert!(output.status.success(), "{}", stderr(&output));
    for attempt in [&long, &same_first_72] {
        assert_problem(app.login(&email, attempt).await, 401, "invalid_credentials").await;
    }
    let stored = app.dump("credentials").await;
    assert!(
        stored.contains(mcf),
        "no re-hash is made from a check that proves nothing past 72 bytes"
    );
}
