-- The Lua half of `events` (modules/events.rs has the bus calls): a subscription is a table
-- whose channel is a `process.listen` channel on the subscription's private topic.

local raw = ...
local process, pcall, setmetatable = process, pcall, setmetatable

local Subscription = {}
Subscription.__index = Subscription

function Subscription:channel()
	if not self._channel then
		self._channel = process.listen(self._topic)
	end
	return self._channel
end

function Subscription:close()
	if self._closed then
		return true
	end
	self._closed = true
	raw.unsubscribe(self._id)
	local ch = self:channel()
	process.unlisten(ch)
	pcall(ch.close, ch)
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
	local sub = setmetatable({ _id = id, _topic = topic_or_err }, Subscription)
	sub:channel()
	return sub
end

events.send = raw.send

return table.freeze(events)
