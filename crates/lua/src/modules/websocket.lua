-- The Lua half of `websocket`: the Client object, its message channel (fed by a coroutine of
-- the calling process), and the constants. Runs once per VM; the returned table is shared
-- read-only by every process that lists `websocket`.

local raw = ...
local connect, send, ping, recv, close = raw.connect, raw.send, raw.ping, raw.recv, raw.close
local setmetatable, type, error = setmetatable, type, error
local spawn, new_channel = coroutine.spawn, channel.new

local Client = {}
local client_meta = { __index = Client, __metatable = false, __tostring = function()
	return "websocket.Client"
end }
local state = setmetatable({}, { __mode = "k" })

local function data(c)
	local d = state[c]
	if not d then
		error("expected a websocket Client (call methods with ':')", 3)
	end
	return d
end

function Client.send(c, message, kind)
	return send(data(c).id, message, kind)
end

function Client.ping(c)
	return ping(data(c).id)
end

function Client.channel(c)
	local d = data(c)
	if not d.ch then
		local ch = new_channel(d.capacity)
		d.ch = ch
		local id = d.id
		spawn(function()
			while true do
				local msg = recv(id)
				if msg == nil then
					break
				end
				ch:send(msg)
			end
			ch:close()
		end)
	end
	return d.ch
end
Client.receive = Client.channel

function Client.close(c, code, reason)
	local d = data(c)
	if d.closed then
		return true
	end
	d.closed = true
	return close(d.id, code, reason)
end

local M = {
	TEXT = 1,
	BINARY = 2,
	TYPE_TEXT = "text",
	TYPE_BINARY = "binary",
	TYPE_PING = "ping",
	TYPE_PONG = "pong",
	TYPE_CLOSE = "close",
	COMPRESSION = { DISABLED = 0, CONTEXT_TAKEOVER = 1, NO_CONTEXT = 2 },
	CLOSE_CODES = {
		NORMAL = 1000,
		GOING_AWAY = 1001,
		PROTOCOL_ERROR = 1002,
		UNSUPPORTED_DATA = 1003,
		RESERVED = 1004,
		NO_STATUS = 1005,
		ABNORMAL_CLOSURE = 1006,
		INVALID_PAYLOAD = 1007,
		POLICY_VIOLATION = 1008,
		MESSAGE_TOO_BIG = 1009,
		MANDATORY_EXTENSION = 1010,
		INTERNAL_ERROR = 1011,
		SERVICE_RESTART = 1012,
		TRY_AGAIN_LATER = 1013,
		BAD_GATEWAY = 1014,
		TLS_HANDSHAKE = 1015,
	},
}
table.freeze(M.COMPRESSION)
table.freeze(M.CLOSE_CODES)

function M.connect(url, options)
	if type(url) ~= "string" then
		error("bad argument #1 to 'connect' (string expected, got " .. type(url) .. ")", 2)
	end
	local id, err = connect(url, options)
	if err then
		return nil, err
	end
	local capacity = 64
	if type(options) == "table" and type(options.channel_capacity) == "number" then
		capacity = math.max(1, math.min(10000, options.channel_capacity))
	end
	local c = setmetatable({}, client_meta)
	state[c] = { id = id, capacity = capacity }
	return c
end

return M
