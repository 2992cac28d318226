-- Asks the store and waits (at most 2 s) for its answer.
local time = require("time")

local function call(op, args)
    args = args or {}
    args.op = op
    args.reply_to = process.pid()
    -- Right after start-up the store may not have registered its name yet: retry briefly.
    local _, err = process.send("items.store", "store.request", args)
    local tries = 0
    while err and tries < 100 do
        time.sleep("20ms")
        tries = tries + 1
        _, err = process.send("items.store", "store.request", args)
    end
    if err then
        return nil, err
    end
    local inbox = process.inbox()
    local deadline = time.after("2s")
    local r = channel.select({ inbox:case_receive(), deadline:case_receive() })
    if r.channel == deadline then
        return nil, errors.new({ kind = errors.TIMEOUT, message = "the store did not answer" })
    end
    return r.value:payload():data()
end

return { call = call }
