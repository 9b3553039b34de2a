//! Administration: the first admin comes from the CLI; admin paths refuse anonymous (401)
//! and non-admin (403) callers, driven from the live OpenAPI document; demotion is
//! effective on the next request; the user list searches, filters and paginates.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn admin_create_makes_an_admin_and_refuses_weak_or_taken() {
    let app = spawn_app().await;
    let email = unique_email();
    assert!(app.create_admin(&email, PASSWORD).await.status.success());
    let me: Value = app
        .me(&app.login_bearer(&email).await.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["email_verified"], true);
    let again = app.create_admin(&email, PASSWORD).await;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already registered"));
    let weak = app.create_admin(&unique_email(), "short").await;
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("too_short"));
}

#[tokio::test]
async fn new_users_get_the_default_role_and_nobody_is_admin_by_default() {
    let app = spawn_app().await;
    let tokens = app.register(&unique_email()).await;
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    assert_eq!(me["role"], "user");
    let admins = app
        .store
        .list_users(
            &portcullis_store::UserFilter {
                role: Some("admin".into()),
                ..Default::default()
            },
            portcullis_store::Page {
                limit: 10,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(admins.1, 0, "there is no default admin account");
}

#[tokio::test]
async fn every_admin_path_refuses_anonymous_and_non_admin_callers() {
    let app = spawn_app().await;
    let email = unique_email();
    let bearer = app.register(&email).await.access;
    let cookie = app.login_cookie(&email).await;
    let mut checked = 0;
    for op in documented_operations(&app)
        .await
        .iter()
        .filter(|op| op.path.starts_with("/api/admin"))
    {
        let request = || app.client.request(op.method.clone(), &op.url);
        assert_problem(request().send().await.unwrap(), 401, "unauthenticated").await;
        let as_user = request().bearer_auth(&bearer).send().await.unwrap();
        assert_problem(as_user, 403, "forbidden").await;
        let with_cookies = request()
            .header("cookie", cookie.header())
            .header("x-csrf-token", &cookie.csrf)
            .send()
            .await
            .unwrap();
        assert_problem(with_cookies, 403, "forbidden").await;
        checked += 1;
    }
    assert_eq!(checked, 15, "admin operations in the document");
}

#[tokio::test]
async fn demotion_takes_effect_on_the_next_request_with_the_old_token() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let other = app.admin().await.access;
    let admin_id = app.user_id(&admin).await;
    let users = |token: &str| app.get("/api/admin/users").bearer_auth(token).send();
    assert_eq!(users(&admin).await.unwrap().status(), StatusCode::OK);
    let demoted = app
        .client
        .put(app.url(&format!("/api/admin/users/{admin_id}/role")))
        .bearer_auth(&other)
        .json(&serde_json::json!({ "role": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_problem(users(&admin).await.unwrap(), 403, "forbidden").await;
}

#[tokio::test]
async fn users_are_searched_filtered_and_paginated() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    for i in 0..5 {
        app.register(&format!(
            "pager-{i}-{}@example.org",
            uuid::Uuid::now_v7().simple()
        ))
        .await;
    }
    let page = |query: &str| {
        app.get(&format!("/api/admin/users{query}"))
            .bearer_auth(&admin)
            .send()
    };
    let all: Value = page("").await.unwrap().json().await.unwrap();
    assert_eq!(all["total"], 6);
    assert_eq!(all["page"], 1);
    assert_eq!(all["per_page"], 50);

    let found: Value = page("?q=PAGER-3").await.unwrap().json().await.unwrap();
    assert_eq!(found["total"], 1);
    assert!(
        found["users"][0]["email"]
            .as_str()
            .unwrap()
            .starts_with("pager-3-")
    );
    let wildcard: Value = page("?q=%25").await.unwrap().json().await.unwrap();
    assert_eq!(wildcard["total"], 0, "LIKE wildcards in q are literal");

    let admins: Value = page("?role=admin").await.unwrap().json().await.unwrap();
    assert_eq!(admins["total"], 1);
    let banned: Value = page("?banned=true").await.unwrap().json().await.unwrap();
    assert_eq!(banned["total"], 0);

    let mut seen = Vec::new();
    for number in 1..=3 {
        let body: Value = page(&format!("?per_page=2&page={number}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["total"], 6);
        seen.extend(
            body["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].clone()),
        );
    }
    let mut unique = seen.clone();
    unique.sort_by_key(|v| v.to_string());
    unique.dedup();
    assert_eq!(
        (seen.len(), unique.len()),
        (6, 6),
        "pages are disjoint and cover everyone"
    );

    for bad in [
        "?per_page=201",
        "?per_page=0",
        "?page=0",
        "?banned=maybe",
        "?sort=email",
    ] {
        assert_problem(page(bad).await.unwrap(), 422, "validation_failed").await;
    }
}

#[tokio::test]
async fn one_user_by_id_or_404() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let tokens = app.register(&unique_email()).await;
    let me: Value = app.me(&tokens.access).await.json().await.unwrap();
    let id = me["id"].as_str().unwrap();
    let user: Value = app
        .get(&format!("/api/admin/users/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["email"], me["email"]);
    let missing = app
        .get("/api/admin/users/01900000-0000-7000-8000-000000000000")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404, "not_found").await;
}

#[tokio::test]
async fn search_finds_substrings_of_every_field_and_follows_changes() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let user = app.register("ada.lovelace@analytical.example").await;
    let id = app.user_id(&user.access).await;
    app.patch("/api/auth/me")
        .json(&json!({"name": "Augusta Ada King", "username": "countess"}))
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    let ids = |query: &'static str| {
        let request = app
            .get(&format!("/api/admin/users?q={query}"))
            .bearer_auth(&admin);
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            let users: Vec<String> = body["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(body["total"], users.len(), "{query}");
            users
        }
    };
    // Needles the hex of other test addresses cannot hold; "nt" is too short for trigrams.
    for found in [
        "LOVELACE",
        "lytical.ex",
        "a%20King",
        "Countess",
        "lov",
        "nt",
    ] {
        assert_eq!(ids(found).await, std::slice::from_ref(&id), "{found}");
    }
    for missing in ["lovelacex", "Ada%20Lovelace", "%22", "%25", "_"] {
        assert!(ids(missing).await.is_empty(), "{missing}");
    }

    app.patch("/api/auth/me")
        .json(&json!({"name": "Ada Byron", "username": null}))
        .bearer_auth(&user.access)
        .send()
        .await
        .unwrap();
    assert!(ids("Augusta").await.is_empty(), "the old name is forgotten");
    assert!(ids("countess").await.is_empty());
    assert_eq!(ids("byron").await, std::slice::from_ref(&id));

    let deleted = app
        .delete(&format!("/api/admin/users/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(ids("lovelace").await.is_empty());
}

#[tokio::test]
async fn every_admin_path_with_an_unknown_id_is_not_found() {
    let app = spawn_app().await;
    let admin = app.admin().await.access;
    let mut checked = 0;
    for op in documented_operations(&app)
        .await
        .iter()
        .filter(|op| op.path.starts_with("/api/admin/users/{id}"))
    {
        // A body each operation would accept for a user that existed.
        let body = match (op.method.as_str(), op.path.as_str()) {
            ("PATCH", _) => Some(json!({"name": "Nobody"})),
            ("PUT", _) => Some(json!({"role": "user"})),
            ("POST", _) => Some(json!({"reason": "testing"})),
            _ => None,
        };
        let mut request = app
            .client
            .request(op.method.clone(), &op.url)
            .bearer_auth(&admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "{} {}",
            op.method,
            op.path
        );
        assert_problem(response, 404, "not_found").await;
        checked += 1;
    }
    assert_eq!(checked, 10, "admin operations on one user");
}
