//! Progress display: a bar (name, bar, bytes, speed, ETA) when stdout is a terminal, plain lines otherwise — one
//! at every 10 % step, or after a second without one. Messages go to stderr without breaking the bar.

use std::io::Write as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tussi_cli::size::human_bytes;

/// Shows how far an upload is.
pub(crate) enum Progress {
    /// An interactive bar on stdout.
    Bar(ProgressBar),
    /// Plain lines on stdout.
    Lines(Lines),
}

/// State of the plain-line display.
pub(crate) struct Lines {
    name: String,
    total: u64,
    start: Instant,
    start_offset: u64,
    last_line: Instant,
    last_step: u64,
}

impl Progress {
    /// A display for `name` of `total` bytes, starting at `offset`: a bar if `terminal`.
    pub(crate) fn new(name: &str, total: u64, offset: u64, terminal: bool) -> Progress {
        if terminal {
            let style = ProgressStyle::with_template(
                "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stdout()).with_style(style);
            bar.set_message(name.to_owned());
            bar.set_position(offset);
            bar.reset_eta();
            Progress::Bar(bar)
        } else {
            let now = Instant::now();
            Progress::Lines(Lines {
                name: name.to_owned(),
                total,
                start: now,
                start_offset: offset,
                last_line: now,
                last_step: step(offset, total),
            })
        }
    }

    /// The upload is at `offset`.
    pub(crate) fn set(&mut self, offset: u64) {
        match self {
            Progress::Bar(bar) => bar.set_position(offset),
            Progress::Lines(lines) => lines.set(offset),
        }
    }

    /// Prints `message` on stderr.
    pub(crate) fn message(&self, message: &str) {
        match self {
            Progress::Bar(bar) => bar.suspend(|| eprintln!("{message}")),
            Progress::Lines(_) => eprintln!("{message}"),
        }
    }

    /// Ends the display (the bar stays on screen).
    pub(crate) fn finish(&mut self, offset: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(offset);
                bar.finish();
            }
            Progress::Lines(lines) => {
                if step(offset, lines.total) != lines.last_step {
                    lines.print(offset);
                }
            }
        }
    }
}

/// Which 10 % step `offset` is in (10 when done).
fn step(offset: u64, total: u64) -> u64 {
    if total == 0 {
        10
    } else {
        (u128::from(offset) * 10 / u128::from(total)) as u64
    }
}

impl Lines {
    fn set(&mut self, offset: u64) {
        let step = step(offset, self.total);
        if step != self.last_step || self.last_line.elapsed() >= Duration::from_secs(1) {
            self.last_step = step;
            self.print(offset);
        }
    }

    fn print(&mut self, offset: u64) {
        self.last_line = Instant::now();
        let elapsed = self.start.elapsed().as_secs_f64();
        let sent = offset.saturating_sub(self.start_offset) as f64;
        let rate = if elapsed > 0.0 { sent / elapsed } else { 0.0 };
        let percent = if self.total == 0 { 100.0 } else { offset as f64 * 100.0 / self.total as f64 };
        let eta = if rate > 0.0 {
            format!("{:.0}s", self.total.saturating_sub(offset) as f64 / rate)
        } else {
            "?".to_owned()
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "progress: {} {offset}/{} bytes ({percent:.0}%) {}/s ETA {eta}",
            self.name,
            self.total,
            human_bytes(rate as u64),
        );
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::step;

    #[test]
    fn steps_of_ten_percent() {
        assert_eq!(step(0, 100), 0);
        assert_eq!(step(9, 100), 0);
        assert_eq!(step(10, 100), 1);
        assert_eq!(step(100, 100), 10);
        assert_eq!(step(0, 0), 10);
        assert_eq!(step(u64::MAX, u64::MAX), 10);
    }
}
