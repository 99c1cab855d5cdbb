//! Exports of datasets and forecasts, as CSV or JSON.
//!
//! CSV output neutralises every cell a spreadsheet would run as a formula, header
//! included (see [`super::formula`]); JSON carries typed values and needs no such care.

use serde_json::{Map, Number, Value, json};

use super::csv_table::{ColumnType, is_missing};
use super::dataset::DatasetRecord;
use super::error::{ExportError, Invalid};
use super::forecast::ForecastView;
use super::formula::neutralise;

/// The `format` query parameter of the export routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    /// `csv` (the default) or `json`.
    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        match raw {
            None | Some("csv") => Ok(ExportFormat::Csv),
            Some("json") => Ok(ExportFormat::Json),
            Some(_) => Err(Invalid::new("format", "format must be `csv` or `json`")),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

/// Our own stored data failed to read back or write out.
fn stored(cause: impl std::fmt::Display) -> ExportError {
    ExportError::Stored(cause.to_string())
}

/// Writes rows as CSV, neutralising formula-like cells; at most `max_bytes`.
pub fn csv_text<I, R, S>(rows: I, max_bytes: usize) -> Result<String, ExportError>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        let cells: Vec<String> = row.into_iter().map(|cell| neutralise(cell.as_ref()).into_owned()).collect();
        writer.write_record(&cells).map_err(stored)?;
        if writer.get_ref().len() > max_bytes {
            return Err(ExportError::TooLarge { format: ExportFormat::Csv, max_bytes });
        }
    }
    let bytes = writer.into_inner().map_err(stored)?;
    if bytes.len() > max_bytes {
        return Err(ExportError::TooLarge { format: ExportFormat::Csv, max_bytes });
    }
    String::from_utf8(bytes).map_err(stored)
}

/// The stored CSV of a dataset, header first, record by record (it passed inspection, so
/// a record that doesn't parse is our fault).
fn dataset_rows(content: &str) -> impl Iterator<Item = Result<csv::StringRecord, ExportError>> + '_ {
    let reader = csv::ReaderBuilder::new().has_headers(false).flexible(false).from_reader(content.as_bytes());
    reader.into_records().map(|record| record.map_err(stored))
}

/// A dataset as CSV: its stored content, cell for cell, made safe to open; at most `max_bytes`.
pub fn dataset_csv(content: &str, max_bytes: usize) -> Result<String, ExportError> {
    let rows = dataset_rows(content).collect::<Result<Vec<_>, _>>()?;
    csv_text(rows.iter().map(|record| record.iter().collect::<Vec<_>>()), max_bytes)
}

/// A dataset as JSON: its columns, and one object per row with values typed by column;
/// at most `max_bytes`. Written row by row, so memory follows the output, not a tree of it.
pub fn dataset_json(record: &DatasetRecord, content: &str, max_bytes: usize) -> Result<String, ExportError> {
    let head = json!({"dataset_id": record.id, "name": record.name, "columns": record.columns}).to_string();
    let head = head.strip_suffix('}').ok_or_else(|| stored("export header is not an object"))?;
    let mut out = format!("{head},\"rows\":[").into_bytes();
    for (index, row) in dataset_rows(content).skip(1).enumerate() {
        let row = row?;
        if index > 0 {
            out.push(b',');
        }
        let fields: Map<String, Value> =
            record.columns.iter().zip(row.iter()).map(|(column, cell)| (column.name.clone(), typed(column.column_type, cell))).collect();
        serde_json::to_writer(&mut out, &fields).map_err(stored)?;
        if out.len() > max_bytes {
            return Err(ExportError::TooLarge { format: ExportFormat::Json, max_bytes });
        }
    }
    out.extend_from_slice(b"]}");
    String::from_utf8(out).map_err(stored)
}

/// A cell as a JSON value of its column's type; empty and NaN-like cells are `null`.
fn typed(column_type: ColumnType, cell: &str) -> Value {
    let cell = cell.trim();
    if is_missing(cell) {
        return Value::Null;
    }
    let number = || cell.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number);
    let parsed = match column_type {
        ColumnType::Integer => cell.parse::<i64>().ok().map(Value::from).or_else(number),
        ColumnType::Float => number(),
        ColumnType::Boolean => Some(Value::Bool(cell.eq_ignore_ascii_case("true"))),
        ColumnType::Timestamp | ColumnType::Text | ColumnType::Empty => None,
    };
    parsed.unwrap_or_else(|| Value::String(cell.to_owned()))
}

/// Column names of a forecast table: `timestamp`, `forecast`, then `lower_80`, `upper_80`, …
fn forecast_header(view: &ForecastView) -> Vec<String> {
    let mut header = vec!["timestamp".to_owned(), "forecast".to_owned()];
    for interval in &view.result.intervals {
        header.push(format!("lower_{}", interval.level));
        header.push(format!("upper_{}", interval.level));
    }
    header
}

/// The numbers of forecast step `h`, in header order after the timestamp.
fn forecast_values(view: &ForecastView, h: usize) -> Vec<f64> {
    let mut values = vec![view.result.point.get(h).copied().unwrap_or(f64::NAN)];
    for interval in &view.result.intervals {
        values.push(interval.lower.get(h).copied().unwrap_or(f64::NAN));
        values.push(interval.upper.get(h).copied().unwrap_or(f64::NAN));
    }
    values
}

/// A forecast as CSV: one row per future timestamp (at most 1,000, so always small).
pub fn forecast_csv(view: &ForecastView) -> Result<String, ExportError> {
    let rows = view.result.timestamps.iter().enumerate().map(|(h, timestamp)| {
        std::iter::once(timestamp.clone()).chain(forecast_values(view, h).into_iter().map(|v| v.to_string())).collect::<Vec<_>>()
    });
    csv_text(std::iter::once(forecast_header(view)).chain(rows), usize::MAX)
}

/// A forecast as JSON: what it forecasts, and one object per future timestamp.
pub fn forecast_json(view: &ForecastView) -> Value {
    let header = forecast_header(view);
    let rows: Vec<Value> = view
        .result
        .timestamps
        .iter()
        .enumerate()
        .map(|(h, timestamp)| {
            let mut row = Map::new();
            row.insert(header[0].clone(), Value::String(timestamp.clone()));
            for (name, value) in header[1..].iter().zip(forecast_values(view, h)) {
                row.insert(name.clone(), Number::from_f64(value).map_or(Value::Null, Value::Number));
            }
            Value::Object(row)
        })
        .collect();
    json!({
        "forecast_id": view.id,
        "dataset_id": view.dataset_id,
        "target_column": view.request.target_column,
        "model": view.result.model.description,
        "frequency": view.result.frequency,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_output_neutralises_formulas_and_keeps_numbers() {
        let rows = [vec!["name", "value"], vec!["=HYPERLINK(\"x\")", "-3.5"], vec!["@SUM(A1)", "+2"], vec!["\tx", "a,b"]];
        let text = csv_text(rows.clone(), 1_000).unwrap();
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        let cells: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        assert_eq!(cells[1], ["'=HYPERLINK(\"x\")", "-3.5"]);
        assert_eq!(cells[2], ["'@SUM(A1)", "+2"]);
        assert_eq!(cells[3], ["'\tx", "a,b"]);
        assert_eq!(csv_text(rows, 20).unwrap_err(), ExportError::TooLarge { format: ExportFormat::Csv, max_bytes: 20 });
    }

    #[test]
    fn a_json_export_is_valid_json_and_stops_at_the_limit() {
        use crate::csv_table::{CsvLimits, inspect};
        let content = "date,v,note\n2024-01-01,1.5,a\n2024-01-02,,\"b, c\"\n";
        let summary = inspect(content, &CsvLimits::default()).unwrap();
        let record = DatasetRecord {
            id: "d".into(),
            name: "n".into(),
            description: String::new(),
            owner: "o".into(),
            readers: vec![],
            created_at: String::new(),
            updated_at: String::new(),
            deleted_at: None,
            size_bytes: 0,
            row_count: 2,
            columns: summary.columns,
            preview: vec![],
            time_axis: None,
        };
        let text = dataset_json(&record, content, 10_000).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed["rows"],
            json!([{"date": "2024-01-01", "v": 1.5, "note": "a"}, {"date": "2024-01-02", "v": null, "note": "b, c"}])
        );
        assert_eq!(parsed["columns"][1]["type"], "float");
        assert_eq!(dataset_json(&record, content, 150).unwrap_err(), ExportError::TooLarge { format: ExportFormat::Json, max_bytes: 150 });
    }

    #[test]
    fn cells_become_json_of_their_column_type() {
        assert_eq!(typed(ColumnType::Integer, "42"), json!(42));
        assert_eq!(typed(ColumnType::Float, " 2.5 "), json!(2.5));
        assert_eq!(typed(ColumnType::Float, "NaN"), Value::Null);
        assert_eq!(typed(ColumnType::Boolean, "TRUE"), json!(true));
        assert_eq!(typed(ColumnType::Timestamp, "2024-01-01"), json!("2024-01-01"));
        assert_eq!(typed(ColumnType::Integer, ""), Value::Null);
    }

    #[test]
    fn formats_are_csv_by_default_and_nothing_else_is_accepted() {
        assert_eq!(ExportFormat::parse(None).unwrap(), ExportFormat::Csv);
        assert_eq!(ExportFormat::parse(Some("json")).unwrap(), ExportFormat::Json);
        for bad in ["xlsx", "CSV", ""] {
            assert_eq!(ExportFormat::parse(Some(bad)).unwrap_err(), Invalid::new("format", "format must be `csv` or `json`"));
        }
    }
}
