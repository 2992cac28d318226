local function main(err)
    coroutine.spawn(function()
        error(err or "coroutine failed")
    end)
    -- An hour: the EXIT can only come from the coroutine's error.
    time.sleep("1h")
    return "main finished"
end
return { main = main }
