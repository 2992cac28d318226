//! `channel` and `coroutine.spawn` (SPEC §7): the raw primitives the prelude wraps.

use std::rc::Rc;

use mlua::{AnyUserData, Lua, MultiValue, Table, Value};

use crate::chan::{self, Case, Chan, ChanKind, ChanState, Waiter};
use crate::engine::{Ctx, misuse};
use crate::task::WaitKind;

fn chan_of(
    v: &Value,
    func: &str,
) -> mlua::Result<(AnyUserData, Rc<std::cell::RefCell<ChanState>>)> {
    if let Value::UserData(ud) = v {
        if let Ok(c) = ud.borrow::<Chan>() {
            return Ok((ud.clone(), c.st.clone()));
        }
    }
    Err(misuse(format!(
        "bad argument #1 to '{func}' (channel expected, got {})",
        v.type_name()
    )))
}

/// Creates a channel userdata owned by the current process.
pub(crate) fn new_chan(
    lua: &Lua,
    kind: ChanKind,
    cap: usize,
) -> mlua::Result<(AnyUserData, Rc<std::cell::RefCell<ChanState>>)> {
    let st = ChanState::new(kind, cap);
    let ud = lua.create_userdata(Chan { st: st.clone() })?;
    Ok((ud, st))
}

pub(crate) fn install_raw(lua: &Lua, ctx: &Rc<Ctx>, raw: &Table) -> mlua::Result<()> {
    raw.raw_set(
        "chan_new",
        lua.create_function(|lua, n: Option<Value>| {
            let cap = match n {
                None | Some(Value::Nil) => 0,
                Some(Value::Integer(i)) if i >= 0 => i as usize,
                Some(Value::Number(f)) if f >= 0.0 && f.fract() == 0.0 => f as usize,
                Some(other) => {
                    return Err(misuse(format!(
                        "bad argument #1 to 'new' (non-negative integer expected, got {})",
                        other
                            .to_string()
                            .unwrap_or_else(|_| other.type_name().into())
                    )));
                }
            };
            Ok(new_chan(lua, ChanKind::User, cap)?.0)
        })?,
    )?;

    let c = ctx.clone();
    raw.raw_set(
        "chan_recv",
        lua.create_function(move |lua, ch: Value| {
            let (_, st) = chan_of(&ch, "receive")?;
            let p = c.current()?;
            if let Some((v, ok)) = chan::try_recv(lua, &c, &p, &st)? {
                return Ok(MultiValue::from_vec(vec![v, Value::Boolean(ok)]));
            }
            let task = c.current_task()?;
            let wait = p.set_wait(task, WaitKind::Recv);
            st.borrow_mut().push_receiver(Waiter {
                task,
                wait,
                case: 0,
            });
            Ok(c.pending())
        })?,
    )?;

    let c = ctx.clone();
    raw.raw_set(
        "chan_send",
        lua.create_function(move |lua, (ch, v): (Value, Value)| {
            let (_, st) = chan_of(&ch, "send")?;
            let p = c.current()?;
            if chan::try_send(lua, &p, &st, &v)? {
                return Ok(MultiValue::from_vec(vec![Value::Boolean(true)]));
            }
            let task = c.current_task()?;
            let wait = p.set_wait(task, WaitKind::Send);
            let w = Waiter {
                task,
                wait,
                case: 0,
            };
            if let Err(e) = chan::push_sender(lua, &p, &st, w, &v) {
                p.abandon_wait(lua, task, wait);
                return Err(e);
            }
            Ok(c.pending())
        })?,
    )?;

    let c = ctx.clone();
    raw.raw_set(
        "chan_close",
        lua.create_function(move |lua, ch: Value| {
            let (_, st) = chan_of(&ch, "close")?;
            let p = c.current()?;
            chan::close(lua, &p, &st, Value::LightUserData(c.refs().raise))?;
            Ok(true)
        })?,
    )?;

    raw.raw_set(
        "case_receive",
        lua.create_function(|_, ch: Value| {
            let (ud, _) = chan_of(&ch, "case_receive")?;
            Ok(Case {
                chan: ud,
                send: None,
            })
        })?,
    )?;
    raw.raw_set(
        "case_send",
        lua.create_function(|_, (ch, v): (Value, Value)| {
            let (ud, _) = chan_of(&ch, "case_send")?;
            Ok(Case {
                chan: ud,
                send: Some(v),
            })
        })?,
    )?;

    let c = ctx.clone();
    raw.raw_set(
        "select",
        lua.create_function(move |lua, (cases, dflt): (Value, Option<Value>)| {
            select(lua, &c, cases, dflt)
        })?,
    )?;

    let c = ctx.clone();
    raw.raw_set(
        "spawn_coroutine",
        lua.create_function(move |lua, f: Value| match f {
            Value::Function(f) => c.spawn_task(lua, f),
            other => Err(misuse(format!(
                "bad argument #1 to 'spawn' (function expected, got {})",
                crate::modules::arg_type(&other)
            ))),
        })?,
    )?;
    Ok(())
}

fn select(lua: &Lua, ctx: &Ctx, cases: Value, dflt: Option<Value>) -> mlua::Result<MultiValue> {
    let Value::Table(cases) = cases else {
        return Err(misuse(format!(
            "bad argument #1 to 'select' (table expected, got {})",
            cases.type_name()
        )));
    };
    let has_default = matches!(dflt, Some(Value::Boolean(true)))
        || matches!(cases.raw_get::<Value>("default")?, Value::Boolean(true));
    let n = cases.raw_len();
    let mut list = Vec::with_capacity(n);
    for i in 1..=n {
        let v: Value = cases.raw_get(i)?;
        let Value::UserData(ud) = &v else {
            return Err(misuse("invalid case"));
        };
        let Ok(case) = ud.borrow::<Case>() else {
            return Err(misuse("invalid case"));
        };
        let st = case.chan.borrow::<Chan>()?.st.clone();
        list.push((case.chan.clone(), st, case.send.clone()));
    }
    let p = ctx.current()?;
    for (ud, st, send) in &list {
        match send {
            None => {
                if let Some((v, ok)) = chan::try_recv(lua, ctx, &p, st)? {
                    return Ok(result(ud, v, ok));
                }
            }
            Some(v) => {
                if chan::try_send(lua, &p, st, v)? {
                    return Ok(result(ud, v.clone(), true));
                }
            }
        }
    }
    if has_default {
        // No channel: the default case.
        return Ok(MultiValue::from_vec(vec![
            Value::Nil,
            Value::Nil,
            Value::Boolean(true),
        ]));
    }
    if list.is_empty() {
        return Err(misuse(
            "select with no cases and no default would block forever",
        ));
    }
    let task = ctx.current_task()?;
    let regs = list
        .iter()
        .map(|(ud, st, _)| (ud.clone(), st.clone()))
        .collect();
    let wait = p.set_wait(task, WaitKind::Select(regs));
    for (i, (_, st, send)) in list.into_iter().enumerate() {
        let w = Waiter {
            task,
            wait,
            case: i as u32,
        };
        match send {
            None => st.borrow_mut().push_receiver(w),
            Some(v) => {
                if let Err(e) = chan::push_sender(lua, &p, &st, w, &v) {
                    // Withdraws the cases registered so far.
                    p.abandon_wait(lua, task, wait);
                    return Err(e);
                }
            }
        }
    }
    Ok(ctx.pending())
}

/// A select's answer as the prelude expects it: channel, value, ok.
fn result(ud: &AnyUserData, v: Value, ok: bool) -> MultiValue {
    MultiValue::from_vec(vec![Value::UserData(ud.clone()), v, Value::Boolean(ok)])
}
