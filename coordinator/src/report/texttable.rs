//! A plain table of already formatted cells, rendered as Markdown or as an escaped HTML table.
use super::html::esc;
use std::fmt::Write as _;

/// Headers and rows of text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextTable {
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows, each as long as `headers`.
    pub rows: Vec<Vec<String>>,
}

impl TextTable {
    /// A table with these headers and no rows.
    pub fn new(headers: &[&str]) -> Self {
        TextTable {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// GitHub-flavoured Markdown ('|' in cells escaped).
    pub fn markdown(&self) -> String {
        let cell = |c: &str| c.replace('|', "\\|").replace('\n', " ");
        let mut s = String::from("|");
        for h in &self.headers {
            let _ = write!(s, " {} |", cell(h));
        }
        s.push_str("\n|");
        s.push_str(&"---|".repeat(self.headers.len()));
        s.push('\n');
        for r in &self.rows {
            s.push('|');
            for c in r {
                let _ = write!(s, " {} |", cell(c));
            }
            s.push('\n');
        }
        s
    }

    /// An HTML `<table>`, every cell escaped.
    pub fn html(&self) -> String {
        let mut s = String::from("<table><thead><tr>");
        for h in &self.headers {
            let _ = write!(s, "<th>{}</th>", esc(h));
        }
        s.push_str("</tr></thead><tbody>");
        for r in &self.rows {
            s.push_str("<tr>");
            for c in r {
                let _ = write!(s, "<td>{}</td>", esc(c));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
        s
    }
}
