-- SPEC 6: what crosses a process boundary. Values go to self (copy at send time) and through
-- other processes (echo, mutator) and must come back with the same shape.

local function recv(ch, what)
    local r = channel.select({ ch:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == ch, "timed out waiting for " .. what)
    return r.value, r.ok
end

local inbox, me, echo

-- Sends v to self and returns the received copy.
local function via_self(v)
    assert(process.send(me, "self", v))
    return recv(inbox, "self"):payload():data()
end

-- Round trip through a process on another host.
local function via_echo(v)
    assert(process.send(echo, "v", v))
    local msg = recv(inbox, "echo")
    assert(msg:topic() == "re:v")
    return msg:payload():data()
end

local function count(t)
    local n = 0
    for _ in pairs(t) do
        n = n + 1
    end
    return n
end

local function main()
    me = process.pid()
    inbox = process.inbox()
    echo = assert(process.spawn("test.helpers:echo", "test:other"))

    for _, copy in ipairs({ via_self, via_echo }) do
        -- deep copy at send time: changes by the sender after send are invisible
        local orig = { name = "orig", list = { 1, 2, 3 }, nested = { deeper = { x = 1 } } }
        assert(process.send(me, "snap", orig))
        orig.name = "changed"
        orig.list[1] = 100
        orig.nested.deeper.x = 2
        orig.extra = true
        local got = recv(inbox, "snap"):payload():data()
        assert(got.name == "orig" and got.list[1] == 1 and got.nested.deeper.x == 1 and got.extra == nil,
            "changes after send are invisible")
        assert(got ~= orig and got.list ~= orig.list)

        -- shared sub-tables and cycles keep their shape
        local shared = { v = "s" }
        local t = { a = shared, b = shared, list = { shared, shared } }
        t.self = t
        t.list.parent = t
        local c = copy(t)
        assert(c ~= t and c.a ~= shared, "a copy, not the original")
        assert(c.a == c.b and c.list[1] == c.a and c.list[2] == c.a, "one copy per shared table")
        assert(c.a.v == "s")
        assert(c.self == c, "cycle preserved")
        assert(c.list.parent == c, "back reference preserved")

        -- keys of any copyable type
        local keyed = { [1] = "int", [2.5] = "float", [true] = "bool", [false] = "no", s = "str", [-3] = "neg" }
        local tk = { k = 1 }
        keyed[tk] = "table key"
        c = copy(keyed)
        assert(c[1] == "int" and c[2.5] == "float" and c[true] == "bool" and c[false] == "no")
        assert(c.s == "str" and c[-3] == "neg")
        assert(count(c) == 7, "all keys copied: " .. count(c))
        local found = false
        for k, v in pairs(c) do
            if type(k) == "table" then
                found = k.k == 1 and v == "table key" and k ~= tk
            end
        end
        assert(found, "table keys are copied too")

        -- sparse arrays, deep nesting, large strings
        c = copy({ [1] = "a", [3] = "c", [10] = "j" })
        assert(c[1] == "a" and c[2] == nil and c[3] == "c" and c[10] == "j" and count(c) == 3)
        local deep = {}
        local cur = deep
        for i = 1, 200 do
            cur.i = i
            cur.next = {}
            cur = cur.next
        end
        c = copy(deep)
        for i = 1, 200 do
            assert(c.i == i, "depth " .. i)
            c = c.next
        end
        local big = string.rep("0123456789abcdef", 65536) -- 1 MiB
        assert(copy(big) == big)
        local arr = {}
        for i = 1, 10000 do
            arr[i] = i * 2
        end
        c = copy(arr)
        assert(#c == 10000 and c[1] == 2 and c[10000] == 20000)

        -- functions, coroutines, channels and other userdata become nil
        local with_fn = {
            keep = 1,
            f = function() end,
            co = coroutine.create(function() end),
            ch = channel.new(),
            tm = time.now(),
            pl = payload.new(1),
            list = { 1, print, 3 },
        }
        c = copy(with_fn)
        assert(c.keep == 1)
        assert(c.f == nil and c.co == nil and c.ch == nil and c.tm == nil and c.pl == nil,
            "non-copyable values become nil")
        assert(c.list[1] == 1 and c.list[2] == nil and c.list[3] == 3)
        assert(copy(function() end) == nil, "a bare function becomes nil")
        assert(copy(channel.new(1)) == nil, "a bare channel becomes nil")

        -- error objects stay error objects with kind, message, retryable and details
        local e = errors.new({ message = "gone", kind = errors.NOT_FOUND, retryable = true, details = { id = 5 } })
        c = copy({ err = e })
        assert(type(c.err) == "userdata", type(c.err))
        assert(c.err:kind() == errors.NOT_FOUND and c.err:message() == "gone")
        assert(c.err:retryable() == true and c.err:details().id == 5)
        assert(errors.is(c.err, errors.NOT_FOUND))
        local bare = copy(errors.wrap(e, "ctx"))
        assert(bare ~= nil and bare:kind() == errors.NOT_FOUND and tostring(bare) == "ctx: gone", tostring(bare))

        -- strings are binary safe
        local bin = "a\0b\255\0\1" .. string.rep("\0", 3)
        local cb = copy(bin)
        assert(cb == bin and #cb == 9, "binary string")
        assert(copy({ [bin] = bin })[bin] == bin, "binary string as key")
        assert(copy("héllo ✓") == "héllo ✓")

        -- integers stay integers, floats stay floats
        c = copy({ i = 3, neg = -7, zero = 0, big = 9007199254740991, f = 3.5, tiny = 1e-300, huge = math.huge })
        assert(c.i == 3 and math.type(c.i) == "integer")
        assert(c.neg == -7 and math.type(c.neg) == "integer")
        assert(c.zero == 0 and math.type(c.zero) == "integer")
        assert(c.big == 9007199254740991)
        assert(c.f == 3.5 and math.type(c.f) == "float")
        assert(c.tiny == 1e-300 and c.huge == math.huge)
        local nan = copy(0 / 0)
        assert(nan ~= nan, "NaN survives")

        -- metatables are dropped
        local mt = { __index = function() return "from mt" end }
        local withmt = setmetatable({ own = 1 }, mt)
        c = copy(withmt)
        assert(c.own == 1 and getmetatable(c) == nil and c.missing == nil, "metatable dropped")

        -- nil, booleans
        assert(copy(false) == false and copy(true) == true)
    end

    -- changes by the receiver are invisible to the sender
    local mut = assert(process.spawn("test.helpers:mutator", "test:processes", me))
    local orig = { name = "orig", list = { 1, 2 } }
    assert(process.send(mut, "take", orig))
    local msg = recv(inbox, "mutated")
    assert(msg:from() == mut)
    local back = msg:payload():data()
    assert(back.name == "changed by receiver" and back.list[1] == -1 and back.added == true)
    assert(orig.name == "orig" and orig.list[1] == 1 and orig.added == nil, "sender's table untouched")
end

return { main = main }
