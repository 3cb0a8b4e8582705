#[tokio::main]
async fn main() -> std::process::ExitCode {
    match pulso::cli::main().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the context chain on one line, which is what an operator needs to act.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
