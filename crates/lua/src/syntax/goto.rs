//! Stage 2, control flow: Lua 5.2/5.3 `goto` and labels lowered to Luau loops.
//!
//! Luau has `break` and `continue` but no `goto`. Within one function, a label `L` in a block
//! becomes at most two constructs of that block:
//!
//! - a *region* for forward jumps: the statements from the first one holding a `goto L` up to
//!   the label, wrapped in `repeat ... until true`; the jump is a `break` out of it;
//! - a *loop* for backward jumps: the statements from the label to the end of the block (or
//!   to the next region boundary), wrapped in `while true do ... break end`; the jump is a
//!   `continue` of it.
//!
//! The common `goto continue` (a label that ends a loop body) is Luau's own `continue`.
//! A jump nested inside other loops (the user's, or constructs of other labels) sets the
//! function's local `__starling_goto` to the target's number and breaks out; after each loop
//! on the way a dispatch `if __starling_goto == n then ...` breaks further or arrives. A
//! `break` (or Luau `continue`) whose loop is outside such a construct is lowered the same
//! way. Nothing here adds a newline, so line numbers stay.
//!
//! Checked as Lua 5.3 does: a `goto` needs a visible label (`no visible label 'x' for goto`),
//! may not jump into the scope of a local, and a label may appear once per block. Jumps whose
//! constructs would overlap without nesting are refused with a clear error.

use full_moon::ast::{Block, FunctionBody, LastStmt, Stmt};
use full_moon::node::Node;
use full_moon::visitors::Visitor;

use super::SyntaxError;
use super::edit::{Edit, blank};

const VAR: &str = "__starling_goto";

/// Lowers the gotos of every function of a chunk (the chunk's main block included).
pub(super) struct Gotos<'s> {
    src: &'s str,
    pub(super) edits: Vec<Edit>,
    pub(super) error: Option<SyntaxError>,
}

impl<'s> Gotos<'s> {
    pub(super) fn new(src: &'s str) -> Gotos<'s> {
        Gotos {
            src,
            edits: Vec::new(),
            error: None,
        }
    }

    /// Lowers the main block of a chunk.
    pub(super) fn chunk(&mut self, block: &Block) {
        let at = block
            .stmts()
            .next()
            .and_then(Node::start_position)
            .or_else(|| block.last_stmt().and_then(Node::start_position))
            .map(|p| p.bytes());
        if let Some(at) = at {
            self.function(block, at);
        }
    }

    fn function(&mut self, block: &Block, decl_at: usize) {
        if self.error.is_some() {
            return;
        }
        let mut f = Func::default();
        f.walk(block, None, false, false);
        let gotos = f.jumps.iter().any(|j| matches!(j.kind, JumpKind::Goto(_)));
        if !gotos && f.labels.is_empty() {
            return;
        }
        match f.lower(self.src) {
            Ok((mut edits, needs_var)) => {
                if needs_var {
                    edits.push(Edit::open(decl_at, format!("local {VAR}; "), usize::MAX));
                }
                self.edits.extend(edits);
            }
            Err(e) => self.error = Some(e),
        }
    }
}

impl Visitor for Gotos<'_> {
    fn visit_function_body(&mut self, body: &FunctionBody) {
        let after_params = body
            .return_type()
            .and_then(Node::end_position)
            .or_else(|| body.parameters_parentheses().tokens().1.end_position())
            .map(|p| p.bytes());
        if let Some(at) = after_params {
            self.function(body.block(), at);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Action {
    Break,
    Continue,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Break => "break",
            Action::Continue => "continue",
        }
    }
}

#[derive(Debug)]
enum Kind {
    Label(String),
    Local,
    Other,
}

#[derive(Debug)]
struct StmtInfo {
    start: usize,
    end: usize,
    line: usize,
    kind: Kind,
}

#[derive(Debug, Default)]
struct BlockInfo {
    /// The enclosing block and the index of the statement holding this one.
    parent: Option<(usize, usize)>,
    /// This block is the body of a user loop (the statement at `parent`).
    loop_body: bool,
    /// The body of a `repeat`: its end is not the end of the locals' scope.
    repeat_body: bool,
    stmts: Vec<StmtInfo>,
    /// The final `return`/`break`/`continue`, at position `stmts.len()`.
    last: Option<(StmtInfo, Option<Action>)>,
}

impl BlockInfo {
    /// Positions: statements, then the last statement.
    fn positions(&self) -> usize {
        self.stmts.len() + usize::from(self.last.is_some())
    }

    fn at(&self, p: usize) -> &StmtInfo {
        if p < self.stmts.len() {
            &self.stmts[p]
        } else {
            &self
                .last
                .as_ref()
                .expect("position of the last statement")
                .0
        }
    }

    fn label(&self, name: &str) -> Option<usize> {
        self.stmts
            .iter()
            .position(|s| matches!(&s.kind, Kind::Label(n) if n == name))
    }

    /// Only labels follow position `k` (Lua's "end of block" for local scopes).
    fn void_after(&self, k: usize) -> bool {
        self.last.is_none()
            && self.stmts[k + 1..]
                .iter()
                .all(|s| matches!(s.kind, Kind::Label(_)))
    }
}

#[derive(Debug)]
enum JumpKind {
    Goto(String),
    /// A user `break` or `continue`.
    Exit(Action),
}

#[derive(Debug)]
struct Jump {
    block: usize,
    pos: usize,
    start: usize,
    end: usize,
    line: usize,
    kind: JumpKind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum CKind {
    Region,
    Loop,
}

#[derive(Debug)]
struct Construct {
    block: usize,
    kind: CKind,
    first: usize,
    end: usize,
    /// Positions of backward jumps (loops only).
    back: Vec<usize>,
    depth: i64,
    /// Dispatch cases after this construct.
    dispatch: Vec<Case>,
}

/// A jump passing a loop: its number, and the action it arrives with (`None`: it passes on).
type Case = (usize, Option<Action>);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Construct(usize, Action),
    /// The user loop whose body is this block.
    Body(usize, Action),
}

#[derive(Clone, Copy, Debug)]
enum Level {
    Construct(usize),
    /// The user loop whose body is this block.
    Body(usize),
}

#[derive(Default)]
struct Func {
    blocks: Vec<BlockInfo>,
    jumps: Vec<Jump>,
    /// Every label, blanked in the output.
    labels: Vec<(usize, usize)>,
}

fn span(node: &impl Node) -> (usize, usize, usize) {
    let start = node.start_position().map_or(0, |p| p.bytes());
    let end = node.end_position().map_or(start, |p| p.bytes());
    let line = node.start_position().map_or(0, |p| p.line());
    (start, end, line)
}

impl Func {
    /// Records `block` and its nested blocks (not nested functions); returns its index.
    fn walk(
        &mut self,
        block: &Block,
        parent: Option<(usize, usize)>,
        loop_body: bool,
        repeat_body: bool,
    ) -> usize {
        let id = self.blocks.len();
        self.blocks.push(BlockInfo {
            parent,
            loop_body,
            repeat_body,
            ..BlockInfo::default()
        });
        for (i, stmt) in block.stmts().enumerate() {
            let (start, end, line) = span(stmt);
            let here = Some((id, i));
            let kind = match stmt {
                Stmt::Label(label) => {
                    self.labels.push((start, end));
                    Kind::Label(label.name().token().to_string())
                }
                Stmt::Goto(goto) => {
                    self.jumps.push(Jump {
                        block: id,
                        pos: i,
                        start,
                        end,
                        line,
                        kind: JumpKind::Goto(goto.label_name().token().to_string()),
                    });
                    Kind::Other
                }
                Stmt::LocalAssignment(_) | Stmt::LocalFunction(_) => Kind::Local,
                Stmt::ConstAssignment(_) | Stmt::ConstFunction(_) => Kind::Local,
                Stmt::Do(d) => {
                    self.walk(d.block(), here, false, false);
                    Kind::Other
                }
                Stmt::While(w) => {
                    self.walk(w.block(), here, true, false);
                    Kind::Other
                }
                Stmt::Repeat(r) => {
                    self.walk(r.block(), here, true, true);
                    Kind::Other
                }
                Stmt::NumericFor(f) => {
                    self.walk(f.block(), here, true, false);
                    Kind::Other
                }
                Stmt::GenericFor(f) => {
                    self.walk(f.block(), here, true, false);
                    Kind::Other
                }
                Stmt::If(f) => {
                    self.walk(f.block(), here, false, false);
                    for branch in f.else_if().into_iter().flatten() {
                        self.walk(branch.block(), here, false, false);
                    }
                    if let Some(b) = f.else_block() {
                        self.walk(b, here, false, false);
                    }
                    Kind::Other
                }
                _ => Kind::Other,
            };
            self.blocks[id].stmts.push(StmtInfo {
                start,
                end,
                line,
                kind,
            });
        }
        if let Some(last) = block.last_stmt() {
            let (start, end, line) = span(last);
            let exit = match last {
                LastStmt::Break(_) => Some(Action::Break),
                LastStmt::Continue(_) => Some(Action::Continue),
                _ => None,
            };
            let pos = self.blocks[id].stmts.len();
            if let Some(action) = exit {
                self.jumps.push(Jump {
                    block: id,
                    pos,
                    start,
                    end,
                    line,
                    kind: JumpKind::Exit(action),
                });
            }
            self.blocks[id].last = Some((
                StmtInfo {
                    start,
                    end,
                    line,
                    kind: Kind::Other,
                },
                exit,
            ));
        }
        id
    }

    /// The position in `block` of the statement that holds (block `b`, position `p`).
    fn position_in(&self, mut b: usize, mut p: usize, block: usize) -> Option<usize> {
        while b != block {
            (b, p) = self.blocks[b].parent?;
        }
        Some(p)
    }

    /// The edits, and whether the function needs the jump variable.
    fn lower(&self, src: &str) -> Result<(Vec<Edit>, bool), SyntaxError> {
        let mut edits = Vec::new();
        for &(start, end) in &self.labels {
            edits.push(blank(src, start, end));
        }
        self.check_duplicates()?;

        // Resolve every goto; decide the target of every jump.
        let mut constructs: Vec<Construct> = Vec::new();
        let mut targets: Vec<Option<Target>> = Vec::with_capacity(self.jumps.len());
        let mut pending: Vec<(usize, usize, usize, CKind)> = Vec::new(); // (jump, block, label, kind)
        for (j, jump) in self.jumps.iter().enumerate() {
            match &jump.kind {
                JumpKind::Exit(action) => {
                    // The innermost user loop.
                    let mut b = jump.block;
                    while !self.blocks[b].loop_body {
                        match self.blocks[b].parent {
                            Some((pb, _)) => b = pb,
                            None => break,
                        }
                    }
                    targets.push(self.blocks[b].loop_body.then_some(Target::Body(b, *action)));
                }
                JumpKind::Goto(name) => {
                    let (b, k) = self.resolve(jump, name)?;
                    let p = self
                        .position_in(jump.block, jump.pos, b)
                        .expect("label found in an enclosing block");
                    let block = &self.blocks[b];
                    if p < k {
                        self.check_scope(jump, name, b, p, k)?;
                        if block.loop_body && block.void_after(k) {
                            targets.push(Some(Target::Body(b, Action::Continue)));
                            continue;
                        }
                        pending.push((j, b, k, CKind::Region));
                    } else {
                        pending.push((j, b, k, CKind::Loop));
                    }
                    targets.push(None);
                }
            }
        }

        // One region and one loop per label at most.
        let mut ids: Vec<((usize, usize, CKind), usize)> = Vec::new();
        for &(j, b, k, kind) in &pending {
            let p = self
                .position_in(self.jumps[j].block, self.jumps[j].pos, b)
                .expect("resolved");
            let c = match ids.iter().find(|(key, _)| *key == (b, k, kind)) {
                Some(&(_, c)) => c,
                None => {
                    let (first, end) = match kind {
                        CKind::Region => (p, k),
                        CKind::Loop => (k, self.blocks[b].positions()),
                    };
                    constructs.push(Construct {
                        block: b,
                        kind,
                        first,
                        end,
                        back: Vec::new(),
                        depth: 0,
                        dispatch: Vec::new(),
                    });
                    ids.push(((b, k, kind), constructs.len() - 1));
                    constructs.len() - 1
                }
            };
            match kind {
                CKind::Region => constructs[c].first = constructs[c].first.min(p),
                CKind::Loop => constructs[c].back.push(p),
            }
            let action = match kind {
                CKind::Region => Action::Break,
                CKind::Loop => Action::Continue,
            };
            targets[j] = Some(Target::Construct(c, action));
        }
        self.nest(&mut constructs)?;

        // Levels crossed by each jump, and its code.
        let mut needs_var = false;
        let mut after_loops: Vec<(usize, Vec<Case>)> = Vec::new();
        for (j, jump) in self.jumps.iter().enumerate() {
            let Some(target) = targets[j] else { continue };
            let levels = self.levels(jump, target, &constructs);
            let action = match target {
                Target::Construct(_, a) | Target::Body(_, a) => a,
            };
            let code = if levels.is_empty() {
                if matches!(jump.kind, JumpKind::Exit(_)) {
                    continue;
                }
                format!("do {} end", action.word())
            } else {
                needs_var = true;
                let number = j + 1;
                for (i, level) in levels.iter().enumerate() {
                    let case = (number, (i + 1 == levels.len()).then_some(action));
                    match *level {
                        Level::Construct(c) => constructs[c].dispatch.push(case),
                        Level::Body(b) => match after_loops.iter_mut().find(|(x, _)| *x == b) {
                            Some((_, cases)) => cases.push(case),
                            None => after_loops.push((b, vec![case])),
                        },
                    }
                }
                format!("do {VAR} = {number} break end")
            };
            edits.push(keep_lines(src, jump.start, jump.end, code));
        }

        for (b, cases) in &after_loops {
            let (pb, p) = self.blocks[*b].parent.expect("a loop body has a parent");
            let stmt = self.blocks[pb].at(p);
            edits.push(Edit::close(stmt.end, dispatch(cases), stmt.start, 1000));
        }
        for c in &constructs {
            let block = &self.blocks[c.block];
            let first = block.at(c.first);
            let last = block.at(c.end - 1);
            let (open, close) = match c.kind {
                CKind::Region => ("repeat ", " until true"),
                CKind::Loop => {
                    let returns = c.end == block.positions()
                        && block.last.as_ref().is_some_and(|(_, exit)| exit.is_none());
                    (
                        "while true do ",
                        if returns { " end" } else { " break end" },
                    )
                }
            };
            edits.push(Edit::open(first.start, open, last.end));
            edits.push(Edit::close(
                last.end,
                format!("{close}{}", dispatch(&c.dispatch)),
                first.start,
                c.depth,
            ));
        }
        Ok((edits, needs_var))
    }

    fn check_duplicates(&self) -> Result<(), SyntaxError> {
        for block in &self.blocks {
            for (i, s) in block.stmts.iter().enumerate() {
                if let Kind::Label(name) = &s.kind {
                    if let Some(first) = block.stmts[..i]
                        .iter()
                        .find(|t| matches!(&t.kind, Kind::Label(n) if n == name))
                    {
                        return Err(SyntaxError {
                            line: s.line,
                            message: format!(
                                "label '{name}' already defined on line {}",
                                first.line
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The block and position of the label a goto names: its own block, then the enclosing
    /// ones (Lua 5.3's visibility).
    fn resolve(&self, jump: &Jump, name: &str) -> Result<(usize, usize), SyntaxError> {
        let mut b = jump.block;
        loop {
            if let Some(k) = self.blocks[b].label(name) {
                return Ok((b, k));
            }
            match self.blocks[b].parent {
                Some((pb, _)) => b = pb,
                None => {
                    return Err(SyntaxError {
                        line: jump.line,
                        message: format!("no visible label '{name}' for goto"),
                    });
                }
            }
        }
    }

    /// A forward goto may not enter the scope of a local declared between it and the label,
    /// unless the label ends its block.
    fn check_scope(
        &self,
        jump: &Jump,
        name: &str,
        b: usize,
        p: usize,
        k: usize,
    ) -> Result<(), SyntaxError> {
        let block = &self.blocks[b];
        if block.void_after(k) && !block.repeat_body {
            return Ok(());
        }
        if let Some(local) = block.stmts[p + 1..k]
            .iter()
            .find(|s| matches!(s.kind, Kind::Local))
        {
            return Err(SyntaxError {
                line: jump.line,
                message: format!(
                    "<goto {name}> jumps into the scope of the local declared on line {}",
                    local.line
                ),
            });
        }
        Ok(())
    }

    /// Makes the constructs of each block nest (shrinking a loop or widening a region where
    /// that keeps the meaning), then numbers their depths.
    fn nest(&self, cs: &mut [Construct]) -> Result<(), SyntaxError> {
        let crossing = |a: &Construct, b: &Construct| {
            a.block == b.block && a.first < b.first && b.first < a.end && a.end < b.end
        };
        for _ in 0..cs.len() * cs.len() + 1 {
            let mut changed = false;
            for i in 0..cs.len() {
                for j in 0..cs.len() {
                    if i == j || !crossing(&cs[i], &cs[j]) {
                        continue;
                    }
                    // cs[i] starts first and ends inside cs[j].
                    let block = &self.blocks[cs[i].block];
                    if cs[j].kind == CKind::Region
                        && !block.stmts[cs[i].first..cs[j].first.min(block.stmts.len())]
                            .iter()
                            .any(|s| matches!(s.kind, Kind::Local))
                    {
                        cs[j].first = cs[i].first;
                        changed = true;
                    } else if cs[i].kind == CKind::Loop
                        && cs[i].back.iter().all(|&p| p < cs[j].first)
                    {
                        cs[i].end = cs[j].first;
                        changed = true;
                    } else if cs[j].kind == CKind::Loop
                        && cs[i].kind == CKind::Region
                        && cs[j].back.iter().all(|&p| p < cs[i].end)
                    {
                        // A region ending inside a loop that starts in it: the loop can end there.
                        cs[j].end = cs[i].end;
                        changed = true;
                    } else {
                        let line = self.blocks[cs[j].block].at(cs[j].first).line;
                        return Err(SyntaxError {
                            line,
                            message: "goto: these jumps cross each other in a way Starling cannot \
                                      translate to Luau (restructure with loops or functions)"
                                .into(),
                        });
                    }
                }
            }
            if !changed {
                break;
            }
        }
        for i in 0..cs.len() {
            let depth = (0..cs.len())
                .filter(|&j| {
                    j != i
                        && cs[j].block == cs[i].block
                        && cs[j].first <= cs[i].first
                        && cs[i].end <= cs[j].end
                        && (cs[j].first, std::cmp::Reverse(cs[j].end))
                            < (cs[i].first, std::cmp::Reverse(cs[i].end))
                })
                .count();
            cs[i].depth = depth as i64;
        }
        Ok(())
    }

    /// The loops a jump leaves before it reaches its target, innermost first.
    fn levels(&self, jump: &Jump, target: Target, cs: &[Construct]) -> Vec<Level> {
        let mut levels = Vec::new();
        let (mut b, mut p) = (jump.block, jump.pos);
        loop {
            let mut here: Vec<usize> = (0..cs.len())
                .filter(|&c| cs[c].block == b && cs[c].first <= p && p < cs[c].end)
                .collect();
            here.sort_by_key(|&c| std::cmp::Reverse(cs[c].depth));
            for c in here {
                if let Target::Construct(t, _) = target {
                    if t == c {
                        return levels;
                    }
                }
                levels.push(Level::Construct(c));
            }
            if target == Target::Body(b, Action::Break)
                || target == Target::Body(b, Action::Continue)
            {
                return levels;
            }
            let Some((pb, pp)) = self.blocks[b].parent else {
                return levels;
            };
            if self.blocks[b].loop_body {
                levels.push(Level::Body(b));
            }
            (b, p) = (pb, pp);
        }
    }
}

/// `text` in place of `src[start..end]`, followed by the newlines that range held.
fn keep_lines(src: &str, start: usize, end: usize, text: String) -> Edit {
    let newlines = src[start..end].matches('\n').count();
    Edit::replace(start, end, format!("{text}{}", "\n".repeat(newlines)))
}

/// The code after a loop that jumps leave: arrive (clear the variable and act) or pass on.
fn dispatch(cases: &[Case]) -> String {
    if cases.is_empty() {
        return String::new();
    }
    let mut out = format!(" if {VAR} then");
    for (number, arrive) in cases {
        if let Some(action) = arrive {
            out.push_str(&format!(
                " if {VAR} == {number} then {VAR} = nil {} end",
                action.word()
            ));
        }
    }
    if cases.iter().any(|(_, arrive)| arrive.is_none()) {
        out.push_str(" break");
    }
    out.push_str(" end");
    out
}
