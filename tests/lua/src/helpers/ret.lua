return { main = function(...) return ... end }
