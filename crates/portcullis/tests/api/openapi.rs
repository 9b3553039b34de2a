//! The OpenAPI document is generated from the router: every contract path is in it, every
//! operation in it is served, and the whole document is pinned by a snapshot, so that any
//! change to the contract shows up in review (`cargo insta review` after a deliberate one).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// The paths API.md assigns to what this server implements.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("patch", "/api/auth/me"),
    ("post", "/api/auth/password/change"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{id}"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/auth/config"),
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/api/openapi.json"),
    ("get", "/api/docs"),
    ("get", "/.well-known/openid-configuration"),
    ("get", "/api/auth/token"),
    ("post", "/api/auth/introspect"),
    ("post", "/api/auth/email/verify"),
    ("post", "/api/auth/email/verify/resend"),
    ("post", "/api/auth/email/change"),
    ("post", "/api/auth/password/forgot"),
    ("post", "/api/auth/password/reset"),
    ("get", "/api/admin/users"),
    ("get", "/api/admin/users/{id}"),
    ("patch", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}"),
    ("put", "/api/admin/users/{id}/role"),
    ("post", "/api/admin/users/{id}/ban"),
    ("delete", "/api/admin/users/{id}/ban"),
    ("get", "/api/admin/users/{id}/sessions"),
    ("delete", "/api/admin/users/{id}/sessions"),
    ("delete", "/api/admin/users/{id}/sessions/{sid}"),
    ("get", "/api/admin/audit"),
    ("get", "/api/admin/audit/suspicious"),
    ("get", "/metrics"),
    ("delete", "/api/admin/users/{id}/lock"),
    ("get", "/api/admin/settings"),
    ("patch", "/api/admin/settings"),
    ("get", "/api/auth/oauth/{provider}/start"),
    ("get", "/api/auth/oauth/{provider}/callback"),
    ("post", "/api/auth/oauth/exchange"),
    ("post", "/api/auth/oauth/google/id-token"),
    ("get", "/api/auth/accounts"),
    ("delete", "/api/auth/accounts/{provider}"),
];

#[tokio::test]
async fn document_lists_every_contract_route() {
    let app = spawn_app().await;
    let doc = openapi_document(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (method, path) in CONTRACT {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from the document"
        );
    }
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    // Introspection is off (404) unless configured; switch it on so it is probed too.
    let app =
        spawn_app_with(|c| c.tokens.introspection_secret = Some(INTROSPECTION_SECRET.into())).await;
    let operations = documented_operations(&app).await;
    for op in &operations {
        let response = app
            .client
            .request(op.method.clone(), &op.url)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {}",
            op.method,
            op.path
        );
        if status == StatusCode::NOT_FOUND {
            // Only a missing resource may answer 404, never a missing route.
            let body: Value = response.json().await.unwrap();
            assert!(
                op.path.contains('{'),
                "{} {} is documented but not routed: {body}",
                op.method,
                op.path
            );
        }
    }
    let count = operations.len();
    assert!(count >= CONTRACT.len());
}

#[tokio::test]
async fn docs_page_loads_its_vendored_assets() {
    let app = spawn_app().await;
    let page = app
        .get("/api/docs")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for asset in [
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/swagger-ui.css",
        "/api/docs/init.js",
    ] {
        assert!(page.contains(asset));
        let response = app.get(asset).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
}

#[tokio::test]
async fn the_document_is_pinned() {
    let app = spawn_app().await;
    let document = openapi_document(&app).await;
    insta::assert_json_snapshot!("openapi", document);
}

/// Every operation of the document: method, path template, operation object.
fn operations_of(doc: &Value) -> Vec<(String, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    operations
}

/// Found by schemathesis: problem answers are `application/problem+json`, and were
/// documented as `application/json`.
#[tokio::test]
async fn problem_answers_are_documented_as_problem_json() {
    let app = spawn_app().await;
    let doc = openapi_document(&app).await;
    let mut problems = 0;
    for (method, path, operation) in operations_of(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let content = response["content"].as_object();
            for (media_type, body) in content.into_iter().flatten() {
                let is_problem = body["schema"]["$ref"] == "#/components/schemas/Problem";
                assert_eq!(
                    is_problem,
                    media_type == "application/problem+json",
                    "{method} {path} {status}: {media_type}"
                );
                problems += usize::from(is_problem);
            }
        }
    }
    assert!(problems > 50, "{problems}");
    // And the server does send that media type.
    let response = app.get("/api/auth/me").send().await.unwrap();
    assert_problem(response, 401, "unauthenticated").await;
}

/// Found preparing the schemathesis run: query parameters were documented as required path
/// parameters.
#[tokio::test]
async fn parameters_are_documented_where_they_are_read() {
    let app = spawn_app().await;
    let doc = openapi_document(&app).await;
    let mut queries = Vec::new();
    for (method, path, operation) in operations_of(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let name = parameter["name"].as_str().unwrap();
            match parameter["in"].as_str().unwrap() {
                "path" => assert!(
                    path.contains(&format!("{{{name}}}")),
                    "{method} {path}: path parameter {name} is not in the path"
                ),
                "query" => {
                    assert_ne!(parameter["required"], true, "{method} {path}: {name}");
                    queries.push(format!("{method} {path} {name}"));
                }
                other => panic!("{method} {path}: {name} in {other}"),
            }
        }
    }
    for expected in [
        "get /api/admin/users q",
        "get /api/admin/users per_page",
        "get /api/admin/audit action",
        "get /api/admin/audit/suspicious window",
        "delete /api/auth/sessions keep_current",
    ] {
        assert!(
            queries.iter().any(|q| q == expected),
            "{expected}: {queries:?}"
        );
    }
}

/// Found preparing the schemathesis run: the admin's session endpoints shared their operation
/// ids with the user's own, which OpenAPI forbids (and which made them impossible to select
/// apart by id).
#[tokio::test]
async fn operation_ids_are_unique() {
    let app = spawn_app().await;
    let doc = openapi_document(&app).await;
    let mut seen = std::collections::BTreeMap::new();
    for (method, path, operation) in operations_of(&doc) {
        let id = operation["operationId"].as_str().unwrap().to_owned();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("{id}: {other} and {method} {path}");
        }
    }
}

/// Found by schemathesis: the refusals that apply to every request (docs/api.md, "Rules for
/// every request") were undocumented status codes on most operations.
#[tokio::test]
async fn refusals_of_every_request_are_documented() {
    let app = spawn_app().await;
    let doc = openapi_document(&app).await;
    for (method, path, operation) in operations_of(&doc) {
        let responses = &operation["responses"];
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(
                    responses[status].is_object(),
                    "{method} {path}: {status} is not documented"
                );
            }
        }
        let has_query = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["in"] == "query");
        if has_query {
            assert!(responses["422"].is_object(), "{method} {path}: 422");
        }
    }
    // The server does answer them: a body that is not JSON, one of another media type, and a
    // query that does not parse.
    let tokens = app.register(&unique_email()).await;
    let response = app
        .post_empty("/api/auth/email/verify")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "malformed_json").await;
    let response = app
        .post_empty("/api/auth/refresh")
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(response, 415, "unsupported_media_type").await;
    let response = app
        .delete("/api/auth/sessions?keep_current=maybe")
        .bearer_auth(&tokens.access)
        .send()
        .await
        .unwrap();
    assert_problem(response, 422, "validation_failed").await;
    for (method, path) in [
        ("delete", "/api/auth/sessions"),
        ("delete", "/api/auth/sessions/{id}"),
        ("patch", "/api/auth/me"),
        ("post", "/api/auth/password/change"),
        ("post", "/api/auth/email/change"),
    ] {
        let documented = &doc["paths"][path][method]["responses"]["403"];
        assert!(documented.is_object(), "{method} {path}: csrf_failed");
    }
}

/// Found reviewing the schemas schemathesis checks answers against: a cookie sign-in's answer
/// (no tokens) did not match the documented schema, which said the token fields were either
/// all there or the body was `null`; and a sign-up that must verify its address first answers
/// `{user}`, documented as a signed-in answer.
#[tokio::test]
async fn sign_up_and_sign_in_answers_match_the_document() {
    for require_verification in [false, true] {
        let app = spawn_app_with(|c| {
            c.accounts.require_email_verification = Some(require_verification);
        })
        .await;
        let doc = openapi_document(&app).await;
        let register = &doc["paths"]["/api/auth/register"]["post"]["responses"]["201"];
        let login = &doc["paths"]["/api/auth/login"]["post"]["responses"]["200"];
        for transport in ["bearer", "cookie"] {
            let email = unique_email();
            let response = app
                .post(
                    "/api/auth/register",
                    &json!({"email": email, "password": PASSWORD, "transport": transport}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
            let body: Value = response.json().await.unwrap();
            conforms(&doc, register, &body)
                .unwrap_or_else(|e| panic!("register {transport}: {e}: {body}"));
            if require_verification {
                assert!(body.get("session").is_none(), "{body}");
                continue;
            }
            let response = app
                .post(
                    "/api/auth/login",
                    &json!({"email": email, "password": PASSWORD, "transport": transport}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body: Value = response.json().await.unwrap();
            conforms(&doc, login, &body)
                .unwrap_or_else(|e| panic!("login {transport}: {e}: {body}"));
        }
    }
}

/// Whether `body` matches the JSON schema of `response` (its `application/json` content).
fn conforms(doc: &Value, response: &Value, body: &Value) -> Result<(), String> {
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no JSON schema in {response}");
    check(doc, schema, body, "$")
}

/// A JSON Schema check for the keywords this document uses: `$ref`, `type` (one or a list),
/// `required`, `properties`, `additionalProperties: false`, `items`, `allOf`, `oneOf`.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return check(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(all) = schema["allOf"].as_array() {
        for part in all {
            check(doc, part, value, at)?;
        }
    }
    if let Some(one) = schema["oneOf"].as_array() {
        let matching = one
            .iter()
            .filter(|s| check(doc, s, value, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!("{at}: {matching} of the oneOf schemas match"));
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !fits {
            return Err(format!("{at}: {actual}, expected {types:?}"));
        }
    }
    if let Value::Object(object) = value {
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap();
            if !object.contains_key(name) {
                return Err(format!("{at}: missing {name}"));
            }
        }
        let properties = schema["properties"].as_object();
        for (name, field) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(property) => check(doc, property, field, &format!("{at}.{name}"))?,
                None if schema["additionalProperties"] == false => {
                    return Err(format!("{at}: {name} is not allowed"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for (i, element) in items.iter().enumerate() {
            check(doc, item, element, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}
