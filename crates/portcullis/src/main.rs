use clap::Parser;
use portcullis::cli::Cli;
use portcullis::config::Config;

/// mimalloc rather than glibc's malloc: the request path allocates a great deal (headers,
/// JSON, futures), and glibc's allocator was half of a simple request's instructions.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Errors end the process with one clear line, never a backtrace.
    let config = match Config::load() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("portcullis: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let _telemetry = portcullis::telemetry::init(&config);
    match cli.run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("portcullis: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
