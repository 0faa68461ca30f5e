//! Prefrontal's RON files (scenes, world-model and agent configs): parsing with the
//! extensions every file allows, and errors that name the file, the place and the problem.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A 1-based line and column in a RON file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Not valid RON for the schema (syntax, unknown or missing fields).
    #[error("{}:{location}: {message}", file.display())]
    Syntax {
        /// The file.
        file: PathBuf,
        /// Where the parser stopped.
        location: Location,
        /// The parser's explanation.
        message: String,
    },
    /// Parses, but holds a value that cannot be used.
    #[error("{}: {field}: {message}", file.display())]
    Value {
        /// The file.
        file: PathBuf,
        /// The offending field, e.g. `training.batch_size`.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses RON text into `T` with implicit `Some`. An error holds where the parser stopped
/// and why.
pub fn parse_ron<T: DeserializeOwned>(text: &str) -> Result<T, (Location, String)> {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .from_str(text)
        .map_err(|e| {
            let location = Location {
                line: e.span.start.line,
                column: e.span.start.col,
            };
            (location, e.code.to_string())
        })
}

/// A typed config stored as a RON file.
pub trait RonConfig: Serialize + DeserializeOwned {
    /// Checks values the types allow but the program cannot use; returns the field and
    /// what is wrong.
    fn validate(&self) -> Result<(), (&'static str, String)>;

    /// Reads and validates a config file.
    fn load(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            file: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates RON text; `file` names it in errors.
    fn parse(text: &str, file: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let file = file.as_ref();
        let config: Self = parse_ron(text).map_err(|(location, message)| ConfigError::Syntax {
            file: file.to_owned(),
            location,
            message,
        })?;
        config
            .validate()
            .map_err(|(field, message)| ConfigError::Value {
                file: file.to_owned(),
                field: field.to_owned(),
                message,
            })?;
        Ok(config)
    }

    /// Pretty RON text of this config (what runs store next to their results).
    fn to_ron(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .expect("a config always serialises")
    }
}
