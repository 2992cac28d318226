//! `system` (Wippy's runtime information): node, memory, processes, services, and
//! `system.exit`. Wippy reports Go runtime figures; Starling maps them onto its own (see
//! docs/semantics.md, "The system module"):
//!
//! | Wippy | Starling |
//! |---|---|
//! | `memory.stats()` heap fields, `memory.allocated()` | resident memory of the OS process |
//! | `memory.heap_objects()` | bytes the calling worker's Lua VM holds (no object count) |
//! | `runtime.goroutines()` | live processes on the node |
//! | `runtime.max_procs()` | CPUs available (read-only) |
//! | `gc.collect()` | a full collection of the calling worker's Lua VM |
//! | `node`, `cluster` | one node, never in a cluster |
//!
//! Settings Starling cannot change at run time (`memory.set_limit`, `gc.set_percent`,
//! `runtime.max_procs(n)`), Raft and distributed locks answer `nil, err` UNAVAILABLE.

use std::rc::Rc;

use mlua::{Function, Lua, MultiValue, Table, Value};
use starling_core::ErrorKind;

use crate::args::seal;
use crate::engine::Ctx;
use crate::userdata::error::fail;

fn one(v: impl mlua::IntoLua, lua: &Lua) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![v.into_lua(lua)?]))
}

/// Resident and virtual size of this OS process in bytes (Linux `/proc`; 0 elsewhere).
fn memory() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let mut fields = text
        .split_whitespace()
        .map(|f| f.parse::<u64>().unwrap_or(0));
    let size = fields.next().unwrap_or(0);
    let resident = fields.next().unwrap_or(0);
    (resident * 4096, size * 4096)
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

fn unavailable(lua: &Lua, what: &'static str) -> mlua::Result<Function> {
    lua.create_function(move |lua, _: MultiValue| {
        fail(
            lua,
            ErrorKind::Unavailable,
            format!("{what} is not available in starling"),
        )
    })
}

fn state_table(lua: &Lua, s: &crate::services::ServiceState) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("id", s.id.as_str())?;
    t.raw_set("status", s.status.as_str())?;
    t.raw_set("desired", s.desired.as_str())?;
    t.raw_set("retry_count", s.retry_count as f64)?;
    t.raw_set("last_update", s.last_update as f64)?;
    t.raw_set("started_at", s.started_at as f64)?;
    if let Some(d) = &s.details {
        t.raw_set("details", d.as_str())?;
    }
    Ok(t)
}

pub(crate) fn module(lua: &Lua, ctx: &Rc<Ctx>) -> mlua::Result<Value> {
    let system = lua.create_table()?;

    let c = ctx.clone();
    system.raw_set(
        "exit",
        lua.create_function(move |lua, code: Option<f64>| {
            if c.services.request_exit(code.unwrap_or(0.0) as i32) {
                one(true, lua)
            } else {
                fail(lua, ErrorKind::Unavailable, "exit is not available here")
            }
        })?,
    )?;
    system.raw_set(
        "modules",
        lua.create_function(|lua, ()| {
            let list = lua.create_table()?;
            for (i, (name, description)) in crate::program::MODULE_DESCRIPTIONS.iter().enumerate() {
                let m = lua.create_table()?;
                m.raw_set("name", *name)?;
                m.raw_set("description", *description)?;
                m.raw_set("class", lua.create_table()?)?;
                list.raw_set(i + 1, m)?;
            }
            one(list, lua)
        })?,
    )?;

    let memory_t = lua.create_table()?;
    memory_t.raw_set(
        "stats",
        lua.create_function(|lua, ()| {
            let (resident, virt) = memory();
            let vm = lua.used_memory() as f64;
            let t = lua.create_table()?;
            for key in ["alloc", "total_alloc", "heap_alloc", "heap_in_use"] {
                t.raw_set(key, resident as f64)?;
            }
            for key in ["sys", "heap_sys"] {
                t.raw_set(key, virt as f64)?;
            }
            for key in [
                "heap_idle",
                "heap_released",
                "stack_in_use",
                "stack_sys",
                "mspan_in_use",
                "mspan_sys",
                "num_gc",
                "next_gc",
            ] {
                t.raw_set(key, 0.0)?;
            }
            t.raw_set("heap_objects", vm)?;
            one(t, lua)
        })?,
    )?;
    memory_t.raw_set(
        "allocated",
        lua.create_function(|lua, ()| one(memory().0 as f64, lua))?,
    )?;
    memory_t.raw_set(
        "heap_objects",
        lua.create_function(|lua, ()| one(lua.used_memory() as f64, lua))?,
    )?;
    memory_t.raw_set("get_limit", lua.create_function(|lua, ()| one(-1.0, lua))?)?;
    memory_t.raw_set("set_limit", unavailable(lua, "memory.set_limit")?)?;
    system.raw_set("memory", seal(&memory_t))?;

    let gc = lua.create_table()?;
    gc.raw_set(
        "collect",
        lua.create_function(|lua, ()| {
            lua.gc_collect()?;
            one(true, lua)
        })?,
    )?;
    gc.raw_set(
        "get_percent",
        lua.create_function(|lua, ()| one(100.0, lua))?,
    )?;
    gc.raw_set("set_percent", unavailable(lua, "gc.set_percent")?)?;
    system.raw_set("gc", seal(&gc))?;

    let runtime = lua.create_table()?;
    let c = ctx.clone();
    runtime.raw_set(
        "goroutines",
        lua.create_function(move |lua, ()| one(c.local.node().live_count() as f64, lua))?,
    )?;
    runtime.raw_set(
        "max_procs",
        lua.create_function(|lua, n: Option<f64>| match n {
            None => one(cpus() as f64, lua),
            Some(_) => fail(
                lua,
                ErrorKind::Unavailable,
                "max_procs cannot be changed in starling",
            ),
        })?,
    )?;
    runtime.raw_set(
        "cpu_count",
        lua.create_function(|lua, ()| one(cpus() as f64, lua))?,
    )?;
    system.raw_set("runtime", seal(&runtime))?;

    let process = lua.create_table()?;
    process.raw_set(
        "pid",
        lua.create_function(|lua, ()| one(std::process::id() as f64, lua))?,
    )?;
    process.raw_set(
        "hostname",
        lua.create_function(|lua, ()| match hostname() {
            Some(h) => one(h, lua),
            None => fail(lua, ErrorKind::Internal, "hostname unknown"),
        })?,
    )?;
    process.raw_set(
        "cwd",
        lua.create_function(|lua, ()| match std::env::current_dir() {
            Ok(d) => one(d.display().to_string(), lua),
            Err(e) => fail(lua, ErrorKind::Internal, e.to_string()),
        })?,
    )?;
    system.raw_set("process", seal(&process))?;

    let supervisor = lua.create_table()?;
    let c = ctx.clone();
    supervisor.raw_set(
        "state",
        lua.create_function(move |lua, id: String| {
            match c.services.service_states().into_iter().find(|s| s.id == id) {
                Some(s) => one(state_table(lua, &s)?, lua),
                None => fail(lua, ErrorKind::NotFound, format!("service not found: {id}")),
            }
        })?,
    )?;
    let c = ctx.clone();
    supervisor.raw_set(
        "states",
        lua.create_function(move |lua, ()| {
            let list = lua.create_table()?;
            for (i, s) in c.services.service_states().iter().enumerate() {
                list.raw_set(i + 1, state_table(lua, s)?)?;
            }
            one(list, lua)
        })?,
    )?;
    system.raw_set("supervisor", seal(&supervisor))?;

    let node = lua.create_table()?;
    node.raw_set(
        "id",
        lua.create_function(|lua, ()| one(hostname().unwrap_or_else(|| "local".into()), lua))?,
    )?;
    node.raw_set("addr", unavailable(lua, "node.addr (no cluster)")?)?;
    node.raw_set(
        "role",
        lua.create_function(|lua, ()| one("non-member", lua))?,
    )?;
    system.raw_set("node", seal(&node))?;

    let cluster = lua.create_table()?;
    cluster.raw_set(
        "members",
        lua.create_function(|lua, ()| {
            let me = lua.create_table()?;
            me.raw_set("id", hostname().unwrap_or_else(|| "local".into()))?;
            me.raw_set("is_local", true)?;
            one(lua.create_sequence_from([me])?, lua)
        })?,
    )?;
    cluster.raw_set("leader", lua.create_function(|lua, ()| one("", lua))?)?;
    cluster.raw_set("size", lua.create_function(|lua, ()| one(1.0, lua))?)?;
    system.raw_set("cluster", seal(&cluster))?;

    let raft = lua.create_table()?;
    for name in [
        "is_leader",
        "is_member",
        "role",
        "term",
        "commit_index",
        "stats",
    ] {
        raft.raw_set(name, unavailable(lua, "raft")?)?;
    }
    system.raw_set("raft", seal(&raft))?;
    let lock = lua.create_table()?;
    for name in ["acquire", "release"] {
        lock.raw_set(name, unavailable(lua, "system.lock (no cluster)")?)?;
    }
    system.raw_set("lock", seal(&lock))?;
    Ok(Value::Table(seal(&system)))
}
