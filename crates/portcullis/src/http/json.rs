//! The JSON body extractor: 415 for other media types, 413 over the limit, 400 for bodies
//! that are not JSON (or nest deeper than 32), 422 with `fields` for JSON of the wrong
//! shape, including unknown and duplicate fields and NUL characters.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

pub const MAX_DEPTH: usize = 32;

pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        ApiError::PayloadTooLarge
                    } else {
                        ApiError::MalformedJson
                    }
                })?;
        parse(&bytes).map(Json)
    }
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    essence(content_type).as_deref() == Some("application/json")
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
pub fn essence(content_type: Option<&header::HeaderValue>) -> Option<String> {
    let value = content_type?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Parses `bytes` into `T` with the error mapping described above. Request bodies are
/// objects: serde would otherwise read a struct from an array of its fields in order.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // A generic parse first: syntax, depth and NUL checks see the document as written.
    let value: Value = serde_json::from_slice(bytes).map_err(|_| ApiError::MalformedJson)?;
    if depth(&value) > MAX_DEPTH {
        return Err(ApiError::MalformedJson);
    }
    if !value.is_object() {
        return Err(ApiError::field("body", "invalid_type"));
    }
    if let Some(path) = nul_path(&value, String::new()) {
        return Err(ApiError::field(&path, "nul_character"));
    }
    // Then the typed parse from the bytes, which also sees duplicate keys.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let (field, rule) = shape_error(&path, &message);
        ApiError::field(&field, rule)
    })
}

fn shape_error(path: &str, message: &str) -> (String, &'static str) {
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(|name| join(path, name))
    };
    // The path of an unknown field already ends at the field itself.
    let (field, rule) = if message.starts_with("unknown field `") {
        (join(path, ""), "unknown_field")
    } else if let Some(field) = named("missing field `") {
        (field, "required")
    } else if let Some(field) = named("duplicate field `") {
        (field, "duplicate_field")
    } else {
        (join(path, ""), "invalid_type")
    };
    (field, rule)
}

/// `parent.child`, with the root written as `body`.
fn join(parent: &str, child: &str) -> String {
    let parent = if parent == "." { "" } else { parent };
    match (parent.is_empty(), child.is_empty()) {
        (true, true) => "body".to_owned(),
        (true, false) => child.to_owned(),
        (false, true) => parent.to_owned(),
        (false, false) => format!("{parent}.{child}"),
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn nul_path(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(join(&path, "")),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item, join(&path, &i.to_string()))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(join(&path, ""))
            } else {
                nul_path(item, join(&path, key))
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;
    use crate::service::ServiceError;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
    }

    fn fields(result: Result<Login, ApiError>) -> BTreeMap<String, String> {
        match result {
            Err(ApiError::Service(ServiceError::Invalid(violations))) => violations.into_fields(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_malformed() {
        for body in [&b"{"[..], b"", b"{\"email\": }", b"\xff\xfe", b"nul"] {
            assert!(matches!(parse::<Login>(body), Err(ApiError::MalformedJson)));
        }
        let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert!(matches!(
            parse::<Value>(deep.as_bytes()),
            Err(ApiError::MalformedJson)
        ));
        let deep = format!("{}1{}", r#"{"a":"#.repeat(33), "}".repeat(33));
        assert!(matches!(
            parse::<Value>(deep.as_bytes()),
            Err(ApiError::MalformedJson)
        ));
        let ok = format!("{}1{}", r#"{"a":"#.repeat(32), "}".repeat(32));
        assert!(parse::<Value>(ok.as_bytes()).is_ok());
    }

    #[test]
    fn shape_errors_name_the_field() {
        let f = fields(parse(
            br#"{"email":"a@b.co","password":"x","role":"admin"}"#,
        ));
        assert_eq!(f["role"], "unknown_field");
        let f = fields(parse(br#"{"email":"a@b.co"}"#));
        assert_eq!(f["password"], "required");
        let f = fields(parse(
            br#"{"email":"a@b.co","email":"c@d.co","password":"x"}"#,
        ));
        assert_eq!(f["email"], "duplicate_field");
        let f = fields(parse(br#"{"email":5,"password":"x"}"#));
        assert_eq!(f["email"], "invalid_type");
        let f = fields(parse(br#"["a@b.co","x"]"#));
        assert_eq!(f["body"], "invalid_type");
        let f = fields(parse(br#"{"email":"a\u0000@b.co","password":"x"}"#));
        assert_eq!(f["email"], "nul_character");
    }
}
