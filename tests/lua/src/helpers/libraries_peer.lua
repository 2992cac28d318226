return { main = function(parent)
    strings.shout("once")
    assert(strings.extra == nil, "a fresh copy of the library")
    process.send(parent, "count", strings.count())
end }
