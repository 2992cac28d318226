-- The Lua half of the `funcs` module (SPEC 2.6). Runs once per VM; the returned table is
-- shared read-only by every process that lists `funcs`. `raw.start` spawns the call and
-- returns a one-value channel that receives the result Payload (or just closes on failure)
-- and the call's internal pid; the worker records the outcome in the `state` table.

local raw = ...
local start, stop = raw.start, raw.stop
local setmetatable, type, error, select, tostring = setmetatable, type, error, select, tostring
local errors = errors

local function canceled_error()
	return errors.new({ kind = errors.CANCELED, message = "function call canceled", retryable = false })
end

local function check_target(target, fname)
	if type(target) ~= "string" then
		error("bad argument #1 to '" .. fname .. "' (string expected, got " .. type(target) .. ")", 3)
	end
end

-- Futures: the data lives in a side table so the future itself cannot be tampered with.
local futures = setmetatable({}, { __mode = "k" })
local Future = {}
local future_meta = {
	__index = Future,
	__newindex = function()
		error("future is read-only", 2)
	end,
	__tostring = function()
		return "funcs.Future"
	end,
	__metatable = false,
}

local function data(f)
	local d = futures[f]
	if not d then
		error("expected a Future (call methods with ':')", 3)
	end
	return d
end

function Future.response(f)
	return data(f).ch
end
Future.channel = Future.response

function Future.result(f)
	local st = data(f).state
	if st.canceled then
		return nil, canceled_error()
	end
	if not st.done then
		return nil, nil
	end
	if st.err then
		return nil, st.err
	end
	return st.value, nil
end

function Future.error(f)
	local st = data(f).state
	if st.canceled then
		return canceled_error(), true
	end
	if st.done and st.err then
		return st.err, true
	end
	return nil, false
end

function Future.is_complete(f)
	return data(f).state.done == true
end

function Future.is_canceled(f)
	return data(f).state.canceled == true
end

function Future.cancel(f)
	local d = data(f)
	if not d.state.done and not d.state.canceled then
		d.state.canceled = true
		stop(d.pid)
	end
	return true
end

local function timeout_of(options)
	local t = options and options.timeout
	if type(t) == "number" and t > 0 then
		return t
	end
	return 0
end

local function async(options, fname, target, ...)
	check_target(target, fname)
	local state = {}
	local ch, pid = start(target, timeout_of(options), state, ...)
	if not ch then
		return nil, pid
	end
	local f = setmetatable({}, future_meta)
	futures[f] = { ch = ch, pid = pid, state = state }
	return f
end

local function call(options, fname, target, ...)
	check_target(target, fname)
	local state = {}
	local ch, pid = start(target, timeout_of(options), state, ...)
	if not ch then
		return nil, pid
	end
	ch:receive()
	if state.err then
		return nil, state.err
	end
	return state.value:data()
end

-- Executors: immutable builders (SPEC 2.6).
local executors = setmetatable({}, { __mode = "k" })
local Executor = {}
local executor_meta = {
	__index = Executor,
	__newindex = function()
		error("executor is read-only", 2)
	end,
	__tostring = function()
		return "funcs.Executor"
	end,
	__metatable = false,
}

local function new_executor(fields)
	local e = setmetatable({}, executor_meta)
	executors[e] = fields
	return e
end

local function fields_of(e)
	local f = executors[e]
	if not f then
		error("expected an Executor (call methods with ':')", 3)
	end
	return f
end

local function with(key, check)
	return function(e, v)
		local old = fields_of(e)
		if check then
			check(v)
		end
		local copy = {}
		for k, x in pairs(old) do
			copy[k] = x
		end
		if type(v) == "table" then
			local t = {}
			for k, x in pairs(v) do
				t[k] = x
			end
			v = t
		end
		copy[key] = v
		return new_executor(copy)
	end
end

local function table_arg(name)
	return function(v)
		if type(v) ~= "table" then
			error("bad argument #1 to '" .. name .. "' (table expected, got " .. type(v) .. ")", 4)
		end
	end
end

Executor.with_context = with("context", table_arg("with_context"))
Executor.with_options = with("options", table_arg("with_options"))
Executor.with_actor = with("actor")
Executor.with_scope = with("scope")

function Executor.call(e, target, ...)
	return call(fields_of(e).options, "call", target, ...)
end

function Executor.async(e, target, ...)
	return async(fields_of(e).options, "async", target, ...)
end

local funcs = {
	new = function()
		return new_executor({})
	end,
	call = function(target, ...)
		return call(nil, "call", target, ...)
	end,
	async = function(target, ...)
		return async(nil, "async", target, ...)
	end,
}
table.freeze(Future)
table.freeze(Executor)
table.freeze(future_meta)
table.freeze(executor_meta)
return table.freeze(funcs)
