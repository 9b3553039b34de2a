use clap::Parser;
use portcullis::cli::Cli;
use portcullis::config::Config;

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
