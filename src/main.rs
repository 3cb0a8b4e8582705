#[tokio::main]
async fn main() -> std::process::ExitCode {
    match pulso::cli::main().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The context chain on one line, each cause once: what an operator needs to act.
            eprintln!(
                "error: {}",
                pulso::telemetry::Chain::<dyn std::error::Error>(e.as_ref())
            );
            std::process::ExitCode::FAILURE
        }
    }
}
