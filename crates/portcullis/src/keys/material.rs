//! Private key material for each supported algorithm, in the DER form jsonwebtoken's
//! RustCrypto backend reads (PKCS#8 for Ed25519 and P-256, PKCS#1 for RSA), and the public
//! JWK derived from it. Key ids are RFC 7638 thumbprints, so a key has the same `kid` on
//! every node and in every process that loads it.

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand::rngs::OsRng;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};

use super::TokenSigner;
use serde_json::{Value, json};

/// The signing algorithms Portcullis issues tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
pub enum SigningAlg {
    #[default]
    EdDSA,
    ES256,
    RS256,
    /// Shared-secret signing, only with an explicit `PORTCULLIS_JWT_SECRET`; never published.
    HS256,
}

impl SigningAlg {
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES256 => Algorithm::ES256,
            Self::RS256 => Algorithm::RS256,
            Self::HS256 => Algorithm::HS256,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::EdDSA, Self::ES256, Self::RS256, Self::HS256]
            .into_iter()
            .find(|alg| alg.as_str() == name)
    }
}

/// An asymmetric private key and its algorithm.
pub struct PrivateKey {
    pub alg: SigningAlg,
    der: Vec<u8>,
}

impl PrivateKey {
    pub fn generate(alg: SigningAlg) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let der = match alg {
            SigningAlg::EdDSA => ed25519_dalek::SigningKey::generate(&mut OsRng)
                .to_pkcs8_der()?
                .as_bytes()
                .to_vec(),
            SigningAlg::ES256 => p256::SecretKey::random(&mut OsRng)
                .to_pkcs8_der()?
                .as_bytes()
                .to_vec(),
            SigningAlg::RS256 => rsa::RsaPrivateKey::new(&mut OsRng, 2048)?
                .to_pkcs1_der()?
                .as_bytes()
                .to_vec(),
            SigningAlg::HS256 => bail!("HS256 keys are not generated: set PORTCULLIS_JWT_SECRET"),
        };
        Ok(Self { alg, der })
    }

    /// Reads a PEM private key (PKCS#8; SEC1 for P-256 and PKCS#1 for RSA also accepted).
    pub fn from_pem(alg: SigningAlg, pem: &str) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
        let der = match alg {
            SigningAlg::EdDSA => ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
                .map_err(|e| anyhow!("not an Ed25519 PKCS#8 key: {e}"))?
                .to_pkcs8_der()?
                .as_bytes()
                .to_vec(),
            SigningAlg::ES256 => p256::SecretKey::from_pkcs8_pem(pem)
                .or_else(|_| p256::SecretKey::from_sec1_pem(pem))
                .map_err(|e| anyhow!("not a P-256 key: {e}"))?
                .to_pkcs8_der()?
                .as_bytes()
                .to_vec(),
            SigningAlg::RS256 => {
                use rsa::pkcs8::DecodePrivateKey as _;
                let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
                    .map_err(|e| anyhow!("not an RSA key: {e}"))?;
                if key.size() < 256 {
                    bail!("RSA keys must have at least 2048 bits");
                }
                key.to_pkcs1_der()?.as_bytes().to_vec()
            }
            SigningAlg::HS256 => bail!("HS256 uses PORTCULLIS_JWT_SECRET, not a key file"),
        };
        Ok(Self { alg, der })
    }

    pub fn from_der(alg: SigningAlg, der: Vec<u8>) -> Self {
        Self { alg, der }
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn encoding_key(&self) -> EncodingKey {
        match self.alg {
            SigningAlg::ES256 => EncodingKey::from_ec_der(&self.der),
            SigningAlg::RS256 => EncodingKey::from_rsa_der(&self.der),
            SigningAlg::EdDSA | SigningAlg::HS256 => EncodingKey::from_ed_der(&self.der),
        }
    }

    /// What signs tokens with this key.
    pub fn token_signer(&self) -> anyhow::Result<TokenSigner> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        Ok(match self.alg {
            SigningAlg::EdDSA => TokenSigner::Ed25519(Box::new(
                ed25519_dalek::SigningKey::from_pkcs8_der(&self.der).map_err(|e| anyhow!("{e}"))?,
            )),
            _ => TokenSigner::Jose(self.encoding_key()),
        })
    }

    /// The public JWK with `kid` (its thumbprint), `alg` and `use`.
    pub fn public_jwk(&self) -> anyhow::Result<Value> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let jwk = match self.alg {
            SigningAlg::EdDSA => {
                let key = ed25519_dalek::SigningKey::from_pkcs8_der(&self.der)
                    .map_err(|e| anyhow!("{e}"))?;
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())})
            }
            SigningAlg::ES256 => {
                let key = p256::SecretKey::from_pkcs8_der(&self.der).map_err(|e| anyhow!("{e}"))?;
                let point = key.public_key().to_encoded_point(false);
                let (x, y) = (point.x().context("P-256 x")?, point.y().context("P-256 y")?);
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
            }
            SigningAlg::RS256 => {
                let key = rsa::RsaPrivateKey::from_pkcs1_der(&self.der)?;
                json!({"kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())})
            }
            SigningAlg::HS256 => bail!("HS256 keys have no public half"),
        };
        with_metadata(jwk, self.alg)
    }
}

/// Adds `kid` (the RFC 7638 SHA-256 thumbprint), `alg` and `use` to a bare public JWK.
fn with_metadata(mut jwk: Value, alg: SigningAlg) -> anyhow::Result<Value> {
    let parsed: Jwk = serde_json::from_value(jwk.clone()).context("public JWK")?;
    let kid = parsed.thumbprint(ThumbprintHash::SHA256)?;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    Ok(jwk)
}

/// The verification key for a published JWK.
pub fn decoding_key(jwk: &Value) -> anyhow::Result<DecodingKey> {
    let parsed: Jwk = serde_json::from_value(jwk.clone()).context("stored JWK")?;
    Ok(DecodingKey::from_jwk(&parsed)?)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Header, Validation};

    use super::*;

    #[test]
    fn every_asymmetric_algorithm_signs_and_verifies_through_its_jwk() {
        for alg in [SigningAlg::EdDSA, SigningAlg::ES256, SigningAlg::RS256] {
            let key = PrivateKey::generate(alg).unwrap();
            let jwk = key.public_jwk().unwrap();
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["kid"].as_str().unwrap().len(), 43, "SHA-256 thumbprint");
            assert!(jwk.get("d").is_none(), "no private parts");
            let token = jsonwebtoken::encode(
                &Header::new(alg.algorithm()),
                &json!({"sub": "x"}),
                &key.encoding_key(),
            )
            .unwrap();
            let mut validation = Validation::new(alg.algorithm());
            validation.required_spec_claims.clear();
            validation.validate_exp = false;
            jsonwebtoken::decode::<Value>(&token, &decoding_key(&jwk).unwrap(), &validation)
                .unwrap();
        }
    }

    #[test]
    fn pem_keys_load_with_a_stable_kid() {
        use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
        let secret = p256::SecretKey::random(&mut OsRng);
        let pem = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        let a = PrivateKey::from_pem(SigningAlg::ES256, &pem)
            .unwrap()
            .public_jwk()
            .unwrap();
        let b = PrivateKey::from_pem(SigningAlg::ES256, &pem)
            .unwrap()
            .public_jwk()
            .unwrap();
        assert_eq!(a["kid"], b["kid"]);
        assert!(
            PrivateKey::from_pem(SigningAlg::EdDSA, &pem).is_err(),
            "a P-256 key is not an Ed25519 key"
        );
    }
}
