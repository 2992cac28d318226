local function main(err)
    coroutine.spawn(function()
        error(err or "coroutine failed")
    end)
    time.sleep("2s")
    return "main finished"
end
return { main = main }
