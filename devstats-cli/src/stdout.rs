//! Writing a command's output: a closed pipe (`devstats-k8s … | head`) is not an error.
//! Below every command module, so they share it without importing the binary's root.

use std::io::Write;

/// Writes `text` and a newline to stdout; a broken pipe ends quietly.
pub(crate) fn write_stdout(text: &str) -> Result<(), miette::Report> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(miette::miette!("cannot write output: {e}")),
    }
}
