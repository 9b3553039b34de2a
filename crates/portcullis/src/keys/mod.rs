//! Signing keys: generated and stored encrypted, loaded from a PEM file, or (HS256) derived
//! from a configured shared secret; published as a JWKS until every token they signed has
//! expired; reloaded from the store so a rotation on one node reaches every node.

mod material;
mod ring;
mod signer;

pub use material::{PrivateKey, SigningAlg};
pub use ring::{KeyRing, KeySettings, Keys, Signer, VerifyingKey, key_state, new_stored_key};
pub use signer::TokenSigner;
