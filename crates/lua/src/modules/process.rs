//! The `process` global (SPEC §5).

use std::rc::Rc;

use mlua::{Function, IntoLuaMulti, Lua, MultiValue, Table, Value};
use starling_core::{
    ErrorKind, ErrorValue, Message, Pid, PidError, RegisterError, RelationError, ReplyTo,
    SpawnFlags, SpawnRequest, SpawnSetup, Spawned,
};

use crate::args::{seal, str_arg, str_ref};
use crate::convert;
use crate::engine::Answered;
use crate::engine::{Ctx, misuse};
use crate::ffi::{c_function, c_function_blocking};
use crate::modules::channel::new_chan;
use crate::rt::chan::ChanKind;
use crate::rt::hot;
use crate::rt::task::WaitKind;
use crate::userdata::error::{fail, fail_with};

fn ok_true() -> MultiValue {
    MultiValue::from_vec(vec![Value::Boolean(true)])
}

fn one(lua: &Lua, v: impl IntoLuaMulti) -> mlua::Result<MultiValue> {
    v.into_lua_multi(lua)
}

/// Resolves `dest` (a pid string or a registered name).
fn resolve(ctx: &Ctx, dest: &str) -> Result<Pid, ErrorValue> {
    let node = ctx.local.node();
    match node.parse_pid(dest) {
        Ok(pid) => Ok(pid),
        Err(PidError::UnknownHost) => Err(ErrorValue::new(ErrorKind::NotFound, "host not found")),
        Err(PidError::Malformed) => node.registry.lookup(dest).ok_or_else(|| {
            ErrorValue::new(
                ErrorKind::NotFound,
                format!("could not resolve '{dest}' as PID or registered name"),
            )
        }),
    }
}

fn dest_arg(
    lua: &Lua,
    ctx: &Ctx,
    v: Option<&Value>,
    func: &str,
) -> mlua::Result<Result<Pid, MultiValue>> {
    let dest = str_arg(v, func, 1)?;
    Ok(match resolve(ctx, &dest) {
        Ok(p) => Ok(p),
        Err(e) => Err(fail_with(lua, e)?),
    })
}

fn relation_error(lua: &Lua, e: RelationError) -> mlua::Result<MultiValue> {
    match e {
        RelationError::AlreadyExists => {
            fail(lua, ErrorKind::AlreadyExists, "already monitoring pid")
        }
        _ => fail(lua, ErrorKind::NotFound, "pid not registered"),
    }
}

fn send(lua: &Lua, ctx: &Ctx, args: MultiValue) -> mlua::Result<MultiValue> {
    if args.len() < 2 {
        return fail(
            lua,
            ErrorKind::Invalid,
            "send requires at least destination and topic arguments",
        );
    }
    let args: Vec<Value> = args.into_iter().collect();
    // Borrowed, not copied: this is the hottest call of most programs.
    let dest = str_ref(args.first(), "send", 1)?.to_str()?;
    let topic = str_ref(args.get(1), "send", 2)?.to_str()?;
    if topic.starts_with('@') {
        return fail(lua, ErrorKind::Invalid, "cannot send to @ topics");
    }
    let to = match resolve(ctx, &dest) {
        Ok(p) => p,
        Err(e) => return fail_with(lua, e),
    };
    let p = ctx.current()?;
    let payload = convert::to_payload(&args[2..])?;
    let msg = Message {
        from: Some(p.pid),
        topic: (*topic).into(),
        payload: payload.into(),
    };
    match ctx.local.send(to, msg) {
        Ok(()) => Ok(ok_true()),
        Err(_) => fail(lua, ErrorKind::NotFound, "process not found"),
    }
}

/// What a spawn call does with the child.
#[derive(Copy, Clone, Debug)]
enum Mode {
    /// `spawn*`: return the child's pid.
    Spawn(SpawnFlags),
    /// `exec`: wait for the child and return its result.
    Exec,
}

fn spawn(
    lua: &Lua,
    ctx: &Ctx,
    mode: Mode,
    func: &str,
    args: &[Value],
    setup: Option<Box<SpawnSetup>>,
) -> mlua::Result<MultiValue> {
    let id = str_arg(args.first(), func, 1)?;
    let host = str_arg(args.get(1), func, 2)?;
    let p = ctx.current()?;
    let node = ctx.local.node().clone();
    let Some(host_id) = node.host_id(&host) else {
        return fail(lua, ErrorKind::NotFound, format!("host not found: {host}"));
    };
    if !node.host_running(host_id) {
        return fail(
            lua,
            ErrorKind::Unavailable,
            format!("host {host} not running"),
        );
    }
    let payload = convert::to_payload(args.get(2..).unwrap_or(&[]))?;
    let flags = match mode {
        Mode::Spawn(flags) => flags,
        Mode::Exec => {
            // Wippy gives every exec an internal watcher pid just before the child's.
            node.next_num();
            let task = ctx.current_task()?;
            let wait = p.set_wait(task, WaitKind::Call);
            let token = ctx.token(&p, Box::new(Answered { task, wait }));
            SpawnFlags {
                exit_to: Some(ReplyTo { pid: p.pid, token }),
                ..SpawnFlags::default()
            }
        }
    };
    let undo_wait = |token: Option<ReplyTo>| {
        if let Some(r) = token {
            p.rare().tokens.borrow_mut().remove(r.token);
        }
        if let Ok(task) = ctx.current_task() {
            if let Some(t) = p.tasks.borrow_mut().get_mut(task as usize) {
                t.wait = None;
            }
        }
    };
    // The answer of a spawn that does not complete at once (another host or engine) wakes
    // this coroutine; an exec's comes as the child's exit result instead.
    let reply = match mode {
        Mode::Spawn(_) => match ctx.current_task() {
            Ok(task) => {
                let wait = p.set_wait(task, WaitKind::Call);
                let token = ctx.token(&p, Box::new(Answered { task, wait }));
                Some(ReplyTo { pid: p.pid, token })
            }
            // The top level of a chunk cannot wait: only spawns that complete at once work
            // there.
            Err(_) => None,
        },
        Mode::Exec => None,
    };
    let req = SpawnRequest {
        entry: id.into(),
        host: host_id,
        args: payload,
        parent: None,
        flags,
        reply,
        num: 0,
        setup,
    };
    let spawned = ctx.local.spawn(p.slot, req, &mut |slot, pid, args| {
        crate::rt::spawn::start(lua, ctx, slot, pid, args)
    });
    match spawned {
        Ok(Spawned::Done(child)) => {
            if reply.is_some() {
                // Done at once: nobody will answer the spawn request.
                undo_wait(reply);
            }
            match mode {
                Mode::Spawn(_) => one(lua, ctx.pid_string(child)),
                Mode::Exec => Ok(ctx.pending()),
            }
        }
        Ok(Spawned::Pending(_)) => {
            if reply.is_none() && matches!(mode, Mode::Spawn(_)) {
                return Err(misuse(
                    "cannot wait for a spawn on another host while a process is initialising \
                     (top level of its chunk)",
                ));
            }
            Ok(ctx.pending())
        }
        Err(e) => {
            undo_wait(reply.or(flags.exit_to));
            fail_with(lua, e)
        }
    }
}

fn register(lua: &Lua, ctx: &Ctx, args: MultiValue) -> mlua::Result<MultiValue> {
    let args: Vec<Value> = args.into_iter().collect();
    let name = str_arg(args.first(), "register", 1)?;
    if name.is_empty() {
        return fail(lua, ErrorKind::Invalid, "name cannot be empty");
    }
    let scope = match scope_check(lua, args.get(2))? {
        Ok(scope) => scope,
        Err(r) => return Ok(r),
    };
    let pid = match args.get(1) {
        None | Some(Value::Nil) => ctx.current()?.pid,
        Some(Value::String(s)) => match ctx.local.node().parse_pid(&s.to_str()?) {
            Ok(p) => p,
            Err(_) => {
                return fail(
                    lua,
                    ErrorKind::Invalid,
                    format!("invalid pid: {}", s.to_str()?),
                );
            }
        },
        Some(other) => {
            return fail(
                lua,
                ErrorKind::Invalid,
                format!(
                    "invalid pid: expected string, got {}",
                    crate::args::arg_type(other)
                ),
            );
        }
    };
    if !ctx.local.node().is_alive(pid) {
        return fail(lua, ErrorKind::NotFound, "process not found");
    }
    if let Some(scope) = scope {
        // A cluster scope: answered by the cluster, a blocking point (SPEC §5.6).
        let Some(names) = ctx.local.node().registry.cluster().cloned() else {
            return fail(
                lua,
                ErrorKind::Unavailable,
                "cluster registry not available",
            );
        };
        let reply = ctx.begin_request()?;
        if let Err(e) = names.register(&name, pid, scope, reply) {
            ctx.cancel_request(reply);
            return fail_with(lua, e);
        }
        return Ok(ctx.pending());
    }
    match ctx.local.register(&name, pid) {
        Ok(()) => Ok(ok_true()),
        Err(RegisterError::Taken(_)) => {
            fail(lua, ErrorKind::AlreadyExists, "name already registered")
        }
    }
}

/// `Ok(None)` for the LOCAL scope, `Ok(Some(scope))` for a cluster scope; `Err(nil, err)`
/// for an invalid scope.
fn scope_check(
    lua: &Lua,
    scope: Option<&Value>,
) -> mlua::Result<Result<Option<starling_core::Scope>, MultiValue>> {
    use starling_core::Scope;
    let n = match scope {
        None | Some(Value::Nil) => Some(0),
        Some(Value::Integer(i)) => Some(*i),
        Some(Value::Number(n)) if n.fract() == 0.0 && n.abs() < 16.0 => Some(*n as i64),
        Some(_) => None,
    };
    match n.map(|n| (n, Scope::from_number(n))) {
        Some((_, Some(Scope::Local))) => Ok(Ok(None)),
        Some((_, Some(scope))) => Ok(Ok(Some(scope))),
        _ => Ok(Err(fail(
            lua,
            ErrorKind::Invalid,
            format!(
                "invalid scope: {}",
                scope
                    .map(|v| v.to_string().unwrap_or_else(|_| v.type_name().into()))
                    .unwrap_or_default()
            ),
        )?)),
    }
}

fn listen(lua: &Lua, ctx: &Ctx, topic: Value, opts: Option<Value>) -> mlua::Result<MultiValue> {
    let topic = str_arg(Some(&topic), "listen", 1)?;
    if topic.is_empty() {
        return fail(lua, ErrorKind::Invalid, "topic cannot be empty");
    }
    if topic.starts_with('@') {
        return fail(lua, ErrorKind::Invalid, "cannot listen to @ topics");
    }
    let as_message = match &opts {
        Some(Value::Table(t)) => t.get::<Option<bool>>("message")?.unwrap_or(false),
        _ => false,
    };
    let p = ctx.current()?;
    let existing = p
        .rare()
        .listeners
        .borrow()
        .iter()
        .find(|(t, _, _)| **t == *topic)
        .map(|(_, _, r)| *r);
    if let Some(r) = existing {
        return one(lua, crate::ffi::get_ref::<mlua::AnyUserData>(lua, r)?);
    }
    ctx.local.listen(p.slot, &topic);
    let (ud, st) = new_chan(
        lua,
        ctx,
        ChanKind::Listen {
            topic: topic.clone().into(),
            raw: !as_message,
        },
        0,
    )?;
    let r = crate::ffi::make_ref(lua, &ud)?;
    p.rare().listeners.borrow_mut().push((topic.into(), st, r));
    one(lua, ud)
}

/// Spawner fields live in a read-only table: `name`, `messages` (array of `{topic, n, ...}`),
/// `context`, `options`, `actor`, `scope`. Builder methods return a new table.
const SPAWNER_FIELDS: [&str; 6] = ["name", "messages", "context", "options", "actor", "scope"];

fn spawner_setup(ctx: &Ctx, me: &Table) -> mlua::Result<Option<Box<SpawnSetup>>> {
    let name: Option<String> = me.raw_get("name")?;
    let messages: Option<Table> = me.raw_get("messages")?;
    if name.is_none() && messages.is_none() {
        return Ok(None);
    }
    let from = ctx.current()?.pid;
    let mut setup = SpawnSetup {
        name: name.map(String::into_boxed_str),
        ..SpawnSetup::default()
    };
    if let Some(list) = messages {
        for m in list.sequence_values::<Table>() {
            let m = m?;
            let topic: String = m.raw_get(1)?;
            let n: usize = m.raw_get("n")?;
            let vals: Vec<Value> = (2..=n + 1)
                .map(|i| m.raw_get::<Value>(i))
                .collect::<mlua::Result<_>>()?;
            setup.messages.push(Message {
                from: Some(from),
                topic: topic.into(),
                payload: convert::to_payload(&vals)?.into(),
            });
        }
    }
    Ok(Some(Box::new(setup)))
}

/// `process.with_context` / `with_options` and the Spawner builder methods (SPEC §5.7).
fn install_spawner(lua: &Lua, process: &Table, methods: &Table) -> mlua::Result<()> {
    let meta = lua.create_table()?;
    meta.raw_set("__index", methods.clone())?;
    meta.raw_set("__metatable", false)?;
    meta.raw_set(
        "__tostring",
        lua.create_function(|_, _: Value| Ok("process.Spawner"))?,
    )?;
    let meta = seal(&meta);

    // A copy of `from` (or an empty spawner) with `key` replaced.
    let derive = {
        let meta = meta.clone();
        move |lua: &Lua, from: Option<&Table>, key: &str, value: Value| -> mlua::Result<Table> {
            let t = lua.create_table()?;
            if let Some(from) = from {
                for k in SPAWNER_FIELDS {
                    t.raw_set(k, from.raw_get::<Value>(k)?)?;
                }
            }
            t.raw_set(key, value)?;
            t.set_metatable(Some(meta.clone()))?;
            Ok(seal(&t))
        }
    };
    let table_arg = |v: &Value, func: &str| -> mlua::Result<Table> {
        match v {
            Value::Table(t) => Ok(t.clone()),
            other => Err(misuse(format!(
                "bad argument #1 to '{func}' (table expected, got {})",
                crate::args::arg_type(other)
            ))),
        }
    };
    // Builders that store a table argument (a shallow copy, so later edits do not leak in).
    for (func, key) in [("with_context", "context"), ("with_options", "options")] {
        let d = derive.clone();
        process.raw_set(
            func,
            lua.create_function(move |lua, v: Value| {
                let t = table_arg(&v, func)?;
                d(lua, None, key, Value::Table(copy_table(lua, &t)?))
            })?,
        )?;
        let d = derive.clone();
        methods.raw_set(
            func,
            lua.create_function(move |lua, (me, v): (Table, Value)| {
                let t = table_arg(&v, func)?;
                d(lua, Some(&me), key, Value::Table(copy_table(lua, &t)?))
            })?,
        )?;
    }
    for (func, key) in [("with_actor", "actor"), ("with_scope", "scope")] {
        let d = derive.clone();
        methods.raw_set(
            func,
            lua.create_function(move |lua, (me, v): (Table, Value)| d(lua, Some(&me), key, v))?,
        )?;
    }
    let d = derive.clone();
    methods.raw_set(
        "with_name",
        lua.create_function(move |lua, (me, v): (Table, Value)| {
            let name = str_arg(Some(&v), "with_name", 1)?;
            if name.is_empty() {
                return Err(misuse(
                    "bad argument #1 to 'with_name' (name cannot be empty)",
                ));
            }
            d(
                lua,
                Some(&me),
                "name",
                Value::String(lua.create_string(&name)?),
            )
        })?,
    )?;
    let d = derive;
    methods.raw_set(
        "with_message",
        lua.create_function(move |lua, (me, args): (Table, MultiValue)| {
            let args: Vec<Value> = args.into_iter().collect();
            let topic = str_arg(args.first(), "with_message", 1)?;
            if topic.starts_with('@') {
                return Err(misuse(
                    "bad argument #1 to 'with_message' (cannot send to @ topics)",
                ));
            }
            let list = lua.create_table()?;
            if let Some(old) = me.raw_get::<Option<Table>>("messages")? {
                for m in old.sequence_values::<Value>() {
                    list.raw_push(m?)?;
                }
            }
            let m = lua.create_table()?;
            m.raw_set("n", args.len() - 1)?;
            for (i, v) in args.into_iter().enumerate() {
                m.raw_set(i + 1, v)?;
            }
            list.raw_push(m)?;
            d(lua, Some(&me), "messages", Value::Table(list))
        })?,
    )?;
    Ok(())
}

fn copy_table(lua: &Lua, t: &Table) -> mlua::Result<Table> {
    let c = lua.create_table()?;
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        c.raw_set(k, v)?;
    }
    Ok(c)
}

pub(crate) fn install(
    lua: &Lua,
    ctx: &Rc<Ctx>,
    g: &Table,
    blocking: &Function,
) -> mlua::Result<()> {
    let t = lua.create_table()?;

    t.raw_set("pid", c_function::<hot::ProcessPid>(lua, c"pid", None)?)?;
    let c = ctx.clone();
    t.raw_set(
        "id",
        lua.create_function(move |_, ()| Ok(c.current()?.entry.code.id.to_string()))?,
    )?;
    let c = ctx.clone();
    let slow_send = lua.create_function(move |lua, args: MultiValue| send(lua, &c, args))?;
    t.raw_set(
        "send",
        c_function::<hot::Send>(lua, c"send", Some(&slow_send))?,
    )?;

    let spawn_fns: [(&str, Mode); 5] = [
        ("spawn", Mode::Spawn(SpawnFlags::default())),
        (
            "spawn_monitored",
            Mode::Spawn(SpawnFlags {
                monitor: true,
                ..SpawnFlags::default()
            }),
        ),
        (
            "spawn_linked",
            Mode::Spawn(SpawnFlags {
                link: true,
                ..SpawnFlags::default()
            }),
        ),
        (
            "spawn_linked_monitored",
            Mode::Spawn(SpawnFlags {
                monitor: true,
                link: true,
                ..SpawnFlags::default()
            }),
        ),
        ("exec", Mode::Exec),
    ];
    let spawner_methods = lua.create_table()?;
    for (name, mode) in spawn_fns {
        let c = ctx.clone();
        let f = lua.create_function(move |lua, args: MultiValue| {
            let args: Vec<Value> = args.into_iter().collect();
            spawn(lua, &c, mode, name, &args, None)
        })?;
        let slow = blocking.call::<Function>(f)?;
        // The spawns are raw functions, with the mlua version for what they hand back.
        let fast = match name {
            "spawn" => Some(c_function_blocking::<hot::Spawn, hot::Answer>(
                lua,
                c"spawn",
                Some(&slow),
            )?),
            "spawn_monitored" => Some(c_function_blocking::<hot::SpawnMonitored, hot::Answer>(
                lua,
                c"spawn_monitored",
                Some(&slow),
            )?),
            "spawn_linked" => Some(c_function_blocking::<hot::SpawnLinked, hot::Answer>(
                lua,
                c"spawn_linked",
                Some(&slow),
            )?),
            "spawn_linked_monitored" => Some(c_function_blocking::<
                hot::SpawnLinkedMonitored,
                hot::Answer,
            >(
                lua, c"spawn_linked_monitored", Some(&slow)
            )?),
            _ => None,
        };
        t.raw_set(name, fast.unwrap_or(slow))?;
        let c = ctx.clone();
        let m = lua.create_function(move |lua, (me, args): (Table, MultiValue)| {
            let args: Vec<Value> = args.into_iter().collect();
            let setup = spawner_setup(&c, &me)?;
            spawn(lua, &c, mode, name, &args, setup)
        })?;
        spawner_methods.raw_set(name, blocking.call::<Function>(m)?)?;
    }
    install_spawner(lua, &t, &spawner_methods)?;

    t.raw_set("inbox", c_function::<hot::Inbox>(lua, c"inbox", None)?)?;
    t.raw_set("events", c_function::<hot::Events>(lua, c"events", None)?)?;
    let c = ctx.clone();
    t.raw_set(
        "listen",
        lua.create_function(move |lua, (topic, opts): (Value, Option<Value>)| {
            listen(lua, &c, topic, opts)
        })?,
    )?;
    let c = ctx.clone();
    t.raw_set(
        "unlisten",
        lua.create_function(move |lua, ch: mlua::AnyUserData| {
            let p = c.current()?;
            let ptr = ch.to_pointer();
            let refs: Vec<i32> = p
                .rare()
                .listeners
                .borrow()
                .iter()
                .map(|(_, _, r)| *r)
                .collect();
            let mut found = None;
            for (i, r) in refs.into_iter().enumerate() {
                if crate::ffi::get_ref::<mlua::AnyUserData>(lua, r)?.to_pointer() == ptr {
                    found = Some(i);
                    break;
                }
            }
            if let Some(i) = found {
                let (topic, _, r) = p.rare().listeners.borrow_mut().remove(i);
                crate::ffi::unref(r);
                c.local.unlisten(p.slot, &topic);
            }
            Ok(())
        })?,
    )?;

    let c = ctx.clone();
    t.raw_set(
        "terminate",
        lua.create_function(move |lua, dest: Value| {
            let pid = match dest_arg(lua, &c, Some(&dest), "terminate")? {
                Ok(p) => p,
                Err(r) => return Ok(r),
            };
            let me = c.current()?;
            let reason = ErrorValue::new(ErrorKind::Canceled, "process terminated").retryable(None);
            if !c.local.kill(pid, reason) {
                return fail(lua, ErrorKind::NotFound, "process not found");
            }
            if pid == me.pid {
                crate::ffi::request_kill();
            }
            Ok(ok_true())
        })?,
    )?;
    let c = ctx.clone();
    t.raw_set(
        "cancel",
        lua.create_function(move |lua, (dest, reason): (Value, Option<String>)| {
            let pid = match dest_arg(lua, &c, Some(&dest), "cancel")? {
                Ok(p) => p,
                Err(r) => return Ok(r),
            };
            let me = c.current()?;
            if c.local.cancel(me.pid, pid, reason.as_deref().unwrap_or("")) {
                Ok(ok_true())
            } else {
                fail(lua, ErrorKind::NotFound, "process not found")
            }
        })?,
    )?;
    type Rel = fn(&starling_core::Local, u32, Pid) -> Result<(), RelationError>;
    let rels: [(&str, Rel); 4] = [
        ("monitor", |l, s, p| l.monitor(s, p)),
        ("unmonitor", |l, s, p| l.demonitor(s, p)),
        ("link", |l, s, p| l.link(s, p)),
        ("unlink", |l, s, p| l.unlink(s, p)),
    ];
    for (name, op) in rels {
        let c = ctx.clone();
        t.raw_set(
            name,
            lua.create_function(move |lua, dest: Value| {
                let pid = match dest_arg(lua, &c, Some(&dest), name)? {
                    Ok(p) => p,
                    Err(r) => return Ok(r),
                };
                let me = c.current()?;
                match op(&c.local, me.slot, pid) {
                    Ok(()) => Ok(ok_true()),
                    Err(e) => relation_error(lua, e),
                }
            })?,
        )?;
    }
    let c = ctx.clone();
    t.raw_set(
        "get_options",
        lua.create_function(move |lua, ()| {
            let p = c.current()?;
            let trap = c.local.trap_links(p.slot);
            let t = lua.create_table()?;
            t.raw_set("trap_links", trap)?;
            Ok(t)
        })?,
    )?;
    let c = ctx.clone();
    t.raw_set(
        "set_options",
        lua.create_function(move |lua, opts: Value| {
            let bad = |m: &str| -> mlua::Result<MultiValue> {
                let (_, e) = fail(lua, ErrorKind::Invalid, m)?
                    .into_iter()
                    .collect::<Vec<_>>()
                    .into_iter()
                    .fold((Value::Nil, Value::Nil), |acc, v| (acc.1, v));
                Ok(MultiValue::from_vec(vec![Value::Boolean(false), e]))
            };
            let Value::Table(t) = opts else {
                return bad("options parameter must be a table");
            };
            let mut trap = None;
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let key = match &k {
                    Value::String(s) => s.to_str()?.to_string(),
                    other => other.to_string().unwrap_or_default(),
                };
                match key.as_str() {
                    "trap_links" => match v {
                        Value::Boolean(b) => trap = Some(b),
                        _ => return bad("trap_links must be a boolean"),
                    },
                    "upgradable" => {}
                    other => return bad(&format!("option {other} is not supported")),
                }
            }
            if let Some(trap) = trap {
                let p = c.current()?;
                c.local.set_trap_links(p.slot, trap);
            }
            Ok(MultiValue::from_vec(vec![Value::Boolean(true), Value::Nil]))
        })?,
    )?;
    t.raw_set(
        "upgrade",
        lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
            Err(misuse("process.upgrade: not supported"))
        })?,
    )?;

    let ev = lua.create_table()?;
    ev.raw_set("EXIT", "pid.exit")?;
    ev.raw_set("LINK_DOWN", "pid.link.down")?;
    ev.raw_set("CANCEL", "pid.cancel")?;
    t.raw_set("event", seal(&ev))?;

    let reg = lua.create_table()?;
    for (k, v) in [
        ("LOCAL", 0),
        ("EVENTUAL", 1),
        ("CONSISTENT", 2),
        ("STRONG", 3),
    ] {
        reg.raw_set(k, v)?;
    }
    let c = ctx.clone();
    let register_fn = lua.create_function(move |lua, args: MultiValue| register(lua, &c, args))?;
    // Cluster scopes answer asynchronously (a blocking point); LOCAL returns at once.
    reg.raw_set("register", blocking.call::<Function>(register_fn)?)?;
    let c = ctx.clone();
    reg.raw_set(
        "lookup",
        lua.create_function(move |lua, name: Value| {
            let name = str_arg(Some(&name), "lookup", 1)?;
            match c.local.node().registry.lookup(&name) {
                Some(pid) => one(lua, c.pid_string(pid)),
                None => fail(lua, ErrorKind::NotFound, "name not registered"),
            }
        })?,
    )?;
    let c = ctx.clone();
    let unregister_fn =
        lua.create_function(move |lua, (name, scope): (Value, Option<Value>)| {
            let name = str_arg(Some(&name), "unregister", 1)?;
            let scope = match scope_check(lua, scope.as_ref())? {
                Ok(scope) => scope,
                Err(r) => return Ok(r),
            };
            if let Some(scope) = scope {
                let Some(names) = c.local.node().registry.cluster().cloned() else {
                    return fail(
                        lua,
                        ErrorKind::Unavailable,
                        "cluster registry not available",
                    );
                };
                let caller = c.current()?.pid;
                let reply = c.begin_request()?;
                if let Err(e) = names.unregister(&name, scope, caller, reply) {
                    c.cancel_request(reply);
                    return fail_with(lua, e);
                }
                return Ok(c.pending());
            }
            one(lua, c.local.node().registry.remove(&name))
        })?;
    reg.raw_set("unregister", blocking.call::<Function>(unregister_fn)?)?;
    t.raw_set("registry", seal(&reg))?;
    g.raw_set("process", t)
}
