//! Tokens of a source for the typed-syntax pass, from full_moon's lexer.
//!
//! Whitespace and comments are dropped; every other token keeps its byte range. Wippy's
//! postfix `!` is no Lua token: the lexer skips it, and the gap it leaves becomes a `!`
//! symbol here (`!=` stays one symbol, which no rewrite touches).

use full_moon::tokenizer::{Lexer, LexerResult, TokenType};

use super::version;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    /// An identifier or a keyword.
    Name(String),
    Number,
    /// A string literal, or a piece of an interpolated string.
    Str,
    Sym(String),
}

#[derive(Clone, Debug)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// Splits `src` into tokens, skipping whitespace and comments.
pub(super) fn tokenize(src: &str) -> Vec<Token> {
    let tokens = match Lexer::new(src, version()).collect() {
        LexerResult::Ok(t) | LexerResult::Recovered(t, _) => t,
        LexerResult::Fatal(_) => Vec::new(),
    };
    let bytes = src.as_bytes();
    let mut out = Vec::with_capacity(tokens.len() / 2);
    let mut covered = 0;
    for t in tokens {
        let start = t.start_position().bytes();
        let end = t.end_position().bytes();
        // Characters the lexer skipped: only `!` matters.
        for at in covered..start.min(bytes.len()) {
            if bytes[at] == b'!' {
                let sym = if bytes.get(at + 1) == Some(&b'=') {
                    "!="
                } else {
                    "!"
                };
                out.push(Token {
                    tok: Tok::Sym(sym.into()),
                    start: at,
                    end: at + 1,
                });
            }
        }
        covered = covered.max(end);
        let tok = match t.token_type() {
            TokenType::Eof => break,
            TokenType::Whitespace { .. }
            | TokenType::SingleLineComment { .. }
            | TokenType::MultiLineComment { .. }
            | TokenType::Shebang { .. } => continue,
            TokenType::Identifier { identifier } => Tok::Name(identifier.to_string()),
            TokenType::Number { .. } => Tok::Number,
            TokenType::StringLiteral { .. } | TokenType::InterpolatedString { .. } => Tok::Str,
            TokenType::Symbol { symbol } => {
                let text = symbol.to_string();
                if text.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    Tok::Name(text)
                } else if text == ">>" {
                    // Nested generics (`Array<Array<T>>`) close two lists at once.
                    out.push(Token {
                        tok: Tok::Sym(">".into()),
                        start,
                        end: start + 1,
                    });
                    out.push(Token {
                        tok: Tok::Sym(">".into()),
                        start: start + 1,
                        end,
                    });
                    continue;
                } else {
                    Tok::Sym(text)
                }
            }
            _ => Tok::Sym(src.get(start..end).unwrap_or("").to_string()),
        };
        out.push(Token { tok, start, end });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<String> {
        tokenize(src)
            .into_iter()
            .map(|t| match t.tok {
                Tok::Name(n) => n,
                Tok::Number => "#".into(),
                Tok::Str => "$".into(),
                Tok::Sym(s) => s,
            })
            .collect()
    }

    #[test]
    fn bang_and_comments() {
        assert_eq!(kinds("x! -- y!\n"), ["x", "!"]);
        assert_eq!(kinds("a != b"), ["a", "!=", "=", "b"]);
        assert_eq!(
            kinds("local s = [[a!]] .. 'b!'"),
            ["local", "s", "=", "$", "..", "$"]
        );
        assert_eq!(kinds("f(x)>>2"), ["f", "(", "x", ")", ">", ">", "#"]);
    }
}
