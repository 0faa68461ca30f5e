//! Closed-loop evaluation.
