//! Logging and progress set-up for binaries: a `tracing-subscriber` fmt layer on stderr plus
//! `tracing-indicatif`'s layer, which turns long spans into progress bars (STYLE.md §2.4).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_indicatif::IndicatifLayer;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::{CommonArgs, LogFormat};

/// Installs the global subscriber: `RUST_LOG` if set, else the level from `-v`/`-q`; pretty
/// lines with progress bars for spans, or JSON lines without bars. Logs go to stderr. Calling it
/// twice keeps the first subscriber.
pub fn init_tracing(common: &CommonArgs) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(common.log_level()));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match common.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Pretty => {
            let indicatif = IndicatifLayer::new();
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_target(false)
                        .with_ansi(std::io::stderr().is_terminal())
                        .with_writer(indicatif.get_stderr_writer()),
                )
                .with(indicatif)
                .try_init()
        }
    };
    // A second call (e.g. from a test) finds a subscriber already installed; keep that one.
    drop(result);
}

/// A progress bar for `len` steps, drawn on stderr, hidden when stderr is not a terminal.
pub fn progress_bar(len: u64, msg: &str) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let style = ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(Some(len), target)
        .with_style(style)
        .with_message(msg.to_owned())
}
