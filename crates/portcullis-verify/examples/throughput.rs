//! Verification throughput on one core: `throughput BASE_URL ISSUER ALG TOKEN [SECONDS]`.
//! The JWKS is fetched once; after that every verification is local.

use std::time::{Duration, Instant};

use portcullis_verify::{Algorithm, Verifier};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, issuer, alg, token, rest @ ..] = args.as_slice() else {
        return Err("usage: throughput BASE_URL ISSUER ALG TOKEN [SECONDS]".into());
    };
    let seconds: u64 = rest.first().map_or(Ok(3), |s| s.parse())?;
    let algorithm: Algorithm = alg.parse()?;
    let verifier = Verifier::builder(issuer)
        .base_url(base)
        .algorithms(&[algorithm])
        .build()?;
    verifier.verify(token).await?;
    let (start, budget) = (Instant::now(), Duration::from_secs(seconds));
    let mut count = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            verifier.verify(token).await?;
        }
        count += 100;
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    println!(
        "{alg:<6} {rate:>10.0} tokens/s on one core ({:.1} µs each)",
        1e6 / rate
    );
    Ok(())
}
