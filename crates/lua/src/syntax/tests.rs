use super::rewrite;

fn out(src: &str) -> String {
    rewrite(src).unwrap_or_else(|e| panic!("{src}\n=> error {e:?}"))
}

fn compiles(src: &str) -> bool {
    mlua::chunk::Compiler::new()
        .compile(out(src).as_bytes())
        .is_ok()
}

/// Runs a lowered chunk on a plain Luau VM with the bitwise helpers, returning its result.
fn run<T: mlua::FromLuaMulti>(src: &str) -> T {
    let lua = mlua::Lua::new();
    let bit: mlua::Table = lua
        .load(include_str!("../modules/bitops.lua"))
        .call(())
        .expect("helpers load");
    lua.globals().set("__starling_bit", bit).expect("set");
    let text = out(src);
    lua.load(&text)
        .call(())
        .unwrap_or_else(|e| panic!("{src}\n=> {text}\n=> {e}"))
}

fn error_of(src: &str) -> String {
    let e = rewrite(src).expect_err("an error");
    format!("{}: {}", e.line, e.message)
}

#[test]
fn wippy_forms_compile() {
    for src in [
        "local y = 1 local x = y as number",
        "local y = {} local x = (y as any).field",
        "local y = 1 local x = (y!)",
        "local t = {a = 1} local x = t.a!",
        "type P = {x: number, y?: string}",
        "type G<T: number> = {T}",
        "local function f<T: Bound, U>(x: T): T return x end",
        "type N = number @min(0) @max(9)",
        "local function f(a: number @min(1)) end",
        "type S = {x: string @min_len(1) @max_len(5) @pattern(\"^a\")}",
        "type L = 1 | 2",
        "export type Id = string",
        "@native function f() end",
        "local function f(a: number): string?, string? return nil, nil end",
        "local function g(): number, {x: string}, ...any return 1, {x = ''} end",
        "local t = {} function t.m(self): (number, string) return 1, '' end",
        "local f = function(): boolean, string? return true end",
        "local x: Array<Array<number>> = {} local y = 1 >> 0",
        "type G<T> = Map<string, Array<T>>\nlocal z = 4 & 1",
    ] {
        assert!(compiles(src), "{src}\n=> {}", out(src));
    }
}

#[test]
fn names_strings_and_comments_are_left_alone() {
    for src in [
        "local as = 1 as = 2 local t = {as = as} print(t.as)",
        "local s = \"x as number!\" -- a comment as T!\nlocal q = [[ y as z! ]]",
        "local a = 1 ~= 2",
        "print(type(1))",
        "local type = 3 type = 4",
        "local s = 'a & b | c ~ d << e >> f' -- goto x",
        "local f = function(a): number return a end print(f(1), 2)",
    ] {
        assert_eq!(out(src).replace("__starling_type", ""), src, "{src}");
    }
}

#[test]
fn lines_are_preserved() {
    let src = "type P = {\n  x: number @min(0\n  ),\n  y?: string,\n}\nlocal v = (p!) as P\nerror('line 7')";
    let text = out(src);
    assert_eq!(text.lines().count(), src.lines().count());
    assert!(text.lines().nth(6).is_some_and(|l| l.contains("line 7")));

    let src = "for i = 1, 3 do\n  if i == 2 then goto\n  continue end\n  local x = i\n  & 1\n  ::continue::\nend\nerror('line 8')";
    let text = out(src);
    assert_eq!(
        text.matches('\n').count(),
        src.matches('\n').count(),
        "{text}"
    );
    assert!(text.lines().nth(7).is_some_and(|l| l.contains("line 8")));
}

#[test]
fn type_statements_declare_runtime_values() {
    let text = out("type Id = string\ntype P = {x: number}\nexport type O = number?");
    assert!(
        text.contains("local Id = __starling_type(\"Id\", \"string\", false);"),
        "{text}"
    );
    assert!(text.contains("local P = __starling_type(\"P\");"), "{text}");
    assert!(
        text.contains("local O = __starling_type(\"O\", \"number\", true); export type"),
        "{text}"
    );
}

#[test]
fn bitwise_operators() {
    let (a, b, c, d, e, f): (f64, f64, f64, f64, f64, f64) =
        run("return 5 & 3, 5 | 3, 5 ~ 3, ~5, 1 << 4, 256 >> 4");
    assert_eq!((a, b, c, d, e, f), (1.0, 7.0, 6.0, -6.0, 16.0, 16.0));
    // Lua 5.3 precedence: shifts bind tighter than &, & than ~, ~ than |; all below `..`
    // and arithmetic, above comparisons.
    let (a, b, c): (f64, f64, bool) = run("return 1 | 2 ~ 3 & 4 << 1, 1 + 2 << 1, 1 | 2 == 3");
    assert_eq!((a, b, c), (3.0, 6.0, true));
    // Nested and unary forms, negatives, 64-bit wrapping.
    let (a, b, c, d, e): (f64, f64, f64, f64, f64) =
        run("return ~~7, -1 & 0xFF, ~0 >> 60, 1 << 63, (-8) >> 1");
    assert_eq!(
        (a, b, c, d),
        (7.0, 255.0, 15.0, -9_223_372_036_854_775_808.0)
    );
    assert_eq!(e, 9_223_372_036_854_775_804.0);
    let (a, b, c): (f64, f64, f64) = run("return 1 << 64, 1 << -1, 2 >> -1");
    assert_eq!((a, b, c), (0.0, 0.0, 4.0));
    // Strings that convert, `//` is Luau's.
    let (a, b): (f64, f64) = run("return '12' & 10, 7 // 2");
    assert_eq!((a, b), (8.0, 3.0));
    let lua = mlua::Lua::new();
    let bit: mlua::Table = lua
        .load(include_str!("../modules/bitops.lua"))
        .call(())
        .expect("helpers");
    lua.globals().set("__starling_bit", bit).expect("set");
    let err = lua
        .load(out("return 1.5 & 1"))
        .exec()
        .expect_err("not integral");
    assert!(
        err.to_string().contains("no integer representation"),
        "{err}"
    );
    let err = lua.load(out("return {} | 1")).exec().expect_err("table");
    assert!(
        err.to_string().contains("bitwise operation on a table"),
        "{err}"
    );
}

#[test]
fn goto_continue() {
    let s: String = run("local s = ''\n\
         for i = 1, 5 do\n\
           if i % 2 == 0 then goto continue end\n\
           local x = i * 10\n\
           s = s .. x .. ','\n\
           ::continue::\n\
         end\n\
         local j = 0\n\
         while j < 4 do\n\
           j = j + 1\n\
           for k = 1, 2 do if k == 2 and j == 2 then goto next end end\n\
           s = s .. 'j' .. j\n\
           ::next::\n\
         end\n\
         return s");
    assert_eq!(s, "10,30,50,j1j3j4");
    assert!(out("for i = 1, 2 do goto continue ::continue:: end").contains("do continue end"));
}

#[test]
fn goto_forward_and_backward() {
    let s: String = run("local s = ''\n\
         local i = 0\n\
         ::top::\n\
         i = i + 1\n\
         if i < 3 then s = s .. i goto top end\n\
         if i == 3 then goto skip end\n\
         s = s .. 'never'\n\
         ::skip::\n\
         s = s .. 'end'\n\
         return s");
    assert_eq!(s, "12end");
    // Out of nested loops, a retry loop, and a break inside a lowered region.
    let s: String = run("local s = ''\n\
         for i = 1, 3 do\n\
           for j = 1, 3 do\n\
             if i * j == 4 then goto done end\n\
             s = s .. i .. j .. ' '\n\
           end\n\
         end\n\
         ::done::\n\
         local tries = 0\n\
         ::retry::\n\
         tries = tries + 1\n\
         for _ = 1, 2 do\n\
           if tries < 3 then goto retry end\n\
         end\n\
         for k = 1, 10 do\n\
           if k == 2 then goto skip end\n\
           if k == 4 then break end\n\
           s = s .. k\n\
           ::skip::\n\
           s = s .. '.'\n\
         end\n\
         return s .. ' ' .. tries");
    assert_eq!(s, "11 12 13 21 1..3. 3");
    // Closures in a backward-jump loop capture a fresh local each time round.
    let n: f64 = run("local fs = {}\n\
         local i = 1\n\
         ::again::\n\
         local v = i\n\
         fs[i] = function() return v end\n\
         i = i + 1\n\
         if i <= 3 then goto again end\n\
         return fs[1]() * 100 + fs[2]() * 10 + fs[3]()");
    assert_eq!(n, 123.0);
    // Inside nested functions, with returns after labels.
    let n: f64 = run("local function f(n)\n\
           local acc = 0\n\
           ::loop::\n\
           if n == 0 then return acc end\n\
           acc = acc + n\n\
           n = n - 1\n\
           goto loop\n\
         end\n\
         return f(4)");
    assert_eq!(n, 10.0);
}

#[test]
fn goto_errors_like_lua() {
    assert_eq!(
        error_of("local x = 1\nif x then goto nowhere end"),
        "2: no visible label 'nowhere' for goto"
    );
    assert_eq!(
        error_of("goto f\nlocal y = 1\n::f::\nprint(y)"),
        "1: <goto f> jumps into the scope of the local declared on line 2"
    );
    assert_eq!(
        error_of("::a::\nprint(1)\n::a::"),
        "3: label 'a' already defined on line 1"
    );
    // A label at the end of a block may follow locals.
    assert!(compiles("do goto e\nlocal z = 1\nprint(z)\n::e:: end"));
    // Labels are not visible inside nested functions.
    assert_eq!(
        error_of("::l::\nlocal f = function() goto l end"),
        "2: no visible label 'l' for goto"
    );
}

#[test]
fn broken_sources_reach_luau() {
    // Not parsed by full_moon: Luau reports the error itself.
    let text = out("local x = 1 & \nfunction(");
    assert!(text.contains("1 & "), "{text}");
}
