//! `portcullis keys list|rotate`.

use anyhow::bail;
use portcullis_core::{Clock, SystemClock};

use super::KeysAction;
use crate::config::Config;
use crate::keys::{Signer, key_state};
use crate::secret::{DerivedKeys, load_secret};
use crate::startup;
use crate::time::rfc3339;

pub async fn run(config: &Config, action: KeysAction) -> anyhow::Result<()> {
    let store = super::open_store(config, false).await?;
    let derived = DerivedKeys::from_secret(&load_secret(config)?);
    let settings = startup::key_settings(config, derived.key_encryption)?;
    let now = SystemClock.now_ms();
    match action {
        KeysAction::List => {
            match &settings.signer {
                Signer::File(key) => println!(
                    "signing with {} from PORTCULLIS_JWT_KEY_FILE",
                    key.alg.as_str()
                ),
                Signer::Shared(_) => {
                    println!("signing with HS256 and PORTCULLIS_JWT_SECRET (never published)")
                }
                Signer::Stored(_) => {}
            }
            println!(
                "{:<44} {:<6} {:<8} {:<26} retired",
                "kid", "alg", "state", "created"
            );
            for row in store.signing_keys().await? {
                let retired = row.retired_at.map_or_else(|| "-".to_owned(), rfc3339);
                let state = key_state(&row, settings.publish_ms, now);
                println!(
                    "{:<44} {:<6} {:<8} {:<26} {retired}",
                    row.kid,
                    row.alg,
                    state,
                    rfc3339(row.created_at)
                );
            }
        }
        KeysAction::Rotate => {
            let Signer::Stored(alg) = settings.signer else {
                bail!(
                    "keys come from PORTCULLIS_JWT_KEY_FILE or PORTCULLIS_JWT_SECRET; rotate by changing that setting"
                );
            };
            let key = crate::keys::new_stored_key(alg, &derived.key_encryption, now)?;
            store.rotate_signing_key(Some(&key), now).await?;
            println!(
                "new {} signing key {}; the previous key stays published until its tokens expire",
                alg.as_str(),
                key.kid
            );
        }
    }
    Ok(())
}
