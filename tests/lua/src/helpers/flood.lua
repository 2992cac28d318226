local function main(parent, n, topic)
    for i = 1, n do
        assert(process.send(parent, topic or "n", i))
    end
end
return { main = main }
