-- An inert chunk (it only makes values) whose method captures nothing: later spawns on a VM
-- copy the method instead of running the chunk (ffi::make_process). Each process must still
-- get its own globals.
local LIMIT = 3
local unused = { a = 1, b = { 2, 3 }, f = function() return LIMIT end }
unused.c = #unused.b .. "x"

local function run(parent)
    count = (count or 0) + 1
    process.send(parent, "count", count)
end

return { run = run }
