-- A process.lua without `method`: its chunk is the body and runs once, with the spawn's
-- arguments, and may block (used by cases/methodless_once.lua).
local parent = ...
process.send(parent, "hi", 1)
local go = process.inbox():receive()
process.send(parent, "bye", go:payload():data())
