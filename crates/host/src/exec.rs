//! `run -x`: which terminal host and entry to run, and how its result becomes an exit status
//! (SPEC §3.4, §3.5).

use starling_core::{ExitResult, Value};
use starling_entry::{EntryId, EntrySpec, Project};

use crate::error::BootError;

/// The resolved target of `-x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTarget {
    /// The terminal host.
    pub host: EntryId,
    /// The process entry.
    pub entry: EntryId,
}

fn parse_id(s: &str, spec: &str) -> Result<EntryId, BootError> {
    match s.split_once(':') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() => Ok(EntryId::new(ns, name)),
        _ => Err(BootError::Exec(format!(
            "invalid exec spec '{spec}': expected ns:name or host/ns:name"
        ))),
    }
}

/// Resolves `-x spec` (`app:cli` or `app:terminal/app:cli`) with an optional `--host`.
///
/// When the project's source directory does not exist (a warning at load, SPEC 1.1), an error
/// about a missing host or entry says so, since that is why nothing was found.
pub fn resolve_target(
    project: &Project,
    spec: &str,
    host: Option<&str>,
) -> Result<ExecTarget, BootError> {
    resolve(project, spec, host).map_err(|e| match e {
        BootError::Exec(message)
            if !project.src_root().is_dir() && !message.starts_with("invalid exec spec") =>
        {
            BootError::Exec(format!(
                "{message} (source directory {} not found, so no entries were loaded)",
                project.src_root().display()
            ))
        }
        other => other,
    })
}

fn resolve(project: &Project, spec: &str, host: Option<&str>) -> Result<ExecTarget, BootError> {
    let (host_part, entry_part) = match spec.split_once('/') {
        Some((h, e)) => (Some(h), e),
        None => (None, spec),
    };
    let entry = parse_id(entry_part, spec)?;
    let host_id = match (host_part, host) {
        (Some(h), Some(flag)) if h != flag => {
            return Err(BootError::Exec(format!(
                "--host {flag} contradicts the host {h} given in '{spec}'"
            )));
        }
        (Some(h), _) => parse_id(h, spec)?,
        (None, Some(flag)) => parse_id(flag, flag)?,
        (None, None) => {
            let terminals: Vec<&EntryId> = project
                .entries
                .iter()
                .filter(|e| matches!(e.spec, EntrySpec::TerminalHost(_)))
                .map(|e| &e.id)
                .collect();
            match terminals.as_slice() {
                [] => return Err(BootError::Exec("no terminal.host found".into())),
                [one] => (*one).clone(),
                many => {
                    let names: Vec<String> = many.iter().map(|i| i.to_string()).collect();
                    return Err(BootError::Exec(format!(
                        "multiple terminal hosts found ({}), use --host to specify",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    match project.get(&host_id).map(|e| &e.spec) {
        None => return Err(BootError::Exec(format!("host {host_id} not found"))),
        Some(EntrySpec::TerminalHost(t)) => {
            if !t.lifecycle.auto_start {
                return Err(BootError::Exec(format!(
                    "terminal host {host_id} is not running (set lifecycle.auto_start: true)"
                )));
            }
        }
        Some(_) => {
            return Err(BootError::Exec(format!(
                "host {host_id} is not a terminal.host"
            )));
        }
    }
    match project.get(&entry).map(|e| &e.spec) {
        None => {
            let ids: Vec<String> = project.entries.iter().map(|e| e.id.to_string()).collect();
            let hint =
                starling_entry::suggest::hint(&entry.to_string(), ids.iter().map(String::as_str));
            return Err(BootError::Exec(format!("entry {entry} not found{hint}")));
        }
        Some(EntrySpec::LuaProcess(_) | EntrySpec::NativeProcess) => {}
        Some(_) => {
            return Err(BootError::Exec(format!(
                "entry {entry} is not a process entry (process.lua or native)"
            )));
        }
    }
    Ok(ExecTarget {
        host: host_id,
        entry,
    })
}

/// What to print and which status to exit with, for an exec process's result.
#[derive(Debug, PartialEq, Eq)]
pub struct ExitOutcome {
    /// Exit status.
    pub code: i32,
    /// Text for stdout (a returned string), with its newline.
    pub stdout: Option<String>,
    /// Text for stderr (an error), with its newline.
    pub stderr: Option<String>,
}

/// Maps a main function's result to an exit status (SPEC §3.5).
pub fn exit_outcome(result: &ExitResult) -> ExitOutcome {
    let ok = |code| ExitOutcome {
        code,
        stdout: None,
        stderr: None,
    };
    match result {
        Err(e) => ExitOutcome {
            code: 1,
            stdout: None,
            stderr: Some(format!("{}\n", e.full_message())),
        },
        Ok(p) => match p.values.first() {
            None | Some(Value::Nil) => ok(0),
            Some(Value::Bool(b)) => ok(if *b { 0 } else { 1 }),
            Some(Value::Int(n)) => ok(*n as i32),
            Some(Value::Float(f)) => ok(if f.is_finite() {
                f.trunc() as i64 as i32
            } else {
                1
            }),
            Some(Value::Str(s)) => ExitOutcome {
                code: 0,
                stdout: Some(format!("{}\n", String::from_utf8_lossy(s))),
                stderr: None,
            },
            Some(_) => ok(0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use starling_core::{ErrorKind, ErrorValue, Payload};

    #[test]
    fn results_map_to_exit_codes() {
        let code = |v: Value| exit_outcome(&Ok(Payload::one(v))).code;
        assert_eq!(code(Value::Nil), 0);
        assert_eq!(code(Value::Int(3)), 3);
        assert_eq!(code(Value::Float(2.9)), 2);
        assert_eq!(code(Value::Float(f64::NAN)), 1);
        assert_eq!(code(Value::Bool(false)), 1);
        assert_eq!(code(Value::Bool(true)), 0);
        assert_eq!(exit_outcome(&Ok(Payload::empty())).code, 0);
        let s = exit_outcome(&Ok(Payload::one(Value::str("hi"))));
        assert_eq!((s.code, s.stdout.as_deref()), (0, Some("hi\n")));
        let e = exit_outcome(&Err(ErrorValue::new(ErrorKind::Unknown, "boom")));
        assert_eq!((e.code, e.stderr.as_deref()), (1, Some("boom\n")));
    }
}
