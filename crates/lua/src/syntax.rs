//! Wippy's typed Lua syntax, rewritten into Luau before compilation (SPEC §4.1).
//!
//! Luau already parses annotations, `type` declarations, generics and `::` casts. Wippy adds a
//! few forms Luau rejects; this pass rewrites them in place, never adding or removing a
//! newline, so every line number (errors, log `location`s) stays the same:
//!
//! | Wippy | Luau |
//! |---|---|
//! | `expr as T` | `expr :: T` |
//! | `expr!` (non-nil assertion) | `expr` |
//! | `number @min(0) @max(9)` (validators after a type) | `number` |
//! | `{x: number, y?: string}` (optional field) | `{x: number, y: string}` |
//! | `<T: Bound>` (generic bound) | `<T>` |
//! | `type L = 1 \| 2` (number literal types) | `type L = number \| number` |
//!
//! Types mean nothing at run time, so dropping a bound or an optional marker changes nothing.
//! Each `type Name = …` statement also declares a runtime value `Name` (a callable type
//! object, see `prelude.lua`), inserted on the same line before the statement.
//!
//! The scanner knows strings, long strings and comments, so text inside them is never touched.

/// Luau's own attributes, which must stay.
const LUAU_ATTRIBUTES: [&str; 3] = ["native", "checked", "deprecated"];

const PRIMITIVES: [&str; 6] = ["string", "number", "integer", "boolean", "any", "unknown"];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Number,
    Str,
    Sym(String),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

/// Splits `src` into tokens, skipping whitespace, comments and the insides of strings.
fn tokenize(src: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = src.len();
    while i < n {
        let c = src[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'-' && src.get(i + 1) == Some(&b'-') {
            i += 2;
            if let Some(level) = long_bracket(src, i) {
                i = skip_long(src, i, level);
            } else {
                while i < n && src[i] != b'\n' {
                    i += 1;
                }
            }
            continue;
        }
        if c == b'[' {
            if let Some(level) = long_bracket(src, i) {
                i = skip_long(src, i, level);
                out.push(Token {
                    tok: Tok::Str,
                    start,
                    end: i,
                });
                continue;
            }
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < n && src[i] != c {
                if src[i] == b'\\' {
                    i += 1;
                }
                if i < n && src[i] == b'\n' && c != b'`' {
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(n);
            out.push(Token {
                tok: Tok::Str,
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while i < n && (src[i].is_ascii_alphanumeric() || src[i] == b'_' || src[i] >= 0x80) {
                i += 1;
            }
            let name = String::from_utf8_lossy(&src[start..i]).into_owned();
            out.push(Token {
                tok: Tok::Name(name),
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && src.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            while i < n {
                let d = src[i];
                let exp =
                    (d == b'+' || d == b'-') && matches!(src[i - 1], b'e' | b'E' | b'p' | b'P');
                if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exp {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Token {
                tok: Tok::Number,
                start,
                end: i,
            });
            continue;
        }
        const MULTI: [&str; 14] = [
            "...", "::", "->", "==", "~=", "<=", ">=", "..", "//", "+=", "-=", "*=", "/=", "!=",
        ];
        let sym = MULTI
            .iter()
            .find(|m| src[i..].starts_with(m.as_bytes()))
            .map(|m| m.to_string())
            .unwrap_or_else(|| (c as char).to_string());
        i += sym.len();
        out.push(Token {
            tok: Tok::Sym(sym),
            start,
            end: i,
        });
    }
    out
}

/// `Some(level)` when `src[i..]` opens a long bracket `[==[`.
fn long_bracket(src: &[u8], i: usize) -> Option<usize> {
    if src.get(i) != Some(&b'[') {
        return None;
    }
    let mut j = i + 1;
    while src.get(j) == Some(&b'=') {
        j += 1;
    }
    (src.get(j) == Some(&b'[')).then_some(j - i - 1)
}

fn skip_long(src: &[u8], i: usize, level: usize) -> usize {
    let close: Vec<u8> = std::iter::once(b']')
        .chain(std::iter::repeat_n(b'=', level))
        .chain(std::iter::once(b']'))
        .collect();
    let body = i + level + 2;
    src[body.min(src.len())..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map_or(src.len(), |p| body + p + close.len())
}

fn is_sym(t: Option<&Token>, s: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Sym(x), .. }) if x == s)
}

fn name_of(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token {
            tok: Tok::Name(n), ..
        }) => Some(n),
        _ => None,
    }
}

const KEYWORDS: [&str; 21] = [
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local",
    "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

/// True when the token can end an expression (so a following `as` or `!` is postfix).
fn ends_expression(t: &Token) -> bool {
    match &t.tok {
        Tok::Name(n) => {
            !KEYWORDS.contains(&n.as_str())
                || matches!(n.as_str(), "nil" | "true" | "false" | "end")
        }
        Tok::Number | Tok::Str => true,
        Tok::Sym(s) => matches!(s.as_str(), ")" | "]" | "}" | "..."),
    }
}

/// Starts a type after `as`.
fn starts_type(t: Option<&Token>) -> bool {
    match t.map(|t| &t.tok) {
        Some(Tok::Name(n)) => {
            !KEYWORDS.contains(&n.as_str()) || matches!(n.as_str(), "nil" | "true" | "false")
        }
        Some(Tok::Str) => true,
        Some(Tok::Sym(s)) => matches!(s.as_str(), "{" | "(" | "<"),
        _ => false,
    }
}

/// An edit: replace `src[start..end]` with `text`.
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Rewrites Wippy typed syntax into Luau (see the module docs). Sources without any of the
/// handled forms come back unchanged.
pub(crate) fn rewrite(src: &str) -> String {
    let bytes = src.as_bytes();
    let toks = tokenize(bytes);
    let mut edits: Vec<Edit> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let prev = i.checked_sub(1).map(|p| &toks[p]);
        let next = toks.get(i + 1);
        match &t.tok {
            // expr as T → expr :: T
            Tok::Name(n)
                if n == "as"
                    && prev.is_some_and(ends_expression)
                    && starts_type(next)
                    && !is_sym(toks.get(i + 2), "=") =>
            {
                edits.push(Edit {
                    start: t.start,
                    end: t.end,
                    text: "::".into(),
                });
            }
            // expr! → expr
            Tok::Sym(s) if s == "!" && prev.is_some_and(ends_expression) => {
                edits.push(Edit {
                    start: t.start,
                    end: t.end,
                    text: " ".into(),
                });
            }
            // validators: @min(0) after a type
            Tok::Sym(s) if s == "@" => {
                if let Some(name) = name_of(next) {
                    if !LUAU_ATTRIBUTES.contains(&name) {
                        let mut end = toks[i + 1].end;
                        let mut j = i + 2;
                        if is_sym(toks.get(j), "(") {
                            let mut depth = 0;
                            while j < toks.len() {
                                if is_sym(toks.get(j), "(") {
                                    depth += 1;
                                } else if is_sym(toks.get(j), ")") {
                                    depth -= 1;
                                    if depth == 0 {
                                        end = toks[j].end;
                                        j += 1;
                                        break;
                                    }
                                }
                                j += 1;
                            }
                        }
                        edits.push(blank(src, t.start, end));
                        i = j;
                        continue;
                    }
                }
            }
            // y?: T → y: T (optional record field)
            Tok::Sym(s)
                if s == "?"
                    && matches!(prev.map(|p| &p.tok), Some(Tok::Name(_)))
                    && is_sym(next, ":") =>
            {
                edits.push(Edit {
                    start: t.start,
                    end: t.end,
                    text: " ".into(),
                });
            }
            // generic parameter lists: drop bounds
            Tok::Sym(s) if s == "<" && generic_list_start(&toks, i) => {
                strip_bounds(src, &toks, i, &mut edits);
            }
            // type Name = … : declare the runtime type value; number literal types
            Tok::Name(n) if n == "type" && statement_start(&toks, i) => {
                if let Some(name) = name_of(next) {
                    if is_sym(toks.get(i + 2), "=") || is_sym(toks.get(i + 2), "<") {
                        let at = if name_of(prev) == Some("export") {
                            toks[i - 1].start
                        } else {
                            t.start
                        };
                        let rhs = type_rhs(&toks, i + 2);
                        let prim = match &toks[rhs.clone()] {
                            [one] => name_of(Some(one)).filter(|n| PRIMITIVES.contains(n)),
                            [one, q] if is_sym(Some(q), "?") => {
                                name_of(Some(one)).filter(|n| PRIMITIVES.contains(n))
                            }
                            _ => None,
                        };
                        let optional = rhs.len() == 2;
                        let decl = match prim {
                            Some(p) => format!(
                                "local {name} = __starling_type(\"{name}\", \"{p}\", {optional}); "
                            ),
                            None => format!("local {name} = __starling_type(\"{name}\"); "),
                        };
                        edits.push(Edit {
                            start: at,
                            end: at,
                            text: decl,
                        });
                        for k in rhs {
                            if toks[k].tok == Tok::Number {
                                edits.push(Edit {
                                    start: toks[k].start,
                                    end: toks[k].end,
                                    text: "number".into(),
                                });
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    apply(src, edits)
}

/// Spaces in place of `src[start..end]`, keeping newlines.
fn blank(src: &str, start: usize, end: usize) -> Edit {
    let text = src[start..end]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    Edit { start, end, text }
}

/// `type` begins a statement unless it is a field or method name or is being declared.
fn statement_start(toks: &[Token], i: usize) -> bool {
    let prev = i.checked_sub(1).map(|p| &toks[p]);
    !(is_sym(prev, ".") || is_sym(prev, ":") || matches!(name_of(prev), Some("local" | "function")))
}

/// `<` opening generic parameters: after `type Name`, `function name` (also `a.b`, `a:b`) or
/// an anonymous `function`.
fn generic_list_start(toks: &[Token], i: usize) -> bool {
    if i == 0 {
        return false;
    }
    if name_of(toks.get(i - 1)) == Some("function") {
        return true;
    }
    if !matches!(toks[i - 1].tok, Tok::Name(_)) {
        return false;
    }
    let mut j = i - 1;
    while j >= 2 && (is_sym(toks.get(j - 1), ".") || is_sym(toks.get(j - 1), ":")) {
        j -= 2;
    }
    matches!(
        name_of(j.checked_sub(1).and_then(|k| toks.get(k))),
        Some("type" | "function")
    )
}

/// Blanks `: Bound` parts inside the generic list starting at `<` (index `open`).
fn strip_bounds(src: &str, toks: &[Token], open: usize, edits: &mut Vec<Edit>) {
    let mut depth = 0;
    let mut j = open;
    let mut colon: Option<usize> = None;
    while j < toks.len() {
        let t = &toks[j];
        match &t.tok {
            Tok::Sym(s) if s == "<" || s == "(" || s == "{" => depth += 1,
            Tok::Sym(s) if s == ">" || s == ")" || s == "}" => {
                depth -= 1;
                if depth == 0 {
                    if let Some(c) = colon.take() {
                        edits.push(blank(src, toks[c].start, toks[j - 1].end));
                    }
                    return;
                }
            }
            Tok::Sym(s) if s == "," && depth == 1 => {
                if let Some(c) = colon.take() {
                    edits.push(blank(src, toks[c].start, toks[j - 1].end));
                }
            }
            Tok::Sym(s) if s == ":" && depth == 1 => colon = Some(j),
            _ => {}
        }
        j += 1;
    }
}

/// Token range of a type alias's right-hand side, `at` being the `=` or the `<` of its
/// generic list.
fn type_rhs(toks: &[Token], mut at: usize) -> std::ops::Range<usize> {
    if is_sym(toks.get(at), "<") {
        let mut depth = 0;
        while at < toks.len() {
            if is_sym(toks.get(at), "<") {
                depth += 1;
            } else if is_sym(toks.get(at), ">") {
                depth -= 1;
                if depth == 0 {
                    at += 1;
                    break;
                }
            }
            at += 1;
        }
    }
    if !is_sym(toks.get(at), "=") {
        return at..at;
    }
    let start = at + 1;
    let mut j = start;
    let mut depth = 0i32;
    let mut need_atom = true;
    while j < toks.len() {
        let t = &toks[j];
        let s = match &t.tok {
            Tok::Sym(s) => s.as_str(),
            _ => "",
        };
        if depth == 0 && !need_atom {
            // A complete type so far: it goes on only with an operator or suffix.
            match s {
                "|" | "&" | "->" | "." => need_atom = true,
                "?" | "<" | "(" | "[" | "{" => {}
                _ => break,
            }
        }
        match s {
            "(" | "{" | "[" | "<" => depth += 1,
            ")" | "}" | "]" | ">" => depth -= 1,
            "" if depth == 0 => need_atom = false,
            _ => {}
        }
        if depth == 0 && matches!(s, ")" | "}" | "]" | ">") {
            need_atom = false;
        }
        j += 1;
    }
    start..j
}

fn apply(src: &str, mut edits: Vec<Edit>) -> String {
    if edits.is_empty() {
        return src.to_string();
    }
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for e in edits {
        if e.start < at {
            continue;
        }
        out.push_str(&src[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&src[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    fn compiles(src: &str) -> bool {
        mlua::chunk::Compiler::new()
            .compile(rewrite(src).as_bytes())
            .is_ok()
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
        ] {
            assert!(compiles(src), "{src}\n=> {}", rewrite(src));
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
        ] {
            assert_eq!(rewrite(src).replace("__starling_type", ""), src, "{src}");
        }
    }

    #[test]
    fn lines_are_preserved() {
        let src = "type P = {\n  x: number @min(0\n  ),\n  y?: string,\n}\nlocal v = (p!) as P\nerror('line 7')";
        let out = rewrite(src);
        assert_eq!(out.lines().count(), src.lines().count());
        assert!(out.lines().nth(6).is_some_and(|l| l.contains("line 7")));
    }

    #[test]
    fn type_statements_declare_runtime_values() {
        let out = rewrite("type Id = string\ntype P = {x: number}\nexport type O = number?");
        assert!(
            out.contains("local Id = __starling_type(\"Id\", \"string\", false);"),
            "{out}"
        );
        assert!(out.contains("local P = __starling_type(\"P\");"), "{out}");
        assert!(
            out.contains("local O = __starling_type(\"O\", \"number\", true); export type"),
            "{out}"
        );
    }
}
