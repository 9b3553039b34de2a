//! Where a browser may be sent back to after a sign-in (`redirect_to`, the pages'
//! `return_to`): a path on the public URL, or an absolute URL whose scheme, host and port are
//! exactly those of an allowed origin. Compared as parsed URLs, never as strings: no userinfo,
//! no protocol-relative `//host`, no backslashes (which browsers read as slashes), no control
//! characters or spaces.

use url::Url;

use super::{Core, ServiceError, ServiceResult};

/// Where to send a browser on our own pages: a path on the allow-list as it was given (so that
/// the browser stays on the host it came by), an absolute URL as its allowed form.
pub fn allowed_target(core: &Core, raw: &str) -> ServiceResult<String> {
    let url = allowed(core, raw)?;
    Ok(if raw.starts_with('/') {
        raw.to_owned()
    } else {
        url.to_string()
    })
}

/// `raw` resolved to the URL to send the browser to, or 400 `redirect_not_allowed`.
pub fn allowed(core: &Core, raw: &str) -> ServiceResult<Url> {
    check(&core.policy.public_url, &core.policy.origins, raw)
        .ok_or(ServiceError::RedirectNotAllowed)
}

fn check(public_url: &str, origins: &[String], raw: &str) -> Option<Url> {
    if raw.is_empty()
        || raw.len() > 2048
        || raw.contains('\\')
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return None;
    }
    let url = if raw.starts_with('/') {
        if raw.starts_with("//") {
            return None;
        }
        Url::parse(&format!("{public_url}{raw}")).ok()?
    } else {
        Url::parse(raw).ok()?
    };
    let origin = url.origin().ascii_serialization();
    (matches!(url.scheme(), "http" | "https")
        && url.username().is_empty()
        && url.password().is_none()
        && origins.contains(&origin))
    .then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(raw: &str) -> Option<String> {
        let origins = [
            "http://127.0.0.1:8080".to_owned(),
            "https://app.example.com".to_owned(),
        ];
        check("http://127.0.0.1:8080", &origins, raw).map(|u| u.to_string())
    }

    #[test]
    fn paths_and_allowed_origins_pass() {
        assert_eq!(
            allowed("/account?tab=sessions").as_deref(),
            Some("http://127.0.0.1:8080/account?tab=sessions")
        );
        assert_eq!(
            allowed("https://app.example.com/after").as_deref(),
            Some("https://app.example.com/after")
        );
        assert!(allowed("https://APP.example.com:443/x").is_some());
    }

    #[test]
    fn tricky_forms_are_refused() {
        for raw in [
            "//evil.example",
            "///evil.example",
            "https://127.0.0.1.evil.example",
            "http://127.0.0.1:8080.evil.example/",
            "https://app.example.com@evil.example/",
            "https://user@app.example.com/",
            "https://user:pass@app.example.com/",
            "/\\evil.example",
            "https:\\\\evil.example",
            "http://127.0.0.1:8081/",
            "https://127.0.0.1:8080/",
            "http://app.example.com/",
            "javascript:alert(1)",
            "data:text/html,x",
            "/ok\nLocation: x",
            " /account",
            "",
            "evil.example",
        ] {
            assert_eq!(allowed(raw), None, "{raw:?}");
        }
    }
}
