-- The Lua half of the `http` module: Wippy's error-only returns around the raw functions
-- that can wait (body, flush, write_event), and multipart forms as objects. Runs once per
-- VM; completes the method tables the Rust half made.

local raw = ...
local req, res = raw.request_methods, raw.response_methods
local body, decode_json = raw.body, raw.decode_json
local flush, write_event, parse_multipart = raw.flush, raw.write_event, raw.parse_multipart
local setmetatable, type, error, sub, min = setmetatable, type, error, string.sub, math.min

function req.body_json(r)
	local text, err = body(r)
	if err then
		return nil, err
	end
	return decode_json(text)
end

function res.flush(r)
	local _, err = flush(r)
	return err
end

function res.write_event(r, ev)
	local _, err = write_event(r, ev)
	return err
end

-- An uploaded file: name, size, headers and its content as a stream read from memory.
local File = {}
local file_meta = { __index = File, __metatable = false }
local Reader = {}
local reader_meta = { __index = Reader, __metatable = false }

local function file_data(f)
	if type(f) ~= "table" or getmetatable(f) ~= false then
		error("expected a File (call methods with ':')", 3)
	end
	return f
end

function File.name(f)
	return file_data(f)._filename
end

function File.size(f)
	return file_data(f)._size
end

function File.header(f, name)
	local headers = file_data(f)._headers
	if type(name) ~= "string" then
		error("bad argument #1 to 'header' (string expected, got " .. type(name) .. ")", 2)
	end
	return headers[string.lower(name)]
end

function File.stream(f)
	return setmetatable({ _data = file_data(f)._data, _pos = 1 }, reader_meta)
end

function Reader.read(s, n)
	local data, pos = s._data, s._pos
	if pos > #data then
		return nil
	end
	local last = #data
	if type(n) == "number" and n > 0 then
		last = min(#data, pos + n - 1)
	end
	s._pos = last + 1
	return sub(data, pos, last)
end

function Reader.close(s)
	s._pos = #s._data + 1
	return true
end

function req.parse_multipart(r, max)
	local form, err = parse_multipart(r, max)
	if err then
		return nil, err
	end
	for _, list in pairs(form.files) do
		for i, f in ipairs(list) do
			list[i] = setmetatable({
				_filename = f.filename,
				_size = f.size,
				_headers = f.headers,
				_data = f.data,
			}, file_meta)
		end
	end
	return form
end

return true
