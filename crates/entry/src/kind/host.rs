//! `process.host` (SPEC 2.1) and `terminal.host` (SPEC 2.2).

use std::time::Duration;

use crate::error::LoadError;
use crate::kind::fields::Fields;
use crate::lifecycle::Lifecycle;

/// Default `host.queue_size`.
pub const DEFAULT_QUEUE_SIZE: usize = 1024;
/// Default `host.local_queue_size`.
pub const DEFAULT_LOCAL_QUEUE_SIZE: usize = 256;
/// Default `host.max_mailbox`, also used for terminal hosts (which have no `host` block).
pub const DEFAULT_MAX_MAILBOX: usize = 1_000_000;
/// Default `host.watchdog`: a quarter second of CPU time where a process cannot be
/// suspended, so a sleeper beside such code is at most that late (issue 11).
pub const DEFAULT_WATCHDOG: Duration = Duration::from_millis(250);
/// The smallest `host.watchdog` accepted.
pub const MIN_WATCHDOG: Duration = Duration::from_millis(10);
/// The largest `host.watchdog` accepted.
pub const MAX_WATCHDOG: Duration = Duration::from_secs(3600);

/// Default `host.memory_limit`: 1 GiB of Lua memory per worker VM.
pub const DEFAULT_MEMORY_LIMIT: u64 = 1 << 30;
/// The smallest `host.memory_limit` accepted: a VM with its modules takes about 1 MB.
pub const MIN_MEMORY_LIMIT: u64 = 4 << 20;
/// The largest `host.memory_limit` accepted (1 TiB per worker): anything bigger is a typo.
pub const MAX_MEMORY_LIMIT: u64 = 1 << 40;
/// The most `host.workers` a host may have. Each is a thread with its own Lua VM (about
/// 0.5 MB before any process runs), so a million would take the machine down at boot;
/// Erlang caps its schedulers at the same number.
pub const MAX_WORKERS: usize = 1024;
/// The largest `host.max_mailbox` other than 0 (no limit): a hundred million queued messages
/// is tens of gigabytes, past which the limit protects nothing.
pub const MAX_MAILBOX_LIMIT: usize = 100_000_000;

/// A host that runs Lua processes on a worker pool.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessHostSpec {
    /// `host.workers`: worker threads. Default: the number of CPUs.
    pub workers: usize,
    /// `host.queue_size`: global run-queue capacity, a tuning hint. Default 1024.
    pub queue_size: usize,
    /// `host.local_queue_size`: per-worker queue capacity, a tuning hint. Default 256.
    pub local_queue_size: usize,
    /// `host.max_mailbox`: most messages a process of this host may have queued (mailbox and
    /// `listen` queues together) before it is killed; 0 = unbounded. Default 1,000,000.
    pub max_mailbox: usize,
    /// `host.memory_limit`: bytes of Lua memory each worker's VM may hold, shared by the
    /// processes of that worker. Default [`DEFAULT_MEMORY_LIMIT`].
    pub memory_limit: u64,
    /// `host.watchdog`: CPU time a process may spend where it cannot be suspended (a
    /// metamethod, a `table.sort` comparator, a user coroutine, a pattern match, its chunk's
    /// top level) before it is ended with an error. Default [`DEFAULT_WATCHDOG`].
    pub watchdog: Duration,
    /// `lifecycle`.
    pub lifecycle: Lifecycle,
}

impl ProcessHostSpec {
    pub(super) fn from_fields(data: &Fields<'_>) -> Result<ProcessHostSpec, LoadError> {
        let host = data.block("host")?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Zero or absent takes the default; what is left must be positive (SPEC 2.1).
        let size = |key: &str, default: usize| -> Result<usize, LoadError> {
            match host.integer(key)? {
                None | Some(0) => Ok(default),
                Some(n) if n < 0 => {
                    Err(host.error(format!("{} must be positive, found {n}", host.name(key))))
                }
                Some(n) => usize::try_from(n)
                    .map_err(|_| host.error(format!("{} is too large, found {n}", host.name(key)))),
            }
        };
        // A limit: absent takes the default, 0 means none, negative is an error.
        let limit = |key: &str, default: usize| -> Result<usize, LoadError> {
            match host.integer(key)? {
                None => Ok(default),
                Some(n) => usize::try_from(n).map_err(|_| {
                    host.error(format!(
                        "{} must be 0 (unbounded) or positive, found {n}",
                        host.name(key)
                    ))
                }),
            }
        };
        let workers = size("workers", cpus)?;
        if workers > MAX_WORKERS {
            return Err(host.error(format!(
                "{} must be at most {MAX_WORKERS}, found {workers}",
                host.name("workers")
            )));
        }
        let max_mailbox = limit("max_mailbox", DEFAULT_MAX_MAILBOX)?;
        if max_mailbox > MAX_MAILBOX_LIMIT {
            return Err(host.error(format!(
                "{} must be at most {MAX_MAILBOX_LIMIT} (or 0 for no limit), found {max_mailbox}",
                host.name("max_mailbox")
            )));
        }
        Ok(ProcessHostSpec {
            workers,
            queue_size: size("queue_size", DEFAULT_QUEUE_SIZE)?,
            local_queue_size: size("local_queue_size", DEFAULT_LOCAL_QUEUE_SIZE)?,
            max_mailbox,
            memory_limit: memory_limit(&host)?,
            watchdog: watchdog(&host)?,
            lifecycle: Lifecycle::from_fields(data)?,
        })
    }
}

/// `host.watchdog`: a duration between [`MIN_WATCHDOG`] and [`MAX_WATCHDOG`]; absent or zero
/// takes [`DEFAULT_WATCHDOG`].
fn watchdog(host: &Fields<'_>) -> Result<Duration, LoadError> {
    let d = host.duration_or("watchdog", DEFAULT_WATCHDOG)?;
    if d.is_zero() {
        return Ok(DEFAULT_WATCHDOG);
    }
    if !(MIN_WATCHDOG..=MAX_WATCHDOG).contains(&d) {
        return Err(host.error(format!(
            "{} must be between 10ms and 1h, found {d:?}",
            host.name("watchdog")
        )));
    }
    Ok(d)
}

/// `host.memory_limit`: a byte count or a size string (`"512MB"`); zero or absent takes the
/// default.
pub(super) fn memory_limit(host: &Fields<'_>) -> Result<u64, LoadError> {
    let key = "memory_limit";
    let bytes = match host.raw(key) {
        None => None,
        Some(serde_json::Value::String(s)) => Some(
            parse_size(s)
                .ok_or_else(|| host.error(format!("{}: invalid size {s:?}", host.name(key))))?,
        ),
        Some(_) => match host.integer(key) {
            Ok(Some(n)) if n < 0 => {
                return Err(host.error(format!("{} must be positive, found {n}", host.name(key))));
            }
            Ok(n) => n.map(|n| n as u64),
            Err(_) => {
                return Err(host.error(format!(
                    "{} must be a size such as \"512MB\" or a number of bytes",
                    host.name(key)
                )));
            }
        },
    };
    match bytes {
        None | Some(0) => Ok(DEFAULT_MEMORY_LIMIT),
        Some(n) if n < MIN_MEMORY_LIMIT => Err(host.error(format!(
            "{} must be at least 4MB, found {n} bytes",
            host.name(key)
        ))),
        Some(n) if n > MAX_MEMORY_LIMIT => Err(host.error(format!(
            "{} must be at most 1TB, found {n} bytes",
            host.name(key)
        ))),
        Some(n) => Ok(n),
    }
}

/// Parses a size: a number with an optional unit `B`, `K`/`KB`/`KiB`, `M`/`MB`/`MiB`,
/// `G`/`GB`/`GiB`, `T`/`TB`/`TiB` (case-insensitive, all powers of 1024, spaces allowed
/// before the unit). A fraction is allowed with a unit (`"1.5GB"`). `None` when malformed or
/// beyond `u64`.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let shift = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    if number.is_empty() || number == "." {
        return None;
    }
    if let Ok(n) = number.parse::<u64>() {
        return n.checked_mul(1u64 << shift);
    }
    let f: f64 = number.parse().ok()?;
    let bytes = (f * (1u64 << shift) as f64).floor();
    (bytes.is_finite() && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// A host that runs one process at a time, bound to the terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalHostSpec {
    /// `hide_logs`: keep log lines off the console while its process runs. Default false.
    pub hide_logs: bool,
    /// `lifecycle`.
    pub lifecycle: Lifecycle,
}

impl TerminalHostSpec {
    pub(super) fn from_fields(data: &Fields<'_>) -> Result<TerminalHostSpec, LoadError> {
        Ok(TerminalHostSpec {
            hide_logs: data.boolean("hide_logs")?.unwrap_or(false),
            lifecycle: Lifecycle::from_fields(data)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EntryRef, Site};
    use crate::id::EntryId;
    use serde_json::{Value, json};

    fn site() -> Site {
        Site {
            file: "a.yaml".into(),
            line: Some(2),
            column: None,
            entry: Some(EntryRef::Id(EntryId::new("app", "processes"))),
        }
    }

    fn process_host(data: Value) -> Result<ProcessHostSpec, String> {
        let site = site();
        let map = data.as_object().expect("object").clone();
        ProcessHostSpec::from_fields(&Fields::new(&site, "app", &map)).map_err(|e| e.to_string())
    }

    #[test]
    fn process_host_defaults() {
        let spec = process_host(json!({"lifecycle": {"auto_start": true}})).expect("valid");
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(spec.workers, cpus);
        assert_eq!(spec.queue_size, 1024);
        assert_eq!(spec.local_queue_size, 256);
        assert_eq!(spec.max_mailbox, 1_000_000);
        assert_eq!(spec.memory_limit, 1 << 30);
        assert!(spec.lifecycle.auto_start);
        let zero = process_host(json!({"host": {"workers": 0}})).expect("valid");
        assert_eq!(zero.workers, cpus);
    }

    #[test]
    fn process_host_reads_sizes() {
        let spec =
            process_host(json!({"host": {"workers": 3, "queue_size": 10, "local_queue_size": 4}}))
                .expect("valid");
        assert_eq!(
            (spec.workers, spec.queue_size, spec.local_queue_size),
            (3, 10, 4)
        );
    }

    #[test]
    fn process_host_reads_watchdog() {
        let default = process_host(json!({})).expect("valid");
        assert_eq!(default.watchdog, DEFAULT_WATCHDOG);
        let set = process_host(json!({"host": {"watchdog": "2s"}})).expect("valid");
        assert_eq!(set.watchdog, Duration::from_secs(2));
        let err = process_host(json!({"host": {"watchdog": "1ms"}})).unwrap_err();
        assert!(
            err.contains("host.watchdog must be between 10ms and 1h"),
            "{err}"
        );
    }

    #[test]
    fn process_host_reads_max_mailbox() {
        let spec = process_host(json!({"host": {"max_mailbox": 50}})).expect("valid");
        assert_eq!(spec.max_mailbox, 50);
        let unbounded = process_host(json!({"host": {"max_mailbox": 0}})).expect("valid");
        assert_eq!(unbounded.max_mailbox, 0);
        assert_eq!(
            process_host(json!({"host": {"max_mailbox": -1}})),
            Err(
                "a.yaml:2: entry app:processes: host.max_mailbox must be 0 (unbounded) or positive, found -1"
                    .into()
            )
        );
    }

    #[test]
    fn negative_sizes_are_errors() {
        assert_eq!(
            process_host(json!({"host": {"workers": -2}})),
            Err("a.yaml:2: entry app:processes: host.workers must be positive, found -2".into())
        );
        assert_eq!(
            process_host(json!({"host": {"queue_size": -1}})),
            Err("a.yaml:2: entry app:processes: host.queue_size must be positive, found -1".into())
        );
        assert_eq!(
            process_host(json!({"host": {"workers": "four"}})),
            Err(
                "a.yaml:2: entry app:processes: host.workers must be an integer, found a string"
                    .into()
            )
        );
    }

    /// Issue 11: `workers: 1000000` started a million threads; absurd limits are load errors.
    #[test]
    fn absurd_sizes_are_errors() {
        let host = |v: Value| process_host(json!({ "host": v }));
        assert_eq!(host(json!({"workers": 1024})).map(|s| s.workers), Ok(1024));
        assert_eq!(
            host(json!({"workers": 1_000_000})),
            Err(
                "a.yaml:2: entry app:processes: host.workers must be at most 1024, found 1000000"
                    .into()
            )
        );
        assert_eq!(
            host(json!({"max_mailbox": 100_000_000})).map(|s| s.max_mailbox),
            Ok(100_000_000)
        );
        assert_eq!(
            host(json!({"max_mailbox": 100_000_001})),
            Err(
                "a.yaml:2: entry app:processes: host.max_mailbox must be at most 100000000 \
                 (or 0 for no limit), found 100000001"
                    .into()
            )
        );
        assert_eq!(
            host(json!({"memory_limit": "1TB"})).map(|s| s.memory_limit),
            Ok(1 << 40)
        );
        assert_eq!(
            host(json!({"memory_limit": "1025GB"})),
            Err(
                "a.yaml:2: entry app:processes: host.memory_limit must be at most 1TB, \
                 found 1100585369600 bytes"
                    .into()
            )
        );
        assert!(host(json!({"memory_limit": 1e30})).is_err());
        assert!(host(json!({"memory_limit": "99999999999TB"})).is_err());
    }

    #[test]
    fn memory_limit_reads_sizes() {
        let limit =
            |v: Value| process_host(json!({"host": {"memory_limit": v}})).map(|s| s.memory_limit);
        assert_eq!(limit(json!("64MB")), Ok(64 << 20));
        assert_eq!(limit(json!("1 GiB")), Ok(1 << 30));
        assert_eq!(limit(json!("1.5g")), Ok(3 << 29));
        assert_eq!(limit(json!(8_388_608)), Ok(8 << 20));
        assert_eq!(limit(json!(0)), Ok(DEFAULT_MEMORY_LIMIT));
        assert_eq!(
            limit(json!("lots")),
            Err("a.yaml:2: entry app:processes: host.memory_limit: invalid size \"lots\"".into())
        );
        assert_eq!(
            limit(json!("1MB")),
            Err(
                "a.yaml:2: entry app:processes: host.memory_limit must be at least 4MB, found 1048576 bytes"
                    .into()
            )
        );
        assert_eq!(
            limit(json!(-5)),
            Err(
                "a.yaml:2: entry app:processes: host.memory_limit must be positive, found -5"
                    .into()
            )
        );
        assert!(limit(json!(true)).is_err());
    }

    #[test]
    fn parse_size_units() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("512b"), Some(512));
        assert_eq!(parse_size("2K"), Some(2048));
        assert_eq!(parse_size("2kib"), Some(2048));
        assert_eq!(parse_size("3 MB"), Some(3 << 20));
        assert_eq!(parse_size("1TB"), Some(1 << 40));
        assert_eq!(parse_size(".5KB"), Some(512));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("MB"), None);
        assert_eq!(parse_size("1PB"), None);
        assert_eq!(parse_size("-1MB"), None);
        assert_eq!(parse_size("99999999999TB"), None);
    }

    #[test]
    fn terminal_host_reads_hide_logs() {
        let site = site();
        let map = json!({"hide_logs": true})
            .as_object()
            .expect("object")
            .clone();
        let spec = TerminalHostSpec::from_fields(&Fields::new(&site, "app", &map)).expect("valid");
        assert!(spec.hide_logs);
        assert!(!spec.lifecycle.auto_start);
    }
}
