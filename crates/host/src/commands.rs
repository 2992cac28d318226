//! Named commands (`meta.command` on a process entry): `starling run list` and
//! `starling run <name>` (Wippy's custom commands, issue 13).

use serde_json::Value as Json;
use starling_entry::{EntryId, EntrySpec, Project};

/// One named command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCommand {
    /// `meta.command.name`: what `starling run <name>` takes.
    pub name: String,
    /// `meta.command.short`: the line `run list` shows.
    pub short: String,
    /// The process entry it runs.
    pub entry: EntryId,
}

/// Every process entry with `meta.command.name`, in entry id order (the first of several
/// entries with one name wins, as in Wippy).
pub fn commands(project: &Project) -> Vec<NamedCommand> {
    project
        .entries
        .iter()
        .filter(|e| matches!(e.spec, EntrySpec::LuaProcess(_) | EntrySpec::NativeProcess))
        .filter_map(|e| {
            let command = e.meta.get("command")?;
            let name = command.get("name").and_then(Json::as_str)?.trim();
            if name.is_empty() {
                return None;
            }
            Some(NamedCommand {
                name: name.to_string(),
                short: command
                    .get("short")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string(),
                entry: e.id.clone(),
            })
        })
        .collect()
}

/// The command called `name`.
pub fn find_command(project: &Project, name: &str) -> Option<NamedCommand> {
    commands(project).into_iter().find(|c| c.name == name)
}

/// `run list`'s screen, as Wippy prints it.
pub fn list_text(commands: &[NamedCommand]) -> String {
    if commands.is_empty() {
        return "No commands available (give a process entry meta.command.name).\n".into();
    }
    let width = commands.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let short_width = commands.iter().map(|c| c.short.len()).max().unwrap_or(0);
    let mut out = String::from("Available commands:\n\n");
    for c in commands {
        out.push_str(&format!(
            "  {:width$}  {:short_width$}  ({})\n",
            c.name, c.short, c.entry
        ));
    }
    out.push_str("\nRun with: starling run <command>\n");
    out
}
