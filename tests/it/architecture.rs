//! The layering rule of the house style: inside a crate, no file-level import cycles (file A
//! uses items of file B, B of A, directly or through others). Checked from the sources, so a
//! change that closes a cycle fails here with the files involved.
//!
//! A file's module path comes from its place under `src/` (`rt/proc.rs` is `rt::proc`,
//! `mod.rs` and `lib.rs` name their folder); its uses are the `crate::…` paths in its code
//! (comments and its `#[cfg(test)] mod tests` left out), each resolved to the longest module
//! path that exists. A file's use of its own submodules or parents does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Crates held to the rule (besides the `starling` crate's own `src/` and `xtask`). `crates/http` still has one cycle of twelve files (its modules and
/// its `runtime`/`exchange` use each other both ways); it joins this list when that is gone.
const CRATES: &[&str] = &["core", "lua", "native", "cluster", "host", "entry"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read source dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn module_of(src: &Path, file: &Path) -> String {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comment lines and without its unit tests module.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b…` path in `code`, grouped imports (`crate::{a, b::c}`) expanded.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                if !item.is_empty() {
                    out.push(item);
                }
            }
        } else {
            let path: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            out.push(path);
        }
    }
    out
}

/// The module graph of one crate: module -> modules it uses.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let mut g = BTreeMap::new();
    for (m, file) in &modules {
        let code = code_of(&std::fs::read_to_string(file).expect("read source"));
        let mut uses = BTreeSet::new();
        for path in crate_paths(&code) {
            let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let target = (1..=segs.len())
                .rev()
                .map(|k| segs[..k].join("::"))
                .find(|c| modules.contains_key(c));
            if let Some(t) = target {
                let related = t == *m || m.starts_with(&format!("{t}::")) || t.is_empty();
                if !related {
                    uses.insert(t);
                }
            }
        }
        g.insert(m.clone(), uses);
    }
    g
}

/// Strongly connected components of more than one module (Tarjan, iterative enough for
/// the few hundred files a crate has).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.g[v] {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_file_level_import_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let dirs = CRATES
        .iter()
        .map(|c| format!("crates/{c}/src"))
        .chain(["src".to_string(), "xtask/src".to_string()]);
    for dir in dirs {
        for comp in cycles(&graph(&root.join(&dir))) {
            found.push(format!("{dir}: {}", comp.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

/// The checker itself finds a cycle, so the test above cannot pass by seeing nothing.
#[test]
fn the_cycle_checker_sees_a_cycle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").expect("lib");
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").expect("a");
    std::fs::write(
        src.join("b.rs"),
        "// crate::a in a comment does not count\npub struct B(crate::a::A);\n",
    )
    .expect("b");
    std::fs::create_dir(src.join("c")).expect("c");
    std::fs::write(src.join("c/mod.rs"), "use crate::{a::A, b};\n").expect("c");
    let found = cycles(&graph(src));
    assert_eq!(found, vec![vec!["a".to_string(), "b".to_string()]]);
    std::fs::write(src.join("b.rs"), "// crate::a::A\npub struct B;\n").expect("b");
    assert!(cycles(&graph(src)).is_empty());
}
