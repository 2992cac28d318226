-- Runs on a process.host: every io call but args must return nil, err UNAVAILABLE.
local function probe(name, f, ...)
    local ok, v, err = pcall(f, ...)
    return {
        name = name,
        raised = not ok,
        value = ok and v or nil,
        err = ok and err or v,
    }
end

local function main(parent)
    local results = {
        probe("write", io.write, "x"),
        probe("print", io.print, "x"),
        probe("eprint", io.eprint, "x"),
        probe("readline", io.readline),
        probe("read", io.read, 1),
        probe("flush", io.flush),
        probe("raw", io.raw, true),
    }
    local args = io.args()
    process.send(parent, "io", { results = results, args = args, args_type = type(args) })
end
return { main = main }
