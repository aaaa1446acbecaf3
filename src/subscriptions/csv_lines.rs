//! The data lines of the CSV files operators import (members, organisations), from a file
//! or pasted in the web console. Read line by line, not with csv's whole-file reader, whose
//! line count skips blank lines: every problem must name the line the operator sees in the
//! editor.

/// Lines of an import that were skipped: (line number, problem).
pub type SkippedLines = Vec<(usize, String)>;

/// (line number, fields) of each data line. Blank lines and `#` comments are passed over,
/// and so is a first line whose first field is `header`; lines that are not valid CSV are
/// added to `skipped`.
pub fn data_lines(
    text: &str,
    header: &str,
    skipped: &mut SkippedLines,
) -> Vec<(usize, Vec<String>)> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        match fields(raw) {
            Ok(fields)
                if number == 1
                    && fields
                        .first()
                        .is_some_and(|f| f.eq_ignore_ascii_case(header)) => {}
            Ok(fields) => lines.push((number, fields)),
            Err(problem) => skipped.push((number, problem)),
        }
    }
    lines
}

/// The fields of one CSV line (quoted fields may hold commas).
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(line.as_bytes());
    match reader.records().next() {
        Some(Ok(record)) => Ok(record.iter().map(str::to_string).collect()),
        Some(Err(error)) => Err(error.to_string()),
        None => Ok(Vec::new()),
    }
}
