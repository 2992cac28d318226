//! `starling registry list` and `starling registry show` (Wippy's registry commands).

use serde_json::{Value, json};
use starling_entry::{Entry, LoadOptions, load_project};
use starling_lua::entries::glob;

use crate::cli::args::{Global, RegistryCommand, RegistryListArgs, RegistryShowArgs};

fn load(g: &Global, lock_file: &std::path::Path) -> anyhow::Result<starling_entry::Project> {
    Ok(load_project(
        std::path::Path::new("."),
        &LoadOptions {
            lock_file: lock_file.to_path_buf(),
            config_files: g.config.clone(),
            ..LoadOptions::default()
        },
    )?)
}

fn as_json(e: &Entry) -> Value {
    json!({"id": e.id.to_string(), "kind": e.kind, "meta": e.meta, "data": e.data})
}

/// One `--meta field=value` condition against an entry's meta (`~`, `*`, `^`, `$` as Wippy).
fn meta_matches(e: &Entry, cond: &str) -> anyhow::Result<bool> {
    let Some(at) = cond.find(['=', '~', '*', '^', '$']) else {
        anyhow::bail!("--meta {cond:?}: expected field=value (or ~ * ^ $)");
    };
    let (field, op, want) = (&cond[..at], &cond[at..=at], &cond[at + 1..]);
    let mut value = Some(Value::Object(e.meta.clone()));
    for part in field.split('.') {
        value = value.and_then(|v| v.get(part).cloned());
    }
    let have = match value {
        None => return Ok(false),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    };
    Ok(match op {
        "=" => have == want,
        "~" => glob(&format!("*{want}*"), &have) || have.contains(want),
        "*" => have.contains(want),
        "^" => have.starts_with(want),
        _ => have.ends_with(want),
    })
}

fn list(g: &Global, a: RegistryListArgs) -> anyhow::Result<i32> {
    let project = load(g, &a.lock_file)?;
    let mut out = Vec::new();
    for e in &project.entries {
        let keep = a.kind.as_ref().is_none_or(|k| glob(k, &e.kind))
            && a.ns.as_ref().is_none_or(|n| glob(n, &e.id.namespace))
            && a.name.as_ref().is_none_or(|n| glob(n, &e.id.name));
        let mut meta_ok = true;
        for cond in &a.meta {
            meta_ok &= meta_matches(e, cond)?;
        }
        if keep && meta_ok && e.origin.file.as_os_str() != "<native>" {
            out.push(e);
        }
    }
    if a.json {
        let list: Vec<Value> = out.iter().map(|e| as_json(e)).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    let width = out
        .iter()
        .map(|e| e.id.to_string().len())
        .max()
        .unwrap_or(2);
    let kind_width = out.iter().map(|e| e.kind.len()).max().unwrap_or(4);
    println!("{:width$}  {:kind_width$}  TITLE", "ID", "KIND");
    for e in &out {
        let title = e
            .meta
            .get("title")
            .or_else(|| e.meta.get("comment"))
            .and_then(Value::as_str)
            .unwrap_or("");
        println!(
            "{:width$}  {:kind_width$}  {title}",
            e.id.to_string(),
            e.kind
        );
    }
    println!("\n{} entries", out.len());
    Ok(0)
}

fn show(g: &Global, a: RegistryShowArgs) -> anyhow::Result<i32> {
    let project = load(g, &a.lock_file)?;
    let Some(e) = project.entries.iter().find(|e| e.id.to_string() == a.id) else {
        let ids: Vec<String> = project.entries.iter().map(|e| e.id.to_string()).collect();
        anyhow::bail!(
            "entry {} not found{}",
            a.id,
            starling_entry::suggest::hint(&a.id, ids.iter().map(String::as_str))
        );
    };
    let mut value = as_json(e);
    if let Some(field) = &a.field {
        for part in field.split('.') {
            value = value
                .get(part)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("entry {} has no field {field}", a.id))?;
        }
    }
    if a.json || a.field.is_some() {
        match value {
            Value::String(s) if !a.json => println!("{s}"),
            v => println!("{}", serde_json::to_string_pretty(&v)?),
        }
        return Ok(0);
    }
    let at = match e.origin.line {
        Some(l) => format!("{}:{l}", e.origin.file.display()),
        None => e.origin.file.display().to_string(),
    };
    println!("id:   {}\nkind: {}\nfile: {at}", e.id, e.kind);
    if !e.meta.is_empty() {
        println!("meta: {}", serde_json::to_string_pretty(&e.meta)?);
    }
    println!("data: {}", serde_json::to_string_pretty(&e.data)?);
    Ok(0)
}

pub(crate) fn registry(g: &Global, c: RegistryCommand) -> anyhow::Result<i32> {
    match c {
        RegistryCommand::List(a) => list(g, a),
        RegistryCommand::Show(a) => show(g, a),
    }
}
