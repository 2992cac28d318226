//! Command-line arguments (SPEC §3): commands and flags mirror `wippy`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Run actor-model applications written as YAML entries and Lua processes.
#[derive(Debug, Parser)]
#[command(name = "starling", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags accepted by every command.
#[derive(Debug, Args, Clone)]
pub(crate) struct Global {
    /// Configuration file (repeatable; replaces ./.wippy.yaml)
    #[arg(long = "config", value_name = "FILE", global = true)]
    pub(crate) config: Vec<PathBuf>,
    /// Debug level for all logs
    #[arg(short = 'v', long, global = true)]
    pub(crate) verbose: bool,
    /// Debug level plus stack traces
    #[arg(long = "very-verbose", global = true)]
    pub(crate) very_verbose: bool,
    /// Coloured console log format
    #[arg(short = 'c', long, global = true)]
    pub(crate) console: bool,
    /// No log output at all
    #[arg(short = 's', long, global = true)]
    pub(crate) silent: bool,
    /// Event streams (accepted; no effect yet)
    #[arg(short = 'e', long = "event-streams", global = true)]
    pub(crate) event_streams: bool,
    /// Profiler (accepted; no effect yet)
    #[arg(short = 'p', long, global = true)]
    pub(crate) profiler: bool,
    /// Memory limit such as 512M or 1G (advisory)
    #[arg(short = 'm', long = "memory-limit", value_name = "SIZE", global = true)]
    pub(crate) memory_limit: Option<String>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a wippy.lock for the project in the current directory
    Init(InitArgs),
    /// Run the project: services until SIGINT/SIGTERM, one process with -x, or a named command
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Look at a running cluster (`cluster status`)
    Cluster(ClusterArgs),
    /// Check the project: every load error and everything Starling cannot run; exits 1 if any
    #[command(visible_alias = "check")]
    Lint(LintArgs),
    /// List or show registry entries
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Print version information
    Version(VersionArgs),
}

/// The end of `run --help`.
const RUN_HELP: &str = "\
Named commands: `starling run list` lists the process entries that set meta.command.name;
`starling run <name> [args...]` runs one like -x does.

Logs: with -x, stdout carries only what the program writes; application logs (logger, print)
and warnings go to stderr (Wippy's -x is silent instead). Add -s to keep the screen to the
program's own output, as Wippy's tutorials show it.";

/// `starling version`.
#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Only the version number
    #[arg(long)]
    pub(crate) short: bool,
}

/// `starling lint` / `starling check`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Path of the lock file
    #[arg(short = 'l', long = "lock-file", default_value = "wippy.lock")]
    pub(crate) lock_file: PathBuf,
    /// Configuration override section.path=value (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

/// `starling registry ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// List entries, optionally filtered
    List(RegistryListArgs),
    /// Show one entry
    Show(RegistryShowArgs),
}

/// `starling registry list`.
#[derive(Debug, Args)]
pub(crate) struct RegistryListArgs {
    /// Filter by kind (glob pattern)
    #[arg(short = 'k', long)]
    pub(crate) kind: Option<String>,
    /// Filter by namespace (glob pattern)
    #[arg(short = 'n', long)]
    pub(crate) ns: Option<String>,
    /// Filter by name (glob pattern)
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Filter by metadata: field=value (repeatable)
    #[arg(long, value_name = "FIELD=VALUE")]
    pub(crate) meta: Vec<String>,
    /// Output as JSON
    #[arg(long)]
    pub(crate) json: bool,
    /// Path of the lock file
    #[arg(short = 'l', long = "lock-file", default_value = "wippy.lock")]
    pub(crate) lock_file: PathBuf,
}

/// `starling registry show`.
#[derive(Debug, Args)]
pub(crate) struct RegistryShowArgs {
    /// Entry id (namespace:name)
    pub(crate) id: String,
    /// Show only this field (`kind`, `meta`, `data`, `meta.x`, `data.x`...)
    #[arg(short = 'f', long)]
    pub(crate) field: Option<String>,
    /// Output as JSON
    #[arg(long)]
    pub(crate) json: bool,
    /// Path of the lock file
    #[arg(short = 'l', long = "lock-file", default_value = "wippy.lock")]
    pub(crate) lock_file: PathBuf,
}

/// `starling cluster`.
#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    #[command(subcommand)]
    pub(crate) command: ClusterCommand,
}

/// `starling cluster` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Show the nodes of the cluster, their state and the names they hold
    Status(StatusArgs),
}

/// `starling cluster status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// NATS URLs (comma-separated; default: cluster.nats.urls of the configuration)
    #[arg(long = "cluster", value_name = "URLS")]
    pub(crate) cluster: Option<String>,
    /// Configuration override section.path=value (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
    /// How long to listen for heartbeats, in milliseconds
    #[arg(long = "listen", value_name = "MS", default_value_t = 1200)]
    pub(crate) listen: u64,
}

/// `starling init`.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Source directory written to the lock file
    #[arg(short = 'd', long = "src-dir", default_value = "./src")]
    pub(crate) src_dir: String,
    /// Vendored-module directory written to the lock file
    #[arg(long = "modules-dir", default_value = ".wippy")]
    pub(crate) modules_dir: String,
    /// Path of the lock file
    #[arg(short = 'l', long = "lock-file", default_value = "wippy.lock")]
    pub(crate) lock_file: PathBuf,
}

/// `starling run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Run one process on a terminal host and exit when it ends: ns:entry or host/ns:entry.
    /// Application logs go to stderr; add -s for a clean screen
    #[arg(short = 'x', long = "exec", value_name = "SPEC")]
    pub(crate) exec: Option<String>,
    /// Terminal host to use with -x
    #[arg(long, value_name = "ID")]
    pub(crate) host: Option<String>,
    /// Configuration override section.path=value (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
    /// Entry override ns:entry:field=value (repeatable)
    #[arg(short = 'o', long = "override", value_name = "ID:FIELD=VALUE")]
    pub(crate) overrides: Vec<String>,
    /// Path of the lock file
    #[arg(short = 'l', long = "lock-file", default_value = "wippy.lock")]
    pub(crate) lock_file: PathBuf,
    /// Join a cluster as this node (= --set cluster.enabled=true --set cluster.name=NAME)
    #[arg(long = "node", value_name = "NAME")]
    pub(crate) node: Option<String>,
    /// NATS URLs of the cluster, comma-separated (= --set cluster.nats.urls=URLS)
    #[arg(long = "cluster", value_name = "URLS")]
    pub(crate) cluster: Option<String>,
    /// `list`, or a named command and its arguments; with -x, arguments for the process
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub(crate) args: Vec<String>,
}
