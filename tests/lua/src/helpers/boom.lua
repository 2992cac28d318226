return { main = function(msg) error(msg or "boom") end }
