//! CSV content of a dataset: limits, shape checks and column type detection.
//!
//! Every check names the problem and where it is, so an analyst can fix the file.

use serde::{Deserialize, Serialize};

use super::error::Invalid;
use super::formula;
use super::ids::truncate;

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

impl ColumnType {
    /// Integer or float: a column a series can be made of.
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::Float)
    }
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
    /// The time axis: the first column whose cells are all timestamps, and the
    /// frequency its distinct timestamps are spaced at (none if irregular).
    pub time_axis: Option<TimeAxis>,
}

/// A dataset's detected time column and frequency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TimeAxis {
    pub column: String,
    /// ISO 8601 duration (`P1D`, `P1M`, `PT1H`), or absent when the spacing is irregular.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency: Option<String>,
}

const PREVIEW_ROWS: usize = 5;
/// Fewer rows than this can't be a time series (no spacing to infer a frequency from).
pub const MIN_ROWS: u64 = 2;

/// Refuses cells a spreadsheet would run as a formula when the data is opened there
/// (CSV injection), and NUL characters (a UTF-16 or binary file read as text).
fn check_cell(cell: &str, line: usize, column: &str) -> Result<(), Invalid> {
    if cell.contains('\0') {
        return Err(invalid(format!("CSV row {line}, column `{column}`: NUL character; the file must be UTF-8 text (was it UTF-16?)")));
    }
    if formula::is_formula_like(cell) {
        return Err(invalid(format!(
            "CSV row {line}, column `{column}`: `{}` would run as a formula in a spreadsheet; remove the leading `{}`",
            truncate(cell, 40).escape_debug(),
            cell.trim_start_matches(' ').chars().next().unwrap_or(' ').escape_debug()
        )));
    }
    Ok(())
}

fn invalid(detail: String) -> Invalid {
    Invalid::new("csv", detail)
}

/// Checks `content` against `limits` and summarises it. The first record is the header.
pub fn inspect(content: &str, limits: &CsvLimits) -> Result<CsvSummary, Invalid> {
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
    // One column whose name holds another separator: a file written with `;` (common where
    // the decimal mark is a comma), tabs or pipes. Read as commas it would be one text
    // column; say so instead of storing that.
    if header.len() == 1
        && let Some(separator) = [';', '\t', '|'].into_iter().find(|c| header.get(0).is_some_and(|name| name.contains(*c)))
    {
        let shown = if separator == '\t' { "tab".to_owned() } else { format!("`{separator}`") };
        return Err(invalid(format!(
            "CSV header is separated by {shown}, not commas: save the file with comma separators (and `.` as the decimal mark)"
        )));
    }
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
            let name = names.get(column).map_or("?", String::as_str);
            if cell.chars().count() > limits.max_cell_chars {
                return Err(invalid(format!("CSV row {line}, column `{name}`: cell longer than {} characters", limits.max_cell_chars)));
            }
            check_cell(cell, line, name)?;
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
    if row_count < MIN_ROWS {
        return Err(invalid(format!("CSV has {row_count} data row; a time series needs at least {MIN_ROWS}")));
    }
    let columns: Vec<Column> =
        names.into_iter().zip(&detectors).map(|(name, d)| Column { name, column_type: d.result(), missing: d.missing }).collect();
    if let Some(empty) = columns.iter().find(|c| c.column_type == ColumnType::Empty) {
        return Err(invalid(format!("CSV column `{}` has no values (every cell is empty or NaN); remove it", empty.name)));
    }
    let time_axis = time_axis(&columns, &mut detectors);
    Ok(CsvSummary { columns, row_count, preview, time_axis })
}

/// The first timestamp column, and the frequency its distinct timestamps are spaced at.
fn time_axis(columns: &[Column], detectors: &mut [TypeDetector]) -> Option<TimeAxis> {
    let index = columns.iter().position(|c| c.column_type == ColumnType::Timestamp)?;
    let mut stamps = std::mem::take(&mut detectors.get_mut(index)?.stamps);
    stamps.sort();
    stamps.dedup();
    // Gaps are allowed (a forecast can fill them); off-grid timestamps make it irregular.
    let frequency = forecast::frequency::Frequency::infer(&stamps)
        .filter(|f| stamps.iter().all(|t| f.steps_between(stamps[0], *t).is_some()))
        .map(|f| f.iso8601());
    Some(TimeAxis { column: columns[index].name.clone(), frequency })
}

fn header_names(header: &csv::StringRecord, limits: &CsvLimits) -> Result<Vec<String>, Invalid> {
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for (index, raw) in header.iter().enumerate() {
        let name = raw.trim().trim_start_matches('\u{feff}').to_owned();
        if name.is_empty() {
            return Err(invalid(format!("CSV header: column {} has no name", index + 1)));
        }
        if name.chars().count() > limits.max_cell_chars.min(200) || super::text::first_deceptive(&name, &[]).is_some() {
            return Err(invalid(format!("CSV header: column {} has an unusable name", index + 1)));
        }
        if formula::is_formula_like(&name) {
            return Err(invalid(format!(
                "CSV header: column {} is named like a spreadsheet formula (`{}`)",
                index + 1,
                truncate(&name, 40)
            )));
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
    /// The parsed cells while the column is still all timestamps (its frequency is
    /// inferred from them), so no second pass is needed.
    stamps: Vec<time::OffsetDateTime>,
}

impl TypeDetector {
    fn observe(&mut self, cell: &str) {
        if is_missing(cell) {
            self.missing += 1;
            return;
        }
        let (kind, stamp) = classify(cell);
        self.current = Some(match (self.current, kind) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (Some(ColumnType::Integer), ColumnType::Float) | (Some(ColumnType::Float), ColumnType::Integer) => ColumnType::Float,
            _ => ColumnType::Text,
        });
        match stamp {
            Some(stamp) if self.current == Some(ColumnType::Timestamp) => self.stamps.push(stamp),
            _ if !self.stamps.is_empty() => self.stamps = Vec::new(),
            _ => {}
        }
    }

    fn result(&self) -> ColumnType {
        self.current.unwrap_or(ColumnType::Empty)
    }
}

/// Whether a (trimmed) cell holds no value: empty, `NA`, `NaN` or `null`, in any case.
pub fn is_missing(cell: &str) -> bool {
    cell.is_empty() || ["na", "nan", "null"].iter().any(|marker| cell.eq_ignore_ascii_case(marker))
}

/// A cell's type, and its time when it is a timestamp. Timestamps are read by the parser
/// series extraction uses, so a column typed `timestamp` is always usable as a time axis.
fn classify(cell: &str) -> (ColumnType, Option<time::OffsetDateTime>) {
    if cell.parse::<i64>().is_ok() {
        (ColumnType::Integer, None)
    } else if cell.parse::<f64>().is_ok_and(f64::is_finite) {
        (ColumnType::Float, None)
    } else if cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false") {
        (ColumnType::Boolean, None)
    } else if let Some(stamp) = forecast::series::parse_timestamp(cell) {
        (ColumnType::Timestamp, Some(stamp))
    } else {
        (ColumnType::Text, None)
    }
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
        assert_eq!(summary.time_axis, Some(TimeAxis { column: "date".into(), frequency: None }), "10:00 breaks the daily spacing");

        let monthly = inspect("id,month,passengers\nA,1949-01,112\nB,1949-03,132\nC,1949-02,118\n", &limits()).unwrap();
        assert_eq!(monthly.time_axis, Some(TimeAxis { column: "month".into(), frequency: Some("P1M".into()) }));
        assert_eq!(inspect("a,b\n1,x\n2,y\n", &limits()).unwrap().time_axis, None);
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
            ("a,b\n1,x\u{0}y\n2,3\n", "NUL"),
            ("a,b\n1,2\n", "1 data row"),
            ("a,b\n1,\n2,NaN\n", "column `b` has no values"),
            ("=a,b\n1,2\n3,4\n", "named like a spreadsheet formula"),
            ("date;sales\n2024-01-01;1,5\n2024-01-02;2,5\n", "separated by `;`, not commas"),
            ("date\tsales\n2024-01-01\t1\n2024-01-02\t2\n", "separated by tab, not commas"),
            ("date|sales\n2024-01-01|1\n2024-01-02|2\n", "separated by `|`, not commas"),
        ];
        for (content, expected) in cases {
            let error = inspect(content, &limits()).unwrap_err();
            assert_eq!(error.field, "csv");
            assert!(error.detail.contains(expected), "{content:?}: {error}");
        }
        let with_rows = |row: &str| format!("a,b\n1,2\n{row}\n");
        let formula_cases = [
            with_rows("3,=cmd|' /C calc'!A0"),
            with_rows("3,+1+1"),
            with_rows("3,-2+3"),
            with_rows("3,@SUM(A1:A2)"),
            with_rows("3,\"\tx\""),
            with_rows("3,\"\rx\""),
            with_rows("3,  =1"),
        ];
        for content in &formula_cases {
            let message = inspect(content, &limits()).unwrap_err().to_string();
            assert!(message.contains("row 3, column `b`") && message.contains("formula"), "{content:?}: {message}");
        }
    }

    #[test]
    fn oversized_content_is_refused_before_parsing() {
        let content = "a\n".repeat(6_000);
        assert!(inspect(&content, &limits()).unwrap_err().to_string().contains("bytes"));
    }
}
