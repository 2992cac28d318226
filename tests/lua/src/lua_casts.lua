-- SPEC 4.1 and 11.12: string(v), number(v), integer(v), boolean(v) return v when it has the
-- type and raise `expected <type>, got <type>` otherwise; no implicit conversion.

local function fails(f, v, msg)
    local ok, err = pcall(f, v)
    assert(not ok, "expected a failure")
    assert(tostring(err):find(msg, 1, true), tostring(err))
end

local function main()
    assert(string("s") == "s")
    assert(number(1.5) == 1.5 and number(2) == 2)
    assert(integer(3) == 3 and integer(-0) == 0 and integer(2 ^ 52) == 2 ^ 52)
    assert(boolean(false) == false and boolean(true) == true)

    fails(string, 1, "expected string, got number")
    fails(number, "1", "expected number, got string")
    fails(integer, 1.5, "expected integer, got number")
    fails(integer, "3", "expected integer, got string")
    fails(boolean, nil, "expected boolean, got nil")
    fails(boolean, 0, "expected boolean, got number")

    -- the is() form returns v, nil or nil, err
    assert(number:is(4) == 4)
    local v, err = integer:is(4.5)
    assert(v == nil and err:kind() == errors.INVALID)
    assert(tostring(number) == "type number")

    -- the string library is still the string library
    assert(string.upper("a") == "A" and ("b"):upper() == "B")
    assert(not pcall(function() string.extra = 1 end), "string stays read-only")
    assert(getmetatable(string) == false, "the cast metatable is hidden")
    assert(not pcall(function() integer.is = nil end), "cast objects are read-only")
end

return { main = main }
