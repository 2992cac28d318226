-- SPEC 4.1: Wippy's gradual-typing syntax loads and is ignored at run time; `as` stays usable
-- as a name; line numbers are kept (errors point at the right line).

type Id = string
type MaybeCount = number?
export type Point = {x: number, y?: number, tags: {string}, meta: {[string]: any}}
type Shape = Point | ({radius: number} & {center: Point})
type Pair<A, B: string> = {first: A, second: B}
type Handler = (msg: string, ...any) -> (boolean, string?)
type Digit = number @min(0) @max(9)
type Name = string @min_len(1) @max_len(20) @pattern("^[a-z]+$")
type Level = 1 | 2 | 3
type Mode = "fast" | "slow"

local function identity<T: any>(x: T): T
    return x
end

local function add(a: number, b: number @min(0)): number
    return a + b
end

local function first(...: number): number?
    return (...)
end

local function main(): (boolean?, string?)
    local n: number = add(1, 2)
    assert(n == 3)
    local v: any = "text"
    local s = v as string
    assert(s == "text")
    local c = (v :: string):upper()
    assert(c == "TEXT")
    local t = { field = 7 }
    assert(t.field! == 7)
    assert((t.field!) + 1 == 8)
    assert(identity(5) == 5 and first(4, 5) == 4)
    local f: Handler = function(msg: string, ...: any): (boolean, string?)
        return true, msg
    end
    assert(select(2, f("m")) == "m")

    -- `as` and `type` remain ordinary names
    local as = { as = 1 }
    as.as = as.as + 1
    assert(as.as == 2)
    assert(type(as) == "table")

    -- strings and comments are untouched
    local text = "x as number! @min(1) y?: z" -- a comment with as and !
    assert(text == "x as number! @min(1) y?: z")
    assert([[p as q!]] == "p as q!")

    -- declared types are runtime values
    assert(Id("abc") == "abc")
    assert(not pcall(Id, 1))
    assert(MaybeCount(nil) == nil and MaybeCount(2) == 2)
    local ok, err = Id:is(42)
    assert(ok == nil and err:kind() == errors.INVALID and err:message() == "expected Id (string), got number", tostring(err))
    assert(Id:is("x") == "x")
    local good, msg = pcall(Point, {})
    assert(not good and tostring(msg):find("type validation not supported", 1, true))

    -- an error keeps its line number through the rewrite
    local line_ok, line_err = pcall(function()
        error("boom here")
    end)
    assert(not line_ok and tostring(line_err):find(":67: boom here", 1, true), tostring(line_err))
    return true
end

return { main = main }
