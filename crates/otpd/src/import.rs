//! `otpd persons import FILE`: reads CSV (with a header row) or JSON lines into person rows for
//! the engine's all-or-nothing import. Reading never stops at a bad row: every row gets its
//! verdict, so one run reports every problem in the file.

use otpd_core::Error;
use otpd_core::person::{ImportReport, PersonInput};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

pub type Rows = Vec<(usize, Result<PersonInput, Error>)>;

const COLUMNS: [&str; 5] = ["id", "phone", "email", "language", "name"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// By extension (`.csv`; `.jsonl`, `.ndjson`, `.json`), else by the first non-blank byte.
    pub fn detect(path: &Path, bytes: &[u8]) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Format::Csv,
            Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
            _ if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') => {
                Format::JsonLines
            }
            _ => Format::Csv,
        }
    }
}

pub fn read(format: Format, bytes: &[u8]) -> Result<Rows, String> {
    match format {
        Format::Csv => read_csv(bytes),
        Format::JsonLines => Ok(read_json_lines(bytes)),
    }
}

fn read_csv(bytes: &[u8]) -> Result<Rows, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("line 1: the header row cannot be read: {e}"))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let mut index = [None; 5];
    for (i, h) in header.iter().enumerate() {
        let Some(col) = COLUMNS.iter().position(|c| c == h) else {
            return Err(format!(
                "line 1: unknown column {h:?}; the columns are {}",
                COLUMNS.join(", ")
            ));
        };
        if index[col].replace(i).is_some() {
            return Err(format!("line 1: column {h:?} appears twice"));
        }
    }
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let row = match record {
            Err(e) => Err(Error::invalid("row", format!("cannot be read: {e}"))),
            Ok(r) if r.len() != header.len() => Err(Error::invalid(
                "row",
                format!("has {} fields; the header has {}", r.len(), header.len()),
            )),
            Ok(r) => {
                let get = |col: usize| {
                    index[col]
                        .and_then(|i| r.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                };
                Ok(PersonInput {
                    id: get(0),
                    phone: get(1),
                    email: get(2),
                    language: get(3),
                    name: get(4),
                })
            }
        };
        rows.push((line, row));
    }
    Ok(rows)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    id: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    language: Option<String>,
    name: Option<String>,
}

fn read_json_lines(bytes: &[u8]) -> Rows {
    let text = String::from_utf8_lossy(bytes);
    let mut rows = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let row = otpd_api::body::parse_json::<JsonRow>(raw.as_bytes()).map(|r| PersonInput {
            id: r.id,
            phone: r.phone,
            email: r.email,
            language: r.language,
            name: r.name,
        });
        rows.push((n + 1, row));
    }
    rows
}

/// The report printed on stdout: `{"imported": N, "errors": [{"line", "field", "message"}]}`.
pub fn report_json(report: &ImportReport) -> Value {
    let errors: Vec<Value> = report
        .errors
        .iter()
        .map(|e| match &e.error {
            Error::Invalid { field, reason } => {
                json!({"line": e.line, "field": field, "message": format!("{field}: {reason}")})
            }
            other => json!({"line": e.line, "field": null, "message": other.to_string()}),
        })
        .collect();
    json!({"imported": report.imported, "errors": errors})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_by_header_in_any_order() {
        let rows = read(
            Format::Csv,
            b"\xef\xbb\xbfEmail,phone,name\njane@example.com,+31 6 12345678,\"Doe, Jane\"\n,,\nx@example.com,1\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        let first = rows[0].1.as_ref().unwrap();
        assert_eq!(rows[0].0, 2);
        assert_eq!(first.email.as_deref(), Some("jane@example.com"));
        assert_eq!(first.name.as_deref(), Some("Doe, Jane"));
        assert_eq!(first.id, None);
        assert!(rows[1].1.as_ref().unwrap().email.is_none());
        assert_eq!(rows[2].0, 4);
        assert!(rows[2].1.is_err());
        assert!(
            read(Format::Csv, b"email,fax\n")
                .unwrap_err()
                .contains("fax")
        );
        assert!(
            read(Format::Csv, b"email,EMAIL\n")
                .unwrap_err()
                .contains("twice")
        );
    }

    #[test]
    fn json_lines_name_the_bad_field() {
        let rows = read(
            Format::JsonLines,
            b"{\"email\":\"a@example.com\"}\n\n{\"email\":\"b@example.com\",\"fax\":\"1\"}\nnot json\n{\"phone\":5}\n",
        )
        .unwrap();
        let lines: Vec<usize> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 3, 4, 5]);
        assert!(rows[0].1.is_ok());
        let field = |i: usize| match &rows[i].1 {
            Err(Error::Invalid { field, .. }) => field.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(1), "fax");
        assert_eq!(field(2), "body");
        assert_eq!(field(3), "phone");
    }

    #[test]
    fn format_detection() {
        assert_eq!(Format::detect(Path::new("a.CSV"), b"{"), Format::Csv);
        assert_eq!(
            Format::detect(Path::new("a.jsonl"), b"id"),
            Format::JsonLines
        );
        assert_eq!(
            Format::detect(Path::new("a"), b"  {\"id\":1}"),
            Format::JsonLines
        );
        assert_eq!(Format::detect(Path::new("a.txt"), b"id,email"), Format::Csv);
    }
}
