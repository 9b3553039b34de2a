//! A browser's part, driven over HTTP: a client that follows no redirect and keeps cookies in
//! a naive jar per host and port, posting forms as pages do.

use std::collections::HashMap;

use reqwest::{Client, Response, redirect};
use url::Url;

pub fn no_redirects() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser: one client that follows nothing, and a naive cookie jar per host and port.
pub struct Browser {
    pub http: Client,
    jars: HashMap<String, HashMap<String, String>>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: no_redirects(),
            jars: HashMap::new(),
        }
    }

    fn origin(url: &Url) -> String {
        format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or(0)
        )
    }

    /// GET `url` with this browser's cookies for it, keeping those it sets.
    pub async fn get(&mut self, url: &str) -> Response {
        let url = Url::parse(url).unwrap();
        let mut request = self.http.get(url.clone());
        if let Some(cookie) = self.cookie_header(&url) {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.keep(&url, &response);
        response
    }

    /// POST `form` to `url`, as a page's form does.
    pub async fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Response {
        let url = Url::parse(url).unwrap();
        let mut request = self.http.post(url.clone()).form(form);
        if let Some(cookie) = self.cookie_header(&url) {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.keep(&url, &response);
        response
    }

    pub fn cookie_header(&self, url: &Url) -> Option<String> {
        let jar = self.jars.get(&Self::origin(url))?;
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// Sets cookie `name` for the origin of `url`, as an earlier answer would have.
    pub fn set_cookie(&mut self, url: &str, name: &str, value: &str) {
        let url = Url::parse(url).unwrap();
        self.jars
            .entry(Self::origin(&url))
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let url = Url::parse(url).unwrap();
        self.jars.get(&Self::origin(&url))?.get(name).cloned()
    }

    fn keep(&mut self, url: &Url, response: &Response) {
        let jar = self.jars.entry(Self::origin(url)).or_default();
        for header in response.headers().get_all("set-cookie") {
            let Some((pair, attributes)) = header
                .to_str()
                .unwrap()
                .split_once(';')
                .or(Some((header.to_str().unwrap(), "")))
            else {
                continue;
            };
            let (name, value) = pair.split_once('=').unwrap();
            let expired = attributes.to_ascii_lowercase().contains("max-age=0");
            if expired || value.is_empty() {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
}

/// Where `response` redirects, resolved against `base`.
pub fn location(base: &str, response: &Response) -> String {
    assert!(
        response.status().is_redirection(),
        "expected a redirect, got {}",
        response.status()
    );
    let location = response.headers()["location"].to_str().unwrap();
    Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}
