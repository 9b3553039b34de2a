//! Signing a token's header and claims with the active key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

pub enum TokenSigner {
    /// Expanded once, when the key ring is built: jsonwebtoken derives the public key again
    /// for every token it signs, a base-point multiplication that costs as much as the
    /// signature itself.
    Ed25519(Box<ed25519_dalek::SigningKey>),
    /// Every other algorithm, through jsonwebtoken.
    Jose(EncodingKey),
}

impl TokenSigner {
    /// The compact JWS of `header` and `claims`: the same bytes jsonwebtoken would write.
    pub fn sign(
        &self,
        header: &Header,
        claims: &impl Serialize,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let key = match self {
            Self::Ed25519(key) => key,
            Self::Jose(key) => return jsonwebtoken::encode(header, claims, key),
        };
        let mut token = String::with_capacity(512);
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(header)?, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut token);
        let signature = key.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;
    use serde_json::json;

    use super::*;
    use crate::keys::{PrivateKey, SigningAlg};

    #[test]
    fn an_expanded_ed25519_key_writes_what_jsonwebtoken_writes() {
        let key = PrivateKey::generate(SigningAlg::EdDSA).unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        header.typ = Some("at+jwt".into());
        let claims = json!({"sub": "someone", "exp": 2_000_000_000, "email": "a@example.com"});
        let ours = key.token_signer().unwrap().sign(&header, &claims).unwrap();
        let theirs = jsonwebtoken::encode(&header, &claims, &key.encoding_key()).unwrap();
        assert_eq!(ours, theirs, "Ed25519 signatures are deterministic");
    }
}
