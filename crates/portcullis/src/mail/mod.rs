//! Mail: letters rendered from templates and queued in the outbox in the transaction of the
//! change that sends them ([`crate::change::Change::send`]), sealed at rest, and delivered
//! by [`delivery`] with retries, over SMTP or (in development) to the log.

pub mod delivery;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use lettre::message::{Mailbox, MultiPart};
use portcullis_core::{PlainToken, UserId};
use portcullis_store::{ClaimedMail, NewMail};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::{Config, ConfigError};
use crate::sealed;

/// What a message says; each kind has its own text.
pub enum Letter<'a> {
    /// The link that verifies the account's address.
    VerifyEmail {
        token: &'a PlainToken,
    },
    ResetPassword {
        token: &'a PlainToken,
    },
    /// The link, sent to the new address, that completes an email change.
    ConfirmNewEmail {
        token: &'a PlainToken,
    },
    /// The notice to the old address that a change was asked for.
    EmailChangeRequested {
        new_email: &'a str,
    },
    PasswordChanged,
    PasswordReset,
    /// To the owner of an address someone tried to sign up with (quiet sign-up): sign in, or
    /// reset the password with the link.
    AccountExists {
        token: &'a PlainToken,
    },
}

impl Letter<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Self::VerifyEmail { .. } => "verify_email",
            Self::ResetPassword { .. } => "reset_password",
            Self::ConfirmNewEmail { .. } => "confirm_new_email",
            Self::EmailChangeRequested { .. } => "email_change_requested",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::AccountExists { .. } => "account_exists",
        }
    }
}

/// The words of one message, poured into the text and HTML templates.
struct Content {
    subject: String,
    intro: Vec<String>,
    action: Option<Action>,
    outro: Vec<String>,
}

struct Action {
    label: &'static str,
    url: String,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct TextBody<'a> {
    content: &'a Content,
    product: &'a str,
    public_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct HtmlBody<'a> {
    content: &'a Content,
    product: &'a str,
    public_url: &'a str,
}

/// A rendered message as the outbox keeps it (sealed).
#[derive(Debug, Serialize, Deserialize)]
struct Rendered {
    subject: String,
    text: String,
    html: String,
}

/// Renders, seals and opens messages; wakes this node's delivery worker.
pub struct Mailer {
    product: String,
    public_url: String,
    from: Mailbox,
    verify_url: String,
    reset_url: String,
    verify_ttl: Duration,
    reset_ttl: Duration,
    key: [u8; 32],
    wake: Arc<Notify>,
}

impl Mailer {
    pub fn new(config: &Config, key: [u8; 32]) -> Result<Self, ConfigError> {
        let issuer = config.issuer();
        Ok(Self {
            product: config.accounts.product_name.clone(),
            from: config.mail_from()?,
            verify_url: config.mail.verify_email_url(&issuer),
            reset_url: config.mail.reset_password_url(&issuer),
            verify_ttl: config.mail.verify_token_ttl,
            reset_ttl: config.mail.reset_token_ttl,
            public_url: issuer,
            key,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The outbox row for `letter` to `to`, its body sealed.
    pub fn compose(
        &self,
        letter: Letter<'_>,
        to: &str,
        user_id: Option<UserId>,
        now: i64,
    ) -> anyhow::Result<NewMail> {
        let content = self.content(&letter, to);
        let rendered = Rendered {
            text: TextBody {
                content: &content,
                product: &self.product,
                public_url: &self.public_url,
            }
            .render()?,
            html: HtmlBody {
                content: &content,
                product: &self.product,
                public_url: &self.public_url,
            }
            .render()?,
            subject: content.subject,
        };
        let id = uuid::Uuid::now_v7().to_string();
        let payload = sealed::seal(&self.key, &id, &serde_json::to_vec(&rendered)?)?;
        Ok(NewMail {
            id,
            kind: letter.kind(),
            user_id,
            recipient: to.to_owned(),
            payload,
            created_at: now,
        })
    }

    /// The message to hand to a transport, opened from its sealed form.
    pub fn open(&self, mail: &ClaimedMail) -> anyhow::Result<lettre::Message> {
        let payload = mail
            .payload
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("message {} has no body", mail.id))?;
        let rendered: Rendered =
            serde_json::from_slice(&sealed::open(&self.key, &mail.id, payload)?)?;
        // The Message-ID is the outbox row's, the same at every attempt: a message sent again
        // because a crash came between the SMTP server's acceptance and its recording is
        // recognisably the same message, which receivers may drop as a duplicate.
        Ok(lettre::Message::builder()
            .message_id(Some(format!("<{}@{}>", mail.id, self.from.email.domain())))
            .from(self.from.clone())
            .to(mail.recipient.parse()?)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))?)
    }

    /// Tells this node's worker that mail is waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    fn content(&self, letter: &Letter<'_>, to: &str) -> Content {
        let product = &self.product;
        let expires = |ttl: Duration| {
            format!(
                "The link works once and expires in {}.",
                humantime::format_duration(ttl)
            )
        };
        let not_you_reset = "If this was not you, reset your password now.".to_owned();
        match letter {
            Letter::VerifyEmail { token } => Content {
                subject: format!("Verify your email for {product}"),
                intro: vec![format!(
                    "Please confirm that {to} is the address of your {product} account."
                )],
                action: Some(Action {
                    label: "Verify email address",
                    url: link(&self.verify_url, token),
                }),
                outro: vec![
                    expires(self.verify_ttl),
                    "If you did not create an account, ignore this message.".into(),
                ],
            },
            Letter::ResetPassword { token } => Content {
                subject: format!("Reset your {product} password"),
                intro: vec![format!(
                    "Someone asked to reset the password of the {product} account of {to}."
                )],
                action: Some(Action {
                    label: "Choose a new password",
                    url: link(&self.reset_url, token),
                }),
                outro: vec![
                    expires(self.reset_ttl),
                    "If you did not ask for this, ignore this message: your password stays as it is.".into(),
                ],
            },
            Letter::ConfirmNewEmail { token } => Content {
                subject: format!("Confirm your new email for {product}"),
                intro: vec![format!(
                    "Confirm that {to} should become the address of your {product} account."
                )],
                action: Some(Action {
                    label: "Confirm new address",
                    url: link(&self.verify_url, token),
                }),
                outro: vec![
                    expires(self.verify_ttl),
                    "If you did not ask for this, ignore this message.".into(),
                ],
            },
            Letter::EmailChangeRequested { new_email } => Content {
                subject: format!("Your {product} email address is being changed"),
                intro: vec![format!(
                    "Someone asked to change the address of your {product} account from {to} to {new_email}. It changes only when the link sent to the new address is used."
                )],
                action: None,
                outro: vec![not_you_reset],
            },
            Letter::AccountExists { token } => Content {
                subject: format!("You already have a {product} account"),
                intro: vec![format!(
                    "Someone tried to create a {product} account with {to}, which already has one. If it was you, sign in with your password, or choose a new one."
                )],
                action: Some(Action {
                    label: "Choose a new password",
                    url: link(&self.reset_url, token),
                }),
                outro: vec![
                    expires(self.reset_ttl),
                    "If it was not you, ignore this message: nothing has changed.".into(),
                ],
            },
            Letter::PasswordChanged => Content {
                subject: format!("Your {product} password was changed"),
                intro: vec![format!(
                    "The password of your {product} account was changed, and your other sessions were signed out."
                )],
                action: None,
                outro: vec![not_you_reset],
            },
            Letter::PasswordReset => Content {
                subject: format!("Your {product} password was reset"),
                intro: vec![format!(
                    "The password of your {product} account was reset with an emailed link, and every session was signed out."
                )],
                action: None,
                outro: vec!["If this was not you, reset your password again now and check your email account's security.".into()],
            },
        }
    }
}

/// `base` with the token as its `token` query parameter.
fn link(base: &str, token: &PlainToken) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}token={}", token.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        Mailer::new(&Config::default(), [4; 32]).unwrap()
    }

    #[test]
    fn letters_render_text_and_escaped_html_and_seal_their_body() {
        let mailer = mailer();
        let token = PlainToken::generate();
        let mail = mailer
            .compose(
                Letter::VerifyEmail { token: &token },
                "ada+<b>@example.com",
                Some(UserId::new()),
                0,
            )
            .unwrap();
        assert!(!mail.payload.contains(token.expose()), "sealed at rest");
        let opened = sealed::open(&mailer.key, &mail.id, &mail.payload).unwrap();
        let rendered: Rendered = serde_json::from_slice(&opened).unwrap();
        let link = format!(
            "http://localhost:8080/verify-email?token={}",
            token.expose()
        );
        assert!(rendered.text.contains(&link), "{}", rendered.text);
        assert!(rendered.html.contains(&link));
        assert!(rendered.text.contains("ada+<b>@example.com"));
        assert!(
            rendered.html.contains("ada+&#60;b&#62;@example.com"),
            "{}",
            rendered.html
        );
        let claimed = ClaimedMail {
            id: mail.id,
            kind: mail.kind.into(),
            recipient: "ada@example.com".into(),
            payload: Some(mail.payload),
            attempts: 1,
        };
        let message = String::from_utf8(mailer.open(&claimed).unwrap().formatted()).unwrap();
        assert!(message.contains("multipart/alternative"));
        assert!(message.contains("Subject: Verify your email for Portcullis"));
    }

    #[test]
    fn links_keep_an_existing_query() {
        let token = PlainToken::generate();
        assert_eq!(
            link("https://app.example.com/auth?step=verify", &token),
            format!(
                "https://app.example.com/auth?step=verify&token={}",
                token.expose()
            )
        );
    }
}
