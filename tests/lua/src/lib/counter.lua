-- Needs `time` (installed into every importer transitively).
assert(time.now(), "time is installed for libraries")
local n = 0
return {
    bump = function() n = n + 1 end,
    value = function() return n end,
}
