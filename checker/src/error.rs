//! One error type for everything a user can get wrong in their input.

use std::fmt;

/// Unusable input: which file, which line (when there is one), and what was
/// expected there. Readers never panic on bad bytes; they return this.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl InputError {
    pub fn new(file: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        InputError { file: file.to_string(), line, message: message.into() }
    }

    pub fn at(file: &str, line: usize, message: impl Into<String>) -> Self {
        Self::new(file, Some(line), message)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for InputError {}
