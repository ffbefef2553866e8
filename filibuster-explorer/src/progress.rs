//! The progress bar of explorations, and a writer for log lines that does
//! not garble it.
//!
//! An [`Explorer`](crate::Explorer) with [`progress(true)`](crate::Explorer::progress)
//! draws a spinner on the last line of stderr (on a terminal only) and
//! redraws it ten times a second. A log line written straight to stderr
//! meanwhile lands in the middle of it: half a spinner, then the line, then
//! the spinner drawn over what follows. [`progress_writer`] writes whole
//! lines above the bars instead: it clears them, writes, and draws them
//! again. Give it to the subscriber that prints your logs:
//!
//! ```no_run
//! // `RUST_LOG`-filtered logs on stderr, above the exploration's spinner.
//! tracing_subscriber::fmt()
//!     .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
//!     .with_writer(filibuster_explorer::progress_writer)
//!     .init();
//! ```
//!
//! (In a composed subscriber, `tracing_subscriber::fmt::layer().with_writer(filibuster_explorer::progress_writer)`.)
//! The `filibuster` command and the cinema example set theirs up so. With
//! no bar on screen, or stderr not a terminal, the writer writes to stderr
//! as `std::io::stderr` would.

use std::io::{self, Write};
use std::sync::LazyLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
#[cfg(test)]
use indicatif::{ProgressDrawTarget, TermLike};

/// The bars of every exploration of the process, on stderr.
static STDERR: LazyLock<Progress> =
    LazyLock::new(|| Progress { bars: MultiProgress::new(), out: Out::Stderr });

/// Where explorations draw their progress bars, and where log lines go
/// around them.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    /// Every bar drawn: explorations running at once share the screen, one
    /// line each.
    bars: MultiProgress,
    /// Where the lines of [`ProgressWriter`]s go.
    out: Out,
}

#[derive(Clone, Debug)]
enum Out {
    Stderr,
    /// A terminal of the crate's tests, to read what was drawn.
    #[cfg(test)]
    Term(std::sync::Arc<dyn TermLike>),
}

impl Progress {
    /// The bars on stderr, shared by the whole process.
    pub(crate) fn stderr() -> Self {
        STDERR.clone()
    }

    /// Bars and lines drawn on `term`.
    #[cfg(test)]
    pub(crate) fn term(term: impl TermLike + Clone + 'static) -> Self {
        Self {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone()))),
            out: Out::Term(std::sync::Arc::new(term)),
        }
    }

    /// A new spinner under the bars already drawn, ticking on its own.
    pub(crate) fn spinner(&self) -> ProgressBar {
        let bar = self.bars.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} exploring: {msg} [{elapsed}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// Clears `bar` away and forgets it.
    pub(crate) fn finish(&self, bar: &ProgressBar) {
        bar.finish_and_clear();
        self.bars.remove(bar);
    }

    /// A writer of lines above these bars.
    fn writer(&self) -> ProgressWriter {
        ProgressWriter { progress: self.clone(), pending: Vec::new() }
    }

    /// Writes `bytes` with the bars cleared away, then draws them again.
    fn write_above(&self, bytes: &[u8]) -> io::Result<()> {
        self.bars.suspend(|| match &self.out {
            Out::Stderr => {
                let mut stderr = io::stderr().lock();
                stderr.write_all(bytes)?;
                stderr.flush()
            }
            #[cfg(test)]
            Out::Term(term) => {
                for line in String::from_utf8_lossy(bytes).split_inclusive('\n') {
                    match line.strip_suffix('\n') {
                        Some(line) => term.write_line(line)?,
                        None => term.write_str(line)?,
                    }
                }
                term.flush()
            }
        })
    }
}

/// A writer for log lines that keeps the progress bars of explorations
/// whole: give [`progress_writer`] to your `tracing_subscriber::fmt`
/// subscriber or layer (`.with_writer(filibuster::progress_writer)`).
///
/// It writes each complete line at once, above the bars (which it clears,
/// then draws again), and keeps an unfinished line until its end arrives,
/// [`flush`](Write::flush) is called or the writer is dropped, so that no
/// bar is ever drawn in the middle of a line. With no bar on screen it
/// writes to stderr.
#[derive(Debug)]
pub struct ProgressWriter {
    progress: Progress,
    /// The start of a line whose end has not been written yet.
    pending: Vec<u8>,
}

/// A writer of log lines to stderr, above the progress bars of the
/// explorations running in the process (see [`ProgressWriter`]).
///
/// A function, so that it is itself a `tracing_subscriber` `MakeWriter`:
///
/// ```no_run
/// tracing_subscriber::fmt().with_writer(filibuster_explorer::progress_writer).init();
/// ```
pub fn progress_writer() -> ProgressWriter {
    Progress::stderr().writer()
}

impl Write for ProgressWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match bytes.iter().rposition(|&b| b == b'\n') {
            // Only the start of a line: keep it for later.
            None => self.pending.extend_from_slice(bytes),
            Some(end) => {
                let (lines, rest) = bytes.split_at(end + 1);
                if self.pending.is_empty() {
                    self.progress.write_above(lines)?;
                } else {
                    self.pending.extend_from_slice(lines);
                    let pending = std::mem::take(&mut self.pending);
                    self.progress.write_above(&pending)?;
                }
                self.pending.extend_from_slice(rest);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        self.progress.write_above(&pending)
    }
}

impl Drop for ProgressWriter {
    fn drop(&mut self) {
        // Nowhere to report a failure to: stderr is where it would go.
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    //! Log lines written through the writer during an exploration come out
    //! whole, each on a line of its own, with the spinner drawn again below
    //! them: checked on the screen of an in-memory terminal.

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use indicatif::InMemoryTerm;

    use super::*;
    use crate::Explorer;

    /// What the terminal showed at the end of each execution.
    fn screen_lines(term: &InMemoryTerm) -> Vec<String> {
        term.contents().lines().map(|line| line.trim_end().to_owned()).filter(|l| !l.is_empty()).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn log_lines_during_an_exploration_come_out_whole_above_the_spinner() {
        let term = InMemoryTerm::new(60, 240);
        let progress = Progress::term(term.clone());
        let logs = progress.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.writer())
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);

        let explorer = Explorer::new().allow_no_calls(true).with_progress(progress);
        let logged = AtomicUsize::new(0);
        let screens = Mutex::new(Vec::new());
        explorer
            .run(|_| async {
                for _ in 0..4 {
                    let n = logged.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(
                        n,
                        "log line number {n}, long enough to be cut by a spinner drawn over it"
                    );
                    // Long enough for the spinner to tick, and draw, twice.
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                screens.lock().unwrap().push(screen_lines(&term));
                Ok::<(), String>(())
            })
            .await;

        let logged = logged.into_inner();
        let screens = screens.into_inner().unwrap();
        assert!(logged >= 4 && !screens.is_empty(), "the test ran: {logged} lines logged");
        let last = screens.last().unwrap();
        for n in 0..logged {
            // `WARN <the execution's span>: <message> <fields>`
            let end = format!("log line number {n}, long enough to be cut by a spinner drawn over it n={n}");
            let found: Vec<&String> =
                last.iter().filter(|line| line.contains(&format!("number {n},"))).collect();
            assert_eq!(found.len(), 1, "line {n} once on the screen:\n{}", last.join("\n"));
            let line = found[0].trim_start();
            assert!(
                line.starts_with("WARN ") && line.ends_with(&end),
                "line {n} whole:\n{}",
                last.join("\n")
            );
        }
        for screen in &screens {
            let bottom = screen.last().expect("something on the screen");
            assert!(
                bottom.contains("exploring: ") && !bottom.contains("WARN"),
                "the spinner alone on the last line, below the logs:\n{}",
                screen.join("\n")
            );
            let spinners = screen.iter().filter(|line| line.contains("exploring: ")).count();
            assert_eq!(spinners, 1, "one spinner on the screen:\n{}", screen.join("\n"));
        }
        assert!(
            !screen_lines(&term).iter().any(|line| line.contains("exploring: ")),
            "the spinner is cleared away at the end:\n{}",
            term.contents()
        );
    }

    #[test]
    fn a_line_written_in_pieces_is_written_once_whole() {
        let term = InMemoryTerm::new(10, 80);
        let progress = Progress::term(term.clone());
        let mut writer = progress.writer();
        writer.write_all(b"first ").unwrap();
        assert_eq!(term.contents().trim(), "", "nothing before the line ends");
        writer.write_all(b"half\nsecond ").unwrap();
        assert_eq!(term.contents().trim(), "first half");
        drop(writer);
        assert_eq!(term.contents().lines().map(str::trim_end).collect::<Vec<_>>(), ["first half", "second"]);
    }
}
