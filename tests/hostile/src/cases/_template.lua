-- A template for a new case: copy it to cases/<name>.lua, add <name> to the list in
-- tests/it/hostile.rs, and say below what must happen. Lines starting with `--!` are read by
-- the runner (tests/hostile/README.md lists the keys); every case also fails on a panic, a
-- stack overflow or a death by signal.
--! exit: 0
--! stdout: survived

local function child(...)
    -- runs as hostile:child (process.spawn("hostile:child", "hostile:processes", ...))
    return ...
end

local function func(...)
    -- runs as hostile:func (funcs.call("hostile:func", ...))
    return ...
end

local function main()
    -- Do the hostile thing here, then show that the node still works.
    local pid = process.spawn_monitored("hostile:child", "hostile:processes", 42)
    local ev = process.events():receive()
    assert(ev.from == pid and ev.result.value == 42, "a fresh process answers")
    io.print("survived")
end

return { main = main, child = child, func = func }
