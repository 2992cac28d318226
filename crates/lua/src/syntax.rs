//! Wippy's Lua dialect into Luau before compilation (SPEC §4.1), on full_moon's lexer and
//! parser.
//!
//! Wippy accepts Luau's typed syntax, a few typed forms of its own, and Lua 5.3 syntax that
//! Luau lacks. Two stages turn a source into plain Luau, never adding or removing a newline,
//! so every line number (syntax errors, tracebacks, log `location`s) stays the same:
//!
//! 1. Type sugar, on tokens (`syntax/wippy.rs`); types mean nothing at run time:
//!
//! | Wippy | Luau |
//! |---|---|
//! | `expr as T` | `expr :: T` |
//! | `expr!` (non-nil assertion) | `expr` |
//! | `number @min(0) @max(9)` (validators after a type) | `number` |
//! | `{x: number, y?: string}` (optional field) | `{x: number, y: string}` |
//! | `<T: Bound>` (generic bound) | `<T>` |
//! | `type L = 1 \| 2` (number literal types) | `type L = number \| number` |
//! | `function f(): string?, string?` (return list) | `function f(): (string?, string?)` |
//!
//!    Each `type Name = …` statement also declares a runtime value `Name` (a callable type
//!    object, see `prelude.lua`), inserted on the same line before the statement.
//!
//! 2. Lua 5.3 syntax, on full_moon's syntax tree (parsed as Luau plus Lua 5.3), only for
//!    sources that use it:
//!
//! | Lua 5.3 | Luau |
//! |---|---|
//! | `a & b`, `a \| b`, `a ~ b`, `a << b`, `a >> b`, `~a` | calls of `modules/bitops.lua` helpers |
//! | `goto name` and `::name::` | `continue`, or loops and `break` (`syntax/goto.rs`) |
//!
//! `//` is Luau's own floor division. A source full_moon cannot parse goes to Luau as
//! stage 1 left it, so the error users see is Luau's (or full_moon's, when it points earlier).

mod bitwise;
mod edit;
mod goto;
mod lex;
mod wippy;

use full_moon::ast::LuaVersion;
use full_moon::visitors::Visitor;

/// Luau plus Lua 5.3 (which includes 5.2's `goto`).
fn version() -> LuaVersion {
    LuaVersion::luau().with_lua53()
}

/// Nesting past which stage 2 is skipped: Luau rejects such sources itself, and full_moon's
/// recursive parser must not overflow the stack on them.
const MAX_NESTING: usize = 500;

/// Stack for full_moon's recursive descent (only touched pages cost memory).
const PARSER_STACK: usize = 256 << 20;

/// A source Starling cannot turn into Luau.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// 1-based line in the source.
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// Rewrites a Wippy source into Luau (see the module docs). Sources without any of the
/// handled forms come back unchanged.
pub(crate) fn rewrite(src: &str) -> Result<String, SyntaxError> {
    let typed = wippy::rewrite(src);
    if !needs_lowering(&typed) {
        return Ok(typed);
    }
    let owned = typed.clone();
    let lowered = std::thread::Builder::new()
        .name("starling-syntax".into())
        .stack_size(PARSER_STACK)
        .spawn(move || lower(&owned))
        .ok()
        .and_then(|h| h.join().ok());
    match lowered {
        Some(Ok(Some(text))) => Ok(text),
        Some(Err(e)) => Err(e),
        // Not parsed (Luau reports the error) or no parser thread: stage 1 only.
        Some(Ok(None)) | None => Ok(typed),
    }
}

/// True when the source has a token that stage 2 lowers, and is not absurdly nested.
fn needs_lowering(src: &str) -> bool {
    let mut found = false;
    let mut depth: usize = 0;
    // End of the previous token when it was `>`: `>>` comes split in two `>` (see `lex`).
    let mut gt_end = usize::MAX;
    let toks = lex::tokenize(src);
    for (i, t) in toks.iter().enumerate() {
        let shift = t.start == gt_end;
        gt_end = if matches!(&t.tok, lex::Tok::Sym(s) if s == ">") {
            t.end
        } else {
            usize::MAX
        };
        match &t.tok {
            lex::Tok::Name(n) => match n.as_str() {
                "goto" => found = true,
                "function" | "do" | "if" | "repeat" => depth += 1,
                "end" | "until" => depth = depth.saturating_sub(1),
                _ => {}
            },
            lex::Tok::Sym(s) => match s.as_str() {
                "&" | "|" | "~" | "<<" => found = true,
                // A label: `::name::`.
                "::" => {
                    found |= matches!(toks.get(i + 1).map(|t| &t.tok), Some(lex::Tok::Name(_)))
                        && matches!(toks.get(i + 2).map(|t| &t.tok), Some(lex::Tok::Sym(s)) if s == "::");
                }
                ">" if shift => found = true,
                "(" | "{" | "[" => depth += 1,
                ")" | "}" | "]" => depth = depth.saturating_sub(1),
                _ => {}
            },
            _ => {}
        }
        if depth > MAX_NESTING {
            return false;
        }
    }
    found
}

/// Stage 2: `Ok(None)` when full_moon cannot parse the source.
fn lower(src: &str) -> Result<Option<String>, SyntaxError> {
    let mut text = src.to_string();
    // `>>` closing nested generics (`Array<Array<T>>`) is a shift to a Lua 5.3 lexer: split
    // the ones the parser trips on, then parse again.
    let ast = loop {
        let result = full_moon::parse_fallible(&text, version());
        let errors = result.errors();
        if errors.is_empty() {
            break result.into_ast();
        }
        let split = errors.iter().find_map(|e| {
            let at = e.range().0.bytes();
            let generic = e.error_message().contains("generic");
            (generic && text.get(at..at + 2) == Some(">>")).then_some(at)
        });
        match split {
            Some(at) => text.replace_range(at..at + 2, "> >"),
            None => return Ok(None),
        }
    };

    let mut bits = bitwise::Bitwise::default();
    bits.visit_ast(&ast);
    let mut gotos = goto::Gotos::new(&text);
    gotos.chunk(ast.nodes());
    gotos.visit_ast(&ast);
    if let Some(e) = gotos.error {
        return Err(e);
    }
    if bits.edits.is_empty() && gotos.edits.is_empty() {
        return Ok(Some(text));
    }
    let mut edits = bits.edits;
    edits.extend(gotos.edits);
    if !bits.used.is_empty() {
        let first = full_moon::node::Node::start_position(ast.nodes()).map_or(0, |p| p.bytes());
        edits.push(edit::Edit::open(
            first,
            bitwise::prologue(&bits.used),
            usize::MAX,
        ));
    }
    Ok(Some(edit::apply(&text, edits)))
}

#[cfg(test)]
mod tests;
