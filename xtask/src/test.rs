//! `cargo xtask test`: the whole test suite, after installing what it needs.
//!
//! The cluster tests start their own `nats-server` (issue 12) and fail loudly without one, so
//! a fresh machine would fail them. This command installs the Debian package when the server
//! is missing (as root, or through `sudo -n`), then runs `cargo test --workspace
//! --no-fail-fast` with any extra arguments. `.ci/run` and the README use it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// `nats-server` on `PATH` or in `/usr/sbin` (Debian's place, often not on a user's `PATH`).
pub(crate) fn nats_server() -> Option<PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin"])
        .map(|d| Path::new(d).join("nats-server"))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs `apt-get args…` as root directly or through `sudo -n`; never asks for input.
fn apt_get(args: &[&str]) -> Result<()> {
    let mut cmd = if is_root() {
        Command::new("apt-get")
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", "apt-get"]);
        c
    };
    let st = cmd
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("cannot run apt-get")?;
    if !st.success() {
        bail!("apt-get {} failed ({st})", args.join(" "));
    }
    Ok(())
}

fn ensure_nats_server() -> Result<()> {
    if nats_server().is_some() {
        return Ok(());
    }
    eprintln!("xtask: nats-server is missing (the cluster tests need it); installing it");
    let installed = apt_get(&["update", "-qq"])
        .and_then(|()| apt_get(&["install", "-y", "-qq", "nats-server"]));
    match installed {
        Ok(()) if nats_server().is_some() => Ok(()),
        Ok(()) => bail!("apt-get installed nats-server but it is not on PATH or in /usr/sbin"),
        Err(e) => bail!(
            "{e:#}\ninstall nats-server yourself (Debian: apt-get install nats-server; \
             elsewhere: https://github.com/nats-io/nats-server/releases) and run again"
        ),
    }
}

/// Installs what the tests need, then runs them; fails when any test fails.
pub(crate) fn run(extra: &[String]) -> Result<()> {
    ensure_nats_server()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let st = Command::new(cargo)
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .status()
        .context("cannot run cargo")?;
    if !st.success() {
        bail!("tests failed ({st})");
    }
    Ok(())
}
