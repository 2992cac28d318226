//! Stage 1: Wippy's type-level sugar into Luau type syntax, on full_moon's tokens.
//!
//! These forms only touch type annotations (or drop a no-op `!`), which mean nothing at run
//! time, so a token-level rewrite is exact; everything that changes how code runs is lowered
//! on the syntax tree in stage 2.

use super::edit::{Edit, apply, blank};
use super::lex::{Tok, Token, tokenize};

/// Luau's own attributes, which must stay.
const LUAU_ATTRIBUTES: [&str; 3] = ["native", "checked", "deprecated"];

const PRIMITIVES: [&str; 6] = ["string", "number", "integer", "boolean", "any", "unknown"];

const KEYWORDS: [&str; 22] = [
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if", "in",
    "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
];

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

/// Rewrites Wippy typed syntax into Luau type syntax (see the parent module's table).
pub(super) fn rewrite(src: &str) -> String {
    let toks = tokenize(src);
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
                edits.push(Edit::replace(t.start, t.end, "::"));
            }
            // `::name::` is a label, never a cast (one `:: T` ends an expression): an empty
            // `do end` before it keeps a parser from reading the previous value as cast to `name`.
            Tok::Sym(s)
                if s == "::"
                    && matches!(next.map(|t| &t.tok), Some(Tok::Name(_)))
                    && is_sym(toks.get(i + 2), "::") =>
            {
                edits.push(Edit::open(t.start, "do end ", t.start));
                i += 3;
                continue;
            }
            // expr! → expr
            Tok::Sym(s) if s == "!" && prev.is_some_and(ends_expression) => {
                edits.push(Edit::replace(t.start, t.end, " "));
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
                edits.push(Edit::replace(t.start, t.end, " "));
            }
            // generic parameter lists: drop bounds
            Tok::Sym(s) if s == "<" && generic_list_start(&toks, i) => {
                strip_bounds(src, &toks, i, &mut edits);
            }
            // `function f(a): T1, T2` → `function f(a): (T1, T2)`
            Tok::Sym(s) if s == ")" && is_sym(next, ":") && closes_parameters(&toks, i) => {
                let first = skip_type(&toks, i + 2);
                if first > i + 2 && is_sym(toks.get(first), ",") {
                    let mut end = first;
                    while is_sym(toks.get(end), ",") {
                        let after = skip_type(&toks, end + 1);
                        if after == end + 1 {
                            break;
                        }
                        end = after;
                    }
                    edits.push(Edit::open(toks[i + 2].start, "(", toks[end - 1].end));
                    edits.push(Edit::close(toks[end - 1].end, ")", toks[i + 2].start, 0));
                }
            }
            // type Name = … : declare the runtime type value; number literal types
            Tok::Name(n) if n == "type" && statement_start(&toks, i) => {
                type_statement(&toks, i, &mut edits);
            }
            _ => {}
        }
        i += 1;
    }
    apply(src, edits)
}

/// `type Name = …`: a runtime value `Name` (a callable type object, see `prelude.lua`) is
/// declared on the same line before the statement; number literal types become `number`.
fn type_statement(toks: &[Token], i: usize, edits: &mut Vec<Edit>) {
    let t = &toks[i];
    let Some(name) = name_of(toks.get(i + 1)) else {
        return;
    };
    if !(is_sym(toks.get(i + 2), "=") || is_sym(toks.get(i + 2), "<")) {
        return;
    }
    let at = if i > 0 && name_of(toks.get(i - 1)) == Some("export") {
        toks[i - 1].start
    } else {
        t.start
    };
    let rhs = type_rhs(toks, i + 2);
    let prim = match &toks[rhs.clone()] {
        [one] => name_of(Some(one)).filter(|n| PRIMITIVES.contains(n)),
        [one, q] if is_sym(Some(q), "?") => name_of(Some(one)).filter(|n| PRIMITIVES.contains(n)),
        _ => None,
    };
    let optional = rhs.len() == 2;
    let decl = match prim {
        Some(p) => format!("local {name} = __starling_type(\"{name}\", \"{p}\", {optional}); "),
        None => format!("local {name} = __starling_type(\"{name}\"); "),
    };
    edits.push(Edit::open(at, decl, at));
    for k in rhs {
        if toks[k].tok == Tok::Number {
            edits.push(Edit::replace(toks[k].start, toks[k].end, "number"));
        }
    }
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

/// True when the `)` at `close` ends the parameter list of a function.
fn closes_parameters(toks: &[Token], close: usize) -> bool {
    let mut depth = 0;
    let mut j = close;
    loop {
        match &toks[j].tok {
            Tok::Sym(s) if s == ")" => depth += 1,
            Tok::Sym(s) if s == "(" => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        if j == 0 {
            return false;
        }
        j -= 1;
    }
    // Before `(`: an optional generic list, then `function`, or `function` and a name path.
    let mut k = j;
    if k > 0 && is_sym(toks.get(k - 1), ">") {
        let mut depth = 0;
        while k > 0 {
            k -= 1;
            if is_sym(toks.get(k), ">") {
                depth += 1;
            } else if is_sym(toks.get(k), "<") {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
        }
    }
    if k == 0 {
        return false;
    }
    if name_of(toks.get(k - 1)) == Some("function") {
        return true;
    }
    let mut n = k - 1;
    if !matches!(toks[n].tok, Tok::Name(_)) {
        return false;
    }
    while n >= 2 && (is_sym(toks.get(n - 1), ".") || is_sym(toks.get(n - 1), ":")) {
        n -= 2;
    }
    n > 0 && name_of(toks.get(n - 1)) == Some("function")
}

/// The index just past the Luau type that starts at `i` (`i` itself when none starts there).
fn skip_type(toks: &[Token], i: usize) -> usize {
    let mut j = skip_simple_type(toks, i);
    if j == i {
        return i;
    }
    loop {
        if is_sym(toks.get(j), "?") {
            j += 1;
        } else if is_sym(toks.get(j), "|") || is_sym(toks.get(j), "&") {
            let next = skip_simple_type(toks, j + 1);
            if next == j + 1 {
                return j;
            }
            j = next;
        } else {
            return j;
        }
    }
}

/// One type without unions: a name path with generics, a literal, a table type, a
/// parenthesized type or pack, a function type, a variadic `...T`, or `typeof(...)`.
fn skip_simple_type(toks: &[Token], i: usize) -> usize {
    match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Str) => i + 1,
        Some(Tok::Sym(s)) if s == "..." => skip_type(toks, i + 1).max(i + 1),
        Some(Tok::Sym(s)) if s == "{" => skip_balanced(toks, i),
        Some(Tok::Sym(s)) if s == "(" || s == "<" => {
            let mut j = skip_balanced(toks, i);
            if s == "<" {
                j = skip_balanced(toks, j);
            }
            if is_sym(toks.get(j), "->") {
                j = skip_type(toks, j + 1);
            }
            j
        }
        Some(Tok::Name(n)) if n == "typeof" && is_sym(toks.get(i + 1), "(") => {
            skip_balanced(toks, i + 1)
        }
        Some(Tok::Name(n)) if n == "nil" || n == "true" || n == "false" => i + 1,
        Some(Tok::Name(n)) if !KEYWORDS.contains(&n.as_str()) => {
            let mut j = i + 1;
            while is_sym(toks.get(j), ".")
                && matches!(toks.get(j + 1).map(|t| &t.tok), Some(Tok::Name(_)))
            {
                j += 2;
            }
            if is_sym(toks.get(j), "<") {
                j = skip_balanced(toks, j);
            }
            j
        }
        _ => i,
    }
}

/// Past the bracket group opening at `i` (`(`, `{`, `[` or `<`).
fn skip_balanced(toks: &[Token], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < toks.len() {
        if let Tok::Sym(s) = &toks[j].tok {
            match s.as_str() {
                "(" | "{" | "[" | "<" => depth += 1,
                ")" | "}" | "]" | ">" => {
                    depth -= 1;
                    if depth == 0 {
                        return j + 1;
                    }
                }
                _ => {}
            }
        }
        j += 1;
    }
    j
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
        at = skip_balanced(toks, at);
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
