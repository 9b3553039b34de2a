//! The password policy and the cost and concurrency of hashing.

use portcullis_core::{HashParams, PasswordPolicy};
use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct PasswordConfig {
    pub password_min_length: usize,
    pub password_max_length: usize,
    pub hash_memory_kib: u32,
    pub hash_iterations: u32,
    pub hash_parallelism: u32,
    /// Concurrent hashes; the number of cores when unset.
    pub hash_workers: Option<usize>,
    /// Hash requests allowed to wait for a worker before 503; 8 per worker when unset.
    pub hash_queue: Option<usize>,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        let hash = HashParams::default();
        let policy = PasswordPolicy::default();
        Self {
            password_min_length: policy.min_length,
            password_max_length: policy.max_length,
            hash_memory_kib: hash.memory_kib,
            hash_iterations: hash.iterations,
            hash_parallelism: hash.parallelism,
            hash_workers: None,
            hash_queue: None,
        }
    }
}

impl PasswordConfig {
    pub fn policy(&self, product_name: &str) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.password_min_length,
            max_length: self.password_max_length,
            product_name: product_name.to_owned(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy("").validate().map_err(ConfigError)
    }

    pub fn hash_params(&self) -> HashParams {
        HashParams {
            memory_kib: self.hash_memory_kib,
            iterations: self.hash_iterations,
            parallelism: self.hash_parallelism,
        }
    }

    pub fn hash_workers(&self) -> usize {
        self.hash_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    pub fn hash_queue(&self) -> usize {
        self.hash_queue.unwrap_or(8 * self.hash_workers())
    }
}
