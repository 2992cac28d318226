//! The `lifecycle` block of hosts and services (SPEC 2.4). A zero or omitted value means the
//! default, as in Wippy (so `jitter: 0` still yields 0.1).

use std::time::Duration;

use crate::error::LoadError;
use crate::id::EntryId;
use crate::kind::fields::Fields;

/// Default `lifecycle.start_timeout`.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `lifecycle.stop_timeout`.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `lifecycle.stable_threshold`.
pub const DEFAULT_STABLE_THRESHOLD: Duration = Duration::from_secs(5);
/// Default `lifecycle.restart.initial_delay`.
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
/// Default `lifecycle.restart.max_delay`.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(90);
/// Default `lifecycle.restart.backoff_factor`.
pub const DEFAULT_BACKOFF_FACTOR: f64 = 2.0;
/// Default `lifecycle.restart.jitter`.
pub const DEFAULT_JITTER: f64 = 0.1;

/// When and how a host or service is started, stopped and restarted.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// `auto_start`: start at boot. Default false.
    pub auto_start: bool,
    /// `start_timeout`: max time for a start attempt. Default 10 s.
    pub start_timeout: Duration,
    /// `stop_timeout`: max wait for a graceful stop. Default 10 s.
    pub stop_timeout: Duration,
    /// `stable_threshold`: a run at least this long resets the failure count. Default 5 s.
    pub stable_threshold: Duration,
    /// `requires` and its alias `depends_on`, merged in that order without repeats, bare names
    /// resolved against the entry's namespace. The service's host is not included.
    pub requires: Vec<EntryId>,
    /// `startup`: accepted; both values behave alike for now (SPEC 11.17).
    pub startup: Startup,
    /// `restart`: the backoff policy.
    pub restart: RestartPolicy,
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle {
            auto_start: false,
            start_timeout: DEFAULT_START_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            stable_threshold: DEFAULT_STABLE_THRESHOLD,
            requires: Vec::new(),
            startup: Startup::Required,
            restart: RestartPolicy::default(),
        }
    }
}

/// `lifecycle.startup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Startup {
    /// `required` (default).
    #[default]
    Required,
    /// `optional`.
    Optional,
}

/// `lifecycle.restart`: the delay before the n-th consecutive restart is
/// `min(initial_delay × backoff_factor^(n−1), max_delay)`, spread by ± `jitter`.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPolicy {
    /// `initial_delay`: first retry delay. Default 1 s.
    pub initial_delay: Duration,
    /// `max_delay`: cap of the delay. Default 90 s.
    pub max_delay: Duration,
    /// `backoff_factor`: multiplier per consecutive failure. Default 2.0.
    pub backoff_factor: f64,
    /// `jitter`: ± fraction of random spread, in (0, 1]. Default 0.1.
    pub jitter: f64,
    /// `max_attempts`: start attempts including the first; 0 = unlimited (default).
    pub max_attempts: u32,
}

impl Default for RestartPolicy {
    fn default() -> RestartPolicy {
        RestartPolicy {
            initial_delay: DEFAULT_INITIAL_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            backoff_factor: DEFAULT_BACKOFF_FACTOR,
            jitter: DEFAULT_JITTER,
            max_attempts: 0,
        }
    }
}

impl Lifecycle {
    /// Reads the `lifecycle` block of an entry's data. Unknown keys (and `security`) are
    /// ignored.
    pub(crate) fn from_fields(data: &Fields<'_>) -> Result<Lifecycle, LoadError> {
        let block = data.block("lifecycle")?;
        let mut lifecycle = Lifecycle {
            auto_start: block.boolean("auto_start")?.unwrap_or(false),
            start_timeout: block.duration_or("start_timeout", DEFAULT_START_TIMEOUT)?,
            stop_timeout: block.duration_or("stop_timeout", DEFAULT_STOP_TIMEOUT)?,
            stable_threshold: block.duration_or("stable_threshold", DEFAULT_STABLE_THRESHOLD)?,
            ..Lifecycle::default()
        };

        for id in block
            .references("requires")?
            .into_iter()
            .chain(block.references("depends_on")?)
        {
            if !lifecycle.requires.contains(&id) {
                lifecycle.requires.push(id);
            }
        }

        lifecycle.startup = match block.string("startup")? {
            None | Some("required") => Startup::Required,
            Some("optional") => Startup::Optional,
            Some(other) => {
                return Err(block.error(format!(
                    "{} must be required or optional, found {other:?}",
                    block.name("startup")
                )));
            }
        };

        let restart = block.block("restart")?;
        let policy = &mut lifecycle.restart;
        policy.initial_delay = restart.duration_or("initial_delay", DEFAULT_INITIAL_DELAY)?;
        policy.max_delay = restart.duration_or("max_delay", DEFAULT_MAX_DELAY)?;
        if let Some(factor) = restart.float("backoff_factor")? {
            if factor < 0.0 {
                return Err(restart.error(format!(
                    "{} must not be negative, found {factor}",
                    restart.name("backoff_factor")
                )));
            }
            if factor != 0.0 {
                policy.backoff_factor = factor;
            }
        }
        if let Some(jitter) = restart.float("jitter")? {
            if !(0.0..=1.0).contains(&jitter) {
                return Err(restart.error(format!(
                    "{} must be between 0 and 1, found {jitter}",
                    restart.name("jitter")
                )));
            }
            if jitter != 0.0 {
                policy.jitter = jitter;
            }
        }
        if let Some(attempts) = restart.integer("max_attempts")? {
            policy.max_attempts = u32::try_from(attempts).map_err(|_| {
                restart.error(format!(
                    "{} must be between 0 and {}, found {attempts}",
                    restart.name("max_attempts"),
                    u32::MAX
                ))
            })?;
        }
        Ok(lifecycle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EntryRef, Site};
    use serde_json::{Value, json};

    fn parse(data: Value) -> Result<Lifecycle, String> {
        let site = Site {
            file: "a.yaml".into(),
            line: Some(1),
            column: None,
            entry: Some(EntryRef::Id(EntryId::new("app", "svc"))),
        };
        let map = data.as_object().expect("object").clone();
        Lifecycle::from_fields(&Fields::new(&site, "app", &map)).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_when_absent() {
        assert_eq!(parse(json!({})), Ok(Lifecycle::default()));
        assert_eq!(parse(json!({"lifecycle": null})), Ok(Lifecycle::default()));
    }

    #[test]
    fn reads_every_field() {
        let lifecycle = parse(json!({"lifecycle": {
            "auto_start": true,
            "start_timeout": "2s",
            "stop_timeout": "500ms",
            "stable_threshold": "1m",
            "requires": ["db", "lib:cache"],
            "depends_on": ["app:db", "queue"],
            "startup": "optional",
            "security": {"actor": {"id": "x"}},
            "restart": {"initial_delay": "250ms", "max_delay": "5s", "backoff_factor": 1.5,
                        "jitter": 0.2, "max_attempts": 5}
        }}))
        .expect("valid");
        assert!(lifecycle.auto_start);
        assert_eq!(lifecycle.start_timeout, Duration::from_secs(2));
        assert_eq!(lifecycle.stop_timeout, Duration::from_millis(500));
        assert_eq!(lifecycle.stable_threshold, Duration::from_secs(60));
        assert_eq!(
            lifecycle.requires,
            [
                EntryId::new("app", "db"),
                EntryId::new("lib", "cache"),
                EntryId::new("app", "queue")
            ]
        );
        assert_eq!(lifecycle.startup, Startup::Optional);
        assert_eq!(
            lifecycle.restart,
            RestartPolicy {
                initial_delay: Duration::from_millis(250),
                max_delay: Duration::from_secs(5),
                backoff_factor: 1.5,
                jitter: 0.2,
                max_attempts: 5,
            }
        );
    }

    #[test]
    fn zero_means_default() {
        let lifecycle = parse(json!({"lifecycle": {
            "start_timeout": "0", "stop_timeout": 0,
            "restart": {"initial_delay": "0s", "backoff_factor": 0, "jitter": 0, "max_attempts": 0}
        }}))
        .expect("valid");
        assert_eq!(lifecycle, Lifecycle::default());
    }

    #[test]
    fn bad_values_name_entry_and_field() {
        let cases = [
            (
                json!({"lifecycle": {"start_timeout": "5"}}),
                "a.yaml:1: entry app:svc: lifecycle.start_timeout: missing unit in duration \"5\"",
            ),
            (
                json!({"lifecycle": {"restart": {"max_delay": "-1s"}}}),
                "a.yaml:1: entry app:svc: lifecycle.restart.max_delay: duration \"-1s\" must not be negative",
            ),
            (
                json!({"lifecycle": {"auto_start": "sometimes"}}),
                "a.yaml:1: entry app:svc: lifecycle.auto_start must be true or false, found \"sometimes\"",
            ),
            (
                json!({"lifecycle": {"startup": "lazy"}}),
                "a.yaml:1: entry app:svc: lifecycle.startup must be required or optional, found \"lazy\"",
            ),
            (
                json!({"lifecycle": {"restart": {"jitter": 1.5}}}),
                "a.yaml:1: entry app:svc: lifecycle.restart.jitter must be between 0 and 1, found 1.5",
            ),
            (
                json!({"lifecycle": {"restart": {"max_attempts": -1}}}),
                "a.yaml:1: entry app:svc: lifecycle.restart.max_attempts must be between 0 and 4294967295, found -1",
            ),
            (
                json!({"lifecycle": "always"}),
                "a.yaml:1: entry app:svc: lifecycle must be a mapping, found a string",
            ),
            (
                json!({"lifecycle": {"requires": "db"}}),
                "a.yaml:1: entry app:svc: lifecycle.requires must be a list of strings, found a string",
            ),
        ];
        for (data, want) in cases {
            assert_eq!(parse(data.clone()), Err(want.to_owned()), "{data}");
        }
    }
}
