-- The Lua half of `events` (modules/events.rs has the bus calls). Events for a subscription
-- arrive on a private `process.listen` topic; a coroutine forwards them to the
-- subscription's own channel, which `close()` can close (process channels cannot be).

local raw = ...
local process, channel, coroutine, setmetatable, type = process, channel, coroutine, setmetatable, type

-- Sent to the own topic by close(): the forwarder then closes the channel. Events are tables,
-- so a string cannot be mistaken for one.
local CLOSE = "\0starling.events.close"
local BUFFER = 1024

local Subscription = {}
Subscription.__index = Subscription

function Subscription:channel()
	return self._out
end

function Subscription:close()
	if self._closed then
		return true
	end
	self._closed = true
	raw.unsubscribe(self._id)
	process.send(process.pid(), self._topic, CLOSE)
	return true
end

Subscription.__metatable = false
table.freeze(Subscription)

local events = {}

function events.subscribe(system, kind)
	local id, topic_or_err = raw.subscribe(system, kind)
	if not id then
		return nil, topic_or_err
	end
	local topic = topic_or_err
	local incoming = process.listen(topic)
	local out = channel.new(BUFFER)
	coroutine.spawn(function()
		while true do
			local evt = incoming:receive()
			if type(evt) ~= "table" then
				process.unlisten(incoming)
				out:close()
				return
			end
			out:send(evt)
		end
	end)
	return setmetatable({ _id = id, _topic = topic, _out = out }, Subscription)
end

events.send = raw.send

return table.freeze(events)
