local function main(parent)
    local msg = process.inbox():receive()
    local t = msg:payload():data()
    t.name = "changed by receiver"
    t.list[1] = -1
    t.added = true
    process.send(parent, "mutated", t)
end
return { main = main }
