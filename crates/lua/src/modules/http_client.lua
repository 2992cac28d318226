-- The Lua half of `http_client`: method shortcuts, streamed bodies as objects, and
-- `request_batch` as one coroutine per request. Runs once per VM; the returned table is
-- shared read-only by every process that lists `http_client`.

local raw = ...
local fetch, stream_read, stream_close = raw.fetch, raw.stream_read, raw.stream_close
local setmetatable, type, error, ipairs, select = setmetatable, type, error, ipairs, select
local spawn, new_channel = coroutine.spawn, channel.new

local Stream = {}
local stream_meta = { __index = Stream, __metatable = false }
local streams = setmetatable({}, { __mode = "k" })

local function stream_id(s)
	local id = streams[s]
	if not id then
		error("expected a Stream (call methods with ':')", 3)
	end
	return id
end

function Stream.read(s, n)
	local id = stream_id(s)
	if id == false then
		return nil
	end
	return stream_read(id, n)
end

function Stream.close(s)
	local id = stream_id(s)
	if id then
		stream_close(id)
		streams[s] = false
	end
	return true
end

local function finish(resp, err)
	if err then
		return nil, err
	end
	if resp.stream ~= nil then
		local s = setmetatable({}, stream_meta)
		streams[s] = resp.stream
		resp.stream = s
	end
	return resp
end

local M = {}

function M.request(method, url, options)
	if type(method) ~= "string" then
		error("bad argument #1 to 'request' (string expected, got " .. type(method) .. ")", 2)
	end
	if type(url) ~= "string" then
		error("bad argument #2 to 'request' (string expected, got " .. type(url) .. ")", 2)
	end
	return finish(fetch(method, url, options))
end

for _, m in ipairs({ "get", "post", "put", "patch", "delete", "head" }) do
	local upper = string.upper(m)
	M[m] = function(url, options)
		if type(url) ~= "string" then
			error("bad argument #1 to '" .. m .. "' (string expected, got " .. type(url) .. ")", 2)
		end
		return finish(fetch(upper, url, options))
	end
end

function M.request_batch(requests)
	if type(requests) ~= "table" then
		error("bad argument #1 to 'request_batch' (table expected, got " .. type(requests) .. ")", 2)
	end
	local n = #requests
	local responses, errs = {}, {}
	local failed = false
	local done = new_channel(n)
	for i = 1, n do
		local r = requests[i]
		spawn(function()
			local resp, err
			if type(r) ~= "table" or type(r[1]) ~= "string" or type(r[2]) ~= "string" then
				resp, err = nil, errors.new({ kind = errors.INVALID, message = "request " .. i .. " must be {method, url, options?}" })
			else
				local opts = r[3]
				if type(opts) == "table" and opts.stream then
					resp, err = nil, errors.new({ kind = errors.INVALID, message = "streaming is not supported in request_batch" })
				else
					resp, err = finish(fetch(r[1], r[2], opts))
				end
			end
			responses[i] = resp
			if err then
				errs[i] = err
				failed = true
			end
			done:send(i)
		end)
	end
	for _ = 1, n do
		done:receive()
	end
	if failed then
		return responses, errs
	end
	return responses, nil
end

M.encode_uri = raw.encode_uri
M.decode_uri = raw.decode_uri

return M
