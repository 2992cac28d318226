//! `math.random` and `math.randomseed` with random state per process (issue 11).
//!
//! Luau keeps one generator per VM, and a worker's processes share its VM: one process's
//! `math.randomseed` would change the numbers its neighbours draw. Here a process that calls
//! `math.randomseed` gets a generator of its own (made then, so processes that never seed
//! cost nothing); processes that never seed draw from one generator per worker.
//!
//! # Guarantees
//! - Luau's generator (PCG32) and argument rules: `random()` is a float in `[0, 1)`,
//!   `random(m)` an integer in `[1, m]`, `random(m, n)` one in `[m, n]`; an empty interval
//!   raises `interval is empty`. A seed gives the numbers Luau gives for it.
//! - After `math.randomseed(x)` a process draws the same sequence whatever its neighbours do.

use std::cell::Cell;

use mlua::{Lua, MultiValue, Value};

use crate::engine::Ctx;
use crate::ffi::{Item, Kind, Out, RawFn, Stack};

/// Luau's PCG32 increment (`PCG32_INC`).
const INC: u64 = 105;

/// The next 32 bits of the generator `state` (Luau's `pcg32_random`).
fn next(state: &Cell<u64>) -> u32 {
    let old = state.get();
    state.set(
        old.wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(INC | 1),
    );
    let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
    let rot = (old >> 59) as u32;
    xorshifted.rotate_right(rot)
}

/// Seeds `state` (Luau's `pcg32_seed`).
fn seed(state: &Cell<u64>, seed: u64) {
    state.set(0);
    next(state);
    state.set(state.get().wrapping_add(seed));
    next(state);
}

thread_local! {
    /// The generator of this worker's processes that never seeded their own.
    static WORKER: Cell<u64> = {
        let state = Cell::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let here = &state as *const Cell<u64> as usize as u64;
        seed(&state, t ^ here.rotate_left(32));
        state
    };
}

/// Runs `f` on the running process's own generator, or the worker's.
fn with_rng<R>(f: impl FnOnce(&Cell<u64>) -> R) -> R {
    if let Some(p) = Ctx::get().and_then(|c| c.try_current()) {
        if let Some(own) = p.rare_if_made().and_then(|r| r.rng.get()) {
            return f(own);
        }
    }
    WORKER.with(|w| f(w))
}

/// A number as Luau's `luaL_checkinteger` takes it (truncated to a C `int`; out of range
/// gives `INT_MIN`, as the x86 conversion does).
fn to_int(n: f64) -> i32 {
    if (-2_147_483_648.0..2_147_483_648.0).contains(&n) {
        n as i32
    } else {
        i32::MIN
    }
}

/// The outcome of `math.random` with integer arguments (already converted).
fn draw(args: &[i32]) -> Result<f64, String> {
    match *args {
        [] => Ok(with_rng(|s| {
            let lo = next(s) as u64;
            let hi = next(s) as u64;
            (lo | (hi << 32)) as f64 * (-64f64).exp2()
        })),
        [u] => {
            if u < 1 {
                return Err(arg_error(1, "interval is empty"));
            }
            let x = u as u64 * with_rng(next) as u64;
            Ok((1 + (x >> 32) as i64) as f64)
        }
        [l, u] => {
            if l > u {
                return Err(arg_error(2, "interval is empty"));
            }
            let ul = (u as u32).wrapping_sub(l as u32);
            if ul == u32::MAX {
                return Err(arg_error(2, "interval is too large"));
            }
            let x = (ul as u64 + 1) * with_rng(next) as u64;
            Ok((l as i64 + (x >> 32) as i64) as f64)
        }
        _ => Err("wrong number of arguments".into()),
    }
}

fn arg_error(n: usize, msg: &str) -> String {
    format!("invalid argument #{n} to 'random' ({msg})")
}

fn type_error(n: usize, func: &str, got: &str) -> String {
    format!("invalid argument #{n} to '{func}' (number expected, got {got})")
}

/// Seeds the running process's own generator (made now if it has none), or the worker's
/// outside a process.
fn reseed(x: i32) {
    let x = x as i64 as u64;
    match Ctx::get().and_then(|c| c.try_current()) {
        Some(p) => seed(p.rare().rng.get_or_init(|| Cell::new(0)), x),
        None => WORKER.with(|w| seed(w, x)),
    }
}

/// `math.random` on numbers; anything else goes to [`random_slow`].
fn random(s: &mut Stack) -> Out {
    let top = s.top();
    if top > 2 {
        return Out::Raise("wrong number of arguments".into());
    }
    let mut args = [0i32; 2];
    for i in 1..=top {
        match s.number(i) {
            Some(n) => args[i as usize - 1] = to_int(n),
            None => return Out::Fallback,
        }
    }
    match draw(&args[..top as usize]) {
        Ok(v) => Out::One(Item::Num(v)),
        Err(msg) => Out::Raise(msg),
    }
}

/// `math.randomseed` on a number; anything else goes to [`randomseed_slow`].
fn randomseed(s: &mut Stack) -> Out {
    if s.kind(1) != Kind::Number {
        return Out::Fallback;
    }
    match s.number(1) {
        Some(n) => {
            reseed(to_int(n));
            Out::Pushed(0)
        }
        None => Out::Fallback,
    }
}

/// Converts argument `n` as Luau does (numbers, and strings that read as numbers).
fn int_arg(lua: &Lua, v: &Value, n: usize, func: &str) -> mlua::Result<i32> {
    match lua.coerce_number(v.clone())? {
        Some(x) => Ok(to_int(x)),
        None => Err(mlua::Error::runtime(type_error(n, func, v.type_name()))),
    }
}

/// The slow half of `math.random`: string arguments, and type errors.
fn random_slow(lua: &Lua, args: MultiValue) -> mlua::Result<f64> {
    if args.len() > 2 {
        return Err(mlua::Error::runtime("wrong number of arguments"));
    }
    let mut ints = Vec::with_capacity(2);
    for (i, v) in args.iter().enumerate() {
        ints.push(int_arg(lua, v, i + 1, "random")?);
    }
    draw(&ints).map_err(mlua::Error::runtime)
}

/// The slow half of `math.randomseed`.
fn randomseed_slow(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let v = args.into_iter().next().unwrap_or(Value::Nil);
    reseed(int_arg(lua, &v, 1, "randomseed")?);
    Ok(())
}

/// `math.random` as a C function type.
pub(crate) struct Random;
impl RawFn for Random {
    fn body(s: &mut Stack) -> Out {
        random(s)
    }
}

/// `math.randomseed` as a C function type.
pub(crate) struct RandomSeed;
impl RawFn for RandomSeed {
    fn body(s: &mut Stack) -> Out {
        randomseed(s)
    }
}

/// Replaces `math.random` and `math.randomseed` in the VM's `math` table.
pub(crate) fn install(lua: &Lua, math: &mlua::Table) -> mlua::Result<()> {
    let slow = lua.create_function(random_slow)?;
    math.raw_set(
        "random",
        crate::ffi::c_function::<Random>(lua, c"random", Some(&slow))?,
    )?;
    let slow = lua.create_function(randomseed_slow)?;
    math.raw_set(
        "randomseed",
        crate::ffi::c_function::<RandomSeed>(lua, c"randomseed", Some(&slow))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_sequence() {
        let a = Cell::new(0);
        let b = Cell::new(0);
        seed(&a, 42);
        seed(&b, 42);
        for _ in 0..10 {
            assert_eq!(next(&a), next(&b));
        }
        seed(&b, 7);
        assert_ne!(next(&a), next(&b));
    }

    #[test]
    fn ranges_hold() {
        for _ in 0..1000 {
            let f = draw(&[]).unwrap();
            assert!((0.0..1.0).contains(&f));
            let m = draw(&[6]).unwrap();
            assert!((1.0..=6.0).contains(&m) && m.fract() == 0.0);
            let r = draw(&[-3, 3]).unwrap();
            assert!((-3.0..=3.0).contains(&r));
        }
        assert_eq!(draw(&[5, 5]).unwrap(), 5.0);
        assert!(draw(&[0]).unwrap_err().contains("interval is empty"));
        assert!(draw(&[2, 1]).unwrap_err().contains("interval is empty"));
    }
}
