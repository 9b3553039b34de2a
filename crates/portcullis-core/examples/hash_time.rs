//! Prints the time of one Argon2id hash and one verification with the default (OWASP)
//! parameters on this machine, on one thread and on every core at once, and the sign-in
//! ceiling it implies: cores ÷ verification time under full load.

use std::time::Instant;

use portcullis_core::password_hash::Origin;
use portcullis_core::{HashParams, Password, PasswordHasher};

const ROUNDS: u32 = 40;

fn main() {
    let hasher = PasswordHasher::new(HashParams::default()).expect("default parameters are valid");
    let password =
        Password::for_verification("correct horse battery staple").expect("short enough");
    let stored = hasher.hash(&password).expect("hashing works");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hash = || drop(hasher.hash(&password).expect("hashing works"));
    let verify = || {
        assert!(
            hasher
                .verify(&password, &stored, Origin::Ours)
                .expect("verification works")
        )
    };
    println!("argon2id m=19456 t=2 p=1, ms per operation and thread:");
    println!("  hash,   1 thread:  {:.1}", millis_each(1, hash));
    println!("  verify, 1 thread:  {:.1}", millis_each(1, verify));
    println!("  hash,   {cores} threads: {:.1}", millis_each(cores, hash));
    let loaded = millis_each(cores, verify);
    println!("  verify, {cores} threads: {loaded:.1}");
    println!(
        "hashing ceiling: {cores} cores / {loaded:.1} ms = {:.0} sign-ins/s",
        cores as f64 * 1000.0 / loaded
    );
}

/// The mean time of one `job`, in milliseconds, while `threads` threads run `ROUNDS` each.
fn millis_each(threads: usize, job: impl Fn() + Sync) -> f64 {
    job();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| (0..ROUNDS).for_each(|_| job()));
        }
    });
    start.elapsed().as_secs_f64() * 1000.0 / f64::from(ROUNDS)
}
