//! Progress of a long offline command (`verify`, `export`, `import`, `rebuild`,
//! `replay`) on stderr: on a terminal a bar redrawn in place with the rate and the time
//! left; otherwise (a journal, a CI log, a file) a plain line every few seconds.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often a terminal's bar is redrawn.
const REDRAW: Duration = Duration::from_millis(100);
/// How often a plain line is written when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
const BAR_WIDTH: usize = 30;

/// One command's progress through `total` events (unknown: `None`).
pub struct Progress {
    label: String,
    total: Option<u64>,
    started: Instant,
    last: Option<Instant>,
    terminal: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>, total: Option<u64>) -> Progress {
        Progress {
            label: label.into(),
            total,
            started: Instant::now(),
            last: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// `done` events so far.
    pub fn update(&mut self, done: u64) {
        let every = if self.terminal { REDRAW } else { PLAIN_EVERY };
        let now = Instant::now();
        if self.last.is_some_and(|last| now - last < every) {
            return;
        }
        self.last = Some(now);
        let line = self.line(done, now - self.started);
        if self.terminal {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
        let _ = std::io::stderr().flush();
    }

    /// What a line says after `elapsed` with `done` events.
    fn line(&self, done: u64, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let mut line = format!("{}: ", self.label);
        match self.total.filter(|t| *t > 0) {
            Some(total) => {
                let share = (done as f64 / total as f64).min(1.0);
                if self.terminal {
                    let filled = (share * BAR_WIDTH as f64) as usize;
                    line.push_str(&format!(
                        "[{}{}] ",
                        "#".repeat(filled),
                        ".".repeat(BAR_WIDTH - filled)
                    ));
                }
                line.push_str(&format!(
                    "{done}/{total} events ({:.0}%), {rate:.0}/s",
                    share * 100.0
                ));
                if rate > 0.0 && done < total {
                    let left = (total - done) as f64 / rate;
                    line.push_str(&format!(", {} left", clock(left)));
                }
            }
            None => line.push_str(&format!("{done} events, {rate:.0}/s")),
        }
        line
    }

    /// Ends the progress display with `summary` on a line of its own.
    pub fn finish(&self, summary: &str) {
        if self.terminal && self.last.is_some() {
            eprint!("\r\x1b[K");
        }
        eprintln!("{summary}");
    }

    /// Seconds since the start.
    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// `75.0` → `1:15`, `3725.0` → `1:02:05`.
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_count_share_rate_and_time_left() {
        let mut p = Progress::new("verifying", Some(1_000));
        p.terminal = false;
        assert_eq!(
            p.line(250, Duration::from_secs(5)),
            "verifying: 250/1000 events (25%), 50/s, 0:15 left"
        );
        p.terminal = true;
        assert!(
            p.line(500, Duration::from_secs(5))
                .starts_with("verifying: [###############...............] 500/1000")
        );
        let unknown = Progress::new("importing", None);
        assert_eq!(
            unknown.line(10, Duration::from_secs(2)),
            "importing: 10 events, 5/s"
        );
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
