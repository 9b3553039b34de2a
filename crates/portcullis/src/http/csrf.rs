//! Cross-site request checks: an Origin allow-list and Fetch Metadata for browser requests,
//! plus the double-submit CSRF token for cookie-authenticated state changes.

use axum::http::{HeaderMap, Method};
use portcullis_core::secrets_equal;

use super::ApiError;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// Refuses a request a browser sent from another site: a present `Origin` off the
/// allow-list (`null` included), or `Sec-Fetch-Site: cross-site`.
pub fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), ApiError> {
    if let Some(origin) = headers.get("origin") {
        let origin = origin.to_str().unwrap_or("null").to_ascii_lowercase();
        if !allowed.contains(&origin) {
            return Err(ApiError::Csrf);
        }
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v == "cross-site")
    {
        return Err(ApiError::Csrf);
    }
    Ok(())
}

pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// For cookie-authenticated state changes: the origin checks, then the `X-CSRF-Token`
/// header must equal both the CSRF cookie and the value bound to the session.
pub fn check_cookie_request(
    headers: &HeaderMap,
    allowed: &[String],
    csrf_cookie: Option<&str>,
    expected: &str,
) -> Result<(), ApiError> {
    check_origin(headers, allowed)?;
    let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    match (header, csrf_cookie) {
        (Some(header), Some(cookie))
            if secrets_equal(header, cookie) && secrets_equal(header, expected) =>
        {
            Ok(())
        }
        _ => Err(ApiError::Csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
            .collect()
    }

    #[test]
    fn origin_rules() {
        let allowed = vec!["https://app.example.com".to_owned()];
        assert!(check_origin(&headers(&[]), &allowed).is_ok());
        assert!(check_origin(&headers(&[("origin", "https://APP.example.com")]), &allowed).is_ok());
        assert!(check_origin(&headers(&[("origin", "https://evil.example")]), &allowed).is_err());
        assert!(check_origin(&headers(&[("origin", "null")]), &allowed).is_err());
        assert!(check_origin(&headers(&[("sec-fetch-site", "cross-site")]), &allowed).is_err());
        assert!(check_origin(&headers(&[("sec-fetch-site", "same-site")]), &allowed).is_ok());
    }

    #[test]
    fn csrf_token_must_match_cookie_and_session() {
        let ok = headers(&[("x-csrf-token", "tok")]);
        assert!(check_cookie_request(&ok, &[], Some("tok"), "tok").is_ok());
        assert!(check_cookie_request(&headers(&[]), &[], Some("tok"), "tok").is_err());
        assert!(check_cookie_request(&ok, &[], Some("other"), "tok").is_err());
        // A tossed cookie pair that matches itself but not the session is refused.
        assert!(check_cookie_request(&ok, &[], Some("tok"), "bound").is_err());
    }
}
