//! `starling init` (SPEC §3.2).

use anyhow::Context;

use crate::cli::args::InitArgs;

pub(crate) fn init(a: InitArgs) -> anyhow::Result<i32> {
    starling_entry::write_lock(&a.lock_file, &a.src_dir, &a.modules_dir)
        .with_context(|| format!("cannot write {}", a.lock_file.display()))?;
    println!("wrote {}", a.lock_file.display());
    Ok(0)
}
