//! Where messages go: an SMTP server (lettre), or in development the log.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one SMTP read or write may wait (the whole delivery is bounded by the worker).
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development without `PORTCULLIS_SMTP_URL`: each message, links included, is printed.
    Log,
}

/// Why a delivery failed; a permanent failure is not retried.
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub message: String,
}

impl Transport {
    /// The transport the configuration names; an unusable SMTP URL is refused here, with
    /// one line naming the setting.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(match &config.mail.smtp_url {
            Some(url) => Self::Smtp(
                smtp_builder(url.expose(), config.mail.smtp_ca()?.as_deref())
                    .map_err(|e| anyhow::anyhow!("PORTCULLIS_SMTP_URL: {e}"))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => Self::Log,
        })
    }

    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            }),
            Self::Log => {
                let formatted = String::from_utf8_lossy(&message.formatted()).into_owned();
                tracing::info!(
                    to = ?message.envelope().to(),
                    "mail (log transport, development only):\n{formatted}"
                );
                Ok(())
            }
        }
    }
}

/// The transport described by a `smtp://` or `smtps://` URL, in lettre's syntax; `ca` adds
/// PEM certificates to trust beside the public roots.
pub fn smtp_builder(raw: &str, ca: Option<&[u8]>) -> Result<AsyncSmtpTransportBuilder, String> {
    let url = connection_url(raw)?;
    let builder =
        AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map_err(|e| e.to_string())?;
    let Some(ca) = ca else {
        return Ok(builder);
    };
    // lettre reads a file without any certificate as an empty set, silently.
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    if !ca.windows(BEGIN.len()).any(|w| w == BEGIN) {
        return Err("the CA file holds no PEM certificate".into());
    }
    // The same TLS mode as the URL asks for, with the extra roots.
    let url = url::Url::parse(&url).map_err(|e| e.to_string())?;
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let params = TlsParameters::builder(host.to_owned())
        .add_root_certificate(Certificate::from_pem(ca).map_err(|e| e.to_string())?)
        .build_rustls()
        .map_err(|e| e.to_string())?;
    let tls_param = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v);
    let tls = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", _) => Tls::Wrapper(params),
        (_, Some("required")) => Tls::Required(params),
        (_, Some("opportunistic")) => Tls::Opportunistic(params),
        _ => Tls::None,
    };
    Ok(builder.tls(tls))
}

/// `raw` made safe by default: plain `smtp://` to a host that is not loopback requires
/// STARTTLS, unless the URL says `?tls=opportunistic` or, explicitly, `?tls=none`.
fn connection_url(raw: &str) -> Result<String, String> {
    let mut url = url::Url::parse(raw).map_err(|_| "not a URL".to_owned())?;
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    if url.scheme() == "smtp" {
        // `smtp` is not a scheme the URL standard knows, so its host is opaque text.
        let host = url.host_str().unwrap_or_default();
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match tls.as_deref() {
            None if !loopback => {
                url.query_pairs_mut().append_pair("tls", "required");
            }
            Some("none") => {
                url.set_query(None);
            }
            _ => {}
        }
    }
    Ok(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_beyond_loopback_requires_starttls() {
        let url = |raw| connection_url(raw).unwrap();
        assert_eq!(
            url("smtp://mail.example.com:587"),
            "smtp://mail.example.com:587?tls=required"
        );
        assert_eq!(url("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
        assert_eq!(url("smtp://localhost:25"), "smtp://localhost:25");
        assert_eq!(url("smtp://[::1]:25"), "smtp://[::1]:25");
        assert_eq!(
            url("smtp://mail.example.com?tls=none"),
            "smtp://mail.example.com"
        );
        assert_eq!(
            url("smtp://mail.example.com?tls=opportunistic"),
            "smtp://mail.example.com?tls=opportunistic"
        );
        assert_eq!(url("smtps://mail.example.com"), "smtps://mail.example.com");
    }

    #[test]
    fn extra_roots_must_be_certificates() {
        assert!(smtp_builder("smtp://mail.example.com", Some(b"not a certificate")).is_err());
    }

    #[test]
    fn urls_parse_and_unknown_schemes_are_refused() {
        for ok in [
            "smtp://127.0.0.1:2525",
            "smtp://user:p%40ss@mail.example.com:587",
            "smtp://mail.example.com?tls=none",
            "smtps://user:pass@mail.example.com",
        ] {
            assert!(smtp_builder(ok, None).is_ok(), "{ok}");
        }
        for bad in [
            "http://mail.example.com",
            "mail.example.com",
            "smtp://x?tls=maybe",
        ] {
            assert!(smtp_builder(bad, None).is_err(), "{bad}");
        }
    }
}
