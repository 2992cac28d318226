//! Stage 2, operators: Lua 5.3's bitwise operators become calls of the helpers in
//! `modules/bitops.lua` (`a & b` → `__starling_band(a, b)`), bound once per chunk as locals.

use std::collections::BTreeSet;

use full_moon::ast::{BinOp, Expression, UnOp};
use full_moon::node::Node;
use full_moon::visitors::Visitor;

use super::edit::Edit;

/// Collects the edits for every bitwise operator of a chunk.
#[derive(Default)]
pub(super) struct Bitwise {
    pub(super) edits: Vec<Edit>,
    /// Helper names used (`band`, `bnot`, ...).
    pub(super) used: BTreeSet<&'static str>,
}

fn span(node: &impl Node) -> Option<(usize, usize)> {
    Some((node.start_position()?.bytes(), node.end_position()?.bytes()))
}

impl Visitor for Bitwise {
    fn visit_expression(&mut self, expr: &Expression) {
        match expr {
            Expression::BinaryOperator { binop, .. } => {
                let name = match binop {
                    BinOp::Ampersand(_) => "band",
                    BinOp::Pipe(_) => "bor",
                    BinOp::Tilde(_) => "bxor",
                    BinOp::DoubleLessThan(_) => "shl",
                    BinOp::DoubleGreaterThan(_) => "shr",
                    _ => return,
                };
                let (Some((start, end)), Some((op_start, op_end))) =
                    (span(expr), span(binop.token()))
                else {
                    return;
                };
                self.used.insert(name);
                self.edits
                    .push(Edit::open(start, format!("__starling_{name}("), end));
                self.edits.push(Edit::replace(op_start, op_end, ","));
                self.edits.push(Edit::close(end, ")", start, 0));
            }
            Expression::UnaryOperator {
                unop: UnOp::Tilde(token),
                ..
            } => {
                let (Some((start, end)), Some((op_start, op_end))) = (span(expr), span(token))
                else {
                    return;
                };
                self.used.insert("bnot");
                self.edits
                    .push(Edit::replace(op_start, op_end, "__starling_bnot("));
                self.edits.push(Edit::close(end, ")", start, 0));
            }
            _ => {}
        }
    }
}

/// The chunk prologue binding the helpers used: `local __starling_band = __starling_bit.band;`.
pub(super) fn prologue(used: &BTreeSet<&'static str>) -> String {
    let mut out = String::new();
    for name in used {
        out.push_str(&format!(
            "local __starling_{name} = __starling_bit.{name}; "
        ));
    }
    out
}
