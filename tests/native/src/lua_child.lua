-- lua_child(parent, mode): a Lua process driven by a Rust one.
--   "ok":   says hello to parent (a table), then returns 7
--   "fail": raises after a short sleep
--   "wait": waits for one message, sends it back to parent as "back", returns its payload
--   "cancel": waits for an event and returns what it says
local function main(parent, mode)
    if mode == "ok" then
        process.send(parent, "hello_from_lua", { n = 1, list = { "a", "b" } })
        return 7
    elseif mode == "fail" then
        time.sleep("20ms")
        error("lua child failed")
    elseif mode == "cancel" then
        -- Returns the CANCEL it gets: its reason, and whether the canceller is the parent.
        local ev = process.events():receive()
        return { kind = ev.kind, reason = ev.reason, by_parent = ev.from == parent }
    elseif mode == "wait" then
        local msg = process.inbox():receive()
        process.send(parent, "back", msg:payload():data())
        return msg:payload():data()
    end
    error("unknown mode " .. tostring(mode))
end

return { main = main }
