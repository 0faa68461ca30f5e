//! Running the `prefrontal` binary from tests.

use std::process::{Command, Output};

/// Runs `prefrontal ARGS` in the repository root and waits for it.
pub fn prefrontal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prefrontal"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}
