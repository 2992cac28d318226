//! Layer 5 of 5: the command line. Parses arguments, calls `starling-host`, prints one
//! `starling: ` line for errors and maps outcomes to exit statuses.

mod args;
mod cluster;
mod init;
mod lint;
mod registry;
mod run;
mod version;

use std::io::Write;

use clap::Parser;

/// Exit status for command-line and configuration errors.
pub(crate) const EXIT_ERROR: i32 = 1;
/// Exit status when the runtime itself failed (BSD's EX_SOFTWARE).
pub(crate) const EXIT_INTERNAL: i32 = 70;

pub(crate) fn main() -> i32 {
    let args = match args::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let result = match args.command {
        args::Command::Init(a) => init::init(a),
        args::Command::Run(a) => run::run(&args.global, a),
        args::Command::Lint(a) => lint::lint(&args.global, a),
        args::Command::Registry(c) => registry::registry(&args.global, c),
        args::Command::Version(a) => version::version(a),
        args::Command::Cluster(a) => cluster::cluster(&args.global, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let mut msg = format!("{e}");
            // Error types that already embed their source in the message are not repeated.
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !msg.contains(&cause) {
                    msg.push_str(&format!(": {cause}"));
                }
            }
            // Not eprintln!: it panics when stderr is gone (a terminal closed after SIGHUP).
            let _ = writeln!(std::io::stderr(), "starling: {msg}");
            let internal = matches!(
                e.downcast_ref::<starling_host::BootError>(),
                Some(starling_host::BootError::Internal(_))
            );
            if internal { EXIT_INTERNAL } else { EXIT_ERROR }
        }
    }
}
