-- Sends numbered messages to `dest` as fast as it can until a send fails; returns how many
-- were accepted and the kind of the error that stopped it.
local function main(dest, topic)
    local n = 0
    while true do
        local ok, err = process.send(dest, topic, n + 1)
        if not ok then
            return { sent = n, kind = err:kind() }
        end
        n = n + 1
    end
end
return { main = main }
