//! CSV content of a dataset: limits, shape checks and column type detection.
//!
//! Every check names the problem and where it is, so an analyst can fix the file.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Limits on uploaded CSV content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLimits {
    pub max_bytes: usize,
    pub max_rows: usize,
    pub max_columns: usize,
    pub max_cell_chars: usize,
}

impl Default for CsvLimits {
    fn default() -> Self {
        // A Lambda request payload is at most 6 MB; leave room for the JSON envelope.
        Self { max_bytes: 5 * 1024 * 1024, max_rows: 100_000, max_columns: 100, max_cell_chars: 1_000 }
    }
}

/// The detected type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Integer,
    Float,
    Timestamp,
    Boolean,
    Text,
    /// Every cell is empty.
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Cells left empty.
    pub missing: u64,
}

/// What was learned from a valid CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSummary {
    pub columns: Vec<Column>,
    pub row_count: u64,
    /// The first rows, for a preview.
    pub preview: Vec<Vec<String>>,
}

const PREVIEW_ROWS: usize = 5;

fn invalid(detail: String) -> ApiError {
    ApiError::validation("csv", detail)
}

/// Checks `content` against `limits` and summarises it. The first record is the header.
pub fn inspect(content: &str, limits: &CsvLimits) -> Result<CsvSummary, ApiError> {
    if content.len() > limits.max_bytes {
        return Err(invalid(format!("CSV content is {} bytes; at most {} are allowed", content.len(), limits.max_bytes)));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(content.as_bytes());
    let mut records = reader.records();

    let header = match records.next() {
        None => return Err(invalid("CSV content is empty: expected a header row and at least one data row".into())),
        Some(Err(e)) => return Err(invalid(format!("CSV header is not readable: {}", csv_error(&e)))),
        Some(Ok(header)) => header,
    };
    if header.len() > limits.max_columns {
        return Err(invalid(format!("CSV has {} columns; at most {} are allowed", header.len(), limits.max_columns)));
    }
    let names = header_names(&header, limits)?;

    let mut detectors: Vec<TypeDetector> = names.iter().map(|_| TypeDetector::default()).collect();
    let mut preview = Vec::new();
    let mut row_count: u64 = 0;
    for (index, record) in records.enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| invalid(format!("CSV row {line} is not readable: {}", csv_error(&e))))?;
        if record.len() != names.len() {
            return Err(invalid(format!("CSV row {line} has {} fields; the header has {}", record.len(), names.len())));
        }
        if index >= limits.max_rows {
            return Err(invalid(format!("CSV has more than {} data rows", limits.max_rows)));
        }
        for (column, (cell, detector)) in record.iter().zip(detectors.iter_mut()).enumerate() {
            if cell.chars().count() > limits.max_cell_chars {
                return Err(invalid(format!(
                    "CSV row {line}, column `{}`: cell longer than {} characters",
                    names.get(column).map_or("?", String::as_str),
                    limits.max_cell_chars
                )));
            }
            detector.observe(cell.trim());
        }
        if preview.len() < PREVIEW_ROWS {
            preview.push(record.iter().map(str::to_owned).collect());
        }
        row_count += 1;
    }
    if row_count == 0 {
        return Err(invalid("CSV has a header but no data rows".into()));
    }
    let columns = names.into_iter().zip(detectors).map(|(name, d)| Column { name, column_type: d.result(), missing: d.missing }).collect();
    Ok(CsvSummary { columns, row_count, preview })
}

fn header_names(header: &csv::StringRecord, limits: &CsvLimits) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (index, raw) in header.iter().enumerate() {
        let name = raw.trim().trim_start_matches('\u{feff}').to_owned();
        if name.is_empty() {
            return Err(invalid(format!("CSV header: column {} has no name", index + 1)));
        }
        if name.chars().count() > limits.max_cell_chars.min(200) || name.chars().any(char::is_control) {
            return Err(invalid(format!("CSV header: column {} has an unusable name", index + 1)));
        }
        if names.contains(&name) {
            return Err(invalid(format!("CSV header: column `{name}` appears twice")));
        }
        names.push(name);
    }
    Ok(names)
}

fn csv_error(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".into(),
        _ => "malformed".into(),
    }
}

/// Narrows a column's type as cells are seen: the first non-empty cell sets a candidate,
/// later cells can only widen it (integer → float → text).
#[derive(Debug, Default)]
struct TypeDetector {
    current: Option<ColumnType>,
    missing: u64,
}

impl TypeDetector {
    fn observe(&mut self, cell: &str) {
        if cell.is_empty() || cell.eq_ignore_ascii_case("na") || cell.eq_ignore_ascii_case("nan") || cell.eq_ignore_ascii_case("null") {
            self.missing += 1;
            return;
        }
        let kind = classify(cell);
        self.current = Some(match (self.current, kind) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (Some(ColumnType::Integer), ColumnType::Float) | (Some(ColumnType::Float), ColumnType::Integer) => ColumnType::Float,
            _ => ColumnType::Text,
        });
    }

    fn result(&self) -> ColumnType {
        self.current.unwrap_or(ColumnType::Empty)
    }
}

fn classify(cell: &str) -> ColumnType {
    if cell.parse::<i64>().is_ok() {
        ColumnType::Integer
    } else if cell.parse::<f64>().is_ok_and(f64::is_finite) {
        ColumnType::Float
    } else if cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false") {
        ColumnType::Boolean
    } else if is_timestamp(cell) {
        ColumnType::Timestamp
    } else {
        ColumnType::Text
    }
}

/// ISO 8601 dates and date-times (`2024-01-31`, `2024-01-31T12:00:00Z`, with a space).
fn is_timestamp(cell: &str) -> bool {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    let date = time::macros::format_description!("[year]-[month]-[day]");
    let naive = time::macros::format_description!("[year]-[month]-[day][first [T][ ]][hour]:[minute][optional [:[second]]]");
    time::Date::parse(cell, &date).is_ok()
        || time::OffsetDateTime::parse(cell, &Rfc3339).is_ok()
        || time::OffsetDateTime::parse(cell, &Iso8601::DEFAULT).is_ok()
        || time::PrimitiveDateTime::parse(cell, &naive).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> CsvLimits {
        CsvLimits { max_bytes: 10_000, max_rows: 10, max_columns: 4, max_cell_chars: 20 }
    }

    #[test]
    fn types_and_missing_cells_are_detected() {
        let summary = inspect("date,sales,price,note\n2024-01-01,3,1.5,x\n2024-01-02,,2,\n2024-01-03 10:00,4,NaN,y\n", &limits()).unwrap();
        let types: Vec<_> = summary.columns.iter().map(|c| c.column_type).collect();
        assert_eq!(types, [ColumnType::Timestamp, ColumnType::Integer, ColumnType::Float, ColumnType::Text]);
        assert_eq!(summary.columns[1].missing, 1);
        assert_eq!(summary.row_count, 3);
        assert_eq!(summary.preview.len(), 3);
    }

    #[test]
    fn each_bad_shape_is_named() {
        let cases = [
            ("", "empty"),
            ("a,b\n", "no data rows"),
            ("a,b\n1\n", "row 2 has 1 fields"),
            ("a,a\n1,2\n", "appears twice"),
            ("a,,c\n1,2,3\n", "column 2 has no name"),
            ("a,b,c,d,e\n1,2,3,4,5\n", "5 columns"),
            ("a\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n", "more than 10 data rows"),
            ("a\nxxxxxxxxxxxxxxxxxxxxxxxxx\n", "longer than 20"),
        ];
        for (content, expected) in cases {
            let message = inspect(content, &limits()).unwrap_err().to_string();
            assert!(message.contains(expected), "{content:?}: {message}");
        }
    }

    #[test]
    fn oversized_content_is_refused_before_parsing() {
        let content = "a\n".repeat(6_000);
        assert!(inspect(&content, &limits()).unwrap_err().to_string().contains("bytes"));
    }
}
