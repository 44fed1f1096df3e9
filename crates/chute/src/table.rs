//! Plain text tables for the terminal: a header, aligned columns, numbers right-aligned.

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table { header: header.iter().map(|s| s.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let numeric: Vec<bool> = (0..n)
            .map(|i| {
                !self.rows.is_empty()
                    && self.rows.iter().all(|r| {
                        r.get(i).is_some_and(|c| {
                            c.is_empty() || c.replace([',', '.', '%', '-'], "").chars().all(|ch| ch.is_ascii_digit())
                        })
                    })
            })
            .collect();
        let line = |cells: &[String], out: &mut String| {
            let mut parts = Vec::with_capacity(n);
            for i in 0..n {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = widths[i].saturating_sub(c.chars().count());
                parts.push(if numeric[i] {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                });
            }
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        let mut out = String::new();
        line(&self.header, &mut out);
        line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>(), &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut t = Table::new(&["run", "samples"]);
        t.row(vec!["a-long-run".into(), thousands(4123)]);
        t.row(vec!["b".into(), "7".into()]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "run         samples");
        assert_eq!(lines[2], "a-long-run    4,123");
        assert_eq!(lines[3], "b                 7");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
