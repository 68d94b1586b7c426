-- wrk script: send the raw bytes of a request file as every request.
--
--   wrk ... -s device.lua http://127.0.0.1:PORT -- REQUEST_FILE
--
-- run.sh writes REQUEST_FILE: the exact ESP8266 update request of
-- shared/spec/esp8266-http-update.md section 8 (HTTP/1.0, Connection: close, the
-- x-ESP8266-* headers in the order the core sends them, Content-Length: 0). wrk's own
-- formatter would send HTTP/1.1 with the headers reordered, so a global request()
-- returns these bytes instead (read once per thread). wrk opens a new connection after
-- each response because the server closes it, as a device does.
local raw

function init(args)
  local f = assert(io.open(args[1], "rb"), "device.lua: request file missing")
  raw = f:read("*a")
  f:close()
  assert(#raw > 0 and raw:sub(-4) == "\r\n\r\n", "device.lua: not a request")
end

function request()
  return raw
end

-- One machine-readable line per run for run.sh.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d bytes=%d err_connect=%d err_read=%d err_write=%d " ..
    "err_status=%d err_timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(99)))
end
