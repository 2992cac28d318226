local function main(parent, id, host, ...)
    local events = process.events()
    local pid, err = process.spawn_monitored(id, host, ...)
    process.send(parent, "spawned", { pid = pid, err = err, self = process.pid() })
    if pid then
        local ev = events:receive()
        process.send(parent, "exit", ev)
    end
end
return { main = main }
