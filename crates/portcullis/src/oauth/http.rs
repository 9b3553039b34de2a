//! The HTTP client of social sign-in: reqwest with redirects off (a provider's endpoint
//! answers itself or not at all), tight timeouts and a bounded answer, adapted to what the
//! `oauth2` and `openidconnect` crates call.

use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The most a provider's answer may weigh: discovery documents, key sets and tokens are a few
/// KiB.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub struct Http(reqwest::Client);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the answer is malformed: {0}")]
    Malformed(#[from] oauth2::http::Error),
}

impl Http {
    pub fn new() -> anyhow::Result<Self> {
        // Provider endpoints are https: rustls with the process's provider (ring).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Self(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(10))
                .user_agent(concat!("Portcullis/", env!("CARGO_PKG_VERSION")))
                .build()?,
        ))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.0
    }

    /// Sends `request` and reads the answer, at most [`MAX_BODY`] of it.
    pub async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let mut response = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        let mut answer = oauth2::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        answer
            .body(read_bounded(&mut response).await?)
            .map_err(Into::into)
    }
}

/// The body of `response`, refused beyond [`MAX_BODY`] bytes.
pub async fn read_bounded(response: &mut reqwest::Response) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(HttpError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.execute(request))
    }
}
