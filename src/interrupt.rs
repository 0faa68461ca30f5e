//! Ctrl-C: during training the first press stops at the next step with a checkpoint (the
//! run resumes from it); outside training, or at a second press, the process exits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};

/// Whether a training loop is listening for the stop flag.
static TRAINING: AtomicBool = AtomicBool::new(false);

/// Set by Ctrl-C during training.
static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Whether Ctrl-C asked training to stop (also when training ended before it could).
pub fn requested() -> bool {
    FLAG.get().is_some_and(|flag| flag.load(Ordering::SeqCst))
}

/// The stop flag, with the handler installed on first use.
fn stop_flag() -> Result<Arc<AtomicBool>> {
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

/// Installs the handler so that Ctrl-C outside training exits at once.
pub fn install() -> Result<()> {
    stop_flag().map(|_| ())
}

/// A training loop listening for Ctrl-C, while this value lives.
#[derive(Debug)]
pub struct Training(Arc<AtomicBool>);

impl Training {
    /// Starts listening.
    pub fn start() -> Result<Training> {
        let flag = stop_flag()?;
        flag.store(false, Ordering::SeqCst);
        TRAINING.store(true, Ordering::SeqCst);
        Ok(Training(flag))
    }

    /// The flag the training loop polls.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl Drop for Training {
    fn drop(&mut self) {
        TRAINING.store(false, Ordering::SeqCst);
    }
}
