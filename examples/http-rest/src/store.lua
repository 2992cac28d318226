-- The item store: registers as "items.store" and answers requests sent to it; ends when its
-- service stops (CANCEL).
local function answer(items, state, req)
    if req.op == "list" then
        local list = {}
        for _, item in pairs(items) do
            list[#list + 1] = item
        end
        table.sort(list, function(a, b) return a.id < b.id end)
        return { items = list }
    elseif req.op == "create" then
        local item = { id = state.next_id, name = req.name, price = req.price }
        items[item.id] = item
        state.next_id = state.next_id + 1
        return { item = item }
    elseif req.op == "get" then
        return { item = items[req.id] }
    elseif req.op == "delete" then
        local found = items[req.id] ~= nil
        items[req.id] = nil
        return { deleted = found }
    end
    return { error = "unknown operation" }
end

local function main()
    process.registry.register("items.store")
    local items, state = {}, { next_id = 1 }
    local inbox, events = process.inbox(), process.events()
    while true do
        local r = channel.select({ inbox:case_receive(), events:case_receive() })
        if r.channel == events then
            if r.value.kind == process.event.CANCEL then
                return 0
            end
        else
            local req = r.value:payload():data()
            process.send(req.reply_to, "store.reply", answer(items, state, req))
        end
    end
end

return { main = main }
