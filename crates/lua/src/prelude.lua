-- The Lua half of the engine. Runs once per VM, before the globals are sealed, with the real
-- standard library in scope. It receives the raw Rust primitives in `raw` and returns the
-- functions and method tables the engine installs.
--
-- Blocking protocol: a primitive that cannot finish now registers a wait and yields PENDING
-- up to the scheduler (the raw C primitives yield themselves; an mlua primitive returns
-- PENDING and `block` yields for it). When the wait completes the scheduler resumes the task,
-- and the primitive's answer is taken where it blocked (`take_answer`, or the C function's
-- continuation), raising there if the answer is an error. User coroutines
-- (coroutine.create/wrap) forward PENDING yields upward, so blocking works inside them too
-- (SPEC 4.5).

local raw = ...
local PENDING = raw.PENDING
local take_answer = raw.take_answer
local co_yield, co_resume, co_status, co_create = coroutine.yield, coroutine.resume, coroutine.status, coroutine.create
local pack, unpack = table.pack, table.unpack
local error, xpcall, tostring = error, xpcall, tostring
local traceback = debug.traceback

-- Running out of memory ends the process (vm.rs, `out_of_memory`): every place that catches
-- errors (pcall, xpcall, coroutine.resume and the task body) asks whether the error it caught
-- is a memory error, or whether the process is already ending for one, and then raises it
-- again instead of handing it to the script.
local out_of_memory = raw.out_of_memory

local function block(first, ...)
	if first == PENDING then
		co_yield(PENDING)
		return take_answer()
	end
	return first, ...
end

-- coroutine: standard functions, resume/wrap made transparent to runtime suspensions.
-- A coroutine whose resume is forwarding a runtime suspension is busy (its resumer is
-- blocked on its behalf): it reports "normal" and cannot be resumed or closed by anyone else.
local forwarding = setmetatable({}, { __mode = "k" })

local function resume(co, ...)
	if forwarding[co] then
		return false, "cannot resume non-suspended coroutine"
	end
	local r = pack(co_resume(co, ...))
	while r[1] and r[2] == PENDING and r.n == 2 and co_status(co) == "suspended" do
		forwarding[co] = true
		local answer = pack(co_yield(PENDING))
		forwarding[co] = nil
		r = pack(co_resume(co, unpack(answer, 1, answer.n)))
	end
	if not r[1] and out_of_memory(r[2]) then
		error(r[2], 0)
	end
	return unpack(r, 1, r.n)
end

local function status(co)
	if forwarding[co] then
		return "normal"
	end
	return co_status(co)
end

-- Closing a coroutine.spawn task ends the task: its waits are withdrawn first, so nothing
-- is handed to it afterwards (a value sent to it would be lost).
local co_close = coroutine.close
local close_task = raw.close_task
local function close(co)
	if forwarding[co] then
		return false, "cannot close a normal coroutine"
	end
	local ok, err = close_task(co)
	if not ok then
		return false, err
	end
	return co_close(co)
end

local function wrap(f)
	local co = co_create(f)
	return function(...)
		local r = pack(resume(co, ...))
		if r[1] then
			return unpack(r, 2, r.n)
		end
		error(r[2], 0)
	end
end

local co = {}
for k, v in pairs(coroutine) do
	co[k] = v
end
co.resume = resume
co.wrap = wrap
co.status = status
co.close = close
co.spawn = raw.spawn_coroutine

-- string.format with Lua 5.3 argument rules: "%s" converts any value with tostring, and the
-- integer conversions reject numbers without an integer representation. Arguments that are
-- strings or integral numbers (the common case) go straight to Luau's formatter.
local str_format, gmatch, floor, select, type = string.format, string.gmatch, math.floor, select, type
local INTEGER_CONV = { d = true, i = true, x = true, X = true, o = true, c = true }
local function format(fmt, ...)
	local n = select("#", ...)
	local plain = true
	for i = 1, n do
		local v = select(i, ...)
		local t = type(v)
		if not (t == "string" or (t == "number" and v == floor(v))) then
			plain = false
			break
		end
	end
	if plain or type(fmt) ~= "string" then
		return str_format(fmt, ...)
	end
	local args = pack(...)
	local i = 0
	for conv in gmatch(fmt, "%%[-+ #0]*%d*%.?%d*(.)") do
		if conv ~= "%" then
			i += 1
			local v = args[i]
			if conv == "s" then
				if type(v) ~= "string" and type(v) ~= "number" then
					args[i] = tostring(v)
				end
			elseif INTEGER_CONV[conv] and type(v) == "number" and v ~= floor(v) then
				error("bad argument #" .. (i + 1) .. " to 'format' (number has no integer representation)", 2)
			end
		end
	end
	return str_format(fmt, unpack(args, 1, n))
end
string.format = format

-- pcall/xpcall: an error raised by a Rust function reaches Lua code as its message string
-- (like the standard library's errors), not as mlua's wrapper object.
local clean_error = raw.clean_error
local raw_pcall = pcall
local function pcall_result(ok, ...)
	if ok then
		return ok, ...
	end
	local e = ...
	if out_of_memory(e) then
		error(e, 0)
	end
	return false, clean_error(e)
end
local function safe_pcall(f, ...)
	return pcall_result(raw_pcall(f, ...))
end
local function xpcall_result(ok, ...)
	if not ok and out_of_memory((...)) then
		error((...), 0)
	end
	return ok, ...
end
local function safe_xpcall(f, handler, ...)
	return xpcall_result(xpcall(f, function(e)
		if out_of_memory(e) then
			return e
		end
		return handler(clean_error(e))
	end, ...))
end

-- Runtime casts (SPEC 4.1, 11.12): string(v), number(v), integer(v), boolean(v) return v when
-- it has the type and raise otherwise; declared types (`type Id = string`, see syntax.rs) are
-- callable the same way and have :is(v). No implicit conversion.
local floor, huge = math.floor, math.huge
local CHECKS = {
	string = function(v)
		return type(v) == "string"
	end,
	number = function(v)
		return type(v) == "number"
	end,
	integer = function(v)
		return type(v) == "number" and v == floor(v) and v > -2 ^ 63 and v < 2 ^ 63
	end,
	boolean = function(v)
		return type(v) == "boolean"
	end,
	any = function()
		return true
	end,
}
CHECKS.unknown = CHECKS.any

local function check_value(label, check, optional, v)
	if (v == nil and optional) or check(v) then
		return true
	end
	return false, "expected " .. label .. ", got " .. type(v)
end

local function caster(label, check, optional)
	local call = function(_, v)
		local ok, msg = check_value(label, check, optional, v)
		if not ok then
			error(msg, 2)
		end
		return v
	end
	local is = function(_, v)
		local ok, msg = check_value(label, check, optional, v)
		if ok then
			return v, nil
		end
		return nil, errors.new({ kind = errors.INVALID, message = msg, retryable = false })
	end
	return call, is
end

-- A read-only object shared by every process of the VM: the table and its metatable are
-- frozen, and the metatable is hidden from getmetatable.
local function sealed_object(fields, meta)
	local t = setmetatable(fields, meta)
	table.freeze(t)
	meta.__metatable = false
	table.freeze(meta)
	return t
end

local function callable(label, check, optional)
	local call, is = caster(label, check, optional)
	return sealed_object({ is = is }, {
		__call = call,
		__tostring = function()
			return "type " .. label
		end,
	})
end

local string_call = caster("string", CHECKS.string, false)
local string_meta = { __call = string_call }
setmetatable(string, string_meta)
string_meta.__metatable = false
table.freeze(string_meta)

local function unsupported(label)
	local fail = function()
		error("type validation not supported (type " .. label .. ")", 2)
	end
	return sealed_object({ is = fail }, {
		__call = fail,
		__tostring = function()
			return "type " .. label
		end,
	})
end

local function declare_type(name, prim, optional)
	if prim then
		local label = optional and (prim .. "?") or prim
		return callable(name .. " (" .. label .. ")", CHECKS[prim], optional)
	end
	return unsupported(name)
end

-- Every process coroutine runs under xpcall so that an error keeps its object and traceback;
-- `finish` records how the process ends (the main task's result, or any task's error).
local capture = raw.capture_error
local finish = raw.finish
local function on_error(e)
	if out_of_memory(e) then
		-- No traceback: the heap is still full here; the engine reports the memory error.
		return e
	end
	return capture(e, traceback(nil, 2))
end
local function task_body(f, ...)
	return finish(xpcall(f, on_error, ...))
end

-- channel.select: the raw primitive answers the chosen case's index (0 for the default), the
-- value and ok; the result table is built here, in bytecode, from the case itself (a case is
-- `{channel, send?, value}`; a send case's result value is the value it sent).
local select_raw = raw.select
local function select_result(cases, i, value, ok)
	if i == 0 then
		return { default = true, ok = true }
	end
	local c = cases[i]
	if c[2] then
		value = c[3]
	end
	return { channel = c[1], value = value, ok = ok }
end

local channel = {
	new = raw.chan_new,
	select = function(cases, default)
		return select_result(cases, select_raw(cases, default))
	end,
}

local sleep_raw, call_raw = raw.sleep, raw.call
local function sleep(d)
	return block(sleep_raw(d))
end

-- Generic wrapper for Rust primitives that may return PENDING (spawn on another host, io…).
local function blocking(f)
	return function(...)
		return block(f(...))
	end
end

return {
	casts = {
		number = callable("number", CHECKS.number, false),
		integer = callable("integer", CHECKS.integer, false),
		boolean = callable("boolean", CHECKS.boolean, false),
		__starling_type = declare_type,
	},
	pcall = safe_pcall,
	xpcall = safe_xpcall,
	block = block,
	blocking = blocking,
	coroutine = co,
	channel = channel,
	task_body = task_body,
	sleep = sleep,
	call = call_raw and blocking(call_raw) or nil,
}
