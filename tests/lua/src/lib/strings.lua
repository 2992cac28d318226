local M = {}
function M.shout(s)
    counter.bump()
    return string.upper(s) .. "!"
end
function M.count()
    return counter.value()
end
return M
