-- A small JSON reader for the HTTP tests (the json module is another issue's).
local function decode(s)
    local pos = 1
    local function ws()
        pos = s:find("[^ \t\r\n]", pos) or #s + 1
    end
    local value
    local function str()
        local out = {}
        pos = pos + 1
        while true do
            local c = s:sub(pos, pos)
            if c == '"' then
                pos = pos + 1
                return table.concat(out)
            elseif c == "\\" then
                local n = s:sub(pos + 1, pos + 1)
                local map = { n = "\n", t = "\t", r = "\r", b = "\b", f = "\f" }
                if n == "u" then
                    out[#out + 1] = string.char(tonumber(s:sub(pos + 2, pos + 5), 16) % 256)
                    pos = pos + 6
                else
                    out[#out + 1] = map[n] or n
                    pos = pos + 2
                end
            elseif c == "" then
                error("unterminated string")
            else
                out[#out + 1] = c
                pos = pos + 1
            end
        end
    end
    function value()
        ws()
        local c = s:sub(pos, pos)
        if c == "{" then
            local t = {}
            pos = pos + 1
            ws()
            if s:sub(pos, pos) == "}" then
                pos = pos + 1
                return t
            end
            while true do
                ws()
                local k = str()
                ws()
                assert(s:sub(pos, pos) == ":")
                pos = pos + 1
                t[k] = value()
                ws()
                local d = s:sub(pos, pos)
                pos = pos + 1
                if d == "}" then
                    return t
                end
                assert(d == ",", "expected , at " .. pos)
            end
        elseif c == "[" then
            local t = {}
            pos = pos + 1
            ws()
            if s:sub(pos, pos) == "]" then
                pos = pos + 1
                return t
            end
            while true do
                t[#t + 1] = value()
                ws()
                local d = s:sub(pos, pos)
                pos = pos + 1
                if d == "]" then
                    return t
                end
                assert(d == ",")
            end
        elseif c == '"' then
            return str()
        elseif s:sub(pos, pos + 3) == "true" then
            pos = pos + 4
            return true
        elseif s:sub(pos, pos + 4) == "false" then
            pos = pos + 5
            return false
        elseif s:sub(pos, pos + 3) == "null" then
            pos = pos + 4
            return nil
        else
            local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
            assert(num and #num > 0, "bad JSON at " .. pos)
            pos = pos + #num
            return tonumber(num)
        end
    end
    return value()
end


return { decode = decode }
