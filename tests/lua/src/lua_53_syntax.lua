-- Lua 5.3 syntax Wippy accepts and Luau lacks (issue 13): goto and labels, the bitwise
-- operators on integers, `//`, and typed return lists without parentheses. Line numbers stay
-- exact (the error test below checks one).

local function parse_pair(s: string): string?, string?
    local k, v = s:match("^(%w+)=(%w+)$")
    return k, v
end

local function odd_sum(n: number): number
    local sum = 0
    for i = 1, n do
        if i % 2 == 0 then goto continue end
        sum = sum + i
        ::continue::
    end
    return sum
end

local function find_pair(grid, want)
    for i = 1, #grid do
        for j = 1, #grid[i] do
            if grid[i][j] == want then
                return i, j
            end
        end
    end
    return nil
end

local function first_over(t, limit)
    local found = nil
    for _, row in ipairs(t) do
        for _, v in ipairs(row) do
            if v > limit then
                found = v
                goto done
            end
        end
    end
    ::done::
    return found
end

local function retries(fail_times)
    local attempts = 0
    ::again::
    attempts = attempts + 1
    if attempts <= fail_times then goto again end
    return attempts
end

local function main()
    assert(odd_sum(10) == 25)
    assert(first_over({{1, 2}, {30, 4}, {50}}, 10) == 30)
    assert(first_over({{1}}, 10) == nil)
    assert(retries(3) == 4)
    local i, j = find_pair({{1, 2}, {3, 4}}, 4)
    assert(i == 2 and j == 2)
    local k, v = parse_pair("a=1")
    assert(k == "a" and v == "1")

    -- Bitwise operators: Lua 5.3 precedence and 64-bit semantics on integers.
    assert(5 & 3 == 1 and 5 | 3 == 7 and 5 ~ 3 == 6 and ~5 == -6)
    assert(1 << 10 == 1024 and 1024 >> 3 == 128)
    assert(0xFF & ~0x0F == 0xF0)
    assert(1 | 2 ~ 3 & 4 << 1 == 3)
    assert(-1 >> 60 == 15 and (-1) & 0xFFFF == 0xFFFF)
    assert(1 << 64 == 0 and 1 << -1 == 0)
    assert(7 // 2 == 3 and -7 // 2 == -4)
    local flags = 0
    for bit = 0, 7, 2 do
        flags = flags | (1 << bit)
    end
    assert(flags == 0x55)
    local ok, err = pcall(function() return 1.5 & 1 end)
    assert(not ok and tostring(err):find("no integer representation"), tostring(err))

    -- Errors keep their line: the next line is line 80.
    local ok2, err2 = pcall(function() error("here") end)
    assert(not ok2 and tostring(err2):find(":80:"), tostring(err2))
    return 0
end

return { main = main }
