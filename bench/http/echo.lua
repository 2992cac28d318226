-- wrk script: POST a small JSON document to /echo.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"starling","tags":["actor","lua","http"],"count":42,"nested":{"ok":true,"ratio":0.5}}'
