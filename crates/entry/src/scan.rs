//! Finding definition files: every `*.yaml`, `*.yml` and `*.json` under the source tree, any
//! depth, skipping directories named `node_modules` (SPEC 1.3).
//!
//! Order is deterministic: directory entries are visited sorted by name, depth first.
//! Symbolic links to files are read; symbolic links to directories are not followed, which
//! rules out cycles.

use std::path::{Path, PathBuf};

use crate::error::LoadError;

/// Extensions of definition files.
pub const DEFINITION_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Directory names never descended into.
pub const SKIPPED_DIRS: [&str; 1] = ["node_modules"];

/// Lists the definition files under `root`, in load order.
pub(crate) fn definition_files(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    visit(root, &mut out)?;
    Ok(out)
}

fn visit(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let mut children = Vec::new();
    for item in std::fs::read_dir(dir).map_err(|e| LoadError::io(dir, e))? {
        let item = item.map_err(|e| LoadError::io(dir, e))?;
        children.push(item);
    }
    children.sort_by_key(|item| item.file_name());
    for item in children {
        let path = item.path();
        let file_type = item.file_type().map_err(|e| LoadError::io(&path, e))?;
        let name = item.file_name();
        if file_type.is_dir() {
            if !SKIPPED_DIRS.iter().any(|skip| name == *skip) {
                visit(&path, out)?;
            }
            continue;
        }
        let is_file = file_type.is_file() || (file_type.is_symlink() && path.is_file());
        let has_extension = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| DEFINITION_EXTENSIONS.contains(&e));
        if is_file && has_extension {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_definition_files_in_order_and_skips_node_modules() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for path in [
            "b.yaml",
            "a.yml",
            "c.json",
            "x.lua",
            "README.md",
            "sub/z.yaml",
            "sub/node_modules/pkg/package.json",
            "node_modules/skip.yaml",
            "a_dir/y.yaml",
        ] {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(&full, "").expect("write");
        }
        let found: Vec<String> = definition_files(root)
            .expect("scan")
            .iter()
            .map(|p| {
                p.strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        assert_eq!(
            found,
            ["a.yml", "a_dir/y.yaml", "b.yaml", "c.json", "sub/z.yaml"]
        );
    }
}
