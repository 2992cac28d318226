-- An inert chunk whose method keeps module-level state: each process runs the chunk and gets
-- its own upvalue.
local count = 0

local function run(parent)
    count = count + 1
    process.send(parent, "count", count)
end

return { run = run }
