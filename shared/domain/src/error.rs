//! What the domain refuses, in its own terms. The HTTP edge (`crate::error`) gives each a
//! status; nothing here knows of HTTP.

use super::export::ExportFormat;

/// Input that breaks a rule. `field` names the part of the request it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Invalid {
    pub field: &'static str,
    pub detail: String,
}

impl Invalid {
    pub fn new(field: &'static str, detail: impl Into<String>) -> Self {
        Self { field, detail: detail.into() }
    }
}

/// Text that can't be a resource id (not a canonical UUID). An id that can't exist is
/// answered like one that doesn't.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a resource id")]
pub struct MalformedId;

/// Why an export was not made. Exhaustive on purpose: a new variant must get its status
/// at the edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The export would not fit in one response; `max_bytes` is what one can carry.
    #[error(
        "the {} export would be larger than {} MB, the most one response can carry{}",
        format.extension().to_uppercase(),
        max_bytes / 1_000_000,
        if *format == ExportFormat::Json { "; the CSV export is smaller" } else { "" }
    )]
    TooLarge { format: ExportFormat, max_bytes: usize },
    /// Stored content that passed inspection when it came in no longer reads: our fault.
    #[error("stored content does not read back: {0}")]
    Stored(String),
}
