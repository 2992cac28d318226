//! Typed payloads (`starling_core::codec`): round trips, the shapes Lua sees, and malformed
//! payloads that must fail cleanly.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::de::{Deserializer, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::json;
use starling_core::codec::MAX_DEPTH;
use starling_core::{
    ErrorKind, ErrorValue, HostKind, Node, Payload, PayloadError, Pid, Table, Value, from_args,
    from_payload, from_value, to_args, to_payload,
};

/// Encodes `v` and decodes it back, asserting it survives.
fn round_trip<T>(v: &T) -> Payload
where
    T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug,
{
    let p = to_payload(v).expect("encode");
    assert_eq!(p.values.len(), 1, "{v:?} is one value");
    let back: T = from_payload(&p).expect("decode");
    assert_eq!(&back, v);
    p
}

fn str_value(s: &str) -> Value {
    Value::str(s)
}

fn table(array: Vec<Value>, hash: Vec<(Value, Value)>) -> Table {
    Table { array, hash }
}

#[test]
fn scalars_round_trip() {
    assert_eq!(round_trip(&true).values, [Value::Bool(true)]);
    assert_eq!(round_trip(&-5i8).values, [Value::Int(-5)]);
    round_trip(&i16::MIN);
    round_trip(&i32::MAX);
    assert_eq!(round_trip(&i64::MIN).values, [Value::Int(i64::MIN)]);
    round_trip(&u8::MAX);
    round_trip(&u16::MAX);
    round_trip(&u32::MAX);
    assert_eq!(
        round_trip(&(i64::MAX as u64)).values,
        [Value::Int(i64::MAX)]
    );
    round_trip(&-7i128);
    round_trip(&7u128);
    assert_eq!(round_trip(&2.5f64).values, [Value::Float(2.5)]);
    round_trip(&-0.25f32);
    assert_eq!(round_trip(&'é').values, [str_value("é")]);
    assert_eq!(round_trip(&"hi".to_string()).values, [str_value("hi")]);
    assert_eq!(round_trip(&()).values, [Value::Nil]);

    let p = to_payload("borrowed").expect("encode");
    let s: &str = from_payload(&p).expect("a &str borrows from the payload");
    assert_eq!(s, "borrowed");

    let nan: f64 = from_payload(&to_payload(&f64::NAN).expect("encode")).expect("decode");
    assert!(nan.is_nan(), "NaN stays a float");
    let inf = to_payload(&f64::INFINITY).expect("encode");
    assert_eq!(inf.values, [Value::Float(f64::INFINITY)]);
}

/// Bytes that serialize as bytes (what `serde_bytes` does).
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// An owned byte buffer read through `deserialize_byte_buf`.
#[derive(Debug, PartialEq)]
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[test]
fn strings_need_utf8_bytes_do_not() {
    let p = to_payload(&Bytes(b"\xff\x00ok")).expect("encode");
    assert_eq!(p.values, [Value::Str(b"\xff\x00ok".as_slice().into())]);
    assert_eq!(
        from_payload::<String>(&p).expect_err("not UTF-8"),
        PayloadError::InvalidUtf8
    );
    assert_eq!(
        from_payload::<ByteBuf>(&p).expect("bytes"),
        ByteBuf(b"\xff\x00ok".to_vec())
    );
    let borrowed: &[u8] = from_payload(&p).expect("borrowed bytes");
    assert_eq!(borrowed, b"\xff\x00ok");
    // Valid UTF-8 text reads as bytes too.
    let text = to_payload("abc").expect("encode");
    assert_eq!(from_payload::<ByteBuf>(&text).expect("bytes").0, b"abc");
    // A char needs exactly one character.
    assert!(from_payload::<char>(&text).is_err());
}

#[test]
fn options() {
    assert_eq!(round_trip(&Some(5)).values, [Value::Int(5)]);
    assert_eq!(round_trip(&None::<i32>).values, [Value::Nil]);
    round_trip(&Some(Some("x".to_string())));

    // A None inside a sequence is a Nil in the array part (Lua would see a hole).
    let p = round_trip(&vec![Some(1), None, Some(3)]);
    assert_eq!(
        p.tables[0].array,
        [Value::Int(1), Value::Nil, Value::Int(3)]
    );
}

#[test]
fn sequences_are_array_parts() {
    let p = round_trip(&vec![1, 2, 3]);
    assert_eq!(p.values, [Value::Table(0)]);
    assert_eq!(
        p.tables,
        [table(
            vec![Value::Int(1), Value::Int(2), Value::Int(3)],
            vec![]
        )]
    );

    let p = round_trip(&Vec::<i32>::new());
    assert_eq!(p.tables, [Table::default()]);

    let nested = vec![vec![1u8], vec![], vec![2, 3]];
    let p = round_trip(&nested);
    // The outer table is reserved first, so it is table 0.
    assert_eq!(
        p.tables[0].array,
        [Value::Table(1), Value::Table(2), Value::Table(3)]
    );
    assert_eq!(p.tables.len(), 4);

    // A sequence target refuses a table with a hash part.
    let mut mixed = to_payload(&vec![1]).expect("encode");
    mixed.tables[0].hash.push((str_value("x"), Value::Int(1)));
    assert!(from_payload::<Vec<i32>>(&mixed).is_err());

    // Elements a tuple does not read are an error.
    let three = to_payload(&[1, 2, 3]).expect("encode");
    assert!(from_payload::<(i32, i32)>(&three).is_err());
    assert_eq!(
        from_payload::<(i32, i32, i32)>(&three).expect("3"),
        (1, 2, 3)
    );
}

#[test]
fn maps_are_hash_parts() {
    let m: HashMap<String, Vec<i32>> = HashMap::from([("a".into(), vec![1]), ("b".into(), vec![])]);
    let p = round_trip(&m);
    assert!(p.tables[0].array.is_empty());
    assert_eq!(p.tables[0].hash.len(), 2);

    let m: HashMap<i64, bool> = HashMap::from([(-1, true), (7, false)]);
    let p = round_trip(&m);
    let mut keys: Vec<_> = p.tables[0].hash.iter().map(|(k, _)| k.clone()).collect();
    keys.sort_by_key(|k| match k {
        Value::Int(i) => *i,
        _ => i64::MAX,
    });
    assert_eq!(keys, [Value::Int(-1), Value::Int(7)]);

    let m: BTreeMap<bool, u8> = BTreeMap::from([(false, 0), (true, 1)]);
    round_trip(&m);
}

#[test]
fn invalid_map_keys() {
    let none_key: HashMap<Option<String>, i32> = HashMap::from([(None, 1)]);
    assert_eq!(
        to_payload(&none_key).expect_err("nil key"),
        PayloadError::InvalidKey("nil")
    );
    let table_key: BTreeMap<Vec<i32>, i32> = BTreeMap::from([(vec![1], 1)]);
    assert_eq!(
        to_payload(&table_key).expect_err("table key"),
        PayloadError::InvalidKey("a table")
    );

    struct NanKey;
    impl Serialize for NanKey {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(&f64::NAN, &1)?;
            m.end()
        }
    }
    assert_eq!(
        to_payload(&NanKey).expect_err("NaN key"),
        PayloadError::InvalidKey("NaN")
    );
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: f64,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Shape {
    name: String,
    points: Vec<Point>,
    centre: Option<Point>,
    tags: HashMap<String, u16>,
}

#[test]
fn structs_round_trip() {
    let p = round_trip(&Point { x: 1, y: 2.5 });
    assert_eq!(
        p.tables,
        [table(
            vec![],
            vec![
                (str_value("x"), Value::Int(1)),
                (str_value("y"), Value::Float(2.5)),
            ]
        )]
    );

    round_trip(&Shape {
        name: "tri".into(),
        points: vec![Point { x: 0, y: 0.0 }, Point { x: 1, y: -1.5 }],
        centre: None,
        tags: HashMap::from([("a".into(), 1)]),
    });

    // A missing Option field (Lua drops nil values) reads as None.
    let lua_like = Payload {
        values: vec![Value::Table(0)],
        tables: vec![
            table(
                vec![],
                vec![
                    (str_value("name"), str_value("sq")),
                    (str_value("points"), Value::Table(1)),
                    (str_value("tags"), Value::Table(1)),
                ],
            ),
            Table::default(),
        ],
    };
    let s: Shape = from_payload(&lua_like).expect("decode");
    assert_eq!(s.centre, None);
    assert!(
        s.points.is_empty() && s.tags.is_empty(),
        "{{}} is empty either way"
    );

    // A missing required field is an error, not a default.
    let err = from_payload::<Point>(&to_payload(&HashMap::from([("x", 1)])).expect("encode"))
        .expect_err("no y");
    assert!(err.to_string().contains("missing field `y`"), "{err}");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Cmd {
    Stop,
    Say(String),
    Move(i32, i32),
    Spawn { name: String, count: u32 },
}

#[test]
fn enums_of_every_kind() {
    assert_eq!(round_trip(&Cmd::Stop).values, [str_value("Stop")]);

    let p = round_trip(&Cmd::Say("hi".into()));
    assert_eq!(
        p.tables,
        [table(vec![], vec![(str_value("Say"), str_value("hi"))])]
    );

    let p = round_trip(&Cmd::Move(1, -2));
    assert_eq!(
        p.tables,
        [
            table(vec![], vec![(str_value("Move"), Value::Table(1))]),
            table(vec![Value::Int(1), Value::Int(-2)], vec![]),
        ]
    );

    let p = round_trip(&Cmd::Spawn {
        name: "w".into(),
        count: 3,
    });
    assert_eq!(p.tables[0].hash[0].0, str_value("Spawn"));

    round_trip(&vec![Cmd::Stop, Cmd::Move(0, 0), Cmd::Say(String::new())]);

    // Not an enum: a table with two keys, an unknown name, a unit variant given as a table.
    let two = to_payload(&HashMap::from([("Say", "a"), ("Stop", "b")])).expect("encode");
    assert!(from_payload::<Cmd>(&two).is_err());
    assert!(from_payload::<Cmd>(&to_payload("Jump").expect("encode")).is_err());
    assert!(from_payload::<Cmd>(&to_payload("Say").expect("encode")).is_err());
}

#[test]
fn args_spread_and_encode_does_not() {
    let args = to_args(&(1, "two", [3])).expect("encode");
    assert_eq!(args.values.len(), 3);
    assert_eq!(args.values[..2], [Value::Int(1), str_value("two")]);
    assert_eq!(args.tables, [table(vec![Value::Int(3)], vec![])]);
    let one = Payload::encode(&(1, "two", [3])).expect("encode");
    assert_eq!(one.values, [Value::Table(0)]);

    // Several values read as a tuple with from_payload, and with from_args.
    let t: (i64, String, Vec<i32>) = from_payload(&args).expect("several values");
    assert_eq!(t, (1, "two".into(), vec![3]));
    let t: (i64, String, Vec<i32>) = args.decode_args().expect("args");
    assert_eq!(t.1, "two");
    // The one-table payload reads as the same tuple.
    let t: (i64, String, Vec<i32>) = one.decode().expect("one table");
    assert_eq!(t.2, [3]);

    // No arguments, one argument, a sequence of arguments.
    let none = Payload::args(&()).expect("encode");
    assert!(none.is_empty());
    let () = from_args(&none).expect("no args");
    let () = from_payload(&none).expect("nil reads as unit");
    assert_eq!(from_payload::<Option<i32>>(&none).expect("nil"), None);

    let single = Payload::args(&("only",)).expect("encode");
    assert_eq!(single.values, [str_value("only")]);
    let (s,): (String,) = from_args(&single).expect("one arg");
    assert_eq!(s, "only");
    assert!(
        from_payload::<(String,)>(&single).is_err(),
        "from_payload reads one value as itself"
    );

    let dynamic = Payload::args(&vec![1, 2]).expect("encode");
    assert_eq!(dynamic.values, [Value::Int(1), Value::Int(2)]);
    assert_eq!(from_args::<Vec<i32>>(&dynamic).expect("seq"), [1, 2]);

    // Anything else is one value.
    assert_eq!(Payload::args(&5).expect("encode").values, [Value::Int(5)]);
    let p = Payload::args(&Point { x: 1, y: 2.0 }).expect("encode");
    assert_eq!(p.values, [Value::Table(0)]);
    assert_eq!(from_args::<Point>(&p).expect("one"), Point { x: 1, y: 2.0 });

    // Several values also fill a struct in order.
    let two = Payload::args(&(4, 0.5)).expect("encode");
    assert_eq!(
        from_payload::<Point>(&two).expect("positional"),
        Point { x: 4, y: 0.5 }
    );

    assert_eq!(from_value::<String>(&args, 1).expect("value 1"), "two");
    assert_eq!(
        from_value::<i32>(&args, 3).expect_err("no value 3"),
        PayloadError::IndexOutOfRange { index: 3, len: 3 }
    );
}

#[test]
fn integer_ranges() {
    let err = to_payload(&u64::MAX).expect_err("too big");
    assert_eq!(
        err,
        PayloadError::IntegerOutOfRange {
            value: u64::MAX.to_string(),
            target: "i64"
        }
    );
    assert!(to_payload(&i128::MIN).is_err());

    let p = to_payload(&300).expect("encode");
    assert_eq!(
        from_payload::<i8>(&p).expect_err("300 is no i8"),
        PayloadError::IntegerOutOfRange {
            value: "300".into(),
            target: "i8"
        }
    );
    assert!(from_payload::<u32>(&to_payload(&-1).expect("encode")).is_err());
    assert_eq!(from_payload::<u16>(&p).expect("fits"), 300);
    // A string is not a number.
    let err = from_payload::<i32>(&to_payload("3").expect("encode")).expect_err("string");
    assert!(err.to_string().contains("invalid type"), "{err}");
}

#[test]
fn floats_and_integers_are_one_number_type() {
    let p = to_payload(&3.0f64).expect("encode");
    assert_eq!(p.values, [Value::Int(3)], "Lua's 3.0 is the integer 3");
    assert_eq!(from_payload::<i32>(&p).expect("int"), 3);
    assert_eq!(from_payload::<f64>(&p).expect("float"), 3.0);

    // A Float with no fraction reads as an integer too.
    let f = Payload::one(Value::Float(3.0));
    assert_eq!(from_payload::<u8>(&f).expect("integral float"), 3);
    let big = Payload::one(Value::Float(1e20));
    assert!(matches!(
        from_payload::<i64>(&big),
        Err(PayloadError::IntegerOutOfRange { target: "i64", .. })
    ));
    assert_eq!(
        from_payload::<u128>(&big).expect("fits u128"),
        100_000_000_000_000_000_000
    );
    assert!(from_payload::<i32>(&Payload::one(Value::Float(3.5))).is_err());
    assert!(from_payload::<i32>(&Payload::one(Value::Float(f64::NAN))).is_err());
}

/// The Lua table `{10, 20, x = 1}`: both parts.
fn lua_mixed() -> Payload {
    Payload {
        values: vec![Value::Table(0)],
        tables: vec![table(
            vec![Value::Int(10), Value::Int(20)],
            vec![(str_value("x"), Value::Int(1))],
        )],
    }
}

#[test]
fn lua_tables_read_as_maps() {
    // {10, 20}: integer keys from the array part.
    let array = to_payload(&[10, 20]).expect("encode");
    let m: HashMap<i64, i32> = from_payload(&array).expect("map");
    assert_eq!(m, HashMap::from([(1, 10), (2, 20)]));

    let mixed = lua_mixed();
    let m: BTreeMap<String, i64> = from_payload(&mixed).expect("map");
    assert_eq!(
        m,
        BTreeMap::from([("1".into(), 10), ("2".into(), 20), ("x".into(), 1)])
    );
    assert!(
        from_payload::<HashMap<i64, i64>>(&mixed).is_err(),
        "x is no integer"
    );

    // A struct ignores the array part like any unknown key, unless it denies unknown fields.
    #[derive(Debug, Deserialize)]
    struct X {
        x: i32,
    }
    assert_eq!(from_payload::<X>(&mixed).expect("struct").x, 1);
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        x: i32,
    }
    let err = from_payload::<Strict>(&mixed).expect_err("denied");
    assert!(err.to_string().contains("unknown field `1`"), "{err}");
}

#[test]
fn untyped_values_via_deserialize_any() {
    let err = ErrorValue::new(ErrorKind::NotFound, "no such thing");
    let mut wrapped = ErrorValue::new(ErrorKind::Invalid, "loading");
    wrapped.cause = Some(Box::new(err));
    let p = Payload {
        values: vec![Value::Table(0)],
        tables: vec![
            table(
                vec![],
                vec![
                    (str_value("list"), Value::Table(1)),
                    (str_value("mixed"), Value::Table(2)),
                    (str_value("empty"), Value::Table(3)),
                    (str_value("nil"), Value::Nil),
                    (str_value("f"), Value::Float(0.5)),
                    (str_value("err"), Value::Error(Box::new(wrapped))),
                    (Value::Int(7), Value::Bool(true)),
                ],
            ),
            table(vec![Value::Int(1), str_value("a")], vec![]),
            table(vec![Value::Int(5)], vec![(str_value("k"), Value::Int(6))]),
            Table::default(),
        ],
    };
    let v: serde_json::Value = from_payload(&p).expect("decode");
    assert_eq!(
        v,
        json!({
            "list": [1, "a"],
            "mixed": {"1": 5, "k": 6},
            "empty": [],
            "nil": null,
            "f": 0.5,
            "err": {"kind": "Invalid", "message": "loading: no such thing"},
            "7": true,
        })
    );

    // And back: serde_json values encode like the Rust types they stand for.
    let p = to_payload(&json!({"a": [1, 2.5, null], "b": {"c": "d"}})).expect("encode");
    let back: serde_json::Value = from_payload(&p).expect("decode");
    assert_eq!(back, json!({"a": [1, 2.5, null], "b": {"c": "d"}}));

    // An error object reads into a struct of its kind and message.
    #[derive(Deserialize)]
    struct Err {
        kind: String,
        message: String,
    }
    let e = Payload::one(Value::Error(Box::new(ErrorValue::new(
        ErrorKind::Timeout,
        "slow",
    ))));
    let e: Err = from_payload(&e).expect("error as struct");
    assert_eq!((e.kind.as_str(), e.message.as_str()), ("Timeout", "slow"));
}

fn test_node() -> std::sync::Arc<Node> {
    let mut b = Node::builder();
    b.host("app:processes", HostKind::Process);
    b.build()
}

#[test]
fn pids_print_through_the_current_node() {
    let node = test_node();
    let host = node.host_id("app:processes").expect("host");
    let pid = Pid::local(host, 4);

    assert_eq!(to_payload(&pid).expect_err("no node"), PayloadError::NoNode);
    let text = Payload::one(str_value("{app:processes|0x00004}"));
    assert_eq!(
        from_payload::<Pid>(&text).expect_err("no node"),
        PayloadError::NoNode
    );

    {
        let _entered = node.enter();
        let p = round_trip(&pid);
        assert_eq!(p.values, [str_value("{app:processes|0x00004}")]);
        // Spawn arguments: a pid and a name.
        let args = Payload::args(&(pid, "worker")).expect("encode");
        let (back, name): (Pid, String) = from_payload(&args).expect("decode");
        assert_eq!((back, name.as_str()), (pid, "worker"));

        for bad in ["relay", "{other:host|0x00001}"] {
            let p = Payload::one(str_value(bad));
            assert!(
                matches!(from_payload::<Pid>(&p), Err(PayloadError::InvalidPid(_))),
                "{bad}"
            );
        }
        let foreign = Pid::local(starling_core::HostId(9), 1);
        assert!(matches!(
            to_payload(&foreign),
            Err(PayloadError::InvalidPid(_))
        ));
    }
    assert_eq!(
        to_payload(&pid).expect_err("left the node"),
        PayloadError::NoNode
    );
}

/// In a cluster a pid crosses nodes inside native payloads (a client's pid in a request, a
/// worker's in its answer): it must print with its node's name, or the other node reads it
/// as one of its own processes.
#[test]
fn pids_in_a_cluster_carry_their_node() {
    let node = test_node();
    assert!(node.peers.set_own_name("a"));
    let host = node.host_id("app:processes").expect("host");
    let _entered = node.enter();

    let own = Pid::local(host, 4);
    let p = round_trip(&own);
    assert_eq!(p.values, [str_value("{a@app:processes|0x00004}")]);

    let b = node.peers.intern("b").expect("node b");
    let remote = node
        .parse_pid("{b@app:workers|0x00010}")
        .expect("a pid of node b");
    assert_eq!(remote.node, b);
    let p = round_trip(&remote);
    assert_eq!(p.values, [str_value("{b@app:workers|0x00010}")]);
    let (back, data): (Pid, String) =
        from_payload(&Payload::args(&(remote, "hello")).expect("encode")).expect("decode");
    assert_eq!((back, data.as_str()), (remote, "hello"));
}

#[test]
fn malformed_payloads_fail_cleanly() {
    let dangling = Payload::one(Value::Table(3));
    assert_eq!(
        from_payload::<serde_json::Value>(&dangling).expect_err("dangling"),
        PayloadError::InvalidTable { index: 3, len: 0 }
    );
    assert!(from_payload::<Vec<i32>>(&dangling).is_err());
    assert!(from_payload::<Cmd>(&dangling).is_err());

    // tables[0].array = [Table(0)]
    let cyclic = Payload {
        values: vec![Value::Table(0)],
        tables: vec![table(vec![Value::Table(0)], vec![])],
    };
    assert_eq!(
        from_payload::<serde_json::Value>(&cyclic).expect_err("cycle"),
        PayloadError::CyclicTable(0)
    );

    // A longer cycle through the hash part: 0 -> 1 -> 0.
    let cyclic = Payload {
        values: vec![Value::Table(0)],
        tables: vec![
            table(vec![], vec![(str_value("next"), Value::Table(1))]),
            table(vec![], vec![(str_value("next"), Value::Table(0))]),
        ],
    };
    assert_eq!(
        from_payload::<serde_json::Value>(&cyclic).expect_err("cycle"),
        PayloadError::CyclicTable(0)
    );

    // A table shared by two parents is no cycle.
    let shared = Payload {
        values: vec![Value::Table(0)],
        tables: vec![
            table(vec![Value::Table(1), Value::Table(1)], vec![]),
            table(vec![Value::Int(1)], vec![]),
        ],
    };
    let v: Vec<Vec<i32>> = from_payload(&shared).expect("shared");
    assert_eq!(v, [[1], [1]]);

    // A value of the wrong shape for a struct.
    assert!(from_payload::<Point>(&Payload::one(Value::Int(1))).is_err());
}

/// A chain of `depth` tables, each holding the next in its array part.
fn nested(depth: usize) -> Payload {
    let mut tables: Vec<Table> = (1..depth)
        .map(|i| table(vec![Value::Table(i as u32)], vec![]))
        .collect();
    tables.push(Table::default());
    Payload {
        values: vec![Value::Table(0)],
        tables,
    }
}

#[test]
fn nesting_depth_is_bounded() {
    let ok = nested(MAX_DEPTH as usize);
    let v: serde_json::Value = from_payload(&ok).expect("within the limit");
    assert!(v.is_array());
    let deep = nested(MAX_DEPTH as usize + 1);
    assert_eq!(
        from_payload::<serde_json::Value>(&deep).expect_err("too deep"),
        PayloadError::TooDeep
    );
    // Ignored values are not walked at all.
    #[derive(Deserialize)]
    struct Empty {}
    let wrapped = Payload {
        values: vec![Value::Table(0)],
        tables: vec![table(vec![], vec![(str_value("junk"), Value::Table(9))])],
    };
    from_payload::<Empty>(&wrapped).expect("unknown field skipped unread");
}

#[test]
fn serde_attributes_work() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Event {
        Joined { who: String },
        Left { who: String, code: Option<i32> },
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Num(i64),
        Text(String),
        List(Vec<Loose>),
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Envelope {
        #[serde(default)]
        seq: u64,
        #[serde(flatten)]
        event: Event,
        #[serde(rename = "x-extra", skip_serializing_if = "Option::is_none")]
        extra: Option<Loose>,
    }

    let p = round_trip(&Event::Joined { who: "ann".into() });
    assert!(
        p.tables[0]
            .hash
            .contains(&(str_value("type"), str_value("joined")))
    );
    round_trip(&Event::Left {
        who: "bob".into(),
        code: Some(3),
    });
    round_trip(&Loose::List(vec![Loose::Num(1), Loose::Text("a".into())]));
    round_trip(&Envelope {
        seq: 9,
        event: Event::Left {
            who: "c".into(),
            code: None,
        },
        extra: Some(Loose::List(vec![])),
    });

    // What a Lua process would send: `{type = "joined", who = "d"}`, no seq.
    let lua = Payload {
        values: vec![Value::Table(0)],
        tables: vec![table(
            vec![],
            vec![
                (str_value("type"), str_value("joined")),
                (str_value("who"), str_value("d")),
            ],
        )],
    };
    let e: Envelope = from_payload(&lua).expect("decode");
    assert_eq!(
        e,
        Envelope {
            seq: 0,
            event: Event::Joined { who: "d".into() },
            extra: None
        }
    );
}

#[test]
fn cycles_fail_for_typed_values_too() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Link {
        next: Option<Box<Link>>,
    }
    let cyclic = Payload {
        values: vec![Value::Table(0)],
        tables: vec![table(vec![], vec![(str_value("next"), Value::Table(0))])],
    };
    assert_eq!(
        from_payload::<Link>(&cyclic).expect_err("cycle"),
        PayloadError::CyclicTable(0)
    );
}

/// Arbitrary payloads (dangling references, cycles, shared tables, bad UTF-8, error objects)
/// decode to a value or an error, never a panic.
#[test]
fn arbitrary_payloads_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..2000 {
        let tables = next(6) as usize;
        let value = |next: &mut dyn FnMut(u64) -> u64| match next(8) {
            0 => Value::Nil,
            1 => Value::Bool(next(2) == 0),
            2 => Value::Int(next(600) as i64 - 300),
            3 => Value::Float(next(100) as f64 / 8.0),
            4 => Value::Str(vec![b'a', 0xff][..next(3) as usize].into()),
            5 => Value::Error(Box::new(ErrorValue::new(ErrorKind::Invalid, "e"))),
            _ => Value::Table(next(tables as u64 + 2) as u32),
        };
        let p = Payload {
            values: (0..next(3)).map(|_| value(&mut next)).collect(),
            tables: (0..tables)
                .map(|_| Table {
                    array: (0..next(4)).map(|_| value(&mut next)).collect(),
                    hash: (0..next(4))
                        .map(|_| (value(&mut next), value(&mut next)))
                        .collect(),
                })
                .collect(),
        };
        let _ = from_payload::<serde_json::Value>(&p);
        let _ = from_payload::<Vec<HashMap<String, Option<Loose>>>>(&p);
        let _ = from_args::<(Option<Shape>, Cmd)>(&p);
        let _ = from_value::<BTreeMap<i64, Vec<u8>>>(&p, 0);
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum Loose {
    Num(i64),
    Text(String),
    List(Vec<Loose>),
}
