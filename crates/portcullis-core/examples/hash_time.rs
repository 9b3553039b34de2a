//! Prints the time of one Argon2id hash with the default (OWASP) parameters on this machine,
//! and the sign-in ceiling it implies: cores ÷ hash time.

use std::time::Instant;

use portcullis_core::{HashParams, Password, PasswordHasher};

fn main() {
    let hasher = PasswordHasher::new(HashParams::default()).expect("default parameters are valid");
    let password =
        Password::for_verification("correct horse battery staple").expect("short enough");
    let stored = hasher.hash(&password).expect("hashing works");
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(
            hasher
                .verify(&password, &stored)
                .expect("verification works")
        );
    }
    let per_hash = start.elapsed().as_secs_f64() / f64::from(rounds);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "argon2id m=19456 t=2 p=1: {:.1} ms per hash",
        per_hash * 1000.0
    );
    println!(
        "hashing ceiling: {cores} cores / {:.1} ms = {:.0} sign-ins/s",
        per_hash * 1000.0,
        cores as f64 / per_hash
    );
}
