//! The server secret and the keys derived from it (HKDF-SHA-256, one label per use).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use portcullis_core::TokenHasher;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

use crate::config::{Config, decode_secret};

/// Keys derived from the server secret.
#[derive(Clone)]
pub struct DerivedKeys {
    pub token_hasher: TokenHasher,
    pub key_encryption: [u8; 32],
    pub mail_encryption: [u8; 32],
    /// Seals the PKCE verifier and nonce of social sign-ins under way.
    pub state_encryption: [u8; 32],
}

impl DerivedKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            token_hasher: TokenHasher::new(derive(secret, b"portcullis/v1/token-hash")),
            key_encryption: derive(secret, b"portcullis/v1/signing-key-encryption"),
            mail_encryption: derive(secret, b"portcullis/v1/mail-encryption"),
            state_encryption: derive(secret, b"portcullis/v1/oauth-state-encryption"),
        }
    }
}

fn derive(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(None, secret)
        .expand(label, &mut out)
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    out
}

/// The configured secret, or in development the one kept in the data directory (made on
/// first start, readable only by its owner).
pub fn load_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &config.tokens.secret {
        return Ok(decode_secret(secret)?);
    }
    let path = config.server.data_dir.join("secret");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(decode_secret(&text.trim().into())?);
    }
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    write_private(&path, STANDARD.encode(bytes).as_bytes())?;
    tracing::info!(path = %path.display(), "generated a development server secret");
    Ok(bytes.to_vec())
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_give_independent_keys() {
        let keys = DerivedKeys::from_secret(&[9; 32]);
        assert_ne!(
            keys.key_encryption,
            derive(&[9; 32], b"portcullis/v1/token-hash")
        );
        assert_ne!(
            keys.key_encryption,
            DerivedKeys::from_secret(&[8; 32]).key_encryption
        );
    }

    #[test]
    fn development_secret_is_created_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("portcullis-secret-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::default();
        config.server.data_dir = dir.clone();
        let first = load_secret(&config).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(load_secret(&config).unwrap(), first);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
