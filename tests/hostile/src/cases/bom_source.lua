-- Issue 11: this file starts with a UTF-8 byte order mark, as some Windows editors save
-- files. It loads, and line numbers are unchanged (the error below is on line 9).
--! stdout: survived
--! stdout: hostile:case:9: line nine

local function main()
    local ok, err = pcall(function()
        -- line 8
        error("line nine")
    end)
    assert(not ok)
    io.print(tostring(err))
    io.print("survived")
end

return { main = main }
