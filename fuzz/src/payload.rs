//! `payload`: the copy of values between processes (`convert.rs`): Lua values into a
//! [`Payload`] on send, and a payload into fresh Lua values on receive.
//!
//! The first byte picks what the rest describes:
//!
//! - a payload, built directly (tables in its arena referring to each other, cycles, shared
//!   tables, integral floats as keys, nil and NaN keys, error objects with details and causes);
//! - a graph of Lua values built through mlua (holes in arrays, functions, threads, foreign
//!   userdata, buffers, vectors, metatables, frozen tables).
//!
//! Checked, comparing tables as Lua sees them (key/value pairs, numbers by value, tables up to
//! a renaming of arena slots):
//!
//! - Lua values copy to a payload holding exactly the pairs Lua has whose key and value can
//!   cross (nil, booleans, numbers, strings, tables, error objects), found by a walk written
//!   here independently of `convert.rs`; the arena holds only tables the values reach;
//! - a payload rebuilds into Lua values unless a table has a nil or NaN key, which Lua cannot
//!   store; rebuilt values copy back to the same payload, and again to the same one after that;
//! - `first_from_payload` agrees with the first value of `from_payload`;
//! - a payload that flattens (`starling_core::flat`, how messages cross workers) reads back as
//!   the same values, and flattens again to the same bytes.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use arbitrary::{Result, Unstructured};
use mlua::{Lua, Table as LuaTable, Value as LuaValue};
use starling_core::flat::Flat;
use starling_core::{ErrorKind, ErrorValue, Payload, Table, Value};
use starling_lua::fuzzing::{first_from_payload, from_payload, to_payload};
use starling_lua::userdata::error::LuaErrorObject;
use starling_lua::userdata::time::{Loc, LuaLocation};

thread_local! {
    static LUA: RefCell<Option<Lua>> = const { RefCell::new(None) };
}

/// One input; see the module docs.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    LUA.with(|cell| {
        let mut cell = cell.borrow_mut();
        let lua = cell.get_or_insert_with(Lua::new);
        let _ = if u.arbitrary::<bool>().unwrap_or(false) {
            lua_graph(lua, &mut u)
        } else {
            payload(&mut u, 2).map(|p| {
                check_flat(&p);
                check_round_trip(lua, &p)
            })
        };
    });
}

// ---------------------------------------------------------------------------------------------
// Payloads built directly.

fn payload(u: &mut Unstructured<'_>, depth: u8) -> Result<Payload> {
    let count = u.int_in_range(0..=12u32)?;
    let mut values = Vec::new();
    for _ in 0..u.int_in_range(0..=4u8)? {
        values.push(value(u, count, depth)?);
    }
    let mut tables = Vec::new();
    for _ in 0..count {
        let mut table = Table::default();
        for _ in 0..u.int_in_range(0..=8u8)? {
            table.array.push(value(u, count, depth)?);
        }
        for _ in 0..u.int_in_range(0..=8u8)? {
            table
                .hash
                .push((value(u, count, depth)?, value(u, count, depth)?));
        }
        tables.push(table);
    }
    Ok(Payload { values, tables })
}

fn value(u: &mut Unstructured<'_>, tables: u32, depth: u8) -> Result<Value> {
    Ok(match u.int_in_range(0..=10u8)? {
        0 => Value::Nil,
        1 => Value::Bool(u.arbitrary()?),
        // Small integers land in and next to array parts.
        2 => Value::Int(u.int_in_range(-1..=10)?),
        3 => Value::Int(u.arbitrary()?),
        4 => Value::Float(f64::from_bits(u.arbitrary()?)),
        5 => Value::Float(*u.choose(&SPECIAL_FLOATS)?),
        6 => Value::Str(u.arbitrary::<Vec<u8>>()?.into()),
        7 | 8 if tables > 0 => Value::Table(u.int_in_range(0..=tables - 1)?),
        9 if depth > 0 => Value::Error(Box::new(error_value(u, depth - 1)?)),
        _ => Value::Nil,
    })
}

const SPECIAL_FLOATS: [f64; 10] = [
    0.5,
    -0.0,
    1.0,
    2.0,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    // 2^53 + 2, the first even integer past exact integers, and the ends of i64.
    9_007_199_254_740_994.0,
    i64::MAX as f64,
    i64::MIN as f64,
];

fn error_value(u: &mut Unstructured<'_>, depth: u8) -> Result<ErrorValue> {
    let kind = u.choose(&ErrorKind::ALL)?.0;
    let mut e = ErrorValue::new(kind, u.arbitrary::<String>()?);
    e.retryable = u.arbitrary()?;
    e.stack = u.arbitrary()?;
    if depth > 0 && u.arbitrary()? {
        e.details = Some(Box::new(payload(u, depth - 1)?));
    }
    if depth > 0 && u.arbitrary()? {
        e.cause = Some(Box::new(error_value(u, depth - 1)?));
    }
    Ok(e)
}

/// A key Lua refuses (`t[nil] = v`, `t[0/0] = v`) in any table of the arena.
fn has_unstorable_key(p: &Payload) -> bool {
    p.tables.iter().any(|t| {
        t.hash
            .iter()
            .any(|(k, _)| matches!(k, Value::Nil) || matches!(k, Value::Float(f) if f.is_nan()))
    })
}

fn check_flat(p: &Payload) {
    let Some(f) = Flat::encode(p) else {
        return;
    };
    assert_eq!(f.len(), p.values.len(), "flat value count");
    let back = f.to_payload();
    assert_same(p, &back);
    assert!(
        Flat::encode(&back) == Some(f),
        "flattening the read-back payload gave other bytes\n{p:?}"
    );
}

fn check_round_trip(lua: &Lua, p: &Payload) {
    let values = match from_payload(lua, p) {
        Ok(values) => values,
        Err(e) => {
            assert!(
                has_unstorable_key(p),
                "from_payload failed without a nil or NaN key: {e}\n{p:?}"
            );
            return;
        }
    };
    assert!(
        !has_unstorable_key(p),
        "from_payload stored a nil or NaN key\n{p:?}"
    );
    assert_eq!(values.len(), p.values.len(), "value count changed");
    let back = to_payload(&values).expect("copying rebuilt values");
    assert_same(p, &back);
    check_arena(&back);
    let again = to_payload(&from_payload(lua, &back).expect("rebuilding a copied payload"))
        .expect("copying rebuilt values");
    assert_same(&back, &again);

    let first = first_from_payload(lua, p).expect("from_payload succeeded");
    if p.values.is_empty() {
        assert!(first.is_nil(), "the first value of nothing is {first:?}");
    } else {
        let one = to_payload(&[first]).expect("copying the first value");
        assert_same(&p.clone().first(), &one);
    }
}

// ---------------------------------------------------------------------------------------------
// Lua values built through mlua.

fn lua_graph(lua: &Lua, u: &mut Unstructured<'_>) -> Result<()> {
    let mut tables = Vec::new();
    for _ in 0..u.int_in_range(0..=8u8)? {
        tables.push(lua.create_table().expect("table"));
    }
    let parts = Parts {
        lua,
        tables: &tables,
        function: lua.create_function(|_, ()| Ok(())).expect("function"),
    };
    if !tables.is_empty() {
        for _ in 0..u.int_in_range(0..=48u8)? {
            let t = u.choose(&tables)?;
            let (k, v) = (parts.value(u)?, parts.value(u)?);
            // Lua refuses nil and NaN keys; so does the fuzzer.
            let _ = t.raw_set(k, v);
        }
    }
    for t in &tables {
        if u.ratio(1, 4)? {
            let meta = lua.create_table().expect("metatable");
            meta.raw_set("__index", parts.value(u)?).expect("set");
            meta.raw_set("__len", parts.function.clone()).expect("set");
            meta.raw_set("__newindex", parts.function.clone())
                .expect("set");
            t.set_metatable(Some(meta)).expect("metatable");
        }
    }
    for t in &tables {
        if u.ratio(1, 8)? {
            t.set_readonly(true);
        }
    }
    let mut roots = Vec::new();
    for _ in 0..u.int_in_range(0..=4u8)? {
        roots.push(parts.value(u)?);
    }

    let copied = to_payload(&roots).expect("copying Lua values");
    assert_same(&reference_copy(&roots), &copied);
    check_arena(&copied);
    check_round_trip(lua, &copied);
    Ok(())
}

struct Parts<'a> {
    lua: &'a Lua,
    tables: &'a [LuaTable],
    function: mlua::Function,
}

impl Parts<'_> {
    fn value(&self, u: &mut Unstructured<'_>) -> Result<LuaValue> {
        let lua = self.lua;
        Ok(match u.int_in_range(0..=15u8)? {
            0 => LuaValue::Nil,
            1 => LuaValue::Boolean(u.arbitrary()?),
            2 | 3 => LuaValue::Integer(u.int_in_range(-1..=10)?),
            4 => LuaValue::Integer(u.arbitrary()?),
            5 => LuaValue::Number(f64::from_bits(u.arbitrary()?)),
            6 => LuaValue::Number(*u.choose(&SPECIAL_FLOATS)?),
            7 => LuaValue::String(lua.create_string(u.arbitrary::<&[u8]>()?).expect("string")),
            8..=10 if !self.tables.is_empty() => LuaValue::Table(u.choose(self.tables)?.clone()),
            11 => LuaValue::Function(self.function.clone()),
            12 => LuaValue::UserData(
                lua.create_userdata(LuaErrorObject::new(
                    u.choose(&ErrorKind::ALL)?.0,
                    u.arbitrary::<String>()?,
                ))
                .expect("error object"),
            ),
            13 => LuaValue::UserData(
                lua.create_userdata(LuaLocation(Loc::utc()))
                    .expect("location"),
            ),
            14 => LuaValue::Thread(lua.create_thread(self.function.clone()).expect("thread")),
            _ => match u.int_in_range(0..=2u8)? {
                0 => LuaValue::Buffer(lua.create_buffer(u.arbitrary::<&[u8]>()?).expect("buffer")),
                1 => LuaValue::Vector(mlua::Vector::new(1.0, 2.0, 3.0)),
                _ => LuaValue::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
            },
        })
    }
}

/// What a copy of `roots` should hold, found without `convert.rs`: every raw pair of every
/// reachable table whose key and value can cross, all in the hash part.
fn reference_copy(roots: &[LuaValue]) -> Payload {
    let mut seen: HashMap<*const std::ffi::c_void, u32> = HashMap::new();
    let mut todo: Vec<LuaTable> = Vec::new();
    let mut out = Payload::default();
    let mut convert = |v: &LuaValue, out: &mut Payload, todo: &mut Vec<LuaTable>| -> Value {
        match v {
            LuaValue::Boolean(b) => Value::Bool(*b),
            LuaValue::Integer(i) => Value::Int(*i),
            LuaValue::Number(n) => Value::Float(*n),
            LuaValue::String(s) => Value::Str(s.as_bytes().to_vec().into()),
            LuaValue::Table(t) => {
                let next = out.tables.len() as u32;
                let slot = *seen.entry(t.to_pointer()).or_insert_with(|| {
                    out.tables.push(Table::default());
                    todo.push(t.clone());
                    next
                });
                Value::Table(slot)
            }
            LuaValue::UserData(ud) => match ud.borrow::<LuaErrorObject>() {
                Ok(e) => Value::Error(Box::new(e.0.clone())),
                Err(_) => Value::Nil,
            },
            _ => Value::Nil,
        }
    };
    for root in roots {
        let v = convert(root, &mut out, &mut todo);
        out.values.push(v);
    }
    let mut done = 0;
    while done < out.tables.len() {
        // Tables are numbered in the order they are first met; `todo` holds them in that order.
        let t = todo[done].clone();
        let mut hash = Vec::new();
        t.for_each::<LuaValue, LuaValue>(|k, v| {
            hash.push((k, v));
            Ok(())
        })
        .expect("raw traversal");
        let mut pairs = Vec::new();
        for (k, v) in &hash {
            if crosses(k) && crosses(v) {
                let k = convert(k, &mut out, &mut todo);
                let v = convert(v, &mut out, &mut todo);
                pairs.push((k, v));
            }
        }
        out.tables[done].hash = pairs;
        done += 1;
    }
    out
}

/// True for the values a copy keeps (the others become nil).
fn crosses(v: &LuaValue) -> bool {
    match v {
        LuaValue::Nil => false,
        LuaValue::Boolean(_)
        | LuaValue::Integer(_)
        | LuaValue::Number(_)
        | LuaValue::String(_)
        | LuaValue::Table(_) => true,
        LuaValue::UserData(ud) => ud.is::<LuaErrorObject>(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing payloads as Lua sees them.

/// Every arena table is reachable from the values (a copy holds nothing it does not need).
fn check_arena(p: &Payload) {
    let mut reached = vec![false; p.tables.len()];
    let mut todo: Vec<u32> = Vec::new();
    let mut visit = |v: &Value, todo: &mut Vec<u32>| {
        if let Value::Table(i) = v
            && !reached[*i as usize]
        {
            reached[*i as usize] = true;
            todo.push(*i);
        }
    };
    for v in &p.values {
        visit(v, &mut todo);
    }
    while let Some(i) = todo.pop() {
        let t = &p.tables[i as usize];
        for v in &t.array {
            visit(v, &mut todo);
        }
        for (k, v) in &t.hash {
            visit(k, &mut todo);
            visit(v, &mut todo);
        }
    }
    let unreached: Vec<usize> = (0..reached.len()).filter(|&i| !reached[i]).collect();
    assert!(
        unreached.is_empty(),
        "arena tables {unreached:?} are not reachable from the values\n{p:?}"
    );
}

/// A scalar key as Lua compares keys: numbers by value, `-0` as `0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ScalarKey {
    Bool(bool),
    Num(u64),
    Str(Box<[u8]>),
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

fn num_key(f: f64) -> ScalarKey {
    ScalarKey::Num(if f == 0.0 { 0 } else { f.to_bits() })
}

/// A table's contents after Lua stores its array part, then its hash part, in order: a nil
/// value removes its key. Tables as keys are compared through the slot renaming; error
/// objects as keys are each a new userdata, so only counted.
#[derive(Default)]
struct Contents<'a> {
    scalars: BTreeMap<ScalarKey, &'a Value>,
    tables: BTreeMap<u32, &'a Value>,
    errors: usize,
}

impl<'a> Contents<'a> {
    fn of(t: &'a Table) -> Contents<'a> {
        let mut c = Contents::default();
        for (i, v) in t.array.iter().enumerate() {
            c.set_scalar(num_key((i + 1) as f64), v);
        }
        for (k, v) in &t.hash {
            match k {
                Value::Nil => unreachable!("checked before rebuilding"),
                Value::Bool(b) => c.set_scalar(ScalarKey::Bool(*b), v),
                Value::Int(_) | Value::Float(_) => {
                    c.set_scalar(num_key(number(k).expect("a number")), v)
                }
                Value::Str(s) => c.set_scalar(ScalarKey::Str(s[..].into()), v),
                Value::Table(i) => {
                    if v == &Value::Nil {
                        c.tables.remove(i);
                    } else {
                        c.tables.insert(*i, v);
                    }
                }
                Value::Error(_) => c.errors += usize::from(v != &Value::Nil),
            }
        }
        c
    }

    fn set_scalar(&mut self, k: ScalarKey, v: &'a Value) {
        if v == &Value::Nil {
            self.scalars.remove(&k);
        } else {
            self.scalars.insert(k, v);
        }
    }
}

/// Asserts that `a` and `b` hold the same values, tables compared by contents.
fn assert_same(a: &Payload, b: &Payload) {
    assert_eq!(
        a.values.len(),
        b.values.len(),
        "value count differs\n{a:?}\n{b:?}"
    );
    let mut same = Same {
        a,
        b,
        slots: HashMap::new(),
        taken: HashMap::new(),
        todo: Vec::new(),
        pending: Vec::new(),
    };
    for (x, y) in a.values.iter().zip(&b.values) {
        same.value(x, y);
    }
    same.finish();
}

struct Same<'p> {
    a: &'p Payload,
    b: &'p Payload,
    /// Slot in `a` -> slot in `b`.
    slots: HashMap<u32, u32>,
    /// Slot in `b` -> slot in `a`.
    taken: HashMap<u32, u32>,
    todo: Vec<(u32, u32)>,
    /// Table keys met before their own tables were paired: (table in a, table in b, key in a).
    pending: Vec<(u32, u32, u32)>,
}

impl Same<'_> {
    fn fail(&self, why: String) -> ! {
        panic!("{why}\nleft:  {:?}\nright: {:?}", self.a, self.b);
    }

    fn value(&mut self, x: &Value, y: &Value) {
        let equal = match (x, y) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(p), Value::Bool(q)) => p == q,
            (Value::Str(p), Value::Str(q)) => p == q,
            (Value::Table(i), Value::Table(j)) => {
                self.pair(*i, *j);
                true
            }
            // Error objects cross as userdata holding a clone: everything stays, bit for bit.
            (Value::Error(p), Value::Error(q)) => format!("{p:?}") == format!("{q:?}"),
            _ => match (number(x), number(y)) {
                (Some(p), Some(q)) => p == q || (p.is_nan() && q.is_nan()),
                _ => false,
            },
        };
        if !equal {
            self.fail(format!("{x:?} became {y:?}"));
        }
    }

    fn pair(&mut self, i: u32, j: u32) {
        match (self.slots.get(&i), self.taken.get(&j)) {
            (Some(&k), _) if k == j => {}
            (None, None) => {
                self.slots.insert(i, j);
                self.taken.insert(j, i);
                self.todo.push((i, j));
            }
            _ => self.fail(format!(
                "table {i} is paired with {:?}, table {j} with {:?}",
                self.slots.get(&i),
                self.taken.get(&j)
            )),
        }
    }

    fn table(&mut self, i: u32, j: u32) {
        let (a, b) = (self.a, self.b);
        let x = Contents::of(&a.tables[i as usize]);
        let y = Contents::of(&b.tables[j as usize]);
        let keys = |c: &Contents<'_>| c.scalars.keys().cloned().collect::<Vec<_>>();
        if keys(&x) != keys(&y) || x.tables.len() != y.tables.len() || x.errors != y.errors {
            self.fail(format!(
                "tables {i} and {j} differ in keys: {:?}, {} table keys, {} error keys / \
                 {:?}, {} table keys, {} error keys",
                keys(&x),
                x.tables.len(),
                x.errors,
                keys(&y),
                y.tables.len(),
                y.errors
            ));
        }
        for (k, v) in &x.scalars {
            self.value(v, y.scalars[k]);
        }
        for &k in x.tables.keys() {
            self.pending.push((i, j, k));
        }
    }

    fn finish(&mut self) {
        loop {
            while let Some((i, j)) = self.todo.pop() {
                self.table(i, j);
            }
            let before = self.pending.len();
            let mut left = Vec::new();
            for (i, j, k) in std::mem::take(&mut self.pending) {
                match self.slots.get(&k) {
                    Some(&kb) => {
                        let (a, b) = (self.a, self.b);
                        let x = Contents::of(&a.tables[i as usize]);
                        let y = Contents::of(&b.tables[j as usize]);
                        let Some(&w) = y.tables.get(&kb) else {
                            self.fail(format!(
                                "table {i} has key table {k}, its pair {j} lacks {kb}"
                            ));
                        };
                        self.value(x.tables[&k], w);
                    }
                    None => left.push((i, j, k)),
                }
            }
            self.pending = left;
            let stuck = self.pending.is_empty() || self.pending.len() == before;
            if self.todo.is_empty() && stuck && !self.guess() {
                return;
            }
        }
    }

    /// Pairs a key table no value leads to by elimination: the only unpaired table key of a
    /// table against the only unpaired one of its pair. False when nothing is left to try.
    fn guess(&mut self) -> bool {
        let (a, b) = (self.a, self.b);
        let found = self.pending.iter().find_map(|&(i, j, _)| {
            let x = Contents::of(&a.tables[i as usize]);
            let y = Contents::of(&b.tables[j as usize]);
            let open_x: Vec<u32> = x
                .tables
                .keys()
                .copied()
                .filter(|k| !self.slots.contains_key(k))
                .collect();
            let open_y: Vec<u32> = y
                .tables
                .keys()
                .copied()
                .filter(|k| !self.taken.contains_key(k))
                .collect();
            match (&open_x[..], &open_y[..]) {
                ([k], [kb]) => Some((*k, *kb)),
                _ => None,
            }
        });
        match found {
            Some((k, kb)) => {
                self.pair(k, kb);
                true
            }
            None => false,
        }
    }
}
