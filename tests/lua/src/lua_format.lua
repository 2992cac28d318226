-- SPEC 4.1: string.format follows Lua 5.3: "%s" converts any value with tostring, integer
-- conversions take integral numbers only.

local function main()
    -- %d takes any integral number (SPEC 4.1)
    assert(string.format("%d", 3) == "3" and string.format("%d", 3.0) == "3")
    assert(string.format("%d", -42) == "-42")
    assert(string.format("%d", 2 ^ 40) == "1099511627776")
    assert(string.format("%5d|%-3d|%03d", 7, 8, 9) == "    7|8  |009")
    assert(string.format("%5.1f|%x|%X|%s|%q", 3.14159, 255, 255, "s", "a") == "  3.1|ff|FF|s|\"a\"")
    assert(string.format("%%") == "%")
    -- %s converts any value with tostring (Lua 5.3 luaL_tolstring)
    assert(string.format("%s", 12) == "12" and string.format("%s", 2.5) == "2.5")
    assert(string.format("%s", 3.0) == "3", "integral float prints without a fraction")
    assert(string.format("%s %s", true, false) == "true false", "%s of booleans")
    assert(string.format("%s", nil) == "nil", "%s of nil")
    assert(string.format("%s", setmetatable({}, { __tostring = function() return "MT" end })) == "MT",
        "%s uses __tostring")
    assert(string.format("%s", errors.new("as string")) == "as string", "%s of an error object")
    assert(string.format("%s", {}):find("^table: "), "%s of a table")
    -- %d of a number without an integer representation raises (Lua 5.3)
    assert(not pcall(string.format, "%d", 3.5), "%d of 3.5 raises")
    assert(not pcall(string.format, "%d", "x"), "%d of a non-number raises")
end

return { main = main }
