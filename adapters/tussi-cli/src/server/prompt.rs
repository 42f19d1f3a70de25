//! The start-up questions of `tussi-server` in a terminal: each shows its default, Enter accepts it, an invalid
//! answer is asked again. End of input accepts the defaults of everything left.

use std::fmt::Display;
use std::io::{self, BufRead, Write};
use std::str::FromStr;

/// Asks questions on `output` and reads the answers from `input`.
pub(crate) struct Prompter<R, W> {
    input: R,
    output: W,
    closed: bool,
}

impl<R: BufRead, W: Write> Prompter<R, W> {
    /// A prompter over the given streams.
    pub(crate) fn new(input: R, output: W) -> Self {
        Prompter { input, output, closed: false }
    }

    /// Asks `label`, showing `default`; returns the answer parsed, or `default` for an empty answer or at the end
    /// of input.
    pub(crate) fn ask<T>(&mut self, label: &str, default: T) -> io::Result<T>
    where
        T: FromStr + Display,
        T::Err: Display,
    {
        loop {
            if self.closed {
                return Ok(default);
            }
            write!(self.output, "{label} [{default}]: ")?;
            self.output.flush()?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                self.closed = true;
                writeln!(self.output)?;
                return Ok(default);
            }
            let answer = line.trim();
            if answer.is_empty() {
                return Ok(default);
            }
            match answer.parse() {
                Ok(value) => return Ok(value),
                Err(e) => writeln!(self.output, "  {answer:?} is not valid: {e}")?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_accepts_defaults_and_answers_override() {
        let input = b"\n/srv/dest\n  0.0.0.0  \nnope\n99999\n9000\n";
        let mut out = Vec::new();
        let mut prompter = Prompter::new(&input[..], &mut out);
        assert_eq!(prompter.ask("Upload dir", "./uploads".to_owned()).unwrap(), "./uploads");
        assert_eq!(prompter.ask("Dest dir", "./dest".to_owned()).unwrap(), "/srv/dest");
        assert_eq!(prompter.ask("Host", "127.0.0.1".to_owned()).unwrap(), "0.0.0.0");
        assert_eq!(prompter.ask("Port", 8080u16).unwrap(), 9000);
        let shown = String::from_utf8(out).unwrap();
        assert!(shown.contains("Upload dir [./uploads]: "), "{shown}");
        assert!(shown.contains("Port [8080]: "), "{shown}");
        assert_eq!(shown.matches("is not valid").count(), 2, "{shown}");
    }

    #[test]
    fn end_of_input_takes_the_defaults() {
        let mut out = Vec::new();
        let mut prompter = Prompter::new(&b"7000"[..], &mut out);
        assert_eq!(prompter.ask("Port", 8080u16).unwrap(), 7000);
        assert_eq!(prompter.ask("Port", 8081u16).unwrap(), 8081);
        assert_eq!(prompter.ask("Host", "h".to_owned()).unwrap(), "h");
    }
}
