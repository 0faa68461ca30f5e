//! Ctrl-C: while training listens, the first press stops it at the next step with a
//! checkpoint (the run resumes from it); otherwise, or at a second press, the process exits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};

/// Whether a training loop is listening for the stop flag.
static TRAINING: AtomicBool = AtomicBool::new(false);

/// Set by Ctrl-C during training.
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handler (once) and returns the stop flag it sets while training listens.
pub fn install() -> Result<Arc<AtomicBool>> {
    if let Some(flag) = FLAG.get() {
        return Ok(flag.clone());
    }
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    ctrlc::set_handler(move || {
        if TRAINING.load(Ordering::SeqCst) && !handler_flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nstopping at the next step with a checkpoint (Ctrl-C again to quit now)");
        } else {
            eprintln!("\ninterrupted");
            std::process::exit(130);
        }
    })
    .context("installing the Ctrl-C handler")?;
    Ok(FLAG.get_or_init(|| flag).clone())
}

/// Whether Ctrl-C stops training (`true`) or exits (`false`).
pub fn listen(training: bool) {
    TRAINING.store(training, Ordering::SeqCst);
}

/// A training loop listening for Ctrl-C, while this value lives.
#[derive(Debug)]
pub struct Training(Arc<AtomicBool>);

impl Training {
    /// Starts listening.
    pub fn start() -> Result<Training> {
        let flag = install()?;
        flag.store(false, Ordering::SeqCst);
        listen(true);
        Ok(Training(flag))
    }

    /// The flag the training loop polls.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for Training {
    fn drop(&mut self) {
        listen(false);
    }
}
