-- SPEC 9.1: io outside a terminal host. Run with -x it spawns itself on a process host; the
-- child tries every call and reports back.

local CALLS = {
    { "write", { "x" } }, { "print", { "x" } }, { "eprint", { "x" } }, { "flush", {} },
    { "readline", {} }, { "read", { 4 } }, { "read", {} }, { "raw", { true } }, { "raw", { false } },
}

local function child(parent)
    local results = {}
    for _, c in ipairs(CALLS) do
        local ok, v, err = pcall(io[c[1]], table.unpack(c[2]))
        results[#results + 1] = {
            name = c[1], raised = not ok, value = ok and v or nil,
            kind = ok and err and err:kind() or nil, message = ok and err and err:message() or tostring(v),
            retryable = ok and err and err:retryable(),
        }
    end
    -- argument errors still raise off the terminal
    local ok, e = pcall(io.read, "x")
    results[#results + 1] = { name = "read-bad", raised = not ok, message = tostring(e) }
    local args = io.args()
    process.send(parent, "io", { results = results, nargs = #args, args_type = type(args) })
end

local function main(parent)
    if parent then
        return child(parent)
    end
    local inbox = process.inbox()
    assert(process.spawn("test:io_outside_terminal", "test:processes", process.pid()))
    local r = channel.select({ inbox:case_receive(), time.after("120s"):case_receive() })
    assert(r.channel == inbox, "no report from the child")
    local rep = r.value:payload():data()
    assert(rep.args_type == "table" and rep.nargs == 0, "io.args() is {} outside a terminal")
    assert(#rep.results == #CALLS + 1)
    for i = 1, #CALLS do
        local x = rep.results[i]
        assert(not x.raised, x.name .. " raised: " .. tostring(x.message))
        assert(x.value == nil, x.name .. " returned a value")
        assert(x.kind == errors.UNAVAILABLE, x.name .. " kind " .. tostring(x.kind))
        assert(x.message == "no terminal context", x.name .. ": " .. tostring(x.message))
        assert(x.retryable == false, x.name .. ": not retryable")
    end
    local bad = rep.results[#CALLS + 1]
    assert(bad.raised and bad.message:find("bad argument #1 to 'read'", 1, true), bad.message)
end

return { main = main }
